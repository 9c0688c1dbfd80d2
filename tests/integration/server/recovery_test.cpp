// Server restarts while jobs run: kill -9 mid-job, kill -9 while the container finishes
// during the downtime, and a graceful SIGTERM. The job containers must survive the server
// and the restarted server must finish each job exactly once.

#include <gtest/gtest.h>

#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

class RecoveryTest : public SeqstatsTest {
 protected:
  ServerProcess& restart(std::vector<std::string> sets = {}) {
    std::string data = servers_.front()->data_dir();
    return start_server({.sets = std::move(sets), .data_dir = data});
  }

  // Done, with its 4 outputs registered once and complete logs (each line once).
  void expect_completed_once(std::int64_t id) {
    json::object job = wait_job(client(), id, {"done"}, 90s);
    EXPECT_EQ(job.at("exit_code").as_int64(), 0);
    // Let the server settle (container removed) before counting, so that a second
    // registration racing the first would be seen.
    EXPECT_TRUE(container_gone(id)) << container_state(id);
    json::array outputs = job_outputs(client(), id);
    EXPECT_EQ(outputs.size(), 4u) << json::serialize(outputs);
    EXPECT_EQ(get_job(client(), id).at("outputs").as_array().size(), 4u);
    json::object all = api_object(client(), "/api/v1/files?limit=1000");
    EXPECT_EQ(all.at("items").as_array().size(), 6u) << "2 inputs + 4 outputs";

    std::string out = job_log(client(), id, "stdout");
    std::string err = job_log(client(), id, "stderr");
    EXPECT_EQ(count_of(out, "seqstats 1.0.0: 2 input files"), 1) << out;
    EXPECT_EQ(count_of(out, "sample1.fa: fasta, 5 sequences"), 1) << out;
    EXPECT_EQ(count_of(out, "sample2.fq: fastq, 5 sequences"), 1) << out;
    EXPECT_EQ(count_of(out, "seqstats: wrote report.txt"), 1) << out;
    EXPECT_EQ(count_of(err, "note: min_length=0, format=auto"), 1) << err;
  }
};

TEST_F(RecoveryTest, KillNineMidJobThenRestartCompletesIt) {
  start_seqstats();
  const std::int64_t id = id_of(run({{"delay_ms", 3000}}));
  wait_job(client(), id, {"running"}, 30s);
  servers_.front()->kill9();
  EXPECT_EQ(container_state(id), "running") << "the job container must outlive the server";

  restart();
  expect_completed_once(id);
}

TEST_F(RecoveryTest, ContainerFinishingDuringDowntimeIsCollectedAfterRestart) {
  start_seqstats();
  const std::int64_t id = id_of(run({{"delay_ms", 500}}));
  wait_job(client(), id, {"running"}, 30s);
  servers_.front()->kill9();
  ASSERT_TRUE(poll_until([&] { return container_state(id) == "exited"; }, 30s))
      << container_state(id);
  auto c = docker_inspect(container_of(id));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->at("State").at("ExitCode").as_int64(), 0);

  restart();
  expect_completed_once(id);
}

TEST_F(RecoveryTest, GracefulStopLeavesTheJobRunningAndRestartCompletesIt) {
  start_seqstats();
  const std::int64_t id = id_of(run({{"delay_ms", 4000}}));
  wait_job(client(), id, {"running"}, 30s);

  auto t0 = Clock::now();
  int rc = servers_.front()->stop();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  EXPECT_EQ(rc, 0);
  EXPECT_LT(took, 5s) << took.count() << " ms";
  EXPECT_EQ(container_state(id), "running") << "the job container must outlive the server";
  EXPECT_NE(servers_.front()->log().find("shutting down"), std::string::npos);

  restart();
  expect_completed_once(id);
}

TEST_F(RecoveryTest, PausedJobStaysPausedAcrossARestart) {
  start_seqstats();
  const std::int64_t id = id_of(run({{"delay_ms", 1500}}));
  wait_job(client(), id, {"running"}, 30s);
  api_json(client(), "POST", "/api/v1/jobs/" + std::to_string(id) + "/pause");
  servers_.front()->kill9();
  ASSERT_EQ(container_state(id), "paused");

  restart();
  // Recovery must not mistake the frozen container for a dead or running one.
  EXPECT_TRUE(holds_for([&] { return str_of(get_job(client(), id), "status") == "pause"; }, 2s));
  EXPECT_EQ(container_state(id), "paused");
  json::value resumed =
      api_json(client(), "POST", "/api/v1/jobs/" + std::to_string(id) + "/resume");
  EXPECT_EQ(str_of(resumed, "status"), "running");
  expect_completed_once(id);
}

TEST_F(RecoveryTest, ContainerRemovedDuringDowntimeFailsTheJob) {
  start_seqstats();
  const std::int64_t id = id_of(run({{"delay_ms", 60000}}));
  wait_job(client(), id, {"running"}, 30s);
  servers_.front()->kill9();
  ASSERT_EQ(run_command("docker rm -f " + container_of(id)), 0);

  restart();
  json::object job = wait_job(client(), id, {"error"}, 30s);
  EXPECT_NE(str_of(job, "error_reason").find("disappeared"), std::string::npos)
      << json::serialize(job);
  EXPECT_FALSE(job.at("ended_at").is_null());
  EXPECT_TRUE(job_outputs(client(), id).empty());
}

TEST_F(RecoveryTest, QueuedJobsRunAfterARestart) {
  const std::vector<std::string> sets = {"limits.max_running_jobs=1"};
  start_seqstats({.sets = sets});
  const std::int64_t first = id_of(run({{"delay_ms", 1500}}));
  wait_job(client(), first, {"running"}, 30s);
  const std::int64_t second = id_of(run({}));
  EXPECT_EQ(str_of(get_job(client(), second), "status"), "waiting");
  EXPECT_EQ(servers_.front()->stop(), 0);

  restart(sets);
  wait_job(client(), first, {"done"}, 60s);
  wait_job(client(), second, {"done"}, 60s);
  EXPECT_EQ(job_outputs(client(), first).size(), 4u);
  EXPECT_EQ(job_outputs(client(), second).size(), 4u);
}

}  // namespace
}  // namespace pirus::testing
