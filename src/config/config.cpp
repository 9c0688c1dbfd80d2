#include "config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

extern char** environ;

namespace pirus {

namespace {

// One table describes every key: how to parse it into Config and how to print it back.
// Adding a key is one entry here plus its field in config.hpp.
struct Key {
  const char* section;
  const char* name;
  std::function<Status(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  std::string out = s.substr(b, e - b + 1);
  if (out.size() >= 2 &&
      ((out.front() == '"' && out.back() == '"') || (out.front() == '\'' && out.back() == '\''))) {
    out = out.substr(1, out.size() - 2);
  }
  return out;
}

Status parse_bool(const std::string& v, bool& out) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "true" || l == "yes" || l == "on" || l == "1") {
    out = true;
  } else if (l == "false" || l == "no" || l == "off" || l == "0") {
    out = false;
  } else {
    return Status::invalid("expected true or false, got '" + v + "'");
  }
  return Status::ok();
}

Status parse_int(const std::string& v, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  try {
    std::size_t pos = 0;
    long long n = std::stoll(v, &pos);
    if (pos != v.size()) throw std::invalid_argument(v);
    if (n < lo || n > hi) {
      return Status::invalid("must be between " + std::to_string(lo) + " and " +
                             std::to_string(hi) + ", got " + v);
    }
    out = n;
    return Status::ok();
  } catch (const std::exception&) {
    return Status::invalid("expected an integer, got '" + v + "'");
  }
}

Status parse_double(const std::string& v, double lo, double hi, double& out) {
  try {
    std::size_t pos = 0;
    double d = std::stod(v, &pos);
    if (pos != v.size() || !std::isfinite(d)) throw std::invalid_argument(v);
    if (d < lo || d > hi) {
      std::ostringstream os;
      os << "must be between " << lo << " and " << hi << ", got " << v;
      return Status::invalid(os.str());
    }
    out = d;
    return Status::ok();
  } catch (const std::exception&) {
    return Status::invalid("expected a number, got '" + v + "'");
  }
}

Status parse_size_into(const std::string& v, std::int64_t& out) {
  auto n = parse_size(v);
  if (!n) return Status::invalid("expected a size like 512M or 10G, got '" + v + "'");
  out = *n;
  return Status::ok();
}

std::string fmt_double(double d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

Key str_key(const char* section, const char* name, std::string Config::*field) {
  return {section, name,
          [field](Config& c, const std::string& v) {
            c.*field = v;
            return Status::ok();
          },
          [field](const Config& c) { return c.*field; }};
}

Key bool_key(const char* section, const char* name, bool Config::*field) {
  return {section, name,
          [field](Config& c, const std::string& v) { return parse_bool(v, c.*field); },
          [field](const Config& c) { return std::string(c.*field ? "true" : "false"); }};
}

Key int_key(const char* section, const char* name, std::int64_t Config::*field, std::int64_t lo,
            std::int64_t hi) {
  return {section, name,
          [=](Config& c, const std::string& v) { return parse_int(v, lo, hi, c.*field); },
          [field](const Config& c) { return std::to_string(c.*field); }};
}

Key size_key(const char* section, const char* name, std::int64_t Config::*field) {
  return {section, name,
          [field](Config& c, const std::string& v) { return parse_size_into(v, c.*field); },
          [field](const Config& c) { return std::to_string(c.*field); }};
}

Key double_key(const char* section, const char* name, double Config::*field, double lo, double hi) {
  return {section, name,
          [=](Config& c, const std::string& v) { return parse_double(v, lo, hi, c.*field); },
          [field](const Config& c) { return fmt_double(c.*field); }};
}

const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      {"server", "listen",
       [](Config& c, const std::string& v) {
         // host:port, [v6]:port or a bare port.
         std::string host = c.listen_address;
         std::string port = v;
         auto colon = v.rfind(':');
         if (colon != std::string::npos) {
           host = v.substr(0, colon);
           port = v.substr(colon + 1);
           if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
             host = host.substr(1, host.size() - 2);
           }
         }
         std::int64_t p = 0;
         PIRUS_RETURN_IF_ERROR(parse_int(port, 0, 65535, p));
         if (host.empty()) return Status::invalid("missing host in '" + v + "'");
         c.listen_address = host;
         c.listen_port = static_cast<unsigned short>(p);
         return Status::ok();
       },
       [](const Config& c) { return c.listen_address + ":" + std::to_string(c.listen_port); }},
      str_key("server", "data_dir", &Config::data_dir),
      {"server", "host_data_dir",
       [](Config& c, const std::string& v) {
         if (!v.empty() && v.front() != '/') {
           return Status::invalid("expected an absolute directory, got '" + v + "'");
         }
         c.host_data_dir = v;
         return Status::ok();
       },
       [](const Config& c) { return c.host_data_dir; }},
      {"server", "log_level",
       [](Config& c, const std::string& v) {
         static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
         for (const char* l : levels) {
           if (v == l) {
             c.log_level = v;
             return Status::ok();
           }
         }
         return Status::invalid("expected trace, debug, info, warn or error, got '" + v + "'");
       },
       [](const Config& c) { return c.log_level; }},
      {"server", "log_file",
       [](Config& c, const std::string& v) {
         if (!v.empty() && v.front() != '/') {
           return Status::invalid("expected an absolute file path, got '" + v + "'");
         }
         c.log_file = v;
         return Status::ok();
       },
       [](const Config& c) { return c.log_file; }},
      {"server", "log_file_size",
       [](Config& c, const std::string& v) {
         std::int64_t n = 0;
         PIRUS_RETURN_IF_ERROR(parse_size_into(v, n));
         if (n < 4096) return Status::invalid("expected at least 4K, got '" + v + "'");
         c.log_file_size = n;
         return Status::ok();
       },
       [](const Config& c) { return std::to_string(c.log_file_size); }},
      int_key("server", "log_file_count", &Config::log_file_count, 1, 100),
      str_key("database", "url", &Config::database_url),
      int_key("database", "pool_size", &Config::database_pool_size, 1, 100),
      str_key("docker", "socket", &Config::docker_socket),
      bool_key("docker", "allow_build_network", &Config::allow_build_network),
      {"docker", "probe_image",
       [](Config& c, const std::string& v) {
         if (v.find_first_of(" \t\n") != std::string::npos) {
           return Status::invalid("expected an image reference, got '" + v + "'");
         }
         c.docker_probe_image = v;
         return Status::ok();
       },
       [](const Config& c) { return c.docker_probe_image; }},
      {"jobs", "user",
       [](Config& c, const std::string& v) {
         if (v != "auto") {
           auto colon = v.find(':');
           std::int64_t uid = 0;
           std::int64_t gid = 0;
           if (colon == std::string::npos || !parse_int(v.substr(0, colon), 0, 1 << 30, uid) ||
               !parse_int(v.substr(colon + 1), 0, 1 << 30, gid)) {
             return Status::invalid("expected auto or uid:gid (numbers), got '" + v + "'");
           }
         }
         c.job_user = v;
         return Status::ok();
       },
       [](const Config& c) { return c.job_user; }},
      {"jobs", "network",
       [](Config& c, const std::string& v) {
         if (v != "none" && v != "host") {
           return Status::invalid("expected none or host, got '" + v + "'");
         }
         c.job_network = v;
         return Status::ok();
       },
       [](const Config& c) { return c.job_network; }},
      {"jobs", "notify_url",
       [](Config& c, const std::string& v) {
         if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
           return Status::invalid("expected an http:// or https:// URL, got '" + v + "'");
         }
         c.job_notify_url = v;
         while (!c.job_notify_url.empty() && c.job_notify_url.back() == '/') {
           c.job_notify_url.pop_back();
         }
         return Status::ok();
       },
       [](const Config& c) { return c.job_notify_url; }},
      {"databases", "import_root",
       [](Config& c, const std::string& v) {
         if (!v.empty() && v.front() != '/') {
           return Status::invalid("expected an absolute directory, got '" + v + "'");
         }
         c.database_import_root = v;
         return Status::ok();
       },
       [](const Config& c) { return c.database_import_root; }},
      {"web", "root",
       [](Config& c, const std::string& v) {
         if (!v.empty() && v.front() != '/') {
           return Status::invalid("expected an absolute directory, got '" + v + "'");
         }
         c.web_root = v;
         return Status::ok();
       },
       [](const Config& c) { return c.web_root; }},
      {"limits", "max_running_jobs",
       [](Config& c, const std::string& v) {
         std::int64_t n = 0;
         PIRUS_RETURN_IF_ERROR(parse_int(v, 1, 100000, n));
         c.max_running_jobs = static_cast<int>(n);
         return Status::ok();
       },
       [](const Config& c) { return std::to_string(c.max_running_jobs); }},
      double_key("limits", "max_total_cpus", &Config::max_total_cpus, 0, 100000),
      int_key("limits", "max_total_memory_mb", &Config::max_total_memory_mb, 0, 1LL << 40),
      double_key("limits", "job_cpus", &Config::job_cpus, 0.01, 10000),
      int_key("limits", "job_memory_mb", &Config::job_memory_mb, 6, 1LL << 30),
      int_key("limits", "job_pids", &Config::job_pids, 8, 1 << 22),
      double_key("limits", "max_job_cpus", &Config::max_job_cpus, 0, 10000),
      int_key("limits", "max_job_memory_mb", &Config::max_job_memory_mb, 6, 1LL << 30),
      int_key("limits", "max_job_pids", &Config::max_job_pids, 8, 1 << 22),
      size_key("limits", "max_upload_size", &Config::max_upload_bytes),
      size_key("limits", "max_package_size", &Config::max_package_bytes),
      {"limits", "upload_expiry",
       [](Config& c, const std::string& v) {
         auto seconds = parse_duration(v);
         if (!seconds || *seconds < 1 || *seconds > 366LL * 86400) {
           return Status::invalid("expected a duration from 1s to 366d (\"24h\", \"90m\", " +
                                  std::string("\"30s\", \"7d\"), got '") + v + "'");
         }
         c.upload_expiry_seconds = *seconds;
         return Status::ok();
       },
       [](const Config& c) { return std::to_string(c.upload_expiry_seconds) + "s"; }},
      size_key("limits", "job_log_size", &Config::job_log_bytes),
      double_key("jobs", "monitoring_interval", &Config::monitoring_interval, 0.2, 3600),
      int_key("jobs", "monitoring_history", &Config::monitoring_history, 8, 100000),
      size_key("limits", "max_database_size", &Config::max_database_bytes),
      int_key("events", "queue_events", &Config::event_queue_events, 1, 1 << 20),
      size_key("events", "queue_bytes", &Config::event_queue_bytes),
      int_key("events", "heartbeat_seconds", &Config::event_heartbeat_seconds, 1, 3600),
  };
  return k;
}

const Key* find_key(const std::string& section, const std::string& name) {
  for (const auto& k : keys()) {
    if (section == k.section && name == k.name) return &k;
  }
  return nullptr;
}

Status apply(Config& c, const std::string& section, const std::string& name,
             const std::string& value, const std::string& origin) {
  const Key* k = find_key(section, name);
  if (k == nullptr) {
    return Status::invalid(origin + ": unknown setting " + section + "." + name);
  }
  Status st = k->set(c, trim(value));
  if (!st) return Status::invalid(origin + ": " + section + "." + name + " " + st.message());
  return Status::ok();
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::toupper(ch); });
  return s;
}

Status validate(Config& c) {
  if (c.data_dir.empty()) return Status::invalid("server.data_dir must not be empty");
  // Relative data dirs would move with the working directory; anchor them once.
  c.data_dir = std::filesystem::absolute(c.data_dir).lexically_normal().string();
  while (c.data_dir.size() > 1 && c.data_dir.back() == '/') c.data_dir.pop_back();
  if (c.host_data_dir.empty()) {
    c.host_data_dir = c.data_dir;
  } else {
    c.host_data_dir = std::filesystem::path(c.host_data_dir).lexically_normal().string();
    while (c.host_data_dir.size() > 1 && c.host_data_dir.back() == '/') c.host_data_dir.pop_back();
  }
  if (c.max_job_cpus == 0) {
    c.max_job_cpus = std::max(1u, std::thread::hardware_concurrency());
  }
  if (c.job_cpus > c.max_job_cpus) {
    return Status::invalid("limits.job_cpus (" + fmt_double(c.job_cpus) +
                           ") exceeds limits.max_job_cpus (" + fmt_double(c.max_job_cpus) + ")");
  }
  if (c.job_memory_mb > c.max_job_memory_mb) {
    return Status::invalid("limits.job_memory_mb exceeds limits.max_job_memory_mb");
  }
  if (c.job_pids > c.max_job_pids) {
    return Status::invalid("limits.job_pids exceeds limits.max_job_pids");
  }
  return Status::ok();
}

}  // namespace

std::string Config::effective_database_url() const {
  if (!database_url.empty()) return database_url;
  return "sqlite://" + data_dir + "/pirus.db";
}

std::optional<std::int64_t> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::int64_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's':
      digits.pop_back();
      break;
    case 'm':
      unit = 60;
      digits.pop_back();
      break;
    case 'h':
      unit = 3600;
      digits.pop_back();
      break;
    case 'd':
      unit = 86400;
      digits.pop_back();
      break;
    default:
      break;
  }
  if (digits.empty() || digits.size() > 12 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(digits) * unit;
}

std::optional<std::int64_t> parse_size(const std::string& text) {
  std::string t = trim(text);
  if (t.empty()) return std::nullopt;
  std::int64_t mult = 1;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(t.back())));
  if (last == 'B' && t.size() > 1) {  // "10GB", "512MB"
    t.pop_back();
    last = static_cast<char>(std::toupper(static_cast<unsigned char>(t.back())));
  }
  switch (last) {
    case 'K':
      mult = 1LL << 10;
      break;
    case 'M':
      mult = 1LL << 20;
      break;
    case 'G':
      mult = 1LL << 30;
      break;
    case 'T':
      mult = 1LL << 40;
      break;
    default:
      break;
  }
  if (mult != 1) t.pop_back();
  if (t.empty() ||
      !std::all_of(t.begin(), t.end(), [](unsigned char ch) { return std::isdigit(ch); })) {
    return std::nullopt;
  }
  if (t.size() > 15) return std::nullopt;
  std::int64_t n = std::stoll(t);
  if (n > (INT64_MAX / mult)) return std::nullopt;
  return n * mult;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Result<Config> load_config(const std::string& file, const std::map<std::string, std::string>& env,
                           const std::vector<std::string>& overrides) {
  Config c;
  if (!file.empty()) {
    if (!std::filesystem::exists(file)) {
      return Status::invalid("config file " + file + " does not exist");
    }
    boost::property_tree::ptree tree;
    try {
      boost::property_tree::read_ini(file, tree);
    } catch (const boost::property_tree::ini_parser_error& e) {
      return Status::invalid("config file " + file + ", line " + std::to_string(e.line()) + ": " +
                             e.message());
    }
    for (const auto& [section, body] : tree) {
      if (body.empty()) {
        return Status::invalid(file + ": setting '" + section + "' is outside a [section]");
      }
      for (const auto& [name, value] : body) {
        PIRUS_RETURN_IF_ERROR(apply(c, section, name, value.data(), file));
      }
    }
  }
  // Environment: PIRUS_<SECTION>_<KEY>, e.g. PIRUS_LIMITS_MAX_RUNNING_JOBS=8.
  for (const auto& k : keys()) {
    std::string var = "PIRUS_" + upper(k.section) + "_" + upper(k.name);
    auto it = env.find(var);
    if (it != env.end()) PIRUS_RETURN_IF_ERROR(apply(c, k.section, k.name, it->second, var));
  }
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    auto dot = o.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      return Status::invalid("--set expects section.key=value, got '" + o + "'");
    }
    PIRUS_RETURN_IF_ERROR(
        apply(c, o.substr(0, dot), o.substr(dot + 1, eq - dot - 1), o.substr(eq + 1), "--set"));
  }
  PIRUS_RETURN_IF_ERROR(validate(c));
  return c;
}

std::string describe_config(const Config& config) {
  std::ostringstream os;
  std::string section;
  for (const auto& k : keys()) {
    if (section != k.section) {
      if (!section.empty()) os << "\n";
      section = k.section;
      os << "[" << section << "]\n";
    }
    os << k.name << " = " << k.get(config) << "\n";
  }
  return os.str();
}

}  // namespace pirus
