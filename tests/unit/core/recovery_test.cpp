// JobService::recover(): reconciling the store with the engine after a restart. Jobs are put
// in their pre-restart states through the store alone, containers are preset in the fake.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/detached.hpp>
#include <filesystem>

#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

namespace fs = std::filesystem;
using pirus::testing::write_file;
using S = JobStatus;

class Recovery : public CoreTest {
 protected:
  // The workspace a job had before the restart, with `outputs` already written.
  void make_workspace(Id id, const std::vector<std::pair<std::string, std::string>>& outputs) {
    const std::string ws = workspace(id);
    fs::create_directories(ws + "/inputs");
    fs::create_directories(ws + "/outputs");
    fs::create_directories(ws + "/logs");
    for (const auto& [rel, content] : outputs) write_file(ws + "/outputs/" + rel, content);
  }
  void preset(Id job, const std::string& cid, ContainerState state, ExitInfo exit = {}) {
    fake_->preset({job, cid, state, exit}, workspace(job) + "/outputs");
  }
  bool watched(Id job, const std::string& cid) const {
    for (const auto& w : fake_->watches()) {
      if (w.job_id == job && w.container_id == cid) return true;
    }
    return false;
  }
  bool has(const std::vector<std::string>& v, const std::string& s) const {
    return std::find(v.begin(), v.end(), s) != v.end();
  }
  void recover() { run_void(jobs_->recover()); }
};

TEST_F(Recovery, RunningContainerIsWatchedAgain) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning}, "c-run");
  make_workspace(j.id, {});
  preset(j.id, "c-run", ContainerState::kRunning);
  recover();
  ASSERT_TRUE(watched(j.id, "c-run"));
  const auto& w = fake_->watches().front();
  EXPECT_EQ(w.stdout_path, workspace(j.id) + "/logs/stdout.log");
  EXPECT_EQ(w.stderr_path, workspace(j.id) + "/logs/stderr.log");
  idle(50ms);
  EXPECT_EQ(status_of(j.id), S::kRunning);
  EXPECT_TRUE(fake_->killed().empty());

  // It goes on to finish normally.
  fake_->set_outputs(j.id, {{"out.txt", "after restart"}});
  ASSERT_TRUE(fake_->exit("c-run", ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, S::kDone));
  EXPECT_EQ(outputs_of(j.id).size(), 1u);
  EXPECT_TRUE(has(fake_->removed(), "c-run"));
}

TEST_F(Recovery, ExitedContainerIsFinalizedOnce) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning}, "c-exited");
  make_workspace(j.id, {{"report.txt", "hello"}, {"sub/a.txt", "x"}});
  preset(j.id, "c-exited", ContainerState::kExited, ExitInfo{0, false, ""});
  recover();
  ASSERT_TRUE(wait_status(j.id, S::kDone));
  idle(100ms);
  EXPECT_EQ(fake_->exits_delivered(), 1);
  EXPECT_EQ(outputs_of(j.id).size(), 2u);
  EXPECT_EQ(fake_->removed(), std::vector<std::string>{"c-exited"});
  EXPECT_TRUE(fake_->killed().empty());
}

TEST_F(Recovery, ContainerThatFailedWhileTheServerWasDownIsAnError) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning}, "c-failed");
  make_workspace(j.id, {});
  write_file(workspace(j.id) + "/logs/stderr.log", "segfault in step 2\n");
  preset(j.id, "c-failed", ContainerState::kExited, ExitInfo{139, false, ""});
  recover();
  ASSERT_TRUE(wait_status(j.id, S::kError));
  Job failed = job(j.id);
  EXPECT_EQ(failed.exit_code, 139);
  EXPECT_NE(failed.error_reason.find("segfault in step 2"), std::string::npos);
}

TEST_F(Recovery, MissingContainerIsAnError) {
  Pipeline p = add_pipeline();
  Job running = store_job(p.id, {S::kInitializing, S::kRunning}, "c-gone");
  Job paused = store_job(p.id, {S::kInitializing, S::kRunning, S::kPause}, "c-gone-too");
  recover();
  for (Id id : {running.id, paused.id}) {
    Job j = job(id);
    EXPECT_EQ(j.status, S::kError) << id;
    EXPECT_NE(j.error_reason.find("disappeared"), std::string::npos) << j.error_reason;
  }
}

TEST_F(Recovery, CreatedButNeverStartedContainerIsRemovedAndTheJobFails) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning}, "c-created");
  preset(j.id, "c-created", ContainerState::kCreated);
  recover();
  EXPECT_EQ(status_of(j.id), S::kError);
  EXPECT_TRUE(has(fake_->killed(), "c-created"));
}

TEST_F(Recovery, InitializingWithoutContainerIsRequeuedAndStarted) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing});
  recover();
  ASSERT_TRUE(wait_status(j.id, S::kRunning));
  auto published = statuses_published(j.id);
  ASSERT_GE(published.size(), 3u);
  EXPECT_EQ(published[0], "waiting");
  EXPECT_EQ(published[1], "initializing");
  EXPECT_EQ(published[2], "running");
  EXPECT_EQ(fake_->launch_count(j.id), 1);
  EXPECT_EQ(job(j.id).container_id, "fake-1");
}

TEST_F(Recovery, InitializingWithACreatedContainerIsRequeuedAfterRemovingIt) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing});
  preset(j.id, "c-half", ContainerState::kCreated);
  recover();
  ASSERT_TRUE(wait_status(j.id, S::kRunning));
  EXPECT_TRUE(has(fake_->killed(), "c-half"));
  EXPECT_EQ(job(j.id).container_id, "fake-1");
}

TEST_F(Recovery, InitializingWithARunningContainerBecomesRunning) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing});
  make_workspace(j.id, {});
  preset(j.id, "c-started", ContainerState::kRunning);
  recover();
  Job r = job(j.id);
  EXPECT_EQ(r.status, S::kRunning);
  EXPECT_EQ(r.container_id, "c-started");
  EXPECT_TRUE(watched(j.id, "c-started"));
  idle(50ms);
  EXPECT_EQ(fake_->launch_count(j.id), 0) << "not launched a second time";
}

TEST_F(Recovery, InitializingWithAnExitedContainerIsFinalized) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing});
  make_workspace(j.id, {{"r.txt", "r"}});
  preset(j.id, "c-quick", ContainerState::kExited, ExitInfo{0, false, ""});
  recover();
  ASSERT_TRUE(wait_status(j.id, S::kDone));
  EXPECT_EQ(job(j.id).container_id, "c-quick");
  EXPECT_EQ(outputs_of(j.id).size(), 1u);
  EXPECT_EQ(fake_->launch_count(j.id), 0);
  EXPECT_EQ(fake_->removed(), std::vector<std::string>{"c-quick"});
}

TEST_F(Recovery, FinalizingIsCompletedWithOutputsOnce) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning, S::kFinalizing}, "c-fin");
  make_workspace(j.id, {{"report.txt", "hello"}, {"sub/a.txt", "x"}});
  preset(j.id, "c-fin", ContainerState::kExited, ExitInfo{0, false, ""});
  recover();
  ASSERT_TRUE(wait_status(j.id, S::kDone));
  idle(100ms);
  EXPECT_EQ(outputs_of(j.id).size(), 2u);
  EXPECT_EQ(job(j.id).outputs.size(), 2u);
  EXPECT_EQ(fake_->removed(), std::vector<std::string>{"c-fin"});
  EXPECT_TRUE(fake_->watches().empty()) << "a finalizing job is not watched";
}

TEST_F(Recovery, FinalizingWithoutItsContainerIsStillCompleted) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning, S::kFinalizing}, "c-removed");
  make_workspace(j.id, {{"r.txt", "r"}});
  recover();
  ASSERT_TRUE(wait_status(j.id, S::kDone));
  EXPECT_EQ(outputs_of(j.id).size(), 1u);
}

TEST_F(Recovery, ContainerStateWinsOverTheStoredPauseState) {
  Pipeline p = add_pipeline();
  Job was_running = store_job(p.id, {S::kInitializing, S::kRunning}, "c-p");
  Job was_paused = store_job(p.id, {S::kInitializing, S::kRunning, S::kPause}, "c-r");
  make_workspace(was_running.id, {});
  make_workspace(was_paused.id, {});
  preset(was_running.id, "c-p", ContainerState::kPaused);
  preset(was_paused.id, "c-r", ContainerState::kRunning);
  recover();
  EXPECT_EQ(status_of(was_running.id), S::kPause);
  EXPECT_EQ(status_of(was_paused.id), S::kRunning);
  EXPECT_TRUE(watched(was_running.id, "c-p"));
  EXPECT_TRUE(watched(was_paused.id, "c-r"));
}

TEST_F(Recovery, OrphanContainersOfFinalOrUnknownJobsAreKilled) {
  Pipeline p = add_pipeline();
  Job done = store_job(p.id, {S::kInitializing, S::kRunning, S::kFinalizing, S::kDone}, "c-done");
  Job canceled = store_job(p.id, {S::kInitializing, S::kRunning, S::kCanceled}, "c-canceled");
  Job live = store_job(p.id, {S::kInitializing, S::kRunning}, "c-live");
  make_workspace(live.id, {});
  preset(done.id, "c-done", ContainerState::kExited, ExitInfo{0, false, ""});
  preset(canceled.id, "c-canceled", ContainerState::kRunning);
  preset(live.id, "c-live", ContainerState::kRunning);
  fake_->preset({9999, "c-stranger", ContainerState::kRunning, {}});
  recover();
  auto killed = fake_->killed();
  std::sort(killed.begin(), killed.end());
  EXPECT_EQ(killed, (std::vector<std::string>{"c-canceled", "c-done", "c-stranger"}));
  EXPECT_EQ(status_of(done.id), S::kDone);
  EXPECT_EQ(status_of(canceled.id), S::kCanceled);
  EXPECT_EQ(status_of(live.id), S::kRunning);
  EXPECT_NE(fake_->container("c-live"), nullptr);
}

TEST_F(Recovery, WaitingJobsAreStartedAfterRecovery) {
  Pipeline p = add_pipeline();
  Job waiting = store_job(p.id, {});
  recover();
  ASSERT_TRUE(wait_status(waiting.id, S::kRunning));
}

TEST_F(Recovery, WatchFailureIsAnError) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning}, "c-x");
  preset(j.id, "c-x", ContainerState::kRunning);
  fake_->fail_next_watch(Status::internal("log stream refused"));
  recover();
  Job failed = job(j.id);
  EXPECT_EQ(failed.status, S::kError);
  EXPECT_NE(failed.error_reason.find("log stream refused"), std::string::npos)
      << failed.error_reason;
}

TEST_F(Recovery, EngineDownAtStartIsRetriedUntilItAnswers) {
  Pipeline p = add_pipeline();
  Job j = store_job(p.id, {S::kInitializing, S::kRunning}, "c-late");
  make_workspace(j.id, {});
  preset(j.id, "c-late", ContainerState::kRunning);
  fake_->set_unavailable(true);
  bool done = false;
  auto task = [](JobService& jobs, bool& flag) -> asio::awaitable<void> {
    auto op = jobs.recover();
    co_await std::move(op);
    flag = true;
  };
  auto op = task(*jobs_, done);
  asio::co_spawn(*io_, std::move(op), asio::detached);
  ASSERT_TRUE(
      pump([&] { return !fake_->calls().empty() && fake_->calls().back() == "list_jobs"; }));
  idle(50ms);
  EXPECT_FALSE(done);
  EXPECT_EQ(status_of(j.id), S::kRunning) << "nothing is decided while the engine is down";
  fake_->set_unavailable(false);
  ASSERT_TRUE(pump([&] { return done; }, 10s)) << "retried every 5 s";
  EXPECT_TRUE(watched(j.id, "c-late"));
  EXPECT_EQ(status_of(j.id), S::kRunning);
}

TEST_F(Recovery, StopEndsTheRetryLoop) {
  fake_->set_unavailable(true);
  bool done = false;
  auto task = [](JobService& jobs, bool& flag) -> asio::awaitable<void> {
    auto op = jobs.recover();
    co_await std::move(op);
    flag = true;
  };
  auto op = task(*jobs_, done);
  asio::co_spawn(*io_, std::move(op), asio::detached);
  ASSERT_TRUE(
      pump([&] { return !fake_->calls().empty() && fake_->calls().back() == "list_jobs"; }));
  jobs_->stop();
  ASSERT_TRUE(pump([&] { return done; }, 2s));
  EXPECT_EQ(jobs_->busy(), 0);
}

TEST_F(Recovery, RecoveringTwiceDoesNotSpinTheScheduler) {
  // Regression (fixed): every recover() spawns its own schedule_loop, and all of them share the
  // one `wake_` timer. The second loop's expires_after() cancels the first one's wait, which
  // wakes, runs a pass and re-arms the timer, cancelling the second one's wait, and so on:
  // two loops ping-pong without pause (about 900 scheduler passes in 300 ms here, each two
  // store queries). Server start-up calls recover() once, so this only bites if recover()
  // is ever called again (a reconnect/resync path).
  add_pipeline();
  recover();
  recover();
  std::size_t handlers = 0;
  const auto deadline = Clock::now() + 300ms;
  while (Clock::now() < deadline) {
    if (io_->stopped()) io_->restart();
    handlers += io_->run_for(10ms);
  }
  EXPECT_LT(handlers, 50u);
}

}  // namespace
}  // namespace pirus::core_test
