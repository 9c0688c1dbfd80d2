// Concurrency (one Store shared by threads, and several connections to one database) and
// persistence across reopening.

#include <atomic>
#include <latch>
#include <thread>

#include "store_fixture.hpp"

namespace pirus {
namespace {

using S = JobStatus;
constexpr int kThreads = 8;

struct Tally {
  std::atomic<int> ok{0};
  std::atomic<int> conflict{0};
  std::atomic<int> other{0};

  template <typename T>
  void count(const Result<T>& r) {
    if (r.is_ok()) {
      ++ok;
    } else if (r.status().code() == Code::kConflict) {
      ++conflict;
    } else {
      ++other;
    }
  }
};

// Runs body(i) on kThreads threads released together, to make them collide.
template <typename F>
void race(F body) {
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      body(i);
    });
  }
  for (auto& t : threads) t.join();
}

TEST_P(StoreTest, ConcurrentTransitionsOnOneJobHaveExactlyOneWinner) {
  Job job = job_at(S::kWaiting);
  Tally tally;
  race([&](int) { tally.count(store().transition_job(job.id, S::kWaiting, S::kInitializing)); });
  EXPECT_EQ(tally.ok, 1);
  EXPECT_EQ(tally.conflict, kThreads - 1);
  EXPECT_EQ(tally.other, 0);
  EXPECT_EQ(must(store().get_job(job.id)).status, S::kInitializing);
}

TEST_P(StoreTest, ConcurrentTransitionsFromSeparateConnectionsHaveExactlyOneWinner) {
  Job job = job_at(S::kRunning);
  std::vector<std::unique_ptr<Store>> connections;
  for (int i = 0; i < kThreads; ++i) connections.push_back(open_again());
  Tally tally;
  // Different targets, all legal from running: whoever swaps first decides.
  const S targets[] = {S::kPause, S::kCanceled, S::kFinalizing, S::kError};
  race([&](int i) {
    JobUpdate u;
    u.error_reason = "thread " + std::to_string(i);
    tally.count(connections[i]->transition_job(job.id, S::kRunning, targets[i % 4], u));
  });
  EXPECT_EQ(tally.ok, 1);
  EXPECT_EQ(tally.conflict, kThreads - 1);
  EXPECT_EQ(tally.other, 0);
  EXPECT_NE(must(store().get_job(job.id)).status, S::kRunning);
}

TEST_P(StoreTest, ConcurrentFinalizationsRegisterOutputsOnce) {
  Job job = job_at(S::kFinalizing);
  std::vector<std::unique_ptr<Store>> connections;
  for (int i = 0; i < kThreads; ++i) connections.push_back(open_again());
  // Distinct paths per thread, so only the status swap can stop the losers.
  std::vector<std::vector<File>> outputs;
  for (int i = 0; i < kThreads; ++i) outputs.push_back({file_value("out"), file_value("log")});
  Tally tally;
  race([&](int i) { tally.count(connections[i]->finalize_job(job.id, outputs[i])); });
  EXPECT_EQ(tally.ok, 1);
  EXPECT_EQ(tally.conflict, kThreads - 1);
  FileQuery q;
  q.job_source_id = job.id;
  EXPECT_EQ(must(store().list_files(q)).items.size(), 2u);
  EXPECT_EQ(must(store().get_job(job.id)).outputs.size(), 2u);
}

TEST_P(StoreTest, ThreadsSharingTheStoreCanReadAndWriteTogether) {
  Pipeline p = add_pipeline();
  std::atomic<int> failures{0};
  race([&](int i) {
    for (int k = 0; k < 25; ++k) {
      Job j;
      j.pipeline_id = p.id;
      j.name = std::to_string(i) + "/" + std::to_string(k);
      auto created = store().create_job(j);
      if (!created) {
        ++failures;
        continue;
      }
      if (!store().transition_job(created->id, S::kWaiting, S::kCanceled)) ++failures;
      JobQuery q;
      q.limit = 10;
      if (!store().list_jobs(q)) ++failures;
    }
  });
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(must(store().count_jobs({S::kCanceled})), kThreads * 25);
}

TEST_P(StoreTest, ReopeningKeepsDataAndTheSchemaVersion) {
  const int version = store().schema_version();
  EXPECT_GT(version, 0);
  must(store().set_meta("instance_id", "i-1"));
  File in = add_file();
  Job job = job_at(S::kRunning, {in.id});

  reopen();
  EXPECT_EQ(store().schema_version(), version);
  EXPECT_EQ(must(store().get_meta("instance_id")), "i-1");
  Job again = must(store().get_job(job.id));
  EXPECT_EQ(again.status, S::kRunning);
  EXPECT_EQ(again.inputs, std::vector<Id>{in.id});

  reopen();
  EXPECT_EQ(store().schema_version(), version);
  // Ids keep growing after a reopen rather than restarting.
  EXPECT_GT(add_file().id, in.id);
}

}  // namespace
}  // namespace pirus
