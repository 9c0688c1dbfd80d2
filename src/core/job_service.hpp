#pragma once
// Jobs: creation, the scheduler, the run (workspace -> container -> completion ->
// outputs), user actions (pause, resume, cancel, delete) and restart recovery.
//
// Everything runs on the event loop (one thread), so the service's own state needs no
// locks. Concurrency between coroutines (a cancel arriving while a launch is awaited) is
// settled by the store: every status change is a compare-and-swap, and the loser of a
// race undoes its side effects (a launch that lost to a cancel kills its container).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "core/core_context.hpp"
#include "core/job_monitor.hpp"
#include "core/pipeline_service.hpp"
#include "core/progress_watcher.hpp"
#include "managers/container_manager.hpp"

namespace pirus {

struct NewJobRequest {
  Id pipeline_id = 0;
  std::string name;
  std::vector<Id> inputs;
  boost::json::object parameters;
  int priority = 0;
  Resources resources;  // 0 = server default
};

// What a job may send on the HTTP progress channel (POST /api/v1/jobs/{id}/notify).
struct NotifyRequest {
  std::optional<double> progress;     // clamped to 0..1
  std::optional<std::string> label;   // at most 200 characters
  std::optional<std::string> status;  // running | finalizing | error
};

// Parses a notify body: only `progress` (number), `label` (string) and `status` (one of
// running, finalizing, error) are accepted, at least one of them; anything else is kInvalid.
Result<NotifyRequest> parse_notify_request(const boost::json::object& body);

// Why a notify was refused before it was looked at.
enum class NotifyRefusal {
  kNone,
  kMissingToken,  // no bearer token (HTTP 401)
  kWrongToken,    // a token that is not this job's (HTTP 403)
  kRateLimited,   // over the per-job rate (HTTP 429, retry after `retry_after_seconds`)
};

struct NotifyOutcome {
  NotifyRefusal refusal = NotifyRefusal::kNone;
  int retry_after_seconds = 0;
  Result<Job> job = Status::internal("not handled");  // when not refused
};

class JobService : public JobObserver {
 public:
  JobService(CoreContext& ctx, PipelineService& pipelines);

  // Validates everything (pipeline ready, inputs usable, parameters against the form,
  // resources within the limits), stores the job in `waiting` and wakes the scheduler.
  Result<Job> create(const NewJobRequest& request);

  boost::asio::awaitable<Result<Job>> pause(Id id);
  boost::asio::awaitable<Result<Job>> resume(Id id);
  boost::asio::awaitable<Result<Job>> cancel(Id id);
  // Only final jobs; removes the row, the output files and the workspace.
  boost::asio::awaitable<Status> remove(Id id);
  boost::asio::awaitable<Result<JobStats>> stats(Id id);

  // The HTTP progress channel. Checks the bearer token against the job's (constant time,
  // on SHA-256 hashes), then the job's rate (token bucket, kNotifyRate per second, burst
  // kNotifyBurst), then the body, then that the job is running (kConflict otherwise).
  // progress/label go through the same path as the file channel. status "finalizing" is only
  // a hint (the label becomes "finalizing" when none is given); status "error" ends the job
  // in error with the label as the reason and stops its container. Nothing else can change.
  // `body` is the raw request body: it is parsed only once the caller is authenticated.
  boost::asio::awaitable<NotifyOutcome> notify(Id id, std::string bearer_token, std::string body);
  static constexpr double kNotifyRate = 10;
  static constexpr double kNotifyBurst = 20;

  // Reconciles the store with the engine after a (re)start, then starts scheduling.
  boost::asio::awaitable<void> recover();
  // Asks the scheduler to look at the queue (coalesced: many calls, one pass).
  void wake_scheduler();
  // Stops starting jobs (graceful shutdown); running containers are left alone.
  void stop();
  // Number of coroutines still working on jobs (for a graceful shutdown).
  int busy() const { return busy_; }

  // Resource usage of running jobs (started with the scheduler by recover()).
  const JobMonitor& monitor() const { return monitor_; }

  // JobObserver
  void on_job_exited(Id job_id, const ExitInfo& exit) override;

 private:
  boost::asio::awaitable<void> schedule_loop();
  void schedule_pass();
  boost::asio::awaitable<void> start(Job job);
  boost::asio::awaitable<void> handle_exit(Id job_id, ExitInfo exit);
  boost::asio::awaitable<void> finalize_success(Job job);
  Result<Job> fail(const Job& job, const std::string& reason, std::optional<int> exit_code = {});
  std::string build_config_json(const Job& job, const Pipeline& p,
                                const std::vector<struct WorkspaceInput>& inputs,
                                const boost::json::object& manifest,
                                const std::string& notify_token) const;
  std::string notify_url(Id job_id) const;
  void publish(const Job& job);
  void apply_progress(Id job_id, const ProgressUpdate& update);

  CoreContext& ctx_;
  PipelineService& pipelines_;
  boost::asio::steady_timer wake_;
  bool scheduler_running_ = false;
  bool schedule_loop_started_ = false;
  bool stopping_ = false;
  int busy_ = 0;
  // Exits reported while the launch coroutine had not yet recorded `running`.
  std::map<Id, ExitInfo> early_exits_;
  ProgressWatcher progress_;
  JobMonitor monitor_;
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::map<Id, Bucket> notify_buckets_;  // running jobs that used the HTTP channel
};

}  // namespace pirus
