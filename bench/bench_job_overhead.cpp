// bench_job_overhead: what Pirus adds on top of a bare container lifecycle.
//
// Starts a `pirus server` (PIRUS_BINARY) on a temporary data directory, listening on
// 127.0.0.1 on an ephemeral port, installs a trivial pipeline (busybox `true`) that it builds
// itself, and measures:
//   a) per-job latency: N sequential jobs, each timed from POST /api/v1/jobs until
//      GET /api/v1/jobs/{id} shows it done. Baseline: the same container lifecycle (same image,
//      user, network none, CapDrop ALL, limits, bind mounts) straight against the Docker
//      Engine API: create, start, wait, remove.
//   b) throughput: M jobs created at once with limits.max_running_jobs=C, makespan from the
//      first create to the last done. Baseline: M direct lifecycles, C threads in flight.
// Pirus and baseline runs of (a) are interleaved so that background load hits both alike.
// A Docker event stream records when each container was created, started, died and
// destroyed, which splits the Pirus latency into phases (see docs/performance.md).
//
// Not a test: run by hand (bench/README.md). Everything it creates (server, data directory,
// containers, images) is removed at the end; a watchdog ends it after --timeout seconds.
// Traffic: loopback HTTP to the server and the Docker unix socket, nothing else.

#include <curl/curl.h>
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
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/api_client.hpp"
#include "support/bench_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using pirus::cli::ApiClient;
using namespace pirus::bench;  // NOLINT(google-build-using-namespace): bench helpers

constexpr const char* kProgram = "bench_job_overhead";
constexpr const char* kDockerSocket = "/var/run/docker.sock";
constexpr const char* kBaseImage = "pirus-base/busybox:1";
constexpr const char* kJobUser = "65534:65534";  // what the server uses when run as root

struct Options {
  int jobs = 50;
  int throughput_jobs = 200;
  int concurrency = 8;
  int warmup = 3;
  double poll_ms = 2;
  int timeout_s = 1800;
  bool keep = false;
};

// ------------------------------------------------------------------ small utilities

// Wall-clock milliseconds since the epoch, as a double (server times and Docker events are
// wall-clock).
double wall_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-24T18:25:03.120Z" -> ms since the epoch; 0 for null or garbage.
double parse_time_ms(const json::value* v) {
  if (v == nullptr || !v->is_string()) return 0;
  std::tm tm{};
  int ms = 0;
  const std::string s(v->get_string());
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) * 1000.0 + ms;
}

// ------------------------------------------------------------------ Docker Engine API (libcurl)

// A blocking Engine API client over the unix socket, one keep-alive connection per object.
// Not thread-safe: one per thread.
class Engine {
 public:
  struct Reply {
    long status = 0;
    std::string body;
    bool ok() const { return status >= 200 && status < 300; }
  };

  Engine() : curl_(curl_easy_init()) {
    if (curl_ == nullptr) fail("curl_easy_init failed");
  }
  ~Engine() { curl_easy_cleanup(curl_); }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Transport errors are fatal when `must` is set, otherwise a status of 0.
  Reply call(const std::string& method, const std::string& path, const std::string& body = {},
             bool must = true) {
    curl_easy_reset(curl_);  // keeps the connection cache
    Reply reply;
    const std::string url = "http://localhost/v1.41" + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_UNIX_SOCKET_PATH, kDockerSocket);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 180L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Engine::on_data);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply.body);
    curl_slist* headers = nullptr;
    if (method == "POST") {
      headers = curl_slist_append(headers, "Content-Type: application/json");
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    } else if (method != "GET") {
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      if (must) fail("docker engine: " + method + " " + path + ": " + curl_easy_strerror(rc));
      return {};
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
  }

 private:
  static size_t on_data(char* p, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, size * n);
    return size * n;
  }

  CURL* curl_;
};

int remove_labelled_containers(Engine& engine, const std::string& key, const std::string& prefix) {
  const std::string filter = url_encode(json::serialize(json::object{{"label", json::array{key}}}));
  auto list = engine.call("GET", "/containers/json?all=1&filters=" + filter, {}, false);
  if (!list.ok()) return 0;
  boost::system::error_code ec;
  json::value doc = json::parse(list.body, ec);
  if (ec || !doc.is_array()) return 0;
  int removed = 0;
  for (const auto& c : doc.as_array()) {
    const auto* labels = c.as_object().if_contains("Labels");
    if (labels == nullptr || !labels->is_object()) continue;
    const std::string value = jstr(*labels, key);
    if (value.rfind(prefix, 0) != 0) continue;
    engine.call("DELETE", "/containers/" + jstr(c, "Id") + "?force=1&v=1", {}, false);
    ++removed;
  }
  return removed;
}

// ------------------------------------------------------------------ Docker event recorder

// When each container (by name) was created, started, died and destroyed, in wall-clock ms,
// from one GET /events stream read on a background thread.
class EventRecorder {
 public:
  struct Times {
    double create = 0;
    double start = 0;
    double die = 0;
    double destroy = 0;
  };

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  ~EventRecorder() { stop(); }

  std::optional<Times> get(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = times_.find(name);
    if (it == times_.end()) return std::nullopt;
    return it->second;
  }

  bool connected() const { return connected_; }

 private:
  void run() {
    CURL* curl = curl_easy_init();
    const std::string filter =
        url_encode(json::serialize(json::object{{"type", json::array{"container"}}}));
    const std::string url = "http://localhost/v1.41/events?filters=" + filter;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, kDockerSocket);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &EventRecorder::on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &EventRecorder::on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
    curl_easy_perform(curl);  // returns when stop() aborts it through on_progress
    curl_easy_cleanup(curl);
  }

  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* r = static_cast<EventRecorder*>(self);
    r->connected_ = true;
    return r->stop_ ? 1 : 0;
  }

  static size_t on_data(char* p, size_t size, size_t n, void* self) {
    auto* r = static_cast<EventRecorder*>(self);
    r->buffer_.append(p, size * n);
    std::size_t nl;
    while ((nl = r->buffer_.find('\n')) != std::string::npos) {
      r->handle(r->buffer_.substr(0, nl));
      r->buffer_.erase(0, nl + 1);
    }
    return size * n;
  }

  void handle(const std::string& line) {
    boost::system::error_code ec;
    json::value ev = json::parse(line, ec);
    if (ec || !ev.is_object()) return;
    const std::string action = jstr(ev, "Action");
    const auto* actor = ev.as_object().if_contains("Actor");
    if (actor == nullptr || !actor->is_object()) return;
    const auto* attrs = actor->as_object().if_contains("Attributes");
    if (attrs == nullptr) return;
    const std::string name = jstr(*attrs, "name");
    if (name.rfind("pirus-", 0) != 0) return;
    const double t = static_cast<double>(jint(ev, "timeNano")) / 1e6;
    std::lock_guard lock(mu_);
    Times& times = times_[name];
    if (action == "create") times.create = t;
    if (action == "start") times.start = t;
    if (action == "die") times.die = t;
    if (action == "destroy") times.destroy = t;
  }

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::string buffer_;
  std::mutex mu_;
  std::map<std::string, Times> times_;
};

// ------------------------------------------------------------------ the Pirus server process

// ------------------------------------------------------------------ REST helpers

json::value must_call(ApiClient& client, const std::string& method, const std::string& path,
                      const json::value* body = nullptr) {
  auto r = client.call(method, path, body);
  if (!r.is_ok()) fail(method + " " + path + ": " + r.status().message());
  return *r;
}

struct Pipeline {
  std::int64_t id = 0;
  std::string image;
};

Pipeline install_trivial_pipeline(ApiClient& client, const fs::path& work) {
  const fs::path pkg = work / "pkg";
  fs::create_directories(pkg);
  write_text(pkg / "manifest.json", R"({"name":"trivial","version":"1"})");
  write_text(pkg / "Dockerfile", std::string("FROM ") + kBaseImage + "\nCMD [\"true\"]\n");
  const fs::path zip = work / "trivial.zip";
  const std::string cmd =
      "cd '" + pkg.string() + "' && zip -q -X '" + zip.string() + "' manifest.json Dockerfile";
  if (std::system(cmd.c_str()) != 0) fail("zip failed: " + cmd);

  auto up =
      client.upload("/api/v1/pipelines?filename=trivial.zip", zip.string(), "application/zip");
  if (!up.is_ok()) fail("uploading the package: " + up.status().message());
  if (!up->ok())
    fail("uploading the package: HTTP " + std::to_string(up->status) + ": " + up->body);
  const std::int64_t id = jint(json::parse(up->body), "id");
  const auto deadline = Clock::now() + std::chrono::seconds(180);
  for (;;) {
    json::value p = must_call(client, "GET", "/api/v1/pipelines/" + std::to_string(id));
    const std::string status = jstr(p, "status");
    if (status == "ready") return {id, jstr(p, "image")};
    if (status == "error") fail("the pipeline build failed: " + jstr(p, "error_reason"));
    if (Clock::now() > deadline) fail("the pipeline was not ready within 180 s");
    sleep_ms(100);
  }
}

bool is_final(const std::string& status) {
  return status == "done" || status == "canceled" || status == "error";
}

struct PirusJob {
  std::int64_t id = 0;
  double post_sent = 0;   // wall ms
  double post_ms = 0;     // POST round trip
  double total_ms = 0;    // POST sent -> done seen
  double seen_done = 0;   // wall ms
  double created_at = 0;  // server times, wall ms (millisecond resolution)
  double started_at = 0;
  double ended_at = 0;
  int polls = 0;
};

std::int64_t create_job(ApiClient& client, std::int64_t pipeline_id, const std::string& name) {
  const json::value body = {{"pipeline_id", pipeline_id}, {"name", name}};
  json::value job = must_call(client, "POST", "/api/v1/jobs", &body);
  return jint(job, "id");
}

void check_done(const json::value& job) {
  if (jstr(job, "status") != "done") {
    fail("job " + std::to_string(jint(job, "id")) + " ended " + jstr(job, "status") + ": " +
         jstr(job, "error_reason"));
  }
}

PirusJob run_pirus_job(ApiClient& client, std::int64_t pipeline_id, double poll_ms, int n) {
  PirusJob r;
  r.post_sent = wall_ms();
  const auto t0 = Clock::now();
  r.id = create_job(client, pipeline_id, "bench " + std::to_string(n));
  r.post_ms = ms_between(t0, Clock::now());
  const std::string path = "/api/v1/jobs/" + std::to_string(r.id);
  const auto deadline = t0 + std::chrono::seconds(120);
  for (;;) {
    json::value job = must_call(client, "GET", path);
    ++r.polls;
    if (is_final(jstr(job, "status"))) {
      const auto t1 = Clock::now();
      r.seen_done = wall_ms();
      r.total_ms = ms_between(t0, t1);
      check_done(job);
      const auto& o = job.as_object();
      r.created_at = parse_time_ms(o.if_contains("created_at"));
      r.started_at = parse_time_ms(o.if_contains("started_at"));
      r.ended_at = parse_time_ms(o.if_contains("ended_at"));
      return r;
    }
    if (Clock::now() > deadline) fail("job " + std::to_string(r.id) + " not done within 120 s");
    sleep_ms(poll_ms);
  }
}

// ------------------------------------------------------------------ the direct baseline

struct DirectRun {
  std::string name;
  double create_ms = 0;
  double start_ms = 0;
  double wait_ms = 0;
  double remove_ms = 0;
  double total_ms = 0;
  double wait_returned = 0;  // wall ms
};

class DirectLifecycle {
 public:
  DirectLifecycle(std::string image, fs::path work, std::string run_label)
      : image_(std::move(image)), work_(std::move(work)), run_label_(std::move(run_label)) {}

  // A workspace laid out like the server's (inputs read-only, outputs and logs writable by the
  // job user, a shared read-only databases directory), made before the clock starts.
  fs::path prepare(int n) const {
    const fs::path ws = work_ / ("ws-" + std::to_string(n));
    for (const char* d : {"inputs", "outputs", "logs"}) fs::create_directories(ws / d);
    fs::create_directories(work_ / "databases");
    write_text(ws / "inputs" / "config.json", "{}\n");
    for (const char* d : {"outputs", "logs"}) {
      if (::chown((ws / d).c_str(), 65534, 65534) != 0 && ::geteuid() == 0) {
        fail("chown " + (ws / d).string() + ": " + std::strerror(errno));
      }
    }
    return ws;
  }

  std::string create_body(const fs::path& ws) const {
    json::object hc;
    hc["Binds"] = json::array{(ws / "inputs").string() + ":/pipeline/inputs:ro",
                              (ws / "outputs").string() + ":/pipeline/outputs:rw",
                              (ws / "logs").string() + ":/pipeline/logs:rw",
                              (work_ / "databases").string() + ":/pipeline/databases:ro"};
    hc["NetworkMode"] = "none";
    hc["CapDrop"] = json::array{"ALL"};
    hc["SecurityOpt"] = json::array{"no-new-privileges"};
    hc["NanoCpus"] = std::int64_t{1'000'000'000};
    hc["Memory"] = std::int64_t{1024} * 1024 * 1024;
    hc["MemorySwap"] = std::int64_t{1024} * 1024 * 1024;
    hc["PidsLimit"] = 512;
    hc["ReadonlyRootfs"] = true;
    hc["Tmpfs"] = json::object{{"/tmp", "rw,noexec,nosuid,size=268435456"}};
    hc["Init"] = true;
    hc["AutoRemove"] = false;
    hc["LogConfig"] = json::object{{"Type", "json-file"}, {"Config", json::object{}}};
    json::object body;
    body["Image"] = image_;
    body["Env"] = json::array{"PIRUS_JOB_ID=0", "PIRUS_CONFIG_FILE=/pipeline/inputs/config.json",
                              "HOME=/tmp"};
    body["User"] = kJobUser;
    body["Labels"] = json::object{{"pirus.bench", run_label_}};
    body["AttachStdin"] = false;
    body["AttachStdout"] = false;
    body["AttachStderr"] = false;
    body["Tty"] = false;
    body["OpenStdin"] = false;
    body["HostConfig"] = std::move(hc);
    return json::serialize(body);
  }

  DirectRun run(Engine& engine, int n) const {
    const fs::path ws = prepare(n);
    const std::string body = create_body(ws);
    DirectRun r;
    r.name = "pirus-bench-" + run_label_ + "-" + std::to_string(n);
    const auto t0 = Clock::now();
    auto created = engine.call("POST", "/containers/create?name=" + r.name, body);
    if (!created.ok()) fail("create " + r.name + ": " + created.body);
    const std::string id = jstr(json::parse(created.body), "Id");
    const auto t1 = Clock::now();
    auto started = engine.call("POST", "/containers/" + id + "/start");
    if (!started.ok()) fail("start " + r.name + ": " + started.body);
    const auto t2 = Clock::now();
    auto waited = engine.call("POST", "/containers/" + id + "/wait");
    if (!waited.ok()) fail("wait " + r.name + ": " + waited.body);
    if (jint(json::parse(waited.body), "StatusCode") != 0) fail(r.name + " exited non-zero");
    const auto t3 = Clock::now();
    r.wait_returned = wall_ms();
    auto removed = engine.call("DELETE", "/containers/" + id + "?v=1");
    if (!removed.ok()) fail("remove " + r.name + ": " + removed.body);
    const auto t4 = Clock::now();
    r.create_ms = ms_between(t0, t1);
    r.start_ms = ms_between(t1, t2);
    r.wait_ms = ms_between(t2, t3);
    r.remove_ms = ms_between(t3, t4);
    r.total_ms = ms_between(t0, t4);
    return r;
  }

 private:
  std::string image_;
  fs::path work_;
  std::string run_label_;
};

// ------------------------------------------------------------------ CPU accounting

// CPU seconds used by the engine daemons, the server and this client, and by the whole machine,
// between two samples: where the time goes when the machine is saturated.
struct CpuSample {
  double dockerd = 0;
  double containerd = 0;  // with its reaped children
  double server = 0;
  double client = 0;
  double machine_busy = 0;
};

CpuSample sample_cpu(pid_t dockerd, pid_t containerd, pid_t server) {
  CpuSample s;
  s.dockerd = process_cpu_s(dockerd, false);
  s.containerd = process_cpu_s(containerd, true);
  s.server = process_cpu_s(server, false);
  s.client = process_cpu_s(::getpid(), false);
  s.machine_busy = machine_busy_s();
  return s;
}

void print_cpu(const CpuSample& a, const CpuSample& b, int jobs, double makespan_ms) {
  auto per_job = [jobs](double s) { return s * 1000.0 / jobs; };
  std::printf(
      "  CPU per job (ms): dockerd %.1f, containerd %.1f, pirus server %.1f, this client "
      "%.1f; whole machine busy %.1f (%.0f%% of %u CPUs over the makespan)\n",
      per_job(b.dockerd - a.dockerd), per_job(b.containerd - a.containerd),
      per_job(b.server - a.server), per_job(b.client - a.client),
      per_job(b.machine_busy - a.machine_busy),
      100.0 * (b.machine_busy - a.machine_busy) /
          (makespan_ms / 1000.0 * std::thread::hardware_concurrency()),
      std::thread::hardware_concurrency());
}

// ------------------------------------------------------------------ reporting

struct Row {
  std::string metric;
  std::string pirus;
  std::string baseline;
  std::string ratio;
  std::string target;
  std::string met;
};

void print_table(const std::vector<Row>& rows) {
  std::cout << "\n| metric | Pirus | baseline | ratio | target | met? |\n"
            << "|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    std::cout << "| " << r.metric << " | " << r.pirus << " | " << r.baseline << " | " << r.ratio
              << " | " << r.target << " | " << r.met << " |\n";
  }
}

void print_dist(const std::string& label, const std::vector<double>& v) {
  std::printf("  %-44s median %8.1f  p90 %8.1f  mean %8.1f  min %8.1f  max %8.1f\n", label.c_str(),
              quantile(v, 0.5), quantile(v, 0.9), mean(v),
              v.empty() ? NAN : *std::min_element(v.begin(), v.end()),
              v.empty() ? NAN : *std::max_element(v.begin(), v.end()));
}

// ------------------------------------------------------------------ options

[[noreturn]] void usage(int code) {
  std::cout << "usage: " << kProgram
            << " [--jobs N] [--throughput-jobs N] [--concurrency N] [--warmup N]\n"
               "       [--poll-ms MS] [--timeout S] [--keep]\n"
               "  --jobs N             sequential jobs for the per-job latency (default 50; 0 "
               "skips)\n"
               "  --throughput-jobs N  jobs for the throughput run (default 200; 0 skips)\n"
               "  --concurrency N      jobs in flight (server limits.max_running_jobs) (default "
               "8)\n"
               "  --warmup N           unrecorded jobs of each kind first (default 3)\n"
               "  --poll-ms MS         GET interval while waiting for one job (default 2)\n"
               "  --timeout S          abort (and clean up) after S seconds (default 1800)\n"
               "  --keep               keep the temporary directory (server log, workspaces)\n";
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
      } else if (a == "--throughput-jobs") {
        o.throughput_jobs = std::stoi(next());
      } else if (a == "--concurrency") {
        o.concurrency = std::stoi(next());
      } else if (a == "--warmup") {
        o.warmup = std::stoi(next());
      } else if (a == "--poll-ms") {
        o.poll_ms = std::stod(next());
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
  if (o.jobs < 0 || o.throughput_jobs < 0 || o.concurrency < 1 || o.warmup < 0 || o.poll_ms < 0 ||
      o.timeout_s < 1) {
    usage(2);
  }
  return o;
}

// ------------------------------------------------------------------ the benchmark

std::string g_instance_prefix;  // "pirus-<instance8>-": set once the pipeline is installed
std::string g_run_label;

struct SequentialResult {
  std::vector<PirusJob> pirus;
  std::vector<DirectRun> direct;
};

SequentialResult run_sequential(const Options& opt, ApiClient& client, const Pipeline& pipeline,
                                const DirectLifecycle& direct, Engine& engine) {
  SequentialResult res;
  for (int i = 0; i < opt.warmup; ++i) {
    run_pirus_job(client, pipeline.id, opt.poll_ms, -1 - i);
    direct.run(engine, 100000 + i);
  }
  for (int i = 0; i < opt.jobs; ++i) {
    // Alternate which one goes first, so that neither always follows the other's cleanup.
    if (i % 2 == 0) {
      res.pirus.push_back(run_pirus_job(client, pipeline.id, opt.poll_ms, i));
      res.direct.push_back(direct.run(engine, i));
    } else {
      res.direct.push_back(direct.run(engine, i));
      res.pirus.push_back(run_pirus_job(client, pipeline.id, opt.poll_ms, i));
    }
    if ((i + 1) % 10 == 0) std::cerr << "  " << (i + 1) << "/" << opt.jobs << " sequential\n";
  }
  return res;
}

struct ThroughputResult {
  double pirus_makespan_ms = 0;
  double pirus_server_span_ms = 0;    // min created_at -> max ended_at
  double create_all_ms = 0;           // time to POST all jobs
  std::vector<double> pirus_run_ms;   // started_at -> ended_at per job
  std::vector<double> pirus_wait_ms;  // created_at -> started_at per job
  double direct_makespan_ms = 0;
  std::vector<double> direct_total_ms;
  CpuSample direct_cpu[2];
  CpuSample pirus_cpu[2];
};

double run_pirus_throughput(const Options& opt, ApiClient& client, const Pipeline& pipeline,
                            ThroughputResult& out) {
  std::vector<std::int64_t> ids;
  const auto t0 = Clock::now();
  for (int i = 0; i < opt.throughput_jobs; ++i) {
    ids.push_back(create_job(client, pipeline.id, "tp " + std::to_string(i)));
  }
  out.create_all_ms = ms_between(t0, Clock::now());
  const std::string active =
      "/api/v1/jobs?status=waiting,initializing,running,pause,finalizing&limit=1";
  const auto deadline = t0 + std::chrono::seconds(900);
  for (;;) {
    json::value page = must_call(client, "GET", active);
    if (page.as_object().at("items").as_array().empty()) break;
    if (Clock::now() > deadline) fail("throughput jobs not finished within 900 s");
    sleep_ms(10);
  }
  const double makespan = ms_between(t0, Clock::now());
  // Check every job is done, and collect the server's timestamps.
  std::map<std::int64_t, json::value> seen;
  std::string cursor;
  do {
    std::string path = "/api/v1/jobs?limit=1000";
    if (!cursor.empty()) path += "&cursor=" + url_encode(cursor);
    json::value page = must_call(client, "GET", path);
    for (const auto& j : page.as_object().at("items").as_array()) seen[jint(j, "id")] = j;
    cursor = jstr(page, "next_cursor");
  } while (!cursor.empty());
  double first_created = 1e300;
  double last_ended = 0;
  for (std::int64_t id : ids) {
    auto it = seen.find(id);
    if (it == seen.end()) fail("job " + std::to_string(id) + " missing from the job list");
    check_done(it->second);
    const auto& o = it->second.as_object();
    const double c = parse_time_ms(o.if_contains("created_at"));
    const double s = parse_time_ms(o.if_contains("started_at"));
    const double e = parse_time_ms(o.if_contains("ended_at"));
    first_created = std::min(first_created, c);
    last_ended = std::max(last_ended, e);
    out.pirus_run_ms.push_back(e - s);
    out.pirus_wait_ms.push_back(s - c);
  }
  out.pirus_server_span_ms = last_ended - first_created;
  return makespan;
}

double run_direct_throughput(const Options& opt, const DirectLifecycle& direct,
                             ThroughputResult& out) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int t = 0; t < opt.concurrency; ++t) {
    threads.emplace_back([&] {
      Engine engine;
      for (int n; (n = next.fetch_add(1)) < opt.throughput_jobs;) {
        DirectRun r = direct.run(engine, 200000 + n);
        std::lock_guard lock(mu);
        out.direct_total_ms.push_back(r.total_ms);
      }
    });
  }
  for (auto& t : threads) t.join();
  return ms_between(t0, Clock::now());
}

std::string docker_version(Engine& engine) {
  auto v = engine.call("GET", "/version", {}, false);
  if (!v.ok()) return "unknown";
  json::value doc = json::parse(v.body);
  return jstr(doc, "Version") + " (API " + jstr(doc, "ApiVersion") + ")";
}

}  // namespace

int main(int argc, char** argv) {
  set_program_name(kProgram);
  const Options opt = parse_options(argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::signal(SIGPIPE, SIG_IGN);
  g_run_label = std::to_string(::getpid());
  start_watchdog(opt.timeout_s);

  char tmpl[] = "/tmp/pirus-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail(std::string("mkdtemp: ") + std::strerror(errno));
  const fs::path work = tmpl;
  ::chmod(work.c_str(), 0755);
  add_cleanup([work, keep = opt.keep] {
    if (keep) {
      std::cerr << kProgram << ": kept " << work << "\n";
      return;
    }
    std::error_code ec;
    fs::remove_all(work, ec);
  });

  Engine engine;
  if (!engine.call("GET", "/_ping", {}, false).ok()) fail("dockerd does not answer on /_ping");
  if (!engine.call("GET", std::string("/images/") + kBaseImage + "/json", {}, false).ok()) {
    fail(std::string("base image ") + kBaseImage +
         " is missing (run scripts/build-base-images.sh)");
  }
  add_cleanup([] {
    Engine e;
    const int n = remove_labelled_containers(e, "pirus.bench", g_run_label);
    if (n > 0) std::cerr << kProgram << ": removed " << n << " leftover baseline container(s)\n";
  });

  EventRecorder events;
  events.start();
  add_cleanup([&events] { events.stop(); });

  const fs::path data = work / "data";
  ServerProcess server =
      start_server(data.string(), (work / "server.log").string(),
                   {"limits.max_running_jobs=" + std::to_string(opt.concurrency)});
  ApiClient client(server.base_url());
  const auto install_t0 = Clock::now();
  const Pipeline pipeline = install_trivial_pipeline(client, work);
  const double install_ms = ms_between(install_t0, Clock::now());
  // pirus-<instance8>-pipeline-<id>:<version>
  g_instance_prefix = pipeline.image.substr(0, pipeline.image.find("-pipeline-") + 1);
  add_cleanup([&client, &server, pipeline] {
    // The server removes the image and package files; then the server stops, and whatever
    // is left in the engine is removed directly.
    if (current_server_pid() > 0 && !aborting()) {  // the client belongs to the main thread
      auto r = client.request("DELETE", "/api/v1/pipelines/" + std::to_string(pipeline.id));
      if (!r.is_ok() || !r->ok()) std::cerr << kProgram << ": could not uninstall the pipeline\n";
    }
    stop_server(server);
    Engine e;
    const std::string inst8 = g_instance_prefix.substr(6, 8);
    const int n = remove_labelled_containers(e, "pirus.instance", inst8);
    if (n > 0) std::cerr << kProgram << ": removed " << n << " leftover server container(s)\n";
    e.call("DELETE", "/images/" + pipeline.image + "?force=1", {}, false);
  });

  std::printf("%s: pirus %s, server %s, pipeline image %s (installed in %.0f ms)\n", kProgram,
              PIRUS_BINARY, server.base_url().c_str(), pipeline.image.c_str(), install_ms);
  std::printf("docker engine %s; %u CPUs; concurrency %d; poll interval %.1f ms\n",
              docker_version(engine).c_str(), std::thread::hardware_concurrency(), opt.concurrency,
              opt.poll_ms);
  std::fflush(stdout);

  const DirectLifecycle direct(pipeline.image, work / "direct", g_run_label);
  std::vector<Row> rows;

  // ---- (a) per-job latency
  if (opt.jobs > 0) {
    std::cerr << kProgram << ": " << opt.jobs << " sequential jobs, Pirus and direct interleaved\n";
    SequentialResult seq = run_sequential(opt, client, pipeline, direct, engine);
    sleep_ms(1500);  // let the last destroy events arrive

    std::vector<double> p_total, p_post, p_queue, p_prepare, p_start, p_run, p_exit, p_seen,
        p_remove, p_polls;
    for (const auto& j : seq.pirus) {
      p_total.push_back(j.total_ms);
      p_post.push_back(j.post_ms);
      p_queue.push_back(j.started_at - j.created_at);
      p_seen.push_back(j.seen_done - j.ended_at);
      p_polls.push_back(j.polls);
      auto ev = events.get(g_instance_prefix + "job-" + std::to_string(j.id));
      if (ev && ev->create > 0 && ev->start > 0 && ev->die > 0) {
        p_prepare.push_back(ev->create - j.started_at);
        p_start.push_back(ev->start - ev->create);
        p_run.push_back(ev->die - ev->start);
        p_exit.push_back(j.ended_at - ev->die);
        if (ev->destroy > 0) p_remove.push_back(ev->destroy - j.ended_at);
      }
    }
    std::vector<double> d_total, d_create, d_start, d_wait, d_remove, d_run, d_exit;
    for (const auto& r : seq.direct) {
      d_total.push_back(r.total_ms);
      d_create.push_back(r.create_ms);
      d_start.push_back(r.start_ms);
      d_wait.push_back(r.wait_ms);
      d_remove.push_back(r.remove_ms);
      auto ev = events.get(r.name);
      if (ev && ev->start > 0 && ev->die > 0) {
        d_run.push_back(ev->die - ev->start);
        d_exit.push_back(r.wait_returned - ev->die);
      }
    }

    std::printf("\n(a) per-job latency, %d sequential jobs (ms)\n", opt.jobs);
    std::printf("Pirus, POST /api/v1/jobs -> GET shows done:\n");
    print_dist("total", p_total);
    std::printf(" phases (server timestamps have 1 ms resolution; events from GET /events):\n");
    print_dist("POST round trip", p_post);
    print_dist("created_at -> started_at (scheduler)", p_queue);
    print_dist("started_at -> container create event", p_prepare);
    print_dist("create event -> start event", p_start);
    print_dist("start event -> die event (the process)", p_run);
    print_dist("die event -> ended_at (exit handling)", p_exit);
    print_dist("ended_at -> done seen by the client", p_seen);
    print_dist("(after done) ended_at -> destroy event", p_remove);
    print_dist("GET polls per job", p_polls);
    std::printf("Baseline, direct Engine API lifecycle:\n");
    print_dist("total (create+start+wait+remove)", d_total);
    print_dist("POST /containers/create", d_create);
    print_dist("POST /containers/{id}/start", d_start);
    print_dist("POST /containers/{id}/wait", d_wait);
    print_dist("DELETE /containers/{id}", d_remove);
    print_dist("start event -> die event (the process)", d_run);
    print_dist("die event -> wait returned", d_exit);
    // Pirus reports done before it removes the container; the baseline's total includes the
    // remove. The baseline up to the end of its wait is printed for comparison too.
    std::vector<double> d_no_remove;
    for (const auto& r : seq.direct) d_no_remove.push_back(r.create_ms + r.start_ms + r.wait_ms);
    print_dist("create+start+wait (without remove)", d_no_remove);

    const double pm = quantile(p_total, 0.5);
    const double bm = quantile(d_total, 0.5);
    const double p9 = quantile(p_total, 0.9);
    const double b9 = quantile(d_total, 0.9);
    std::printf(
        "\nper-job median: Pirus %.1f ms, baseline %.1f ms, ratio %.2fx (target <= 1.15x)\n", pm,
        bm, pm / bm);
    std::printf("per-job p90:    Pirus %.1f ms, baseline %.1f ms, ratio %.2fx\n", p9, b9, p9 / b9);
    rows.push_back({"per-job latency, median (ms)", fmt(pm), fmt(bm), fmt(pm / bm, 2) + "x",
                    "<= 1.15x", pm / bm <= 1.15 ? "yes" : "no"});
    rows.push_back(
        {"per-job latency, p90 (ms)", fmt(p9), fmt(b9), fmt(p9 / b9, 2) + "x", "-", "-"});
    const double bn = quantile(d_no_remove, 0.5);
    std::printf("per-job median vs the baseline without its remove: %.2fx\n", pm / bn);
    rows.push_back({"per-job latency, median, vs baseline without remove (ms)", fmt(pm), fmt(bn),
                    fmt(pm / bn, 2) + "x", "(info)", "-"});
    std::fflush(stdout);
  }

  // ---- (b) throughput
  if (opt.throughput_jobs > 0) {
    ThroughputResult tp;
    std::cerr << kProgram << ": throughput, " << opt.throughput_jobs << " direct lifecycles, "
              << opt.concurrency << " in flight\n";
    const pid_t dockerd = find_process("dockerd");
    const pid_t containerd = find_process("containerd");
    tp.direct_cpu[0] = sample_cpu(dockerd, containerd, server.pid);
    tp.direct_makespan_ms = run_direct_throughput(opt, direct, tp);
    tp.direct_cpu[1] = sample_cpu(dockerd, containerd, server.pid);
    std::cerr << kProgram << ": throughput, " << opt.throughput_jobs
              << " Pirus jobs created at once\n";
    tp.pirus_cpu[0] = sample_cpu(dockerd, containerd, server.pid);
    tp.pirus_makespan_ms = run_pirus_throughput(opt, client, pipeline, tp);
    tp.pirus_cpu[1] = sample_cpu(dockerd, containerd, server.pid);

    const double n = opt.throughput_jobs;
    const double p_rate = n / (tp.pirus_makespan_ms / 1000.0);
    const double b_rate = n / (tp.direct_makespan_ms / 1000.0);
    std::printf("\n(b) throughput, %d jobs, %d in flight\n", opt.throughput_jobs, opt.concurrency);
    std::printf(
        "Pirus: makespan %.0f ms (POSTing all jobs took %.0f ms; server-side first "
        "created_at -> last ended_at %.0f ms)\n",
        tp.pirus_makespan_ms, tp.create_all_ms, tp.pirus_server_span_ms);
    print_dist("per job created_at -> started_at (queued)", tp.pirus_wait_ms);
    print_dist("per job started_at -> ended_at (under load)", tp.pirus_run_ms);
    print_cpu(tp.pirus_cpu[0], tp.pirus_cpu[1], opt.throughput_jobs, tp.pirus_makespan_ms);
    std::printf("Baseline: makespan %.0f ms\n", tp.direct_makespan_ms);
    print_dist("per lifecycle create -> removed (under load)", tp.direct_total_ms);
    print_cpu(tp.direct_cpu[0], tp.direct_cpu[1], opt.throughput_jobs, tp.direct_makespan_ms);
    std::printf(
        "\nthroughput: Pirus %.2f jobs/s, baseline %.2f jobs/s, ratio %.2fx (target >= "
        "0.9x)\n",
        p_rate, b_rate, p_rate / b_rate);
    rows.push_back({"throughput, " + std::to_string(opt.throughput_jobs) + " jobs at " +
                        std::to_string(opt.concurrency) + " in flight (jobs/s)",
                    fmt(p_rate, 2), fmt(b_rate, 2), fmt(p_rate / b_rate, 2) + "x", ">= 0.9x",
                    p_rate / b_rate >= 0.9 ? "yes" : "no"});
  }

  print_table(rows);
  std::fflush(stdout);
  run_cleanups();
  curl_global_cleanup();
  return 0;
}
