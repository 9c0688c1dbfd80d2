#pragma once
// ContainerManager: the seam between the core and a container engine (Docker now; LXD and
// Slurm later; a fake for unit tests). It plays the part LevelDB's Env plays: the core
// never touches a socket, a daemon or a process; it asks its manager.
//
// Async and threading contract (all implementations):
// - A manager is bound to one executor (the server's event loop). Every coroutine below is
//   started on that executor and must complete on it; every callback to the JobObserver
//   runs on it. Methods are never called concurrently from several threads, so
//   implementations need no locks for their own state. They must never block the loop:
//   slow engine work is awaited, not waited for.
// - Errors are values. kUnavailable: the engine cannot be reached (dockerd down). kNotFound:
//   the container or image does not exist. kInvalid: the engine refused the request
//   (bad image, bad Dockerfile). kInternal: anything else.
// - Idempotence: kill_and_remove and remove succeed when the container is already gone;
//   remove_image succeeds when the image is already gone.
// - Logs: while a job runs, the manager writes its stdout and stderr, demultiplexed, into the
//   two host files named in JobLaunch, appending as output arrives. on_job_exited is called
//   only after both files hold everything the job printed.
// - Completion: exactly one on_job_exited per launch or watch, whatever the engine does
//   (events, wait, polling). A container killed by kill_and_remove produces no callback.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "model/model.hpp"

namespace pirus {

namespace asio = boost::asio;

// What an engine can do. The core checks these before offering an action and answers
// kConflict ("this engine cannot pause jobs") instead of calling a method that cannot work.
struct ManagerFeatures {
  bool pause = false;             // pause() and resume()
  bool stats = false;             // stats()
  bool dockerfile_build = false;  // build_image() from a Dockerfile context
  bool network_none = false;      // can run a job with no network at all
  bool recovery = false;          // list_jobs() and watch() after a server restart
};

struct BuildRequest {
  Id pipeline_id = 0;
  std::string context_tar_path;  // a tar of the package directory, Dockerfile at its root
  std::string image_name;        // the reference to tag the image with
  bool allow_network = false;    // RUN steps get no network unless the admin allows it
  // Receives the build output, one line at a time, as the engine produces it.
  std::function<void(std::string_view line)> on_log;
};

struct Mount {
  std::string host_path;       // absolute path as the server sees it (the manager maps it)
  std::string container_path;  // absolute path inside the container
  bool read_only = true;
};

struct JobLaunch {
  Id job_id = 0;
  std::string image;
  std::vector<std::string> command;  // empty: the image's own entrypoint/cmd
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<Mount> mounts;
  std::string user;  // "uid:gid"; empty means the image's user
  std::string network = "none";
  double cpus = 1;  // hard limits
  std::int64_t memory_bytes = 0;
  std::int64_t pids = 0;
  bool read_only_rootfs = false;
  std::string stdout_path;  // host files the manager appends the job's output to
  std::string stderr_path;
};

struct JobStats {
  double cpu_percent = 0;  // delta container CPU / delta system CPU x online CPUs x 100
  double cpu_seconds = 0;  // CPU time the container has used since it started (cumulative)
  std::int64_t memory_bytes = 0;
  std::int64_t memory_limit_bytes = 0;
  std::int64_t block_read_bytes = 0;
  std::int64_t block_write_bytes = 0;
  std::int64_t net_rx_bytes = 0;
  std::int64_t net_tx_bytes = 0;
  std::int64_t pids = 0;
  TimeMs sampled_at = 0;
};

struct ExitInfo {
  int exit_code = -1;
  bool oom_killed = false;
  std::string engine_error;  // non-empty when the engine itself failed the container
};

enum class ContainerState { kCreated, kRunning, kPaused, kExited, kMissing };

struct JobContainer {
  Id job_id = 0;
  std::string container_id;
  ContainerState state = ContainerState::kMissing;
  ExitInfo exit;  // meaningful when state is kExited
};

// Implemented by the core. Called on the manager's executor.
class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // The job's container has stopped by itself and its logs are complete.
  virtual void on_job_exited(Id job_id, const ExitInfo& exit) = 0;
};

class ContainerManager {
 public:
  virtual ~ContainerManager() = default;
  ContainerManager() = default;
  ContainerManager(const ContainerManager&) = delete;
  ContainerManager& operator=(const ContainerManager&) = delete;

  // "docker", "lxd", "slurm", "fake": what manifests and the API call this engine.
  virtual std::string_view name() const = 0;
  virtual ManagerFeatures features() const = 0;

  // Connects to the engine and starts watching for job completions (one event stream for
  // all jobs, not one watcher per job). Called once, before any other method.
  // kUnavailable when the engine cannot be reached.
  virtual asio::awaitable<Status> start(JobObserver* observer) = 0;
  // Stops watching and closes connections. Containers keep running: a restarted server
  // picks them up again through list_jobs() and watch().
  virtual void shutdown() = 0;
  // ok when the engine answers now; kUnavailable otherwise. Cheap: for health checks.
  virtual asio::awaitable<Status> ping() = 0;

  // Builds (or imports) the pipeline's image; returns the image reference to launch.
  virtual asio::awaitable<Result<std::string>> build_image(BuildRequest request) = 0;
  virtual asio::awaitable<Status> remove_image(std::string image) = 0;

  // Creates and starts the job's container with the mounts, user, network and limits given,
  // and starts streaming its logs. Returns the container id. On failure nothing is left
  // behind (a created container is removed).
  virtual asio::awaitable<Result<std::string>> launch(JobLaunch launch) = 0;
  virtual asio::awaitable<Status> pause(std::string container_id) = 0;
  virtual asio::awaitable<Status> resume(std::string container_id) = 0;
  // Kills the container and removes it. No on_job_exited follows.
  virtual asio::awaitable<Status> kill_and_remove(std::string container_id) = 0;
  // Removes a stopped container. Logs already written to the host files stay.
  virtual asio::awaitable<Status> remove(std::string container_id) = 0;
  virtual asio::awaitable<Result<JobStats>> stats(std::string container_id) = 0;

  // Recovery: every container this server instance created (running, paused or exited).
  virtual asio::awaitable<Result<std::vector<JobContainer>>> list_jobs() = 0;
  // Recovery: watches a container found by list_jobs() again. Its log files are rewritten
  // from the engine's record, so lines are neither lost nor duplicated. When it has
  // already exited, on_job_exited follows promptly.
  virtual asio::awaitable<Status> watch(Id job_id, std::string container_id,
                                        std::string stdout_path, std::string stderr_path) = 0;
};

}  // namespace pirus
