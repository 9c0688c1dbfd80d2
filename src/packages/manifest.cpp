#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "packages/package.hpp"
#include "packages/package_internal.hpp"

namespace pirus {

namespace json = boost::json;
using packages_internal::format_number;
using packages_internal::join;

namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Tutorials of the original system show Python-style booleans, so authors wrote them. The
// original replaced every "True" in the file, strings included, which corrupted descriptions;
// this only touches bare tokens. Same-length replacements keep error columns right.
std::string patch_python_booleans(std::string_view text) {
  std::string out(text);
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (i > 0 && is_word_char(out[i - 1])) continue;
    for (std::string_view token : {std::string_view("True"), std::string_view("False")}) {
      if (out.compare(i, token.size(), token) == 0 &&
          (i + token.size() == out.size() || !is_word_char(out[i + token.size()]))) {
        out[i] = static_cast<char>(out[i] - 'A' + 'a');
        break;
      }
    }
  }
  return out;
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 100) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s[0])) return false;
  for (char c : s) {
    if (!alnum(c) && c != '.' && c != '_' && c != ' ' && c != '-') return false;
  }
  return true;
}

bool valid_version(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_engine(const std::string& s) {
  if (s.empty() || s.size() > 32 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

// A version written as a JSON number: 2 -> "2", 1.5 -> "1.5", 1.0 -> "1.0" (the author
// meant "1.0", not "1"). Trailing zeros after the first decimal are lost by JSON itself.
std::string version_from_number(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  double d = v.get_double();
  std::string s = format_number(d);
  if (std::isfinite(d) && d == std::floor(d) && s.find_first_of(".eE") == std::string::npos) {
    s += ".0";
  }
  return s;
}

// Lexically normalizes a container path ("/a//b/./c/" -> "/a/b/c"). Returns an empty string
// and sets `why` when the path is not acceptable as a mount point.
std::string normalize_container_path(const std::string& raw, std::string* why) {
  if (raw.empty() || raw[0] != '/') {
    *why = "must be an absolute path (got '" + raw + "')";
    return {};
  }
  for (char c : raw) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      *why = "must not contain control characters";
      return {};
    }
    // The engine's bind syntax uses these as separators ("src:dst:ro", "type=bind,...").
    if (c == ':' || c == ',') {
      *why = "must not contain ':' or ',' (got '" + raw + "')";
      return {};
    }
  }
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t j = raw.find('/', i);
    if (j == std::string::npos) j = raw.size();
    std::string part = raw.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      *why = "must not contain '..' (got '" + raw + "')";
      return {};
    }
    parts.push_back(std::move(part));
  }
  if (parts.empty()) {
    *why = "must not be the root directory";
    return {};
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  // The engine owns these: mounting over them fails or breaks the container.
  for (std::string_view reserved : {"/proc", "/sys", "/dev"}) {
    if (out == reserved || out.starts_with(std::string(reserved) + "/")) {
      *why = "must not be in " + std::string(reserved) + " (got '" + raw + "')";
      return {};
    }
  }
  if (out == "/tmp") {
    *why = "must not be /tmp, which is the job's scratch space";
    return {};
  }
  return out;
}

bool is_inside(const std::string& inner, const std::string& outer) {
  return inner.size() > outer.size() && inner.starts_with(outer) && inner[outer.size()] == '/';
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view text) {
  std::string patched = patch_python_booleans(text);
  auto parsed = packages_internal::parse_json_document(patched, "manifest.json");
  if (!parsed) return parsed.status();
  if (!parsed->is_object()) {
    return Status::invalid("manifest.json: must be a JSON object");
  }
  Manifest m;
  m.json = parsed->as_object();
  json::object& obj = m.json;
  std::vector<std::string> errors;

  auto optional_string = [&](const char* key, std::string* out) {
    const json::value* v = obj.if_contains(key);
    if (!v) {
      obj[key] = *out;
      return;
    }
    if (!v->is_string()) {
      errors.push_back(std::string(key) + ": must be a string");
      return;
    }
    *out = std::string(v->get_string());
  };

  // name
  if (const json::value* v = obj.if_contains("name"); !v) {
    errors.push_back("name: required");
  } else if (!v->is_string()) {
    errors.push_back("name: must be a string");
  } else {
    m.name = std::string(v->get_string());
    if (!valid_name(m.name)) {
      errors.push_back(
          "name: must be 1 to 100 letters, digits, '.', '_', '-' or spaces, starting with a "
          "letter or digit (got '" +
          m.name + "')");
    }
  }

  // version
  if (const json::value* v = obj.if_contains("version"); !v) {
    errors.push_back("version: required");
  } else if (!v->is_string() && !v->is_number()) {
    errors.push_back("version: must be a string");
  } else {
    m.version = v->is_string() ? std::string(v->get_string()) : version_from_number(*v);
    if (!valid_version(m.version)) {
      errors.push_back("version: must be 1 to 64 letters, digits, '.', '_', '+' or '-' (got '" +
                       m.version + "')");
    } else {
      obj["version"] = m.version;
    }
  }

  optional_string("description", &m.description);

  optional_string("type", &m.type);
  if (m.type != "job" && m.type != "importer" && m.type != "exporter" && m.type != "reporter") {
    errors.push_back("type: must be one of job, importer, exporter, reporter (got '" + m.type +
                     "')");
  }

  optional_string("engine", &m.engine);
  if (!valid_engine(m.engine)) {
    errors.push_back("engine: must be a lowercase engine name such as 'docker' (got '" + m.engine +
                     "')");
  }

  if (const json::value* v = obj.if_contains("contacts"); !v) {
    obj["contacts"] = json::array();
  } else if (!v->is_array()) {
    errors.push_back("contacts: must be an array");
  } else {
    m.contacts = v->get_array();
  }

  // Container paths: each one is a separate mount, so they must not overlap.
  struct PathKey {
    const char* key;
    std::string* value;
    bool ok;
  };
  std::vector<PathKey> paths = {{"inputs", &m.inputs, false},
                                {"outputs", &m.outputs, false},
                                {"logs", &m.logs, false},
                                {"databases", &m.databases, false}};
  for (auto& p : paths) {
    std::size_t before = errors.size();
    optional_string(p.key, p.value);
    if (errors.size() != before) continue;
    std::string why;
    std::string normalized = normalize_container_path(*p.value, &why);
    if (normalized.empty()) {
      errors.push_back(std::string(p.key) + ": " + why);
      continue;
    }
    *p.value = normalized;
    obj[p.key] = normalized;
    p.ok = true;
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    for (std::size_t j = 0; j < paths.size(); ++j) {
      if (i == j || !paths[i].ok || !paths[j].ok) continue;
      const std::string& a = *paths[i].value;
      const std::string& b = *paths[j].value;
      if (i < j && a == b) {
        errors.push_back(std::string(paths[j].key) + ": must differ from " + paths[i].key +
                         " (both are '" + a + "')");
      } else if (is_inside(a, b)) {
        errors.push_back(std::string(paths[i].key) + ": must not be inside " + paths[j].key +
                         " ('" + a + "' is inside '" + b + "')");
      }
    }
  }

  if (const json::value* v = obj.if_contains("command"); !v || v->is_null()) {
    obj["command"] = json::array();
  } else if (v->is_string()) {
    if (v->get_string().empty()) {
      errors.push_back("command: must not be an empty string");
    } else {
      m.command = {"/bin/sh", "-c", std::string(v->get_string())};
    }
  } else if (v->is_array()) {
    bool ok = true;
    for (const json::value& arg : v->get_array()) {
      if (!arg.is_string()) {
        ok = false;
        break;
      }
      m.command.emplace_back(arg.get_string());
    }
    if (!ok) {
      m.command.clear();
      errors.push_back("command: must be a string or an array of strings");
    }
  } else {
    errors.push_back("command: must be a string or an array of strings");
  }
  if (obj.contains("command") && !obj["command"].is_array() && errors.empty()) {
    json::array normalized;
    for (const auto& arg : m.command) normalized.emplace_back(arg);
    obj["command"] = std::move(normalized);
  }

  if (const json::value* v = obj.if_contains("read_only_rootfs"); !v) {
    obj["read_only_rootfs"] = m.read_only_rootfs;
  } else if (!v->is_bool()) {
    errors.push_back("read_only_rootfs: must be true or false");
  } else {
    m.read_only_rootfs = v->get_bool();
  }

  if (!errors.empty()) return Status::invalid("manifest.json: " + join(errors, "; "));
  return m;
}

}  // namespace pirus
