// JobMonitor on the fake engine: one timer samples running jobs into a bounded history and
// records the peak memory on the job; ended jobs are no longer sampled.
#include "core/job_monitor.hpp"

#include <gtest/gtest.h>

#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

class JobMonitorTest : public CoreTest {
 protected:
  void start_monitoring(double interval, std::int64_t history) {
    config().monitoring_interval = interval;
    config().monitoring_history = history;
    run_void(jobs_->recover());  // starts the scheduler and the monitor
  }
};

TEST_F(JobMonitorTest, RunningJobsAreSampledIntoABoundedHistory) {
  start_monitoring(0.2, 8);
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = start_job(p.id);
  ASSERT_TRUE(pump(
      [&] {
        auto va = jobs_->monitor().view(a.id);
        auto vb = jobs_->monitor().view(b.id);
        return va && vb && va->samples >= 20 && vb->samples >= 20;
      },
      15s));
  auto v = *jobs_->monitor().view(a.id);
  EXPECT_LE(v.history.size(), 8u);
  EXPECT_GE(v.samples_per_point, 2u);
  ASSERT_TRUE(v.current);
  EXPECT_DOUBLE_EQ(v.current->cpu_percent, 50);  // what the fake reports while running
  EXPECT_DOUBLE_EQ(v.cpu_percent_avg, 50);
  EXPECT_EQ(v.peak_memory_bytes, 10 << 20);
  EXPECT_EQ(v.memory_limit_bytes, 1LL << 30);
  EXPECT_DOUBLE_EQ(jobs_->monitor().interval_seconds(), 0.2);
  // The totals are on the job rows.
  EXPECT_EQ(job(a.id).peak_memory_bytes, 10 << 20);
  EXPECT_EQ(job(b.id).peak_memory_bytes, 10 << 20);
}

TEST_F(JobMonitorTest, EndedJobsKeepTheirHistoryButAreNoLongerSampled) {
  start_monitoring(0.1, 16);
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  ASSERT_TRUE(pump([&] {
    auto v = jobs_->monitor().view(a.id);
    return v && v->samples >= 2;
  }));
  ExitInfo ok;
  ok.exit_code = 0;
  fake_->exit(a.id, ok);
  ASSERT_TRUE(wait_status(a.id, JobStatus::kDone));
  idle(300ms);  // a round in flight may still land
  const std::size_t samples = jobs_->monitor().view(a.id)->samples;
  idle(500ms);
  auto v = jobs_->monitor().view(a.id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->samples, samples);
  EXPECT_FALSE(v->history.empty());
  // Deleting the job forgets it.
  ASSERT_TRUE(run(jobs_->remove(a.id)).is_ok());
  EXPECT_FALSE(jobs_->monitor().view(a.id));
}

TEST_F(JobMonitorTest, PausedJobsAreNotSampled) {
  start_monitoring(0.1, 16);
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  ASSERT_TRUE(run(jobs_->pause(a.id)).is_ok());
  idle(300ms);
  const std::size_t before = jobs_->monitor().view(a.id) ? jobs_->monitor().view(a.id)->samples : 0;
  idle(500ms);
  const std::size_t after = jobs_->monitor().view(a.id) ? jobs_->monitor().view(a.id)->samples : 0;
  EXPECT_EQ(before, after);
}

}  // namespace
}  // namespace pirus::core_test
