// Job notify token hashes: stored per job, replaced, cleared, and never visible in the job.

#include "store_fixture.hpp"

namespace pirus {
namespace {

TEST_P(StoreTest, NotifyTokenHashIsEmptyForANewJob) {
  Pipeline p = add_pipeline();
  Job j = add_job(p.id);
  EXPECT_EQ(must(store().job_notify_token_hash(j.id)), "");
}

TEST_P(StoreTest, NotifyTokenHashIsStoredPerJobAndReplaced) {
  Pipeline p = add_pipeline();
  Job a = add_job(p.id);
  Job b = add_job(p.id);
  const std::string h1(64, 'a');
  const std::string h2(64, 'b');
  ASSERT_TRUE(store().set_job_notify_token_hash(a.id, h1).is_ok());
  EXPECT_EQ(must(store().job_notify_token_hash(a.id)), h1);
  EXPECT_EQ(must(store().job_notify_token_hash(b.id)), "");
  ASSERT_TRUE(store().set_job_notify_token_hash(a.id, h2).is_ok());
  EXPECT_EQ(must(store().job_notify_token_hash(a.id)), h2);
  ASSERT_TRUE(store().set_job_notify_token_hash(a.id, "").is_ok());
  EXPECT_EQ(must(store().job_notify_token_hash(a.id)), "");
}

TEST_P(StoreTest, NotifyTokenHashOfAnUnknownJobIsNotFound) {
  EXPECT_EQ(store().set_job_notify_token_hash(42, std::string(64, 'a')).code(), Code::kNotFound);
  EXPECT_EQ(store().job_notify_token_hash(42).status().code(), Code::kNotFound);
}

TEST_P(StoreTest, NotifyTokenHashGoesWithTheJob) {
  Pipeline p = add_pipeline();
  Job j = add_job(p.id);
  ASSERT_TRUE(store().set_job_notify_token_hash(j.id, std::string(64, 'c')).is_ok());
  must(store().transition_job(j.id, JobStatus::kWaiting, JobStatus::kCanceled));
  must(store().delete_job(j.id));
  EXPECT_EQ(store().job_notify_token_hash(j.id).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace pirus
