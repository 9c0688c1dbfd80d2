// JobService::notify with the fake engine: the token a job is given, what a notify changes
// (through the same path as the file channel: store and job_updated events), and refusals.
#include <gtest/gtest.h>

#include "common/sha256.hpp"
#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

class JobNotify : public CoreTest {
 protected:
  std::string token_of(Id job_id) {
    for (const auto& l : fake_->launches()) {
      if (l.job_id != job_id) continue;
      for (const auto& [k, v] : l.env) {
        if (k == "PIRUS_NOTIFY_TOKEN") return v;
      }
    }
    return "";
  }
  NotifyOutcome notify(Id id, const std::string& token, const std::string& body) {
    return run(jobs_->notify(id, token, body));
  }
  std::vector<double> progress_published(Id id) const {
    std::vector<double> out;
    for (const auto& e : seen_) {
      if (e.kind != "job_updated" || e.id != id) continue;
      if (const auto* p = e.data.if_contains("progress")) out.push_back(p->to_number<double>());
    }
    return out;
  }
};

TEST_F(JobNotify, EachJobGetsItsOwnTokenStoredOnlyAsAHash) {
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = start_job(p.id);
  const std::string ta = token_of(a.id);
  const std::string tb = token_of(b.id);
  ASSERT_EQ(ta.size(), 64u);
  EXPECT_NE(ta, tb);
  EXPECT_EQ(must(store_->job_notify_token_hash(a.id)), sha256_hex(ta));
  const JobLaunch& l = fake_->launches()[0];
  bool has_url = false;
  for (const auto& [k, v] : l.env) {
    if (k == "PIRUS_NOTIFY_URL")
      has_url = v.find("/api/v1/jobs/" + std::to_string(a.id) + "/notify") != std::string::npos;
  }
  EXPECT_TRUE(has_url);
}

TEST_F(JobNotify, ProgressGoesToTheStoreAndTheEvents) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  NotifyOutcome out = notify(j.id, token_of(j.id), R"({"progress": 0.4, "label": "aligning"})");
  EXPECT_EQ(out.refusal, NotifyRefusal::kNone);
  ASSERT_TRUE(out.job.is_ok()) << out.job.status().to_string();
  EXPECT_DOUBLE_EQ(job(j.id).progress, 0.4);
  EXPECT_EQ(job(j.id).progress_label, "aligning");
  auto published = progress_published(j.id);
  ASSERT_FALSE(published.empty());
  EXPECT_DOUBLE_EQ(published.back(), 0.4);
}

TEST_F(JobNotify, RefusalsChangeNothing) {
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = start_job(p.id);
  EXPECT_EQ(notify(a.id, "", R"({"progress": 0.4})").refusal, NotifyRefusal::kMissingToken);
  EXPECT_EQ(notify(a.id, token_of(b.id), R"({"progress": 0.4})").refusal,
            NotifyRefusal::kWrongToken);
  NotifyOutcome bad = notify(a.id, token_of(a.id), R"({"status": "done"})");
  EXPECT_EQ(bad.refusal, NotifyRefusal::kNone);
  EXPECT_EQ(bad.job.status().code(), Code::kInvalid);
  EXPECT_EQ(notify(999, token_of(a.id), R"({"progress": 0.4})").job.status().code(),
            Code::kNotFound);
  EXPECT_DOUBLE_EQ(job(a.id).progress, 0.0);
  EXPECT_EQ(status_of(a.id), JobStatus::kRunning);
}

TEST_F(JobNotify, TheBucketAllowsABurstThenLimits) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  const std::string t = token_of(j.id);
  int limited = 0;
  int retry = 0;
  for (int i = 0; i < 25; ++i) {
    NotifyOutcome o = notify(j.id, t, R"({"progress": 0.1})");
    if (o.refusal == NotifyRefusal::kRateLimited) {
      ++limited;
      retry = o.retry_after_seconds;
    }
  }
  // 20 pass at once; refills (10/s) during the loop may let a few more through.
  EXPECT_GE(limited, 1);
  EXPECT_LE(limited, 5);
  EXPECT_EQ(retry, 1);
}

TEST_F(JobNotify, ErrorEndsTheJobWithItsReasonAndKillsTheContainer) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  const std::string t = token_of(j.id);
  NotifyOutcome o = notify(j.id, t, R"({"status": "error", "label": "no reference"})");
  ASSERT_TRUE(o.job.is_ok()) << o.job.status().to_string();
  EXPECT_EQ(status_of(j.id), JobStatus::kError);
  EXPECT_EQ(job(j.id).error_reason, "the job reported an error: no reference");
  EXPECT_EQ(fake_->killed().size(), 1u);
  // Ended: the same token is now refused with a conflict.
  EXPECT_EQ(notify(j.id, t, R"({"progress": 0.5})").job.status().code(), Code::kConflict);
}

TEST_F(JobNotify, FinalizingIsOnlyAHint) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  NotifyOutcome o = notify(j.id, token_of(j.id), R"({"status": "finalizing"})");
  ASSERT_TRUE(o.job.is_ok());
  EXPECT_EQ(status_of(j.id), JobStatus::kRunning);
  EXPECT_EQ(job(j.id).progress_label, "finalizing");
  EXPECT_TRUE(fake_->killed().empty());
}

}  // namespace
}  // namespace pirus::core_test
