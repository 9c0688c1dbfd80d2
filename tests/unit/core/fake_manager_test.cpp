// The FakeManager itself: the core tests trust it to behave like an engine.
#include "managers/fake/fake_manager.hpp"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core_fixture.hpp"
#include "support/temp_dir.hpp"

namespace pirus::core_test {
namespace {

using pirus::testing::read_file;
using pirus::testing::TempDir;

class Recorder : public JobObserver {
 public:
  void on_job_exited(Id job_id, const ExitInfo& exit) override { exits.emplace_back(job_id, exit); }
  std::vector<std::pair<Id, ExitInfo>> exits;
};

class FakeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(run(fake_.start(&observer_)).is_ok()); }

  template <typename T>
  T run(asio::awaitable<T> a) {
    auto out = std::make_shared<std::optional<T>>();
    auto wrapper = [](asio::awaitable<T> inner,
                      std::shared_ptr<std::optional<T>> dest) -> asio::awaitable<void> {
      dest->emplace(co_await std::move(inner));
    };
    auto task = wrapper(std::move(a), out);
    asio::co_spawn(io_, std::move(task), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    pump([&] { return out->has_value(); });
    if (!out->has_value()) throw std::runtime_error("timed out");
    return std::move(**out);
  }
  void pump(const std::function<bool()>& pred) {
    const auto deadline = Clock::now() + 2s;
    while (!pred() && Clock::now() < deadline) {
      if (io_.stopped()) io_.restart();
      if (io_.run_for(5ms) == 0) std::this_thread::sleep_for(1ms);
    }
  }
  void drain() {
    io_.restart();
    io_.poll();
  }

  JobLaunch launch_of(Id job) {
    JobLaunch l;
    l.job_id = job;
    l.image = "img";
    l.env = {{"PIRUS_OUTPUTS_DIR", "/out"}};
    l.mounts = {{dir_ / "in", "/in", true}, {dir_ / "out", "/out", false}};
    l.stdout_path = dir_ / "logs/stdout.log";
    l.stderr_path = dir_ / "logs/stderr.log";
    return l;
  }

  TempDir dir_{"pirus-fake"};
  asio::io_context io_;
  FakeManager fake_{io_.get_executor()};
  Recorder observer_;
};

TEST_F(FakeManagerTest, LaunchReturnsNumberedIdsAndRecordsTheRequest) {
  auto a = run(fake_.launch(launch_of(7)));
  auto b = run(fake_.launch(launch_of(8)));
  ASSERT_TRUE(a.is_ok());
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(*a, "fake-1");
  EXPECT_EQ(*b, "fake-2");
  ASSERT_EQ(fake_.launches().size(), 2u);
  EXPECT_EQ(fake_.launches()[0].job_id, 7);
  EXPECT_EQ(fake_.container_of(8)->id, "fake-2");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "logs")) << "launch writes nothing";
  auto list = run(fake_.list_jobs());
  ASSERT_TRUE(list.is_ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(FakeManagerTest, ExitWritesLogsAndOutputsThenReportsOnTheLoop) {
  ASSERT_TRUE(run(fake_.launch(launch_of(1))).is_ok());
  fake_.set_logs(1, "out\n", "err\n");
  fake_.set_outputs(1, {{"report.txt", "hello"}, {"sub/a.txt", "x"}});
  ASSERT_TRUE(fake_.exit(1, ExitInfo{0, false, ""}));
  EXPECT_TRUE(observer_.exits.empty()) << "delivered on the executor, not inline";
  drain();
  ASSERT_EQ(observer_.exits.size(), 1u);
  EXPECT_EQ(observer_.exits[0].first, 1);
  EXPECT_EQ(read_file(dir_ / "out/report.txt"), "hello");
  EXPECT_EQ(read_file(dir_ / "out/sub/a.txt"), "x");
  EXPECT_EQ(read_file(dir_ / "logs/stdout.log"), "out\n");
  EXPECT_EQ(read_file(dir_ / "logs/stderr.log"), "err\n");
  EXPECT_FALSE(fake_.exit(1, ExitInfo{0, false, ""})) << "a container dies once";
  drain();
  EXPECT_EQ(observer_.exits.size(), 1u);
}

TEST_F(FakeManagerTest, KilledContainerReportsNothing) {
  auto id = run(fake_.launch(launch_of(1)));
  ASSERT_TRUE(run(fake_.kill_and_remove(*id)).is_ok());
  ASSERT_TRUE(run(fake_.kill_and_remove(*id)).is_ok()) << "idempotent";
  EXPECT_FALSE(fake_.exit(1, ExitInfo{}));
  drain();
  EXPECT_TRUE(observer_.exits.empty());
  EXPECT_EQ(fake_.killed().size(), 2u);
}

TEST_F(FakeManagerTest, ControlsFailLaunchesBuildsAndEverythingWhenUnavailable) {
  fake_.fail_next_launch(Status::invalid("no such image"));
  auto failed = run(fake_.launch(launch_of(1)));
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.status().code(), Code::kInvalid);
  EXPECT_EQ(fake_.container_count(), 0u);
  EXPECT_TRUE(run(fake_.launch(launch_of(1))).is_ok()) << "only the next launch fails";

  std::vector<std::string> lines;
  BuildRequest req;
  req.pipeline_id = 3;
  req.on_log = [&lines](std::string_view l) { lines.emplace_back(l); };
  fake_.fail_next_build(Status::invalid("bad Dockerfile"), {"Step 1/1", "error"});
  auto built = run(fake_.build_image(req));
  ASSERT_FALSE(built.is_ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"Step 1/1", "error"}));
  auto ok = run(fake_.build_image(req));
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, "fake-image-3");

  fake_.set_unavailable(true);
  EXPECT_EQ(run(fake_.launch(launch_of(2))).status().code(), Code::kUnavailable);
  EXPECT_EQ(run(fake_.pause("fake-2")).code(), Code::kUnavailable);
  EXPECT_EQ(run(fake_.list_jobs()).status().code(), Code::kUnavailable);
  EXPECT_EQ(run(fake_.remove_image("x")).code(), Code::kUnavailable);
}

TEST_F(FakeManagerTest, HeldLaunchWaitsForRelease) {
  fake_.hold_launches();
  auto out = std::make_shared<std::optional<Result<std::string>>>();
  auto wrapper =
      [](FakeManager& f, JobLaunch l,
         std::shared_ptr<std::optional<Result<std::string>>> dest) -> asio::awaitable<void> {
    auto op = f.launch(l);
    dest->emplace(co_await std::move(op));
  };
  auto task = wrapper(fake_, launch_of(1), out);
  asio::co_spawn(io_, std::move(task), asio::detached);
  drain();
  EXPECT_EQ(fake_.held_launches(), 1);
  EXPECT_FALSE(out->has_value());
  fake_.release_launches();
  pump([&] { return out->has_value(); });
  ASSERT_TRUE(out->has_value());
  EXPECT_TRUE(out->value().is_ok());
}

TEST_F(FakeManagerTest, WatchOfAnExitedPresetContainerReportsPromptly) {
  fake_.preset({5, "old-1", ContainerState::kExited, ExitInfo{2, false, ""}});
  fake_.preset({6, "old-2", ContainerState::kRunning, {}});
  drain();
  EXPECT_TRUE(observer_.exits.empty()) << "not watched yet";
  ASSERT_TRUE(run(fake_.watch(5, "old-1", dir_ / "o", dir_ / "e")).is_ok());
  ASSERT_TRUE(run(fake_.watch(6, "old-2", dir_ / "o", dir_ / "e")).is_ok());
  drain();
  ASSERT_EQ(observer_.exits.size(), 1u);
  EXPECT_EQ(observer_.exits[0].first, 5);
  EXPECT_EQ(observer_.exits[0].second.exit_code, 2);
  EXPECT_EQ(run(fake_.watch(7, "nope", "", "")).code(), Code::kNotFound);
  ASSERT_TRUE(fake_.exit("old-2", ExitInfo{0, false, ""}));
  drain();
  EXPECT_EQ(observer_.exits.size(), 2u);
}

TEST_F(FakeManagerTest, PauseAndResumeFollowTheContainerState) {
  auto id = *run(fake_.launch(launch_of(1)));
  EXPECT_TRUE(run(fake_.pause(id)).is_ok());
  EXPECT_EQ(fake_.container(id)->state, ContainerState::kPaused);
  EXPECT_FALSE(run(fake_.pause(id)).is_ok());
  EXPECT_TRUE(run(fake_.resume(id)).is_ok());
  EXPECT_EQ(fake_.container(id)->state, ContainerState::kRunning);
  EXPECT_EQ(run(fake_.pause("fake-99")).code(), Code::kNotFound);
  EXPECT_EQ(fake_.paused().size(), 3u);
  EXPECT_EQ(fake_.resumed().size(), 1u);
}

}  // namespace
}  // namespace pirus::core_test
