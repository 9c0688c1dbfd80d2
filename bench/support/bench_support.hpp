#pragma once
// What every benchmark in bench/ needs: a `pirus server` child process on an ephemeral
// loopback port, cleanup that also runs when the benchmark fails or times out, /proc
// readings (CPU seconds, memory) and small formatting and statistics helpers.
//
// Benchmarks are programs, not tests: they print their figures and a ratio against a
// baseline measured in the same run (bench/README.md). Failing means printing why,
// cleaning up, and exiting non-zero.

#include <sys/types.h>

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pirus::bench {

using Clock = std::chrono::steady_clock;

// The name printed in front of messages ("bench_memory: error: ...").
void set_program_name(std::string name);
const std::string& program_name();

// ------------------------------------------------------------------ cleanup and failure

// Registers `f` to run (last in, first out) when the benchmark ends: normally through
// run_cleanups(), or through fail() or the watchdog.
void add_cleanup(std::function<void()> f);
void run_cleanups();
// Prints "<program>: error: message", runs the cleanups and exits 1.
[[noreturn]] void fail(const std::string& message);
// After `seconds`, runs the cleanups and ends the process with status 3.
void start_watchdog(int seconds);
// True once the watchdog fired: threads must not start new work.
bool aborting();

// ------------------------------------------------------------------ the server process

struct ServerProcess {
  pid_t pid = -1;
  int port = 0;
  std::string log_path;
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// Starts PIRUS_BINARY `server --data-dir data_dir --listen 127.0.0.1:0 [--set s]...`, its
// output in `log_path`, and waits for its port and (with `wait_healthy`) a 200 from
// /api/v1/health. Registers a cleanup that stops it.
ServerProcess start_server(const std::string& data_dir, const std::string& log_path,
                           const std::vector<std::string>& sets = {}, bool wait_healthy = true);
// SIGTERM, then SIGKILL after 30 s.
void stop_server(ServerProcess& server);
// The pid of the server started last and still running, or -1.
pid_t current_server_pid();

// ------------------------------------------------------------------ /proc readings

// User + system CPU seconds of `pid` (plus its reaped children with `with_children`).
double process_cpu_s(pid_t pid, bool with_children = false);
// Busy CPU seconds of the whole machine, summed over CPUs.
double machine_busy_s();
// The first process whose comm is `comm`, or -1.
pid_t find_process(const std::string& comm);

struct Memory {
  double rss_mb = 0;
  double hwm_mb = 0;  // peak resident set
  double anon_mb = 0;
  double file_mb = 0;
  int threads = 0;
};
Memory read_memory(pid_t pid);

// ------------------------------------------------------------------ small helpers

double ms_between(Clock::time_point a, Clock::time_point b);
void sleep_ms(double ms);
// Linear interpolation between closest ranks; `v` need not be sorted. NaN when empty.
double quantile(std::vector<double> v, double q);
double mean(const std::vector<double>& v);
// "%.<decimals>f", "n/a" for NaN.
std::string fmt(double v, int decimals = 1);
std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);
std::string url_encode(const std::string& s);
// Members of a JSON object; "" / 0 when missing or of another type.
std::string jstr(const boost::json::value& v, std::string_view key);
std::int64_t jint(const boost::json::value& v, std::string_view key);

}  // namespace pirus::bench
