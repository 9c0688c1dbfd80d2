#pragma once
// FakeManager: an in-memory ContainerManager for unit tests of the core, in the spirit of
// LevelDB's in-memory Env. Nothing runs: launch() records the request and hands back
// "fake-<n>", containers live in a map, and the test decides when (and how) each one exits.
//
// Everything happens on the executor given at construction, like a real manager: no
// threads, no timers except the gates that hold launches and builds on request. The test
// drives the event loop itself.
//
// Test controls:
// - exit(job_id or container_id, ExitInfo): the container stops; first the stdout/stderr
//   text given by set_logs() is appended to the job's log files and the files given by
//   set_outputs() are written under its outputs mount, then on_job_exited is posted to the
//   executor (when the container is watched: launched, or watched after a restart).
// - deliver_exit(job_id, ExitInfo): posts on_job_exited as-is, whatever the container's
//   state (a duplicate or stray callback from a misbehaving engine).
// - fail_next_launch(status), fail_next_build(status, log lines), set_unavailable(true)
//   (every call answers kUnavailable), hold_launches()/release_launches() and
//   hold_builds()/release_builds() (the call suspends until released: "the engine is slow"),
//   exit_during_launch(job_id, exit) (the container dies before launch() returns, so the exit
//   arrives while the job is still initializing), fail_next_watch(status), preset(container)
//   (containers found by list_jobs() after a restart).
// - The record: launches, paused, resumed, killed, removed, watches, images_built,
//   images_removed, and calls (every method called, in order, "launch 3" style).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "managers/container_manager.hpp"

namespace pirus {

struct FakeManagerOptions {
  ManagerFeatures features{true, true, true, true, true};
  std::string image_prefix = "fake-image-";  // build_image() returns <prefix><pipeline id>
};

class FakeManager final : public ContainerManager {
 public:
  struct BuildCall {
    Id pipeline_id = 0;
    std::string context_tar_path;
    bool context_existed = false;  // the tar was there when build_image() was called
    std::string image_name;
    bool allow_network = false;
  };
  struct WatchCall {
    Id job_id = 0;
    std::string container_id;
    std::string stdout_path;
    std::string stderr_path;
  };
  struct Container {
    Id job_id = 0;
    std::string id;
    ContainerState state = ContainerState::kRunning;
    ExitInfo exit;
    bool watched = false;  // exits are reported (launched here, or watch()-ed)
    std::string stdout_path;
    std::string stderr_path;
    std::string outputs_dir;  // host path of the outputs mount; empty when unknown
  };

  explicit FakeManager(asio::any_io_executor ex, FakeManagerOptions options = {});
  ~FakeManager() override;

  // ContainerManager
  std::string_view name() const override { return "fake"; }
  ManagerFeatures features() const override { return options_.features; }
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

  // ---- test controls
  void set_features(const ManagerFeatures& f) { options_.features = f; }
  void set_unavailable(bool unavailable) { unavailable_ = unavailable; }
  void fail_next_launch(Status status) { next_launch_failure_ = std::move(status); }
  void fail_next_build(Status status, std::vector<std::string> log_lines = {}) {
    next_build_failure_ = std::move(status);
    next_build_log_ = std::move(log_lines);
  }
  void fail_next_watch(Status status) { next_watch_failure_ = std::move(status); }
  // Lines every successful build reports through on_log.
  void set_build_log(std::vector<std::string> lines) { build_log_ = std::move(lines); }
  // While held, launch() records the request and then waits until release_launches().
  void hold_launches() { hold_launches_ = true; }
  void release_launches();
  int held_launches() const { return held_; }
  // The same for build_image(): "the build takes a while".
  void hold_builds() { hold_builds_ = true; }
  void release_builds();
  int held_builds() const { return held_builds_n_; }
  // The container of `job_id` dies with `exit` before launch() returns.
  void exit_during_launch(Id job_id, ExitInfo exit) { exit_during_launch_[job_id] = exit; }
  // Written when the job's container exits (see exit()). Paths are relative to the outputs
  // mount; parent directories are created.
  void set_outputs(Id job_id, std::vector<std::pair<std::string, std::string>> files) {
    outputs_[job_id] = std::move(files);
  }
  void set_logs(Id job_id, std::string stdout_text, std::string stderr_text) {
    logs_[job_id] = {std::move(stdout_text), std::move(stderr_text)};
  }
  // A container that exists before start() (left by a previous server instance).
  // `outputs_dir` is where set_outputs() files go when it exits.
  void preset(const JobContainer& c, const std::string& outputs_dir = "");
  // Stops the container of `job_id` (its most recent one) or `container_id`. False when no
  // such container exists (never launched, or removed).
  bool exit(Id job_id, const ExitInfo& exit);
  bool exit(const std::string& container_id, const ExitInfo& exit);
  // Posts on_job_exited(job_id, exit) unconditionally.
  void deliver_exit(Id job_id, const ExitInfo& exit);

  // ---- inspection
  const std::vector<JobLaunch>& launches() const { return launches_; }
  const std::vector<std::string>& paused() const { return paused_; }
  const std::vector<std::string>& resumed() const { return resumed_; }
  const std::vector<std::string>& killed() const { return killed_; }
  const std::vector<std::string>& removed() const { return removed_; }
  const std::vector<WatchCall>& watches() const { return watches_; }
  const std::vector<BuildCall>& images_built() const { return images_built_; }
  const std::vector<std::string>& images_removed() const { return images_removed_; }
  const std::vector<std::string>& calls() const { return calls_; }
  int exits_delivered() const { return exits_delivered_; }
  bool started() const { return observer_ != nullptr; }
  bool was_shut_down() const { return shut_down_; }
  // The live container, or nullptr (never existed, or removed).
  const Container* container(const std::string& container_id) const;
  // The job's most recent live container, or nullptr.
  const Container* container_of(Id job_id) const;
  std::size_t container_count() const { return containers_.size(); }
  // Launches of one job (a retried or requeued job launches more than once).
  int launch_count(Id job_id) const;
  const JobLaunch* last_launch(Id job_id) const;

 private:
  Container* find(const std::string& container_id);
  Container* find_job(Id job_id);
  bool stop(Container& c, const ExitInfo& exit);
  void write_exit_files(const Container& c);
  void post_exit(Id job_id, const ExitInfo& exit);

  asio::any_io_executor ex_;
  FakeManagerOptions options_;
  JobObserver* observer_ = nullptr;
  bool shut_down_ = false;
  bool unavailable_ = false;
  std::optional<Status> next_launch_failure_;
  std::optional<Status> next_build_failure_;
  std::optional<Status> next_watch_failure_;
  std::vector<std::string> next_build_log_;
  std::vector<std::string> build_log_ = {"Step 1/1 : FROM scratch", "Successfully built"};
  bool hold_launches_ = false;
  int held_ = 0;
  std::vector<std::shared_ptr<asio::steady_timer>> gates_;
  bool hold_builds_ = false;
  int held_builds_n_ = 0;
  std::vector<std::shared_ptr<asio::steady_timer>> build_gates_;
  std::map<Id, ExitInfo> exit_during_launch_;
  std::map<Id, std::vector<std::pair<std::string, std::string>>> outputs_;
  std::map<Id, std::pair<std::string, std::string>> logs_;
  int next_id_ = 1;
  std::map<std::string, Container> containers_;
  // Shared with posted callbacks so that a callback outliving the manager does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  int exits_delivered_ = 0;

  std::vector<JobLaunch> launches_;
  std::vector<std::string> paused_, resumed_, killed_, removed_;
  std::vector<WatchCall> watches_;
  std::vector<BuildCall> images_built_;
  std::vector<std::string> images_removed_;
  std::vector<std::string> calls_;
};

}  // namespace pirus
