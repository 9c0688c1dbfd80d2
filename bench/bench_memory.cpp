// bench_memory: the resident memory of a `pirus server` whose database holds many finished jobs.
//
// Builds a data directory whose SQLite database holds --jobs finished jobs (default 10,000),
// each with one output file: the server is started once so that it creates the schema, then
// stopped, and the rows are inserted with the sqlite3 CLI in one transaction from a generated
// SQL file. The server is then started on it (127.0.0.1, ephemeral port); the whole job list is
// read --passes times through GET /api/v1/jobs?limit=1000 (following next_cursor), the file
// list once, GET /api/v1/health a few times, and VmRSS/VmHWM are read from /proc/<pid>/status.
// Baseline: the same server, same requests, on an empty database.
//
// Not a test: run by hand (bench/README.md). The servers are stopped and the temporary
// directory removed at the end; a watchdog ends it after --timeout seconds.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/api_client.hpp"
#include "server/listen_banner.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using pirus::cli::ApiClient;

constexpr const char* kProgram = "bench_memory";

struct Options {
  int jobs = 10000;
  int passes = 3;
  int timeout_s = 600;
  bool keep = false;
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string fmt(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string jstr(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

// ------------------------------------------------------------------ cleanup and failure

std::mutex g_cleanup_mu;
std::vector<std::function<void()>> g_cleanups;  // run last-in first-out
std::atomic<pid_t> g_server_pid{-1};

void add_cleanup(std::function<void()> f) {
  std::lock_guard lock(g_cleanup_mu);
  g_cleanups.push_back(std::move(f));
}

void run_cleanups() {
  std::vector<std::function<void()>> todo;
  {
    std::lock_guard lock(g_cleanup_mu);
    todo.swap(g_cleanups);
  }
  for (auto it = todo.rbegin(); it != todo.rend(); ++it) (*it)();
}

// Set by the watchdog, which then runs the cleanups itself: a thread that fails meanwhile
// (its server was just stopped) waits for the watchdog to end the process.
std::atomic<bool> g_aborting{false};

[[noreturn]] void fail(const std::string& message) {
  if (g_aborting) {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::cerr << kProgram << ": error: " << message << std::endl;
  run_cleanups();
  std::exit(1);
}

void start_watchdog(int seconds) {
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    g_aborting = true;
    std::cerr << kProgram << ": timed out after " << seconds << " s; cleaning up" << std::endl;
    run_cleanups();
    std::_Exit(3);
  }).detach();
}

// ------------------------------------------------------------------ the server process

struct ServerProcess {
  pid_t pid = -1;
  int port = 0;
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

void stop_server(ServerProcess& server) {
  if (server.pid <= 0) return;
  ::kill(server.pid, SIGTERM);
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (::waitpid(server.pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(server.pid, SIGKILL);
      ::waitpid(server.pid, &status, 0);
      break;
    }
    sleep_ms(20);
  }
  server.pid = -1;
  g_server_pid = -1;
}

ServerProcess start_server(const std::string& data_dir, const std::string& log_path) {
  ServerProcess server;
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create " + log_path + ": " + std::strerror(errno));
  std::vector<std::string> args = {PIRUS_BINARY, "server",   "--data-dir",
                                   data_dir,     "--listen", "127.0.0.1:0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fd);
  server.pid = pid;
  g_server_pid = pid;
  add_cleanup([pid] {
    if (g_server_pid == pid) {
      ServerProcess s;
      s.pid = pid;
      stop_server(s);
    }
  });
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    const std::string log = read_text(log_path);
    if (auto port = pirus::parse_listening_port(log)) {
      server.port = *port;
      break;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      g_server_pid = -1;
      fail("the server exited during startup; its log:\n" + log);
    }
    if (Clock::now() > deadline) fail("the server did not report its port within 30 s");
    sleep_ms(20);
  }
  ApiClient client(server.base_url());
  for (;;) {
    auto r = client.request("GET", "/api/v1/health");
    if (r.is_ok() && r->status == 200) break;
    if (Clock::now() > deadline) fail("GET /api/v1/health did not answer 200 within 30 s");
    sleep_ms(50);
  }
  return server;
}

// ------------------------------------------------------------------ measuring

struct Memory {
  double rss_mb = 0;
  double hwm_mb = 0;
  double anon_mb = 0;
  double file_mb = 0;
  int threads = 0;
};

Memory read_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) fail("cannot read /proc/" + std::to_string(pid) + "/status");
  Memory m;
  std::string line;
  auto kb = [](const std::string& l) {
    return std::stod(l.substr(l.find(':') + 1)) / 1024.0;  // "VmRSS:	   12345 kB"
  };
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_mb = kb(line);
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_mb = kb(line);
    if (line.rfind("RssAnon:", 0) == 0) m.anon_mb = kb(line);
    if (line.rfind("RssFile:", 0) == 0) m.file_mb = kb(line);
    if (line.rfind("Threads:", 0) == 0) m.threads = std::stoi(line.substr(8));
  }
  return m;
}

struct Exercise {
  Memory idle;
  Memory after;
  int jobs_listed = 0;  // per pass
  int pages = 0;        // per pass
  double pass_ms = 0;   // the slowest pass
  double page_ms = 0;   // the slowest page
};

// Reads every page of `list` (a path with limit=1000); returns the item count.
int read_all(ApiClient& client, const std::string& list, int& pages, double& slowest_page_ms) {
  int items = 0;
  std::string cursor;
  do {
    std::string path = list;
    if (!cursor.empty()) path += "&cursor=" + url_encode(cursor);
    const auto t0 = Clock::now();
    auto r = client.call("GET", path);
    slowest_page_ms = std::max(slowest_page_ms, ms_between(t0, Clock::now()));
    if (!r.is_ok()) fail("GET " + path + ": " + r.status().message());
    items += static_cast<int>(r->as_object().at("items").as_array().size());
    cursor = jstr(*r, "next_cursor");
    ++pages;
  } while (!cursor.empty());
  return items;
}

Exercise exercise(const ServerProcess& server, int passes) {
  Exercise e;
  ApiClient client(server.base_url());
  sleep_ms(1000);  // let startup (engine connection, recovery) settle
  e.idle = read_memory(server.pid);
  for (int p = 0; p < passes; ++p) {
    int pages = 0;
    const auto t0 = Clock::now();
    e.jobs_listed = read_all(client, "/api/v1/jobs?limit=1000", pages, e.page_ms);
    e.pass_ms = std::max(e.pass_ms, ms_between(t0, Clock::now()));
    e.pages = pages;
  }
  int file_pages = 0;
  double ignored = 0;
  read_all(client, "/api/v1/files?limit=1000", file_pages, ignored);
  for (int i = 0; i < 5; ++i) {
    auto r = client.request("GET", "/api/v1/health");
    if (!r.is_ok() || r->status != 200) fail("GET /api/v1/health failed");
  }
  sleep_ms(200);
  e.after = read_memory(server.pid);
  return e;
}

// ------------------------------------------------------------------ the database

// One transaction, generated rows: a ready pipeline, `jobs` done jobs with realistic fields,
// one checked output file per job and its job_files link.
std::string populate_sql(int jobs, const std::string& data_dir) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t t0 = now_ms - static_cast<std::int64_t>(jobs + 1) * 1000;
  const std::string t = std::to_string(t0);
  const std::string n = std::to_string(jobs);
  const std::string series =
      "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < " + n + ")\n";
  std::string sql;
  sql += "PRAGMA foreign_keys = ON;\nBEGIN;\n";
  sql +=
      "INSERT INTO pipelines (id, name, version, type, engine, status, description, "
      "manifest_json, form_json, documents_json, path, image, created_at, updated_at, "
      "installed_at) VALUES (1, 'trivial', '1', 'job', 'docker', 'ready', 'memory benchmark', "
      "'{\"name\":\"trivial\",\"version\":\"1\"}', '{}', '{}', '" +
      data_dir + "/pipelines/1', 'pirus-bench-memory-pipeline-1:1', " + t + ", " + t + ", " + t +
      ");\n";
  sql += series +
         "INSERT INTO jobs (id, pipeline_id, name, status, priority, parameters_json, cpus, "
         "memory_mb, pids, progress, progress_label, path, container_id, exit_code, "
         "error_reason, created_at, started_at, ended_at, updated_at)\n"
         "SELECT n, 1, 'trivial run ' || n, 'done', 0, '{\"mode\":\"words\",\"min_count\":3}', "
         "1.0, 1024, 512, 1.0, '', '" +
         data_dir + "/jobs/' || n, lower(hex(randomblob(32))), 0, '', " + t + " + n * 1000, " + t +
         " + n * 1000 + 40, " + t + " + n * 1000 + 650, " + t + " + n * 1000 + 650 FROM c;\n";
  sql += series +
         "INSERT INTO files (id, name, type, path, size, upload_offset, status, sha256, "
         "job_source_id, tags, created_at, updated_at)\n"
         "SELECT n, 'result.txt', 'txt', '" +
         data_dir +
         "/jobs/' || n || '/outputs/result.txt', 1832, 1832, 'checked', "
         "lower(hex(randomblob(32))), n, '', " +
         t + " + n * 1000 + 650, " + t + " + n * 1000 + 650 FROM c;\n";
  sql += series + "INSERT INTO job_files (job_id, file_id, role, position) " +
         "SELECT n, n, 'output', 0 FROM c;\n";
  sql += "COMMIT;\n";
  return sql;
}

void populate(const fs::path& work, const fs::path& data, int jobs) {
  // The server creates the schema (and its instance id); then the rows go in directly.
  ServerProcess s = start_server(data.string(), (work / "schema-server.log").string());
  stop_server(s);
  const fs::path sql_file = work / "populate.sql";
  {
    std::ofstream out(sql_file);
    out << populate_sql(jobs, data.string());
  }
  const auto t0 = Clock::now();
  const std::string cmd =
      "sqlite3 -bail '" + (data / "pirus.db").string() + "' < '" + sql_file.string() + "'";
  if (std::system(cmd.c_str()) != 0) fail("populating the database failed: " + cmd);
  std::cerr << kProgram << ": inserted " << jobs << " jobs in "
            << fmt(ms_between(t0, Clock::now()), 0) << " ms\n";
}

// ------------------------------------------------------------------ main

[[noreturn]] void usage(int code) {
  std::cout << "usage: " << kProgram << " [--jobs N] [--passes N] [--timeout S] [--keep]\n"
            << "  --jobs N     finished jobs in the database (default 10000)\n"
            << "  --passes N   full reads of the job list (default 3)\n"
            << "  --timeout S  abort after S seconds (default 600)\n"
            << "  --keep       keep the temporary directory\n";
  std::exit(code);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    try {
      if (a == "--jobs") {
        o.jobs = std::stoi(next());
      } else if (a == "--passes") {
        o.passes = std::stoi(next());
      } else if (a == "--timeout") {
        o.timeout_s = std::stoi(next());
      } else if (a == "--keep") {
        o.keep = true;
      } else if (a == "-h" || a == "--help") {
        usage(0);
      } else {
        usage(2);
      }
    } catch (const std::exception&) {
      usage(2);
    }
  }
  if (o.jobs < 1 || o.passes < 1 || o.timeout_s < 1) usage(2);
  return o;
}

void print_memory(const char* label, const Exercise& e) {
  std::printf(
      "%s\n  idle after start: VmRSS %.1f MB (anon %.1f, file %.1f)\n"
      "  after reading:    VmRSS %.1f MB (anon %.1f, file %.1f), VmHWM %.1f MB, %d threads\n"
      "  job list: %d jobs in %d page(s) per pass; slowest pass %.0f ms, slowest page %.0f ms\n",
      label, e.idle.rss_mb, e.idle.anon_mb, e.idle.file_mb, e.after.rss_mb, e.after.anon_mb,
      e.after.file_mb, e.after.hwm_mb, e.after.threads, e.jobs_listed, e.pages, e.pass_ms,
      e.page_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  start_watchdog(opt.timeout_s);
  if (std::system("sqlite3 -version > /dev/null") != 0) fail("the sqlite3 CLI is not installed");

  char tmpl[] = "/tmp/pirus-bench-mem-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail(std::string("mkdtemp: ") + std::strerror(errno));
  const fs::path work = tmpl;
  add_cleanup([work, keep = opt.keep] {
    if (keep) {
      std::cerr << kProgram << ": kept " << work << "\n";
      return;
    }
    std::error_code ec;
    fs::remove_all(work, ec);
  });

  // Baseline: an empty database.
  Exercise empty;
  {
    ServerProcess s = start_server((work / "empty").string(), (work / "empty.log").string());
    empty = exercise(s, opt.passes);
    stop_server(s);
  }
  // The same server with `jobs` finished jobs.
  populate(work, work / "full", opt.jobs);
  Exercise full;
  {
    ServerProcess s = start_server((work / "full").string(), (work / "full.log").string());
    full = exercise(s, opt.passes);
    stop_server(s);
  }
  if (full.jobs_listed != opt.jobs) {
    fail("the job list held " + std::to_string(full.jobs_listed) + " jobs, expected " +
         std::to_string(opt.jobs));
  }

  std::printf("%s: pirus %s\n", kProgram, PIRUS_BINARY);
  print_memory("Baseline: empty database", empty);
  print_memory(("Pirus: " + std::to_string(opt.jobs) + " finished jobs").c_str(), full);
  const double r = full.after.rss_mb / empty.after.rss_mb;
  const double h = full.after.hwm_mb / empty.after.hwm_mb;
  std::printf("\nVmRSS with %d jobs: %.1f MB vs %.1f MB empty (%.2fx); target < 50 MB: %s\n",
              opt.jobs, full.after.rss_mb, empty.after.rss_mb, r,
              full.after.rss_mb < 50 ? "met" : "MISSED");
  std::printf(
      "\n| metric | Pirus (%d jobs) | baseline (empty DB) | ratio | target | met? |\n"
      "|---|---|---|---|---|---|\n",
      opt.jobs);
  std::printf("| VmRSS after listing (MB) | %s | %s | %sx | < 50 MB | %s |\n",
              fmt(full.after.rss_mb).c_str(), fmt(empty.after.rss_mb).c_str(), fmt(r, 2).c_str(),
              full.after.rss_mb < 50 ? "yes" : "no");
  std::printf("| VmHWM, peak (MB) | %s | %s | %sx | < 50 MB | %s |\n",
              fmt(full.after.hwm_mb).c_str(), fmt(empty.after.hwm_mb).c_str(), fmt(h, 2).c_str(),
              full.after.hwm_mb < 50 ? "yes" : "no");
  std::printf("| VmRSS idle after start (MB) | %s | %s | %sx | - | - |\n",
              fmt(full.idle.rss_mb).c_str(), fmt(empty.idle.rss_mb).c_str(),
              fmt(full.idle.rss_mb / empty.idle.rss_mb, 2).c_str());
  std::fflush(stdout);
  run_cleanups();
  return 0;
}
