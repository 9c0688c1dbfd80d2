#pragma once
// Runs the real `pirus server` (PIRUS_BINARY) as a child process for integration and API
// tests, plus helpers that talk to it and to dockerd.
//
// Every ServerProcess gets its own temporary directory (data dir, server log), listens on a
// free loopback port and is stopped (and its containers and images removed) when the object
// goes out of scope, so tests can run in parallel. A restart test starts a second
// ServerProcess on the first one's data_dir() while the first object (stopped or killed)
// still exists: the directory belongs to the first one.
//
// Helpers fail by throwing std::runtime_error: GoogleTest reports the message and ends the
// test. The helpers that need pirus::cli::ApiClient are inline, so only the test binaries
// that link pirus_cli (integration_server, api_rest) pull them in.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/api_client.hpp"
#include "support/temp_dir.hpp"

namespace pirus::testing {

struct ServerOptions {
  // "section.key=value" settings, each passed as `--set`.
  std::vector<std::string> sets;
  // Reuse this data directory (a restart); empty: a fresh one inside the server's TempDir.
  std::string data_dir;
  // Remove the instance's job containers and pipeline images when the object is destroyed.
  bool cleanup_docker = true;
  // Wait until /health says 200 (engine connected). Off for servers meant to run without
  // an engine: any HTTP answer then means "up".
  bool wait_for_engine = true;
};

class ServerProcess {
 public:
  // Starts the server and waits until it answers GET /api/v1/health with 200. Throws
  // std::runtime_error (with the server log) when it does not within 15 s.
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& root_dir() const { return dir_.path(); }  // parent of data_dir() when fresh
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Everything the server wrote so far (stdout and stderr go to one file; its log lines,
  // spdlog's default logger, actually go to stdout).
  std::string log() const;
  // The server instance id (sqlite meta table) and the prefix docker names derive from.
  const std::string& instance_id() const { return instance_id_; }
  std::string instance_prefix() const { return instance_id_.substr(0, 8); }
  // The name of job `job_id`'s container ("pirus-<instance8>-job-<id>").
  std::string container_name(std::int64_t job_id) const;

  // SIGTERM, then waits up to `timeout`; SIGKILLs the process group after that. Returns the
  // exit code (128+signal for a signal death), or -1 when it was not running.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL to the whole process group, and reaps it.
  void kill9();
  // Removes the containers and images labelled with this instance (docker rm -f / rmi -f).
  void cleanup_docker() const;

 private:
  void start(const std::vector<std::string>& sets);
  bool reap(bool block);  // true when the child has exited (and was reaped)

  TempDir dir_;
  std::string data_dir_;
  std::string log_path_;
  std::string url_;
  int port_ = 0;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string instance_id_;
  bool cleanup_docker_ = true;
  bool wait_for_engine_ = true;
};

// ------------------------------------------------------------------ processes and docker

// Runs `command` with /bin/sh, returning its exit code and (when `output` is given) stdout.
int run_command(const std::string& command, std::string* output = nullptr);
// Single-quotes `s` for /bin/sh.
std::string shell_quote(const std::string& s);

// `docker inspect <name>` as JSON (the first element), nullopt when there is no such object.
std::optional<boost::json::object> docker_inspect(const std::string& name);
bool docker_image_exists(const std::string& image);

// Polls `condition` every `interval` until it is true; false on timeout. Never sleeps more
// than `timeout` in total.
bool poll_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(100));

// ------------------------------------------------------------------ packages and data

// The seqstats example pipeline zipped (once per test binary; test-data/ left out).
const std::string& seqstats_zip();
// The repository's examples/pipelines/seqstats/test-data/<name>.
std::string seqstats_test_data(const std::string& name);

// Writes a zip archive with stored (uncompressed) entries; `mode` of 0 means a regular
// 0644 file. Enough to build hostile archives (zip-slip names, symlinks) byte by byte.
struct ZipEntry {
  std::string name;
  std::string content;
  unsigned mode = 0;  // full st_mode, e.g. 0120777 for a symlink (content = target)
};
void write_zip(const std::string& path, const std::vector<ZipEntry>& entries);

// A raw HTTP request with extra headers (the ApiClient sends none): for Range and friends.
struct RawReply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
};
RawReply raw_request(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers = {}, const std::string& body = "");

std::string sha256_of(const std::string& data);

// ------------------------------------------------------------------ REST helpers (inline)

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline std::string describe(const cli::HttpResult& r) {
  return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 2000);
}

// GET/POST/... that must succeed with a JSON body (or an empty one, as null).
inline json::value api_json(cli::ApiClient& client, const std::string& method,
                            const std::string& path, const json::value* body = nullptr) {
  auto r = client.call(method, path, body);
  if (!r) throw std::runtime_error(method + " " + path + " failed: " + r.status().to_string());
  return *r;
}

inline json::object api_object(cli::ApiClient& client, const std::string& path) {
  json::value v = api_json(client, "GET", path);
  if (!v.is_object()) throw std::runtime_error("GET " + path + " did not return an object");
  return v.get_object();
}

inline cli::HttpResult api_request(cli::ApiClient& client, const std::string& method,
                                   const std::string& path, const std::string& body = "",
                                   const std::string& content_type = "application/json") {
  auto r = client.request(method, path, body, content_type);
  if (!r) throw std::runtime_error(method + " " + path + ": " + r.status().to_string());
  return *r;
}

inline std::int64_t id_of(const json::value& v) {
  return v.at("id").to_number<std::int64_t>();
}
inline std::string str_of(const json::value& v, const char* key) {
  const auto* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

// Waits for pipeline `id` to leave installing; returns its JSON (ready or error).
inline json::object wait_pipeline(cli::ApiClient& client, std::int64_t id,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
  const std::string path = "/api/v1/pipelines/" + std::to_string(id);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    json::object p = api_object(client, path);
    std::string status = str_of(p, "status");
    if (status == "ready" || status == "error") return p;
    if (Clock::now() > deadline) {
      throw std::runtime_error("pipeline " + std::to_string(id) + " still " + status +
                               " after the timeout: " + json::serialize(p));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// POSTs the zip; returns the 202 body. Throws on any other answer.
inline json::object post_package(cli::ApiClient& client, const std::string& zip) {
  auto r = client.upload("/api/v1/pipelines?filename=package.zip", zip, "application/zip");
  if (!r) throw std::runtime_error("installing " + zip + ": " + r.status().to_string());
  if (r->status != 202) throw std::runtime_error("installing " + zip + ": " + describe(*r));
  return json::parse(r->body).as_object();
}

// Installs a package and waits until it is ready (120 s); returns the pipeline id.
inline std::int64_t install_pipeline(cli::ApiClient& client, const std::string& zip) {
  std::int64_t id = id_of(post_package(client, zip));
  json::object p = wait_pipeline(client, id);
  if (str_of(p, "status") != "ready") {
    throw std::runtime_error("pipeline " + std::to_string(id) +
                             " did not become ready: " + json::serialize(p));
  }
  return id;
}

// Uploads a local file; returns the new file id.
inline std::int64_t upload(cli::ApiClient& client, const std::string& local_path,
                           const std::string& name = "") {
  std::string n = name.empty() ? local_path.substr(local_path.find_last_of('/') + 1) : name;
  auto r = client.upload("/api/v1/files?name=" + n, local_path, "application/octet-stream");
  if (!r) throw std::runtime_error("uploading " + local_path + ": " + r.status().to_string());
  if (r->status != 201) throw std::runtime_error("uploading " + local_path + ": " + describe(*r));
  return id_of(json::parse(r->body));
}

// POST /api/v1/jobs that must answer 201; returns the job.
inline json::object create_job(cli::ApiClient& client, const json::object& body) {
  auto r = client.request("POST", "/api/v1/jobs", json::serialize(body));
  if (!r) throw std::runtime_error("creating a job: " + r.status().to_string());
  if (r->status != 201) {
    throw std::runtime_error("creating a job " + json::serialize(body) + ": " + describe(*r));
  }
  return json::parse(r->body).as_object();
}

inline json::object get_job(cli::ApiClient& client, std::int64_t id) {
  return api_object(client, "/api/v1/jobs/" + std::to_string(id));
}

// Polls job `id` every 100 ms until `done(job)`; throws with the last state on timeout.
inline json::object wait_job(cli::ApiClient& client, std::int64_t id,
                             const std::function<bool(const json::object&)>& done,
                             std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    json::object j = get_job(client, id);
    if (done(j)) return j;
    if (Clock::now() > deadline) {
      throw std::runtime_error("job " + std::to_string(id) +
                               ": condition not reached before the timeout; last state " +
                               json::serialize(j));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Waits until the job's status is one of `statuses`. A final status that is not wanted ends
// the wait at once (with an error naming it).
inline json::object wait_job(cli::ApiClient& client, std::int64_t id,
                             const std::set<std::string>& statuses,
                             std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  static const std::set<std::string> kFinal = {"done", "canceled", "error"};
  json::object last;
  json::object j = wait_job(
      client, id,
      [&](const json::object& job) {
        std::string s = str_of(job, "status");
        return statuses.count(s) > 0 || kFinal.count(s) > 0;
      },
      timeout);
  if (statuses.count(str_of(j, "status")) == 0) {
    throw std::runtime_error("job " + std::to_string(id) + " ended " + str_of(j, "status") +
                             " while waiting for another status: " + json::serialize(j));
  }
  return j;
}

inline std::string job_log(cli::ApiClient& client, std::int64_t id, const std::string& stream) {
  auto r = api_request(client, "GET", "/api/v1/jobs/" + std::to_string(id) + "/logs/" + stream);
  if (r.status != 200) throw std::runtime_error("job log: " + describe(r));
  return r.body;
}

// The files a job registered (GET /api/v1/files?job_source_id=ID).
inline json::array job_outputs(cli::ApiClient& client, std::int64_t job_id) {
  json::object page =
      api_object(client, "/api/v1/files?job_source_id=" + std::to_string(job_id) + "&limit=1000");
  return page.at("items").as_array();
}

// Observes `condition` for `duration` (polling every 50 ms): false as soon as it stops
// holding. For "X must not happen" checks, which cannot be proven by waiting for an event.
inline bool holds_for(const std::function<bool()>& condition, std::chrono::milliseconds duration) {
  auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    if (!condition()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// A fixture base: start_server() keeps the servers (later ones may reuse the first one's
// data directory) and TearDown prints their logs when the test failed.
class ServerTest : public ::testing::Test {
 protected:
  ServerProcess& start_server(ServerOptions options = {}) {
    servers_.push_back(std::make_unique<ServerProcess>(std::move(options)));
    clients_.push_back(std::make_unique<cli::ApiClient>(servers_.back()->url()));
    return *servers_.back();
  }
  ServerProcess& server() { return *servers_.back(); }  // the newest one
  cli::ApiClient& client() { return *clients_.back(); }

  void TearDown() override {
    if (HasFailure()) {
      for (std::size_t i = 0; i < servers_.size(); ++i) {
        std::string log = servers_[i]->log();
        if (log.size() > 20000) log = "...\n" + log.substr(log.size() - 20000);
        std::cerr << "---- log of server " << i << " (" << servers_[i]->data_dir() << ") ----\n"
                  << log << "---- end of log ----\n";
      }
    }
    clients_.clear();
    // Newest first: a restarted server uses the data directory its predecessor owns.
    while (!servers_.empty()) servers_.pop_back();
  }

  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<std::unique_ptr<cli::ApiClient>> clients_;
};

// A server with the seqstats pipeline installed and the two example inputs uploaded.
class SeqstatsTest : public ServerTest {
 protected:
  // Starts a server, installs seqstats and uploads sample1.fa and sample2.fq.
  void start_seqstats(ServerOptions options = {}) {
    start_server(std::move(options));
    pipeline_ = install_pipeline(client(), seqstats_zip());
    in1_ = upload(client(), seqstats_test_data("sample1.fa"));
    in2_ = upload(client(), seqstats_test_data("sample2.fq"));
  }

  // A job on both inputs (or only sample1.fa) with the given parameters.
  json::object run(const json::object& parameters, bool both_inputs = true) {
    json::array inputs{in1_};
    if (both_inputs) inputs.push_back(in2_);
    return create_job(client(),
                      {{"pipeline_id", pipeline_}, {"inputs", inputs}, {"parameters", parameters}});
  }

  std::string container_of(std::int64_t job) const { return servers_.back()->container_name(job); }

  // The container's State.Status ("running", "paused", "exited"...), "" when there is none.
  std::string container_state(std::int64_t job) const {
    auto c = docker_inspect(container_of(job));
    if (!c) return "";
    return std::string(c->at("State").at("Status").as_string());
  }

  bool container_gone(std::int64_t job, std::chrono::milliseconds timeout = 20s) const {
    return poll_until([&] { return !docker_inspect(container_of(job)); }, timeout);
  }

  std::int64_t pipeline_ = 0;
  std::int64_t in1_ = 0;
  std::int64_t in2_ = 0;
};

// How often `needle` occurs in `text`.
inline int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace pirus::testing
