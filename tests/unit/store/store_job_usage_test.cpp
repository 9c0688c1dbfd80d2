// Resource usage kept on jobs (migration 3): the monitor raises it, nothing lowers it, and it
// survives reopening the database.

#include "store_fixture.hpp"

namespace pirus {
namespace {

TEST_P(StoreTest, ANewJobHasNoUsage) {
  Job j = must(store().get_job(add_job(add_pipeline().id).id));
  EXPECT_EQ(j.peak_memory_bytes, 0);
  EXPECT_DOUBLE_EQ(j.cpu_seconds, 0);
}

TEST_P(StoreTest, JobUsageRecordingKeepsTheHighestValuesAndLeavesUpdatedAtAlone) {
  Job j = add_job(add_pipeline().id);
  must(store().record_job_usage(j.id, 100 << 20, 1.5));
  must(store().record_job_usage(j.id, 50 << 20, 3.25));  // lower memory, more CPU
  must(store().record_job_usage(j.id, 70 << 20, 2.0));   // a late sample lowers nothing
  Job got = must(store().get_job(j.id));
  EXPECT_EQ(got.peak_memory_bytes, 100 << 20);
  EXPECT_DOUBLE_EQ(got.cpu_seconds, 3.25);
  EXPECT_EQ(got.updated_at, j.updated_at);
  EXPECT_EQ(got.status, JobStatus::kWaiting);
}

TEST_P(StoreTest, JobUsageUnknownJobIsNotFoundAndNegativeValuesAreInvalid) {
  EXPECT_EQ(store().record_job_usage(4242, 1, 1).code(), Code::kNotFound);
  Job j = add_job(add_pipeline().id);
  EXPECT_EQ(store().record_job_usage(j.id, -1, 1).code(), Code::kInvalid);
  EXPECT_EQ(store().record_job_usage(j.id, 1, -0.5).code(), Code::kInvalid);
  Job got = must(store().get_job(j.id));
  EXPECT_EQ(got.peak_memory_bytes, 0);
}

TEST_P(StoreTest, JobUsageSurvivesReopeningAndShowsInListings) {
  Job j = add_job(add_pipeline().id);
  must(store().record_job_usage(j.id, 64 << 20, 12.5));
  reopen();
  Job got = must(store().get_job(j.id));
  EXPECT_EQ(got.peak_memory_bytes, 64 << 20);
  EXPECT_DOUBLE_EQ(got.cpu_seconds, 12.5);
  auto page = must(store().list_jobs(JobQuery{}));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].peak_memory_bytes, 64 << 20);
}

}  // namespace
}  // namespace pirus
