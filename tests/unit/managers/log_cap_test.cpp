#include "managers/log_cap.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pirus {
namespace {

// Feeds chunks the way the engine's stream does, writing what the cap admits.
std::string feed(LogCap& cap, const std::vector<std::string>& chunks) {
  std::string file;
  for (const auto& c : chunks) {
    auto a = cap.admit(c);
    file += a.keep;
    if (a.reached_now) file += cap.provisional_marker();
  }
  return file;
}

TEST(LogCap, NoCapKeepsEverything) {
  LogCap cap(0);
  EXPECT_EQ(feed(cap, {"a\n", std::string(1 << 20, 'x')}), "a\n" + std::string(1 << 20, 'x'));
  EXPECT_FALSE(cap.capped());
  EXPECT_EQ(cap.dropped(), 0);
}

TEST(LogCap, UnderTheCapNothingChanges) {
  LogCap cap(10);
  EXPECT_EQ(feed(cap, {"12345", "67890"}), "1234567890");  // exactly the cap: still whole
  EXPECT_FALSE(cap.capped());
}

TEST(LogCap, CrossingTheCapKeepsThePrefixThenTheMarker) {
  LogCap cap(10);
  const std::string file = feed(cap, {"line one\n", "line two\n", "three\n"});
  EXPECT_EQ(file, "line one\nl\n[pirus: log truncated at 10 bytes; further output dropped]\n");
  EXPECT_TRUE(cap.capped());
  EXPECT_EQ(cap.kept(), 10);
  EXPECT_EQ(cap.dropped(), 8 + 6);
  EXPECT_EQ(cap.final_marker(),
            "\n[pirus: log truncated at 10 bytes; at least 14 further bytes dropped]\n");
}

TEST(LogCap, AMarkerAfterACompleteLineNeedsNoExtraNewline) {
  LogCap cap(4);
  EXPECT_EQ(feed(cap, {"abc\n", "def\n"}),
            "abc\n[pirus: log truncated at 4 bytes; further output dropped]\n");
  EXPECT_EQ(cap.final_marker(),
            "[pirus: log truncated at 4 bytes; at least 4 further bytes dropped]\n");
}

TEST(LogCap, EverythingAfterTheCapIsCountedNotKept) {
  LogCap cap(1024);
  std::string file;
  std::int64_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string chunk(4096, 'y');
    total += static_cast<std::int64_t>(chunk.size());
    auto a = cap.admit(chunk);
    file += a.keep;
    if (a.reached_now) file += cap.provisional_marker();
  }
  EXPECT_EQ(cap.kept(), 1024);
  EXPECT_EQ(cap.dropped(), total - 1024);
  EXPECT_EQ(file.size(), 1024 + cap.provisional_marker().size());
}

TEST(LogCap, SizesReadTheWayPeopleWriteThem) {
  EXPECT_EQ(log_cap_size_text(64LL << 20), "64 MiB");
  EXPECT_EQ(log_cap_size_text(1536), "1.5 KiB");
  EXPECT_EQ(log_cap_size_text(1000), "1000 bytes");
  EXPECT_EQ(log_cap_size_text(1LL << 30), "1 GiB");
}

}  // namespace
}  // namespace pirus
