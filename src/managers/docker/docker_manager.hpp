#pragma once
// DockerManager: the ContainerManager for a Docker Engine reached over its unix socket
// (Engine API v1.41, HTTP/1.1). Everything is asynchronous on the manager's executor: one
// event stream watches every job for `die`, one log stream per job appends its output to the
// host files, and every other call is a short request on a connection of its own.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <vector>

#include "managers/container_manager.hpp"

namespace pirus {

struct DockerConfig {
  std::string socket_path = "/var/run/docker.sock";
  // Identifies this Pirus server: every container and image it creates is labelled
  // pirus.instance=<id>, so that list_jobs() and the event filter see only its own work even
  // when several servers share one dockerd. Containers are named
  // pirus-<first 8 characters of the id>-job-<job id>.
  std::string instance_id;
  std::string api_version = "v1.41";
  // Per job and stream: the log files keep this many bytes, then a marker line, and drop the
  // rest (managers/log_cap.hpp). The engine's own json-file record of a job is bounded too,
  // to a few times this. 0: no cap.
  std::int64_t log_limit_bytes = 0;
  // Bind sources under data_dir are sent to the engine under host_data_dir instead
  // (docker/host_paths.hpp): the engine resolves them on its own host. Empty: no mapping.
  std::string data_dir;
  std::string host_data_dir;
};

namespace docker {
struct ManagerState;
}

class DockerManager final : public ContainerManager {
 public:
  DockerManager(asio::any_io_executor ex, DockerConfig cfg);
  ~DockerManager() override;

  std::string_view name() const override { return "docker"; }
  ManagerFeatures features() const override;

  asio::awaitable<Status> start(JobObserver* observer) override;
  void shutdown() override;
  asio::awaitable<Status> ping() override;

  asio::awaitable<Result<std::string>> build_image(BuildRequest request) override;
  asio::awaitable<Status> remove_image(std::string image) override;

  asio::awaitable<Result<std::string>> launch(JobLaunch launch) override;
  asio::awaitable<Status> pause(std::string container_id) override;
  asio::awaitable<Status> resume(std::string container_id) override;
  asio::awaitable<Status> kill_and_remove(std::string container_id) override;
  asio::awaitable<Status> remove(std::string container_id) override;
  asio::awaitable<Result<JobStats>> stats(std::string container_id) override;

  asio::awaitable<Result<std::vector<JobContainer>>> list_jobs() override;
  asio::awaitable<Status> watch(Id job_id, std::string container_id, std::string stdout_path,
                                std::string stderr_path) override;

  // Checks that the engine sees data_dir at host_data_dir: writes a file of random content
  // into `probe_dir` (under data_dir), runs a short container (no network, the file
  // bind-mounted read-only from its host path, as `user`) that prints it, and compares.
  // `images` are tried in order; the first that exists locally is used (never pulled).
  // kFailedPrecondition-like kInvalid naming both paths when the content is not seen;
  // kNotFound when none of the images exists; kUnavailable when the engine cannot be reached.
  asio::awaitable<Status> probe_host_data_dir(std::string probe_dir,
                                              std::vector<std::string> images, std::string user);

  // The container name launch() gives the job: pirus-<instance[0:8]>-job-<id>.
  static std::string container_name(const std::string& instance_id, Id job_id);

 private:
  // Shared with the detached stream coroutines, which may still be suspended when the
  // manager goes away: they hold the state, never the manager.
  std::shared_ptr<docker::ManagerState> st_;
};

}  // namespace pirus
