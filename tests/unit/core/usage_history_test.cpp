#include "core/usage_history.hpp"

#include <gtest/gtest.h>

namespace pirus {
namespace {

UsageSample sample(int i, double cpu = 0, std::int64_t mem = 0) {
  UsageSample s;
  s.at = 1000 * i;
  s.cpu_percent = cpu;
  s.memory_bytes = mem;
  s.cpu_seconds = i;
  s.net_rx_bytes = 10 * i;
  s.pids = 1;
  return s;
}

TEST(UsageHistory, KeepsEverySampleUntilFull) {
  UsageHistory h(8);
  for (int i = 1; i <= 7; ++i) h.add(sample(i, i));
  auto p = h.points();
  ASSERT_EQ(p.size(), 7u);
  EXPECT_EQ(h.samples_per_point(), 1u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(p[i].at, 1000 * (i + 1));
}

TEST(UsageHistory, NeverHoldsMoreThanItsCapacity) {
  UsageHistory h(10);
  for (int i = 1; i <= 10000; ++i) {
    h.add(sample(i));
    ASSERT_LE(h.points().size(), 10u) << "after " << i << " samples";
  }
  EXPECT_EQ(h.samples(), 10000u);
  EXPECT_GE(h.samples_per_point(), 1000u);
}

TEST(UsageHistory, MergingAveragesCpuAndKeepsPeaksAndLatestCounters) {
  UsageHistory h(4);
  h.add(sample(1, 10, 100));
  h.add(sample(2, 30, 900));  // the peak
  h.add(sample(3, 50, 200));
  h.add(sample(4, 70, 300));  // full: pairs merge
  auto p = h.points();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(h.samples_per_point(), 2u);
  EXPECT_DOUBLE_EQ(p[0].cpu_percent, 20);
  EXPECT_EQ(p[0].memory_bytes, 900);
  EXPECT_EQ(p[0].at, 2000);
  EXPECT_EQ(p[0].net_rx_bytes, 20);
  EXPECT_DOUBLE_EQ(p[1].cpu_percent, 60);
  EXPECT_EQ(p[1].at, 4000);
  EXPECT_DOUBLE_EQ(p[1].cpu_seconds, 4);
}

TEST(UsageHistory, TheNewestPointShowsAPartlyFilledInterval) {
  UsageHistory h(4);
  for (int i = 1; i <= 5; ++i) h.add(sample(i, 10 * i));
  auto p = h.points();  // [1+2] [3+4] [5 still filling]
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p.back().at, 5000);
  EXPECT_DOUBLE_EQ(p.back().cpu_percent, 50);
}

TEST(UsageHistory, TheWholeRunStaysCoveredFromTheFirstSample) {
  UsageHistory h(6);
  for (int i = 1; i <= 1000; ++i) h.add(sample(i));
  auto p = h.points();
  ASSERT_FALSE(p.empty());
  // The first point ends within the first stride; the last is the newest sample.
  EXPECT_LE(p.front().at, 1000 * static_cast<TimeMs>(h.samples_per_point()));
  EXPECT_EQ(p.back().at, 1000 * 1000);
}

TEST(UsageHistory, OddOrTinyCapacitiesAreRoundedUp) {
  EXPECT_EQ(UsageHistory(0).capacity(), 2u);
  EXPECT_EQ(UsageHistory(5).capacity(), 6u);
  UsageHistory h(1);
  for (int i = 1; i <= 100; ++i) h.add(sample(i));
  EXPECT_LE(h.points().size(), 2u);
}

}  // namespace
}  // namespace pirus
