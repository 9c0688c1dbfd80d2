#pragma once
// Server configuration: one INI file (see docs/configuration.md and
// deploy/pirus.conf.example), then PIRUS_<SECTION>_<KEY> environment variables, then
// command-line `--set section.key=value` overrides, each layer winning over the previous.
// Every key has a default, so an empty file (or none) gives a working embedded server.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace pirus {

struct Config {
  // [server]
  std::string listen_address = "127.0.0.1";
  unsigned short listen_port = 8080;
  std::string data_dir = "/var/lib/pirus";  // files/, pipelines/, jobs/, databases/, tmp/
  // data_dir as the engine's host sees it, when Pirus runs in a container whose data_dir is a
  // bind mount of another host directory; empty: the same as data_dir.
  std::string host_data_dir;
  std::string log_level = "info";  // trace|debug|info|warn|error
  // Also log to this file, rotated at log_file_size into log_file_count files ("" = stderr only).
  std::string log_file;
  std::int64_t log_file_size = 64LL << 20;
  std::int64_t log_file_count = 5;

  // [database]
  std::string database_url;             // empty: sqlite://<data_dir>/pirus.db
  std::int64_t database_pool_size = 4;  // PostgreSQL connections the server keeps at most

  // [docker]
  std::string docker_socket = "/var/run/docker.sock";
  bool allow_build_network = false;  // RUN steps of pipeline builds get no network by default
  // Image of the start-up container that checks that data_dir is visible to the engine at
  // host_data_dir; empty: the first of a few well-known local images (docs/configuration.md).
  std::string docker_probe_image;

  // [jobs]
  std::string job_user = "auto";  // "auto" or "uid:gid" (see docs/configuration.md)
  std::string job_network = "none";
  double monitoring_interval = 5;         // seconds between two samples of a running job
  std::int64_t monitoring_history = 360;  // samples kept per job (older ones are merged)
  // Base URL jobs use for the HTTP progress channel; empty: derived from server.listen.
  std::string job_notify_url;

  // [databases]
  // Server directory under which `database add --path` may copy from; empty: path imports
  // are refused (an API caller must not be able to publish arbitrary server files to jobs).
  std::string database_import_root;

  // [web]
  // Directory of the built web dashboard served at `/`; empty: `web/` next to the pirus
  // binary, where the build puts it.
  std::string web_root;

  // [limits]
  int max_running_jobs = 4;              // jobs in initializing or running at once
  double max_total_cpus = 0;             // CPU budget of all running jobs; 0 = no budget
  std::int64_t max_total_memory_mb = 0;  // memory budget of running and paused jobs; 0 = none
  double job_cpus = 1;                   // defaults for a job that asks for nothing
  std::int64_t job_memory_mb = 1024;
  std::int64_t job_pids = 512;
  double max_job_cpus = 0;  // the most one job may ask for; 0 = host CPU count
  std::int64_t max_job_memory_mb = 65536;
  std::int64_t max_job_pids = 4096;
  std::int64_t max_upload_bytes = 50LL << 30;
  std::int64_t max_package_bytes = 1LL << 30;
  std::int64_t upload_expiry_seconds = 24 * 3600;  // unfinished resumable uploads expire
  std::int64_t job_log_bytes = 64LL << 20;         // per job and stream; 0 = no cap
  std::int64_t max_database_bytes = 100LL << 30;   // reference database archive and its contents

  // [events] push channels (WebSocket/SSE): per-client queue bounds and keep-alive
  std::int64_t event_queue_events = 1024;
  std::int64_t event_queue_bytes = 4LL << 20;
  std::int64_t event_heartbeat_seconds = 20;

  // Derived paths.
  std::string files_dir() const { return data_dir + "/files"; }
  std::string pipelines_dir() const { return data_dir + "/pipelines"; }
  std::string jobs_dir() const { return data_dir + "/jobs"; }
  std::string databases_dir() const { return data_dir + "/databases"; }
  std::string tmp_dir() const { return data_dir + "/tmp"; }
  std::string effective_database_url() const;
};

// Loads the layers. `file` may be empty (no file); a named file that does not exist is an
// error. `env` is the process environment as key/value pairs; `overrides` are
// "section.key=value" strings. Unknown sections or keys and ill-typed values are kInvalid
// naming the key and where it came from; sizes accept K/M/G/T suffixes ("10G").
Result<Config> load_config(const std::string& file, const std::map<std::string, std::string>& env,
                           const std::vector<std::string>& overrides);

// The process environment as a map (for load_config).
std::map<std::string, std::string> process_environment();

// "90m" -> 5400 seconds; s, m, h, d suffixes, a bare number is seconds. nullopt when
// malformed.
std::optional<std::int64_t> parse_duration(const std::string& text);

// "10G" -> 10737418240. nullopt when malformed.
std::optional<std::int64_t> parse_size(const std::string& text);

// Every key with its current value, as "section.key = value" lines (for `pirus server
// --print-config`).
std::string describe_config(const Config& config);

}  // namespace pirus
