// Monitoring and the log cap against a real `pirus server` and dockerd: the usage history of a
// CPU-burning job, the peak memory of an allocating one, the totals kept on the finished job
// across a restart, and a job printing a gigabyte that the server caps without growing.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

class ObserveTest : public ServerTest {
 protected:
  // Installs a busybox pipeline whose command is `sh -c script`.
  std::int64_t install_script(const std::string& name, const std::string& script) {
    const std::string zip = dir_ / (name + ".zip");
    json::object manifest{
        {"name", name}, {"version", "1"}, {"command", json::array{"/bin/sh", "-c", script}}};
    write_zip(zip, {{"manifest.json", json::serialize(manifest)},
                    {"Dockerfile", "FROM pirus-base/busybox:1\n"}});
    return install_pipeline(client(), zip);
  }

  std::int64_t run_job(std::int64_t pipeline, double cpus, std::int64_t memory_mb) {
    return id_of(create_job(client(), {{"pipeline_id", pipeline},
                                       {"resources", {{"cpus", cpus}, {"memory_mb", memory_mb}}}}));
  }

  json::object monitoring(std::int64_t id) {
    return api_object(client(), "/api/v1/jobs/" + std::to_string(id) + "/monitoring");
  }

  static std::int64_t int_at(const json::value& v, const char* key) {
    return v.at(key).to_number<std::int64_t>();
  }
  static double num_at(const json::value& v, const char* key) {
    return v.at(key).to_number<double>();
  }

  testing::TempDir dir_;
};

// The server's peak resident set (kB), from /proc.
std::int64_t vm_hwm_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_F(ObserveTest, ACpuBurningJobHasAPlausibleBoundedHistory) {
  start_server({.sets = {"jobs.monitoring_interval=0.5", "jobs.monitoring_history=8"}});
  const std::int64_t pipeline =
      install_script("burner", "timeout 14 sh -c 'while :; do :; done'; true");
  const std::int64_t id = run_job(pipeline, 1, 256);
  wait_job(client(), id, {"running"}, 30s);

  // Watch the history while the job burns: more samples than points kept.
  json::object m;
  ASSERT_TRUE(poll_until(
      [&] {
        m = monitoring(id);
        return int_at(m.at("history"), "samples") > 10;
      },
      40s, 500ms))
      << json::serialize(m);
  EXPECT_EQ(str_of(m, "status"), "running");
  const json::object& history = m.at("history").as_object();
  const json::array& points = history.at("points").as_array();
  EXPECT_LE(points.size(), 8u);
  EXPECT_GE(points.size(), 4u);
  EXPECT_EQ(int_at(history, "capacity"), 8);
  EXPECT_GE(int_at(history, "samples_per_point"), 2);
  EXPECT_DOUBLE_EQ(num_at(m.at("limits"), "cpus"), 1);
  EXPECT_EQ(int_at(m.at("limits"), "memory_bytes"), 256LL << 20);

  // One core allowed: between half of it and all of it (a little over for sampling jitter).
  const json::value& current = m.at("current");
  ASSERT_TRUE(current.is_object()) << json::serialize(m);
  EXPECT_GE(num_at(current, "cpu_percent"), 50) << json::serialize(m);
  EXPECT_LE(num_at(current, "cpu_percent"), 105) << json::serialize(m);
  EXPECT_GT(int_at(current, "memory_bytes"), 0);
  EXPECT_GE(int_at(current, "pids"), 1);
  EXPECT_GE(num_at(m, "cpu_percent_avg"), 50) << json::serialize(m);
  EXPECT_LE(num_at(m, "cpu_percent_avg"), 105) << json::serialize(m);
  // Merged points average samples that were all busy, except maybe the very first.
  for (std::size_t i = 1; i < points.size(); ++i) {
    EXPECT_GE(num_at(points[i], "cpu_percent"), 50) << json::serialize(points);
    EXPECT_LE(num_at(points[i], "cpu_percent"), 105) << json::serialize(points);
  }

  // CPU seconds grow on the job while it runs, and stay once it is done.
  const double running_cpu = num_at(get_job(client(), id), "cpu_seconds");
  EXPECT_GT(running_cpu, 2);
  json::object job = wait_job(client(), id, {"done"}, 60s);
  const double cpu = num_at(job, "cpu_seconds");
  EXPECT_GE(cpu, running_cpu);
  EXPECT_GT(cpu, 8);  // 14 s at one core, the last sample at most ~2 s before the end
  EXPECT_LT(cpu, 15.5);
  EXPECT_GT(int_at(job, "peak_memory_bytes"), 0);

  // The finished job's figures stay readable for a while, and no longer grow.
  json::object after = monitoring(id);
  EXPECT_EQ(str_of(after, "status"), "done");
  EXPECT_LE(after.at("history").at("points").as_array().size(), 8u);
  EXPECT_DOUBLE_EQ(num_at(after, "cpu_seconds"), cpu);
}

TEST_F(ObserveTest, PeakMemoryAndCpuTimeAreKeptOnTheFinishedJobAcrossARestart) {
  start_server({.sets = {"jobs.monitoring_interval=0.5"}});
  // Holds ~64 MiB in a shell variable for a few seconds, then lets it go.
  const std::int64_t pipeline = install_script(
      "hog", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); sleep 5; echo ${#x}; x=; sleep 1");
  const std::int64_t id = run_job(pipeline, 1, 512);
  json::object job = wait_job(client(), id, {"done"}, 90s);
  EXPECT_EQ(job_log(client(), id, "stdout"), "67108864\n");
  const std::int64_t peak = int_at(job, "peak_memory_bytes");
  EXPECT_GE(peak, 64LL << 20) << json::serialize(job);
  EXPECT_LT(peak, 512LL << 20) << json::serialize(job);
  const double cpu = num_at(job, "cpu_seconds");
  EXPECT_GT(cpu, 0);

  json::object m = monitoring(id);
  EXPECT_EQ(int_at(m, "peak_memory_bytes"), peak);
  std::int64_t highest_point = 0;
  for (const auto& p : m.at("history").at("points").as_array()) {
    highest_point = std::max(highest_point, int_at(p, "memory_bytes"));
  }
  EXPECT_EQ(highest_point, peak);

  const std::string data = server().data_dir();
  EXPECT_EQ(server().stop(), 0);
  start_server({.data_dir = data});
  json::object again = get_job(client(), id);
  EXPECT_EQ(int_at(again, "peak_memory_bytes"), peak);
  EXPECT_DOUBLE_EQ(num_at(again, "cpu_seconds"), cpu);
  // The history was in memory only; the totals come from the job.
  json::object m2 = monitoring(id);
  EXPECT_EQ(int_at(m2, "peak_memory_bytes"), peak);
  EXPECT_DOUBLE_EQ(num_at(m2, "cpu_seconds"), cpu);
  EXPECT_TRUE(m2.at("current").is_null());
  EXPECT_EQ(int_at(m2.at("history"), "samples"), 0);

  // `pirus job show` prints them, `pirus job monitor` summarises.
  std::string out;
  const std::string cli = std::string(PIRUS_BINARY) + " --server " + server().url() + " job ";
  ASSERT_EQ(run_command(cli + "show " + std::to_string(id), &out), 0) << out;
  EXPECT_NE(out.find("peak memory"), std::string::npos) << out;
  EXPECT_NE(out.find("cpu time"), std::string::npos) << out;
  ASSERT_EQ(run_command(cli + "monitor " + std::to_string(id), &out), 0) << out;
  EXPECT_NE(out.find("peak memory"), std::string::npos) << out;
  EXPECT_NE(out.find("cpu time"), std::string::npos) << out;
}

TEST_F(ObserveTest, AGigabyteOfStdoutIsCappedWithAMarkerAndTheServerStaysSmall) {
  constexpr std::int64_t kCap = 4LL << 20;
  constexpr std::int64_t kTotal = 1LL << 30;
  start_server({.sets = {"limits.job_log_size=4M"}});
  const std::int64_t pipeline =
      install_script("chatty", "head -c 1073741824 /dev/zero | tr '\\0' x; echo; echo done >&2");
  const std::int64_t id = run_job(pipeline, 1, 256);
  json::object job = wait_job(client(), id, {"done"}, 300s);
  EXPECT_EQ(job.at("exit_code").as_int64(), 0);

  const std::string log_path = server().data_dir() + "/jobs/" + std::to_string(id) + "/logs/";
  std::ifstream in(log_path + "stdout.log", std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string out = buf.str();
  const std::string marker = "\n[pirus: log truncated at 4 MiB; " +
                             std::to_string(kTotal + 1 - kCap) + " further bytes dropped]\n";
  ASSERT_EQ(static_cast<std::int64_t>(out.size()), kCap + static_cast<std::int64_t>(marker.size()))
      << out.substr(kCap > 100 ? out.size() - 100 : 0);
  EXPECT_EQ(out.substr(0, kCap), std::string(kCap, 'x'));
  EXPECT_EQ(out.substr(kCap), marker);
  // The other stream is not affected.
  EXPECT_EQ(job_log(client(), id, "stderr"), "done\n");
  // The tail of a capped log is the marker line.
  auto tail =
      api_request(client(), "GET", "/api/v1/jobs/" + std::to_string(id) + "/logs/stdout?tail=1");
  EXPECT_EQ(tail.body, marker.substr(1));

  // A gigabyte went through the server; its memory did not follow.
  const std::int64_t hwm = vm_hwm_kb(server().pid());
  ASSERT_GT(hwm, 0);
  EXPECT_LT(hwm, 96 * 1024) << "VmHWM " << hwm << " kB";
}

}  // namespace
}  // namespace pirus::testing
