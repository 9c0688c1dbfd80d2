#include "core/job_monitor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace pirus {

namespace asio = boost::asio;

namespace {

struct JobUsage {
  explicit JobUsage(std::size_t capacity) : history(capacity) {}
  UsageHistory history;
  std::optional<UsageSample> current;
  std::int64_t memory_limit_bytes = 0;
  std::int64_t peak_memory_bytes = 0;
  double cpu_seconds = 0;
  double cpu_percent_sum = 0;
  bool finished = false;
};

}  // namespace

struct JobMonitor::State {
  explicit State(CoreContext& c) : ctx(c), timer(c.loop) { read_config(); }
  // Read again at start(): the configuration is final by then.
  void read_config() {
    interval = std::chrono::milliseconds(
        std::max<std::int64_t>(1, std::llround(ctx.config.monitoring_interval * 1000)));
    capacity = static_cast<std::size_t>(std::max<std::int64_t>(2, ctx.config.monitoring_history));
  }

  CoreContext& ctx;
  asio::steady_timer timer;
  std::chrono::milliseconds interval;
  std::size_t capacity;
  bool started = false;
  bool stopped = false;
  bool round_active = false;
  std::size_t workers = 0;
  std::deque<std::pair<Id, std::string>> queue;  // this round's jobs still to sample
  std::map<Id, JobUsage> jobs;
  std::deque<Id> finished_order;  // oldest first; bounded by kKeptFinished
};

JobMonitor::JobMonitor(CoreContext& ctx) : st_(std::make_shared<State>(ctx)) {}

JobMonitor::~JobMonitor() {
  stop();
}

void JobMonitor::start() {
  if (st_->started || st_->stopped) return;
  if (!st_->ctx.manager.features().stats) {
    spdlog::info("monitor: the {} engine gives no stats; jobs are not monitored",
                 st_->ctx.manager.name());
    return;
  }
  st_->started = true;
  st_->read_config();
  asio::co_spawn(st_->ctx.loop, tick_loop(st_), asio::detached);
}

void JobMonitor::stop() {
  st_->stopped = true;
  st_->queue.clear();
  st_->timer.cancel();
}

double JobMonitor::interval_seconds() const {
  return static_cast<double>(st_->interval.count()) / 1000.0;
}

asio::awaitable<void> JobMonitor::tick_loop(std::shared_ptr<State> st) {
  while (!st->stopped) {
    st->timer.expires_after(st->interval);
    boost::system::error_code ec;
    co_await st->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopped) break;
    if (!st->round_active) start_round(st);
  }
}

void JobMonitor::start_round(const std::shared_ptr<State>& st) {
  JobQuery q;
  q.statuses = {JobStatus::kRunning, JobStatus::kPause};
  q.order = JobOrder::kOldestFirst;
  q.limit = 10000;
  auto page = st->ctx.store.list_jobs(q);
  if (!page) {
    spdlog::warn("monitor: cannot list running jobs: {}", page.status().message());
    return;
  }
  std::set<Id> active;
  for (const Job& j : page->items) {
    active.insert(j.id);
    // A paused job's figures do not move; asking the engine would only cost a request.
    if (j.status == JobStatus::kRunning && !j.container_id.empty()) {
      st->queue.emplace_back(j.id, j.container_id);
    }
  }
  // Jobs that left running/pause since the last round keep their history for a while.
  for (auto& [id, usage] : st->jobs) {
    if (!usage.finished && active.count(id) == 0) {
      usage.finished = true;
      st->finished_order.push_back(id);
    } else if (usage.finished && active.count(id) != 0) {
      usage.finished = false;  // resumed after recovery: sampled again
      st->finished_order.erase(
          std::remove(st->finished_order.begin(), st->finished_order.end(), id),
          st->finished_order.end());
    }
  }
  while (st->finished_order.size() > kKeptFinished) {
    st->jobs.erase(st->finished_order.front());
    st->finished_order.pop_front();
  }
  if (st->queue.empty()) return;
  st->round_active = true;
  const std::size_t n = std::min(kMaxConcurrentSamples, st->queue.size());
  st->workers = n;
  for (std::size_t i = 0; i < n; ++i)
    asio::co_spawn(st->ctx.loop, round_worker(st), asio::detached);
}

asio::awaitable<void> JobMonitor::round_worker(std::shared_ptr<State> st) {
  while (!st->stopped && !st->queue.empty()) {
    const Id id = st->queue.front().first;
    std::string cid = std::move(st->queue.front().second);
    st->queue.pop_front();
    co_await sample(st, id, std::move(cid));
  }
  if (--st->workers == 0) st->round_active = false;
}

asio::awaitable<void> JobMonitor::sample(std::shared_ptr<State> st, Id job_id,
                                         std::string container_id) {
  auto stats = co_await st->ctx.manager.stats(container_id);
  if (st->stopped) co_return;
  if (!stats) {
    // The job may have ended between the listing and the request: not worth a warning.
    spdlog::debug("monitor: job {}: {}", job_id, stats.status().message());
    co_return;
  }
  const JobStats& s = *stats;
  // A container that stopped meanwhile reports all zeros; that is no sample of the job.
  if (s.pids == 0 && s.memory_bytes == 0) co_return;
  UsageSample u;
  u.at = s.sampled_at != 0 ? s.sampled_at : now_ms();
  u.cpu_percent = s.cpu_percent;
  u.cpu_seconds = s.cpu_seconds;
  u.memory_bytes = s.memory_bytes;
  u.block_read_bytes = s.block_read_bytes;
  u.block_write_bytes = s.block_write_bytes;
  u.net_rx_bytes = s.net_rx_bytes;
  u.net_tx_bytes = s.net_tx_bytes;
  u.pids = s.pids;

  auto it = st->jobs.find(job_id);
  if (it == st->jobs.end()) it = st->jobs.emplace(job_id, JobUsage(st->capacity)).first;
  JobUsage& usage = it->second;
  usage.history.add(u);
  usage.current = u;
  usage.memory_limit_bytes = s.memory_limit_bytes;
  usage.cpu_percent_sum += u.cpu_percent;
  const bool raised = u.memory_bytes > usage.peak_memory_bytes || u.cpu_seconds > usage.cpu_seconds;
  usage.peak_memory_bytes = std::max(usage.peak_memory_bytes, u.memory_bytes);
  usage.cpu_seconds = std::max(usage.cpu_seconds, u.cpu_seconds);
  if (!raised) co_return;
  Status recorded =
      st->ctx.store.record_job_usage(job_id, usage.peak_memory_bytes, usage.cpu_seconds);
  if (!recorded && recorded.code() != Code::kNotFound) {
    spdlog::warn("monitor: cannot record the usage of job {}: {}", job_id, recorded.message());
  }
}

std::optional<UsageView> JobMonitor::view(Id job_id) const {
  auto it = st_->jobs.find(job_id);
  if (it == st_->jobs.end()) return std::nullopt;
  const JobUsage& u = it->second;
  UsageView v;
  v.current = u.current;
  v.memory_limit_bytes = u.memory_limit_bytes;
  v.peak_memory_bytes = u.peak_memory_bytes;
  v.samples = u.history.samples();
  v.cpu_percent_avg = v.samples > 0 ? u.cpu_percent_sum / static_cast<double>(v.samples) : 0;
  v.samples_per_point = u.history.samples_per_point();
  v.capacity = u.history.capacity();
  v.history = u.history.points();
  return v;
}

void JobMonitor::forget(Id job_id) {
  st_->jobs.erase(job_id);
  st_->finished_order.erase(
      std::remove(st_->finished_order.begin(), st_->finished_order.end(), job_id),
      st_->finished_order.end());
}

}  // namespace pirus
