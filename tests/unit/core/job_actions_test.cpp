// User actions on jobs: cancel, pause, resume, remove.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>

#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

namespace fs = std::filesystem;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class JobCancel : public CoreTest {};
class JobPause : public CoreTest {};
class JobRemove : public CoreTest {};

TEST_F(JobCancel, CancelWhileWaitingNeverRuns) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = create_job(p.id);
  idle(50ms);
  ASSERT_EQ(status_of(b.id), JobStatus::kWaiting);
  auto canceled = run(jobs_->cancel(b.id));
  ASSERT_TRUE(canceled.is_ok()) << canceled.status().to_string();
  EXPECT_EQ(canceled->status, JobStatus::kCanceled);
  EXPECT_GT(canceled->ended_at, 0);
  ASSERT_TRUE(fake_->exit(a.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(a.id, JobStatus::kDone));
  idle(100ms);
  EXPECT_EQ(status_of(b.id), JobStatus::kCanceled);
  EXPECT_EQ(fake_->launch_count(b.id), 0);
  EXPECT_FALSE(fs::exists(workspace(b.id))) << "no workspace for a job that never started";
  EXPECT_TRUE(fake_->killed().empty());
}

TEST_F(JobCancel, CancelWhileRunningKillsTheContainer) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  auto canceled = run(jobs_->cancel(j.id));
  ASSERT_TRUE(canceled.is_ok()) << canceled.status().to_string();
  EXPECT_EQ(status_of(j.id), JobStatus::kCanceled);
  EXPECT_EQ(fake_->killed(), std::vector<std::string>{"fake-1"});
  EXPECT_EQ(fake_->container_count(), 0u);
  // Even if the engine did report an exit afterwards, the job stays canceled.
  fake_->deliver_exit(j.id, ExitInfo{0, false, ""});
  idle(100ms);
  EXPECT_EQ(status_of(j.id), JobStatus::kCanceled);
  EXPECT_TRUE(outputs_of(j.id).empty());
  EXPECT_FALSE(contains(statuses_published(j.id), "done"));
  EXPECT_FALSE(contains(statuses_published(j.id), "finalizing"));
}

TEST_F(JobCancel, CancelWhilePausedKillsTheContainer) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  ASSERT_TRUE(run(jobs_->pause(j.id)).is_ok());
  ASSERT_TRUE(run(jobs_->cancel(j.id)).is_ok());
  EXPECT_EQ(status_of(j.id), JobStatus::kCanceled);
  EXPECT_EQ(fake_->killed(), std::vector<std::string>{"fake-1"});
}

TEST_F(JobCancel, CancelWhileTheLaunchIsInProgressKillsTheLateContainer) {
  Pipeline p = add_pipeline();
  fake_->hold_launches();
  Job j = create_job(p.id);
  ASSERT_TRUE(pump([&] { return fake_->held_launches() == 1; }));
  ASSERT_EQ(status_of(j.id), JobStatus::kInitializing);
  auto canceled = run(jobs_->cancel(j.id));
  ASSERT_TRUE(canceled.is_ok()) << canceled.status().to_string();
  EXPECT_TRUE(fake_->killed().empty()) << "no container to kill yet";
  fake_->release_launches();
  ASSERT_TRUE(pump([&] { return !fake_->killed().empty(); }));
  EXPECT_EQ(fake_->killed(), std::vector<std::string>{"fake-1"});
  EXPECT_EQ(fake_->container_count(), 0u);
  idle(50ms);
  Job after = job(j.id);
  EXPECT_EQ(after.status, JobStatus::kCanceled);
  EXPECT_TRUE(after.container_id.empty());
  EXPECT_FALSE(contains(statuses_published(j.id), "running"));
  EXPECT_EQ(jobs_->busy(), 0);
}

TEST_F(JobCancel, CancelDuringWorkspacePreparationLeavesNoContainer) {
  Pipeline p = add_pipeline();
  // Keep the only worker thread busy so the workspace preparation waits in its queue.
  auto gate = std::make_shared<std::promise<void>>();
  std::shared_future<void> open = gate->get_future().share();
  asio::post(*pool_, [open]() { open.wait(); });
  Job j = create_job(p.id);
  ASSERT_TRUE(wait_status(j.id, JobStatus::kInitializing));
  ASSERT_TRUE(run(jobs_->cancel(j.id)).is_ok());
  gate->set_value();
  ASSERT_TRUE(pump([&] { return jobs_->busy() == 0; }));
  idle(50ms);
  EXPECT_EQ(status_of(j.id), JobStatus::kCanceled);
  EXPECT_EQ(fake_->container_count(), 0u) << "whatever was launched was killed";
  EXPECT_EQ(fake_->killed().size(), static_cast<std::size_t>(fake_->launch_count(j.id)));
}

TEST_F(JobRemove, RemovingACanceledJobWhoseLaunchIsStillInProgress) {
  Pipeline p = add_pipeline();
  fake_->hold_launches();
  Job j = create_job(p.id);
  ASSERT_TRUE(pump([&] { return fake_->held_launches() == 1; }));
  ASSERT_TRUE(run(jobs_->cancel(j.id)).is_ok());
  ASSERT_TRUE(run(jobs_->remove(j.id)).is_ok());
  EXPECT_FALSE(fs::exists(workspace(j.id)));
  fake_->release_launches();
  ASSERT_TRUE(pump([&] { return !fake_->killed().empty(); }));
  ASSERT_TRUE(pump([&] { return jobs_->busy() == 0; }));
  EXPECT_EQ(fake_->container_count(), 0u);
  EXPECT_FALSE(fs::exists(workspace(j.id)));
  EXPECT_EQ(store_->get_job(j.id).status().code(), Code::kNotFound);
}

TEST_F(JobCancel, CancelFreesTheSlotForTheNextJob) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = create_job(p.id);
  ASSERT_TRUE(run(jobs_->cancel(a.id)).is_ok());
  ASSERT_TRUE(wait_status(b.id, JobStatus::kRunning));
}

TEST_F(JobCancel, FinalAndUnknownJobsCannotBeCanceled) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  EXPECT_EQ(run(jobs_->cancel(j.id)).status().code(), Code::kConflict);
  EXPECT_EQ(run(jobs_->cancel(12345)).status().code(), Code::kNotFound);
  EXPECT_EQ(status_of(j.id), JobStatus::kDone);
}

TEST_F(JobCancel, FinalizingJobCannotBeCanceled) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {JobStatus::kInitializing, JobStatus::kRunning, JobStatus::kFinalizing},
                    "c1");
  auto r = run(jobs_->cancel(j.id));
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(status_of(j.id), JobStatus::kFinalizing);
}

TEST_F(JobPause, PauseAndResumeChangeTheStatusAndCallTheEngine) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  auto paused = run(jobs_->pause(j.id));
  ASSERT_TRUE(paused.is_ok()) << paused.status().to_string();
  EXPECT_EQ(paused->status, JobStatus::kPause);
  EXPECT_EQ(status_of(j.id), JobStatus::kPause);
  EXPECT_EQ(fake_->paused(), std::vector<std::string>{"fake-1"});
  EXPECT_EQ(fake_->container("fake-1")->state, ContainerState::kPaused);
  EXPECT_EQ(run(jobs_->pause(j.id)).status().code(), Code::kConflict) << "already paused";

  auto resumed = run(jobs_->resume(j.id));
  ASSERT_TRUE(resumed.is_ok()) << resumed.status().to_string();
  EXPECT_EQ(status_of(j.id), JobStatus::kRunning);
  EXPECT_EQ(fake_->resumed(), std::vector<std::string>{"fake-1"});
  EXPECT_EQ(fake_->container("fake-1")->state, ContainerState::kRunning);
  EXPECT_EQ(statuses_published(j.id),
            (std::vector<std::string>{"waiting", "initializing", "running", "pause", "running"}));
  // Still a normal job afterwards.
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
}

TEST_F(JobPause, PauseOfAWaitingJobIsConflict) {
  config().max_running_jobs = 0;
  Pipeline p = add_pipeline();
  Job j = create_job(p.id);
  auto r = run(jobs_->pause(j.id));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_TRUE(fake_->paused().empty());
  EXPECT_EQ(status_of(j.id), JobStatus::kWaiting);
}

TEST_F(JobPause, ResumeOfARunningJobIsConflict) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  EXPECT_EQ(run(jobs_->resume(j.id)).status().code(), Code::kConflict);
  EXPECT_TRUE(fake_->resumed().empty());
}

TEST_F(JobPause, EngineWithoutPauseIsConflict) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fake_->set_features({false, true, true, true, true});
  auto r = run(jobs_->pause(j.id));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_NE(r.status().message().find("cannot pause"), std::string::npos);
  EXPECT_TRUE(fake_->paused().empty());
  EXPECT_EQ(status_of(j.id), JobStatus::kRunning);
}

TEST_F(JobPause, EngineFailureLeavesTheJobRunning) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fake_->set_unavailable(true);
  auto r = run(jobs_->pause(j.id));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(status_of(j.id), JobStatus::kRunning);
}

TEST_F(JobPause, PausedJobFreesItsSlot) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = create_job(p.id);
  idle(50ms);
  ASSERT_EQ(status_of(b.id), JobStatus::kWaiting);
  ASSERT_TRUE(run(jobs_->pause(a.id)).is_ok());
  ASSERT_TRUE(wait_status(b.id, JobStatus::kRunning));
  EXPECT_EQ(status_of(a.id), JobStatus::kPause);
}

TEST_F(JobPause, ContainerStoppingWhilePausedIsAnError) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  ASSERT_TRUE(run(jobs_->pause(j.id)).is_ok());
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kError));
  EXPECT_NE(job(j.id).error_reason.find("paused"), std::string::npos);
}

TEST_F(JobRemove, RemovingAFinalJobDeletesItsWorkspaceAndOutputs) {
  Pipeline p = add_pipeline();
  File input = import("in.txt", "data");
  Job j = start_job(p.id, {input.id});
  fake_->set_outputs(j.id, {{"report.txt", "hello"}, {"sub/a.txt", "x"}});
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  std::vector<File> outs = outputs_of(j.id);
  ASSERT_EQ(outs.size(), 2u);
  ASSERT_TRUE(fs::exists(workspace(j.id)));

  Status st = run(jobs_->remove(j.id));
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(store_->get_job(j.id).status().code(), Code::kNotFound);
  for (const auto& f : outs) {
    EXPECT_EQ(store_->get_file(f.id).status().code(), Code::kNotFound);
    EXPECT_FALSE(fs::exists(f.path));
  }
  EXPECT_FALSE(fs::exists(workspace(j.id)));
  // The input is untouched: the workspace only held a link to it.
  File kept = must(store_->get_file(input.id));
  EXPECT_EQ(pirus::testing::read_file(kept.path), "data");
  EXPECT_EQ(statuses_published(j.id).back(), "deleted");
}

TEST_F(JobRemove, RemovingACanceledJobWorks) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  ASSERT_TRUE(run(jobs_->cancel(j.id)).is_ok());
  EXPECT_TRUE(run(jobs_->remove(j.id)).is_ok());
  EXPECT_FALSE(fs::exists(workspace(j.id)));
}

TEST_F(JobRemove, RemovingAnUnfinishedJobIsConflict) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  Job running = start_job(p.id);
  Job waiting = create_job(p.id);
  for (Id id : {running.id, waiting.id}) {
    Status st = run(jobs_->remove(id));
    EXPECT_EQ(st.code(), Code::kConflict) << st.to_string();
  }
  EXPECT_TRUE(fs::exists(workspace(running.id)));
  EXPECT_EQ(status_of(running.id), JobStatus::kRunning);
  EXPECT_EQ(run(jobs_->remove(777)).code(), Code::kNotFound);
}

TEST_F(JobRemove, JobWhoseOutputFeedsAnUnfinishedJobIsKept) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  Job first = start_job(p.id);
  fake_->set_outputs(first.id, {{"r.txt", "r"}});
  ASSERT_TRUE(fake_->exit(first.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(first.id, JobStatus::kDone));
  File out = outputs_of(first.id).at(0);
  Job second = start_job(p.id, {out.id});
  Status st = run(jobs_->remove(first.id));
  EXPECT_EQ(st.code(), Code::kConflict) << st.to_string();
  EXPECT_TRUE(fs::exists(out.path));
  EXPECT_TRUE(fs::exists(workspace(first.id)));
  EXPECT_EQ(status_of(second.id), JobStatus::kRunning);
}

}  // namespace
}  // namespace pirus::core_test
