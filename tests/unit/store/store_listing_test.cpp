// Listings: keyset pagination in every order, filters, limits and cursors.

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>
#include <tuple>

#include "store_fixture.hpp"

namespace pirus {
namespace {

using S = JobStatus;

// Every page of `q`, in order; `pages` gets how many were fetched.
std::vector<Id> walk_jobs(Store& store, JobQuery q, int* pages = nullptr) {
  std::vector<Id> ids;
  int n = 0;
  for (;;) {
    Page<Job> page = must(store.list_jobs(q));
    ++n;
    if (n > 10000) throw std::runtime_error("pagination does not end");
    for (const Job& j : page.items) ids.push_back(j.id);
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  if (pages != nullptr) *pages = n;
  return ids;
}

std::vector<Id> walk_files(Store& store, FileQuery q, int* pages = nullptr) {
  std::vector<Id> ids;
  int n = 0;
  for (;;) {
    Page<File> page = must(store.list_files(q));
    ++n;
    if (n > 10000) throw std::runtime_error("pagination does not end");
    for (const File& f : page.items) ids.push_back(f.id);
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  if (pages != nullptr) *pages = n;
  return ids;
}

// The order a listing must produce, computed from the stored rows themselves.
std::vector<Id> expected_order(std::vector<Job> jobs, JobOrder order) {
  std::sort(jobs.begin(), jobs.end(), [order](const Job& a, const Job& b) {
    switch (order) {
      case JobOrder::kNewestFirst:
        return std::tie(b.created_at, b.id) < std::tie(a.created_at, a.id);
      case JobOrder::kOldestFirst:
        return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
      case JobOrder::kQueueOrder:
        return std::make_tuple(-a.priority, a.created_at, a.id) <
               std::make_tuple(-b.priority, b.created_at, b.id);
    }
    return false;
  });
  std::vector<Id> ids;
  for (const Job& j : jobs) ids.push_back(j.id);
  return ids;
}

const JobOrder kOrders[] = {JobOrder::kNewestFirst, JobOrder::kOldestFirst, JobOrder::kQueueOrder};

TEST_P(StoreTest, ListJobsPagesThroughEveryOrderWithoutGapsOrDuplicates) {
  Pipeline p = add_pipeline();
  std::vector<Job> jobs;
  for (int i = 0; i < 23; ++i) {
    // Runs of jobs share a millisecond, so the id tie-break is exercised too.
    if (i % 5 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    jobs.push_back(add_job(p.id, {}, (i * 7) % 3 - 1));
  }
  for (Job& j : jobs) j = must(store().get_job(j.id));

  for (JobOrder order : kOrders) {
    const std::vector<Id> want = expected_order(jobs, order);
    for (int limit : {1, 4, 5, 23, 100}) {
      SCOPED_TRACE("order " + std::to_string(static_cast<int>(order)) + ", limit " +
                   std::to_string(limit));
      JobQuery q;
      q.order = order;
      q.limit = limit;
      int pages = 0;
      EXPECT_EQ(walk_jobs(store(), q, &pages), want);
      // No trailing empty page when the rows fill the last page exactly.
      EXPECT_EQ(pages, (23 + limit - 1) / limit);
    }
  }
}

TEST_P(StoreTest, ListJobsDefaultsToNewestFirst) {
  Pipeline p = add_pipeline();
  Id a = add_job(p.id).id;
  Id b = add_job(p.id).id;
  auto page = must(store().list_jobs({}));
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].id, b);
  EXPECT_EQ(page.items[1].id, a);
  EXPECT_TRUE(page.next_cursor.empty());
}

TEST_P(StoreTest, ListJobsCursorsStayValidWhileJobsAreAdded) {
  Pipeline p = add_pipeline();
  std::vector<Id> first;
  for (int i = 0; i < 10; ++i) first.push_back(add_job(p.id).id);

  JobQuery q;
  q.order = JobOrder::kOldestFirst;
  q.limit = 4;
  Page<Job> page = must(store().list_jobs(q));
  std::vector<Id> seen;
  for (const Job& j : page.items) seen.push_back(j.id);
  std::vector<Id> later;
  for (int i = 0; i < 3; ++i) later.push_back(add_job(p.id).id);
  q.cursor = page.next_cursor;
  for (Id id : walk_jobs(store(), q)) seen.push_back(id);
  std::vector<Id> want = first;
  want.insert(want.end(), later.begin(), later.end());
  EXPECT_EQ(seen, want);

  // Newest first, rows added after the first page are before the cursor: no repeats.
  q.order = JobOrder::kNewestFirst;
  q.cursor.clear();
  page = must(store().list_jobs(q));
  seen.clear();
  for (const Job& j : page.items) seen.push_back(j.id);
  add_job(p.id);
  q.cursor = page.next_cursor;
  for (Id id : walk_jobs(store(), q)) seen.push_back(id);
  EXPECT_EQ(seen.size(), 13u);
  EXPECT_EQ(std::set<Id>(seen.begin(), seen.end()).size(), 13u);
}

TEST_P(StoreTest, ListJobsFiltersByStatusAndPipeline) {
  Pipeline p1 = add_pipeline("one");
  Pipeline p2 = add_pipeline("two");
  Id w1 = add_job(p1.id).id;
  Id w2 = add_job(p2.id).id;
  Id r1 = drive(add_job(p1.id).id, S::kRunning).id;
  Id d2 = drive(add_job(p2.id).id, S::kDone).id;

  JobQuery q;
  q.order = JobOrder::kOldestFirst;
  q.limit = 1;
  q.statuses = {S::kWaiting};
  EXPECT_EQ(walk_jobs(store(), q), (std::vector<Id>{w1, w2}));
  q.statuses = {S::kRunning, S::kWaiting, S::kError};
  EXPECT_EQ(walk_jobs(store(), q), (std::vector<Id>{w1, w2, r1}));
  q.pipeline_id = p2.id;
  EXPECT_EQ(walk_jobs(store(), q), (std::vector<Id>{w2}));
  q.statuses.clear();
  EXPECT_EQ(walk_jobs(store(), q), (std::vector<Id>{w2, d2}));

  // Jobs whose pipeline was uninstalled are listed under pipeline 0.
  must(store().transition_job(w2, S::kWaiting, S::kCanceled));
  must(store().delete_pipeline(p2.id));
  q.pipeline_id = 0;
  EXPECT_EQ(walk_jobs(store(), q), (std::vector<Id>{w2, d2}));
  q.pipeline_id = p1.id;
  EXPECT_EQ(walk_jobs(store(), q), (std::vector<Id>{w1, r1}));
}

TEST_P(StoreTest, ListJobsRejectsALimitOutOfRange) {
  for (int limit : {0, -1, 10001}) {
    JobQuery q;
    q.limit = limit;
    EXPECT_EQ(store().list_jobs(q).status().code(), Code::kInvalid) << limit;
  }
  JobQuery q;
  q.limit = 10000;
  EXPECT_TRUE(store().list_jobs(q).is_ok());
}

TEST_P(StoreTest, ListJobsRejectsACursorItDidNotMake) {
  Pipeline p = add_pipeline();
  for (int i = 0; i < 3; ++i) add_job(p.id);
  JobQuery q;
  q.limit = 1;
  q.order = JobOrder::kQueueOrder;
  const std::string queue_cursor = must(store().list_jobs(q)).next_cursor;
  ASSERT_FALSE(queue_cursor.empty());

  q.order = JobOrder::kNewestFirst;
  for (const std::string& bad :
       {std::string("garbage"), std::string("j1:n:"), std::string("j1:n:1"),
        std::string("j1:n:1:2:3"), std::string("j1:n:a:b"), std::string("j1:n:1:"),
        std::string("j1:n::1"), std::string("j1:n:99999999999999999999:1"), queue_cursor,
        std::string("f1:1:2"), std::string(std::string("j1:n:1\0:2", 9))}) {
    q.cursor = bad;
    EXPECT_EQ(store().list_jobs(q).status().code(), Code::kInvalid) << bad;
  }
  q.order = JobOrder::kQueueOrder;
  q.cursor = queue_cursor;
  EXPECT_EQ(must(store().list_jobs(q)).items.size(), 1u);
}

TEST_P(StoreTest, ListFilesPagesNewestFirstWithFilters) {
  std::vector<Id> all;
  for (int i = 0; i < 12; ++i) {
    if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    File f = file_value("f");
    f.status = i % 3 == 0 ? FileStatus::kChecked : FileStatus::kUploaded;
    all.push_back(must(store().create_file(f)).id);
  }
  Job producer = job_at(S::kFinalizing);
  File out = file_value("out");
  Job done = must(store().finalize_job(producer.id, {out}));
  all.push_back(done.outputs[0]);
  std::reverse(all.begin(), all.end());  // ids and times grow together here

  FileQuery q;
  q.limit = 5;
  int pages = 0;
  EXPECT_EQ(walk_files(store(), q, &pages), all);
  EXPECT_EQ(pages, 3);

  q.limit = 2;
  q.status = FileStatus::kChecked;
  std::vector<Id> checked = walk_files(store(), q);
  EXPECT_EQ(checked.size(), 5u);  // 4 uploads plus the job output
  q.status.reset();
  q.job_source_id = producer.id;
  EXPECT_EQ(walk_files(store(), q), std::vector<Id>{done.outputs[0]});
}

TEST_P(StoreTest, ListFilesRejectsBadLimitsAndCursors) {
  for (int limit : {0, 1001}) {
    FileQuery q;
    q.limit = limit;
    EXPECT_EQ(store().list_files(q).status().code(), Code::kInvalid) << limit;
  }
  FileQuery q;
  q.limit = 1000;
  EXPECT_TRUE(store().list_files(q).is_ok());
  for (const char* bad : {"x", "f1:1", "j1:n:1:2", "f1:1:2:3"}) {
    q.cursor = bad;
    EXPECT_EQ(store().list_files(q).status().code(), Code::kInvalid) << bad;
  }
}

}  // namespace
}  // namespace pirus
