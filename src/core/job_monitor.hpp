#pragma once
// Samples the resource usage of every running job at a fixed interval
// (jobs.monitoring_interval) into a bounded per-job history (UsageHistory, at most
// jobs.monitoring_history points), and keeps each job's peak memory and CPU seconds in the
// store so they outlive the history and a restart.
//
// One timer on the event loop drives all jobs: each tick lists the running jobs and asks the
// engine for their stats, at most kMaxConcurrentSamples requests at a time. A round that has
// not finished when the next tick comes (a slow engine, many jobs) makes that tick skip, so
// requests never pile up: sampling slows down instead.
//
// Histories live in memory only. Those of jobs that ended are kept for the most recent
// kKeptFinished jobs, so the figures stay readable for a while after the end; the totals are
// on the job row for good.
//
// Not thread-safe: everything runs on the event loop.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "core/core_context.hpp"
#include "core/usage_history.hpp"

namespace pirus {

struct UsageView {
  std::optional<UsageSample> current;  // the latest sample; none yet for a new job
  std::int64_t memory_limit_bytes = 0;
  std::int64_t peak_memory_bytes = 0;
  double cpu_percent_avg = 0;  // over every sample taken, not only the kept points
  std::size_t samples = 0;
  std::size_t samples_per_point = 1;
  std::size_t capacity = 0;
  std::vector<UsageSample> history;  // oldest first
};

class JobMonitor {
 public:
  static constexpr std::size_t kMaxConcurrentSamples = 4;
  static constexpr std::size_t kKeptFinished = 64;

  explicit JobMonitor(CoreContext& ctx);
  ~JobMonitor();
  JobMonitor(const JobMonitor&) = delete;
  JobMonitor& operator=(const JobMonitor&) = delete;

  // Starts the timer (idempotent). Does nothing when the engine reports no stats.
  void start();
  // Stops the timer; samples in flight are dropped when they return.
  void stop();

  // What is known about the job; nullopt when it was never sampled (or was forgotten).
  std::optional<UsageView> view(Id job_id) const;
  // Drops the job's history (the job was deleted).
  void forget(Id job_id);
  double interval_seconds() const;

 private:
  struct State;
  static boost::asio::awaitable<void> tick_loop(std::shared_ptr<State> st);
  static void start_round(const std::shared_ptr<State>& st);
  static boost::asio::awaitable<void> round_worker(std::shared_ptr<State> st);
  static boost::asio::awaitable<void> sample(std::shared_ptr<State> st, Id job_id,
                                             std::string container_id);

  std::shared_ptr<State> st_;
};

}  // namespace pirus
