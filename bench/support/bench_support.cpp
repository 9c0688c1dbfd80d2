#include "support/bench_support.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/api_client.hpp"
#include "server/listen_banner.hpp"

namespace pirus::bench {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string g_program = "bench";
std::mutex g_cleanup_mu;
std::vector<std::function<void()>> g_cleanups;
std::atomic<bool> g_aborting{false};
std::atomic<pid_t> g_server_pid{-1};

}  // namespace

void set_program_name(std::string name) {
  g_program = std::move(name);
}
const std::string& program_name() {
  return g_program;
}

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

bool aborting() {
  return g_aborting;
}

void fail(const std::string& message) {
  // The watchdog is cleaning up already (a thread failing now most likely lost its server
  // to that cleanup): leave the exit to the watchdog.
  if (g_aborting) {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::cerr << g_program << ": error: " << message << std::endl;
  run_cleanups();
  std::exit(1);
}

void start_watchdog(int seconds) {
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    g_aborting = true;
    std::cerr << g_program << ": timed out after " << seconds << " s; cleaning up" << std::endl;
    run_cleanups();
    std::_Exit(3);
  }).detach();
}

// ------------------------------------------------------------------ the server process

pid_t current_server_pid() {
  return g_server_pid;
}

void stop_server(ServerProcess& server) {
  if (server.pid <= 0) return;
  ::kill(server.pid, SIGTERM);
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (::waitpid(server.pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      std::cerr << g_program << ": the server did not stop within 30 s; killing it\n";
      ::kill(server.pid, SIGKILL);
      ::waitpid(server.pid, &status, 0);
      break;
    }
    sleep_ms(20);
  }
  if (g_server_pid == server.pid) g_server_pid = -1;
  server.pid = -1;
}

ServerProcess start_server(const std::string& data_dir, const std::string& log_path,
                           const std::vector<std::string>& sets, bool wait_healthy) {
  ServerProcess server;
  server.log_path = log_path;
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create " + log_path + ": " + std::strerror(errno));
  std::vector<std::string> args = {PIRUS_BINARY, "server",   "--data-dir",
                                   data_dir,     "--listen", "127.0.0.1:0"};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
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
    ServerProcess s;
    s.pid = pid;
    stop_server(s);  // a no-op when it was stopped already (waitpid fails: not our child)
  });
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    const std::string log = read_text(log_path);
    if (auto port = parse_listening_port(log)) {
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
  if (!wait_healthy) return server;
  cli::ApiClient client(server.base_url());
  for (;;) {
    auto r = client.request("GET", "/api/v1/health");
    if (r.is_ok() && r->status == 200) break;
    if (Clock::now() > deadline) fail("GET /api/v1/health did not answer 200 within 30 s");
    sleep_ms(50);
  }
  return server;
}

// ------------------------------------------------------------------ /proc readings

double process_cpu_s(pid_t pid, bool with_children) {
  if (pid <= 0) return 0;
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(in), {}};
  if (f.size() < 15) return 0;
  // Fields 14-17 of proc(5) (utime stime cutime cstime) are 11-14 after the command.
  double ticks = std::stod(f[11]) + std::stod(f[12]);
  if (with_children) ticks += std::stod(f[13]) + std::stod(f[14]);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double machine_busy_s() {
  std::istringstream in(read_text("/proc/stat"));
  std::string cpu;
  in >> cpu;  // "cpu": the sum over all CPUs
  double v[10] = {};
  for (double& x : v) in >> x;
  const double idle = v[3] + v[4];  // idle, iowait
  double total = 0;
  for (int i = 0; i < 8; ++i) total += v[i];  // guest time is already in user
  return (total - idle) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

pid_t find_process(const std::string& comm) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::string c = read_text((e.path() / "comm").string());
    while (!c.empty() && c.back() == '\n') c.pop_back();
    if (c == comm) return static_cast<pid_t>(std::stoi(name));
  }
  return -1;
}

Memory read_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) fail("cannot read /proc/" + std::to_string(pid) + "/status");
  Memory m;
  std::string line;
  auto mb = [](const std::string& l) {
    return std::stod(l.substr(l.find(':') + 1)) / 1024.0;  // "VmRSS:	   12345 kB"
  };
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_mb = mb(line);
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_mb = mb(line);
    if (line.rfind("RssAnon:", 0) == 0) m.anon_mb = mb(line);
    if (line.rfind("RssFile:", 0) == 0) m.file_mb = mb(line);
    if (line.rfind("Threads:", 0) == 0) m.threads = std::stoi(line.substr(8));
  }
  return m;
}

// ------------------------------------------------------------------ small helpers

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void sleep_ms(double ms) {
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<std::int64_t>(ms * 1000)));
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = static_cast<std::size_t>(std::ceil(pos));
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

std::string fmt(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) fail("cannot write " + path);
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

std::int64_t jint(const json::value& v, std::string_view key) {
  if (!v.is_object()) return 0;
  const auto* f = v.as_object().if_contains(key);
  if (f == nullptr) return 0;
  if (f->is_int64()) return f->get_int64();
  if (f->is_uint64()) return static_cast<std::int64_t>(f->get_uint64());
  return 0;
}

}  // namespace pirus::bench
