// bench_events: push-event fan-out. One job produces about --rate events a second (a job
// printing one line every 1000/rate ms, delivered as job_log events through the real server
// path: container -> Docker log stream -> log file -> inotify -> event bus -> hub); --clients
// WebSocket clients (default 1000) subscribe to them. Reports the delivery latency (client
// receipt minus the event's publication time, both on this machine's clock) at p50/p99/max,
// the delivery rate, and the server's CPU use from /proc/<pid>/stat over the measured
// window. Baseline in the same run: one client.
//
// Not a test: run by hand (bench/README.md). Needs dockerd, pirus-base/busybox:1 and `zip`.
// The server is stopped and the temporary directory removed at the end; a watchdog ends the
// run after --timeout seconds.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/api_client.hpp"
#include "support/bench_support.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace fs = std::filesystem;
namespace json = boost::json;
using pirus::cli::ApiClient;
using namespace pirus::bench;  // NOLINT(google-build-using-namespace): bench helpers

struct Options {
  int clients = 1000;
  int rate = 100;
  int seconds = 10;
  int timeout_s = 600;
};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-24T21:50:12.123456Z" -> microseconds since the epoch; 0 when malformed.
std::int64_t parse_time_us(std::string_view s) {
  std::tm tm{};
  int us = 0;
  std::string text(s.substr(0, 27));
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000000 + us;
}

struct Run {
  std::atomic<int> connected{0};
  std::atomic<int> finished{0};
  std::mutex mu;
  std::vector<std::int64_t> latencies_us;
  std::atomic<std::int64_t> first_event_us{0};
  std::atomic<std::int64_t> last_event_us{0};
};

asio::awaitable<void> ws_client(int port, std::string target, Run& run) {
  auto ex = co_await asio::this_coro::executor;
  websocket::stream<beast::tcp_stream> ws(ex);
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(port));
  constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
  auto [cec] = co_await beast::get_lowest_layer(ws).async_connect(endpoint, kNoThrow);
  if (cec) co_return;
  const std::string host = "127.0.0.1";
  auto [hec] = co_await ws.async_handshake(host, target, kNoThrow);
  if (hec) co_return;
  ++run.connected;
  beast::flat_buffer buf;
  std::vector<std::int64_t> mine;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buf, kNoThrow);
    if (ec) break;
    const std::int64_t received = now_us();
    std::string msg = beast::buffers_to_string(buf.data());
    buf.consume(buf.size());
    if (msg.find("\"kind\":\"job_log\"") != std::string::npos) {
      auto t = msg.find("\"time\":\"");
      if (t != std::string::npos) {
        const std::int64_t sent = parse_time_us(std::string_view(msg).substr(t + 8));
        mine.push_back(received - sent);
        std::int64_t zero = 0;
        run.first_event_us.compare_exchange_strong(zero, sent);
        run.last_event_us = std::max<std::int64_t>(run.last_event_us.load(), sent);
      }
    } else if (msg.find("\"status\":\"done\"") != std::string::npos ||
               msg.find("\"status\":\"error\"") != std::string::npos) {
      break;
    }
  }
  {
    std::lock_guard lock(run.mu);
    run.latencies_us.insert(run.latencies_us.end(), mine.begin(), mine.end());
  }
  ++run.finished;
}

struct Result {
  int clients = 0;
  std::size_t deliveries = 0;
  double events_per_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double server_cpu_percent = 0;
  double server_cpu_s = 0;
  double window_s = 0;
};

Result measure(ApiClient& api, int port, pid_t server, std::int64_t pipeline, int clients,
               const Options& o) {
  json::value body = {{"pipeline_id", pipeline}};
  auto job = api.call("POST", "/api/v1/jobs", &body);
  if (!job) fail("creating the job: " + job.status().message());
  const std::int64_t id = job->at("id").to_number<std::int64_t>();
  const std::string target = "/api/v1/events?kinds=job_log,job_updated&job=" + std::to_string(id);
  Run run;
  asio::io_context io(1);
  for (int i = 0; i < clients; ++i) {
    asio::co_spawn(io, ws_client(port, target, run), asio::detached);
  }
  std::thread loop([&] { io.run(); });
  // CPU is measured from the first event to the job's end: the events, not the set-up.
  double cpu0 = 0;
  Clock::time_point t0;
  bool started = false;
  const auto begin = Clock::now();
  while (run.finished < run.connected || run.connected == 0) {
    if (!started && run.first_event_us != 0) {
      started = true;
      cpu0 = process_cpu_s(server);
      t0 = Clock::now();
    }
    if (Clock::now() - begin > std::chrono::seconds(o.seconds + 90)) {
      io.stop();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (run.finished < run.connected) {
    std::printf("note: %d of %d clients had not seen the job end after %d s\n",
                run.connected - run.finished, run.connected.load(), o.seconds + 90);
  }
  const double cpu1 = process_cpu_s(server);
  const double wall = started ? std::chrono::duration<double>(Clock::now() - t0).count() : 0;
  loop.join();
  Result res;
  res.clients = run.connected;
  auto& l = run.latencies_us;
  std::sort(l.begin(), l.end());
  res.deliveries = l.size();
  if (!l.empty()) {
    res.p50_ms = l[l.size() / 2] / 1000.0;
    res.p99_ms = l[std::min(l.size() - 1, l.size() * 99 / 100)] / 1000.0;
    res.max_ms = l.back() / 1000.0;
  }
  const double span = (run.last_event_us - run.first_event_us) / 1e6;
  if (span > 0 && res.clients > 0) res.events_per_s = res.deliveries / res.clients / span;
  res.server_cpu_percent = wall > 0 ? 100.0 * (cpu1 - cpu0) / wall : 0;
  res.server_cpu_s = cpu1 - cpu0;
  res.window_s = wall;
  return res;
}

void print(const char* label, const Result& r) {
  std::printf(
      "%-10s clients %5d  events/s %6.1f  deliveries %8zu  latency p50 %7.2f ms  p99 %7.2f ms"
      "  max %7.2f ms  server CPU %5.1f %%\n",
      label, r.clients, r.events_per_s, r.deliveries, r.p50_ms, r.p99_ms, r.max_ms,
      r.server_cpu_percent);
  if (r.deliveries > 0) {
    std::printf("%-10s server CPU %.2f s over %.1f s: %.1f us per delivery\n", "", r.server_cpu_s,
                r.window_s, 1e6 * r.server_cpu_s / static_cast<double>(r.deliveries));
  }
}

}  // namespace

int main(int argc, char** argv) {
  set_program_name("bench_events");
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] {
      if (i + 1 >= argc) fail(a + " needs a value");
      return std::atoi(argv[++i]);
    };
    if (a == "--clients") {
      o.clients = next();
    } else if (a == "--rate") {
      o.rate = next();
    } else if (a == "--seconds") {
      o.seconds = next();
    } else if (a == "--timeout") {
      o.timeout_s = next();
    } else {
      fail("unknown option " + a + " (--clients N --rate HZ --seconds S --timeout S)");
    }
  }
  start_watchdog(o.timeout_s);

  // Each client is a descriptor here and one in the server (which inherits the limit).
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < static_cast<rlim_t>(o.clients) + 256) {
    fail("RLIMIT_NOFILE is " + std::to_string(lim.rlim_cur) + ": too low for the clients");
  }

  char tmpl[] = "/tmp/pirus-bench-events-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail("mkdtemp failed");
  const fs::path work = tmpl;
  add_cleanup([work] {
    std::error_code ec;
    fs::remove_all(work, ec);
  });
  const fs::path data = work / "data";
  const fs::path log = work / "server.log";
  const fs::path pkg = work / "pkg";
  fs::create_directories(pkg);
  const int pause_us = 1000000 / std::max(1, o.rate);
  const int lines = o.rate * o.seconds;
  {
    std::ofstream(pkg / "manifest.json")
        << R"({"name":"ticker","version":"1","command":["/run.sh"]})";
    std::ofstream(pkg / "Dockerfile")
        << "FROM pirus-base/busybox:1\nCOPY run.sh /run.sh\nRUN chmod 0755 /run.sh\n";
    std::ofstream(pkg / "run.sh") << "#!/bin/sh\nsleep 4\ni=0\nwhile [ $i -lt " << lines
                                  << " ]; do echo \"tick $i\"; i=$((i+1)); usleep " << pause_us
                                  << "; done\n";
  }
  const fs::path zip = work / "ticker.zip";
  const std::string zip_cmd = "cd '" + pkg.string() + "' && zip -q -X '" + zip.string() +
                              "' manifest.json Dockerfile run.sh";
  if (std::system(zip_cmd.c_str()) != 0) fail("zip failed");

  ServerProcess server = start_server(data.string(), log.string());
  const pid_t pid = server.pid;
  const int port = server.port;
  ApiClient api(server.base_url());
  auto installed =
      api.upload("/api/v1/pipelines?filename=ticker.zip", zip.string(), "application/zip");
  if (!installed || installed->status != 202) fail("installing the ticker pipeline failed");
  const std::int64_t pipeline = json::parse(installed->body).at("id").to_number<std::int64_t>();
  // Runs before the server stops (cleanups run last-in first-out): no image is left behind.
  add_cleanup([url = server.base_url(), pipeline] {
    ApiClient c(url);
    (void)c.request("DELETE", "/api/v1/pipelines/" + std::to_string(pipeline));
  });
  for (int i = 0;; ++i) {
    auto p = api.call("GET", "/api/v1/pipelines/" + std::to_string(pipeline));
    if (p && p->at("status").as_string() == "ready") break;
    if (i > 600) fail("the ticker pipeline did not become ready");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::printf("bench_events: %d lines at %d/s (%d s), job_log events over WebSocket\n", lines,
              o.rate, o.seconds);
  Result base = measure(api, port, pid, pipeline, 1, o);
  print("baseline", base);
  Result many = measure(api, port, pid, pipeline, o.clients, o);
  print("fan-out", many);
  if (many.clients < o.clients) {
    std::printf("note: only %d of %d clients connected\n", many.clients, o.clients);
  }
  run_cleanups();
  return 0;
}
