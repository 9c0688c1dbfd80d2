// Pure tests of the stats arithmetic, on samples shaped like what engine 20.10 sends.
#include "managers/docker/stats_math.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace pirus::docker {
namespace {

// A cgroup v1 sample of a busy loop limited to one CPU, trimmed, with block I/O and two
// interfaces added.
constexpr const char* kV1Sample = R"({
  "read": "2026-11-24T19:07:37.913996413Z",
  "preread": "2026-11-24T19:07:36.908765375Z",
  "pids_stats": {"current": 2, "limit": 50},
  "blkio_stats": {
    "io_service_bytes_recursive": [
      {"major": 8, "minor": 0, "op": "Read", "value": 4096},
      {"major": 8, "minor": 0, "op": "Write", "value": 8192},
      {"major": 8, "minor": 0, "op": "Sync", "value": 12288},
      {"major": 8, "minor": 0, "op": "Total", "value": 12288},
      {"major": 8, "minor": 16, "op": "Read", "value": 1000}
    ]
  },
  "cpu_stats": {
    "cpu_usage": {"total_usage": 967968602, "percpu_usage": [52518178, 915450424]},
    "system_cpu_usage": 5120380000000,
    "online_cpus": 2
  },
  "precpu_stats": {
    "cpu_usage": {"total_usage": 37208154, "percpu_usage": [20703173, 16504981]},
    "system_cpu_usage": 5118420000000,
    "online_cpus": 2
  },
  "memory_stats": {
    "usage": 606208,
    "stats": {"inactive_file": 4096, "total_inactive_file": 40960},
    "limit": 67108864
  },
  "networks": {
    "eth0": {"rx_bytes": 100, "tx_bytes": 200},
    "eth1": {"rx_bytes": 5, "tx_bytes": 7}
  },
  "id": "b5fd5eccfbaf"
})";

TEST(StatsMathTest, CgroupV1Sample) {
  auto s = parse_stats(kV1Sample);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  // (967968602 - 37208154) / (5120380000000 - 5118420000000) * 2 * 100
  EXPECT_NEAR(s->cpu_percent, 94.9755559, 1e-6);
  EXPECT_NEAR(s->cpu_seconds, 0.967968602, 1e-9);  // cumulative, from total_usage in ns
  EXPECT_EQ(s->memory_bytes, 606208 - 40960);      // v1: total_inactive_file wins
  EXPECT_EQ(s->memory_limit_bytes, 67108864);
  EXPECT_EQ(s->block_read_bytes, 4096 + 1000);
  EXPECT_EQ(s->block_write_bytes, 8192);
  EXPECT_EQ(s->net_rx_bytes, 105);
  EXPECT_EQ(s->net_tx_bytes, 207);
  EXPECT_EQ(s->pids, 2);
  EXPECT_EQ(s->sampled_at, 0);
}

TEST(StatsMathTest, OnlineCpusFallsBackToPerCpuCount) {
  auto v = boost::json::parse(kV1Sample);
  v.as_object()["cpu_stats"].as_object().erase("online_cpus");
  v.as_object()["cpu_stats"].as_object()["cpu_usage"].as_object()["percpu_usage"] =
      boost::json::array{1, 2, 3, 4};
  const JobStats s = stats_from_json(v);
  EXPECT_NEAR(s.cpu_percent, 94.9755559 * 2, 1e-6);
}

TEST(StatsMathTest, CgroupV2Sample) {
  const auto v = boost::json::parse(R"({
    "pids_stats": {"current": 7},
    "blkio_stats": {"io_service_bytes_recursive": [
      {"major": 259, "minor": 0, "op": "read", "value": 10},
      {"major": 259, "minor": 0, "op": "write", "value": 20}]},
    "cpu_stats": {"cpu_usage": {"total_usage": 2000}, "system_cpu_usage": 20000,
                  "online_cpus": 4},
    "precpu_stats": {"cpu_usage": {"total_usage": 1000}, "system_cpu_usage": 10000},
    "memory_stats": {"usage": 1000000, "stats": {"inactive_file": 250000},
                     "limit": 2000000}
  })");
  const JobStats s = stats_from_json(v);
  EXPECT_NEAR(s.cpu_percent, 40.0, 1e-9);
  EXPECT_EQ(s.memory_bytes, 750000);
  EXPECT_EQ(s.memory_limit_bytes, 2000000);
  EXPECT_EQ(s.block_read_bytes, 10);
  EXPECT_EQ(s.block_write_bytes, 20);
  EXPECT_EQ(s.pids, 7);
}

TEST(StatsMathTest, StoppedContainerAndNetworkNoneGiveZeros) {
  // What the engine sends for a container that is not running: empty sections, nulls.
  const auto v = boost::json::parse(R"({
    "pids_stats": {}, "blkio_stats": {"io_service_bytes_recursive": null},
    "cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
    "precpu_stats": {"cpu_usage": {"total_usage": 0}},
    "memory_stats": {}
  })");
  const JobStats s = stats_from_json(v);
  EXPECT_EQ(s.cpu_percent, 0);
  EXPECT_EQ(s.memory_bytes, 0);
  EXPECT_EQ(s.block_read_bytes, 0);
  EXPECT_EQ(s.net_rx_bytes, 0);
  EXPECT_EQ(s.net_tx_bytes, 0);
  EXPECT_EQ(s.pids, 0);
}

TEST(StatsMathTest, RejectsWhatIsNotAnObject) {
  EXPECT_EQ(parse_stats("not json").status().code(), Code::kInternal);
  EXPECT_EQ(parse_stats("[1,2]").status().code(), Code::kInternal);
}

}  // namespace
}  // namespace pirus::docker
