// LogEntries is pure logic; it lives with the Docker integration tests because its target is
// the only one tests/CMakeLists.txt builds for this module.
#include "managers/docker/log_entries.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pirus::docker {
namespace {

struct Entry {
  LogStream stream;
  std::string stamp;  // the fraction of a second, to keep the tests readable
  std::string payload;
};

std::string stamp(const std::string& fraction) {
  return "2026-11-25T00:36:00." + fraction + std::string(9 - fraction.size(), '0') + "Z ";
}

struct Collected {
  std::string out;
  std::string err;
};

// Feeds whole entries, each cut into pieces of `piece` bytes (so stamps split too).
void feed(LogEntries& e, const std::vector<Entry>& entries, Collected& c, std::size_t piece = 0) {
  const LogEntries::Out sink = [&c](LogStream s, std::string_view d) {
    (s == LogStream::kStdout ? c.out : c.err) += d;
  };
  for (const Entry& en : entries) {
    const std::string frame = stamp(en.stamp) + en.payload;
    const std::size_t step = piece == 0 ? frame.size() : piece;
    for (std::size_t at = 0; at < frame.size(); at += step) {
      const std::size_t n = std::min(step, frame.size() - at);
      e.feed({en.stream, std::string_view(frame).substr(at, n), at == 0, at + n == frame.size()},
             sink);
    }
  }
}

constexpr LogStream kOut = LogStream::kStdout;
constexpr LogStream kErr = LogStream::kStderr;

TEST(LogEntriesTest, StampsAreRemovedAtAnyCut) {
  for (std::size_t piece : {0, 1, 3, 30, 31, 32}) {
    LogEntries e;
    Collected c;
    feed(e, {{kOut, "1", "a\n"}, {kErr, "2", "b\n"}, {kOut, "3", "c"}}, c, piece);
    EXPECT_EQ(c.out, "a\nc") << piece;
    EXPECT_EQ(c.err, "b\n") << piece;
  }
}

// What engine 20.10 did under a job writing a gigabyte: the follow stream went back to the
// start of a rotated file and delivered its entries again, the last one included.
TEST(LogEntriesTest, EntriesDeliveredAgainAreDropped) {
  LogEntries e;
  Collected c;
  feed(e, {{kOut, "1", "x\n"}, {kOut, "2", "y\n"}, {kErr, "3", "done\n"}}, c);
  feed(e, {{kOut, "1", "x\n"}, {kOut, "2", "y\n"}, {kErr, "3", "done\n"}, {kOut, "4", "z\n"}}, c,
       7);
  EXPECT_EQ(c.out, "x\ny\nz\n");
  EXPECT_EQ(c.err, "done\n");
}

TEST(LogEntriesTest, TheSameLastEntryAgainIsDropped) {
  LogEntries e;
  Collected c;
  feed(e, {{kErr, "3", "done\n"}, {kErr, "3", "done\n"}}, c);
  EXPECT_EQ(c.err, "done\n");
}

// A long line is split into entries that share the first one's timestamp.
TEST(LogEntriesTest, PartsOfALongLineShareAStampAndAreKept) {
  LogEntries e;
  Collected c;
  feed(e, {{kOut, "5", "aaaa"}, {kOut, "5", "bbbb"}, {kOut, "5", "cc\n"}, {kOut, "6", "d\n"}}, c);
  EXPECT_EQ(c.out, "aaaabbbbcc\nd\n");
}

TEST(LogEntriesTest, ARepeatGoingBackIntoALongLineSkipsWhatWasWritten) {
  LogEntries e;
  Collected c;
  feed(e, {{kOut, "4", "x\n"}, {kOut, "5", "aaaa"}, {kOut, "5", "bb"}}, c);
  // The engine goes back to entry 4, then re-delivers the parts of line 5, then more.
  feed(e, {{kOut, "4", "x\n"}, {kOut, "5", "aaaa"}, {kOut, "5", "bbbb"}, {kOut, "5", "c\n"}}, c);
  EXPECT_EQ(c.out, "x\naaaabbbbc\n");
}

// The catch-up read after the container is gone re-reads the whole record.
TEST(LogEntriesTest, AReplayPassesOnOnlyWhatTheFollowStreamMissed) {
  LogEntries e;
  Collected c;
  feed(e, {{kOut, "1", "a\n"}, {kOut, "2", "part"}}, c);
  e.begin_replay();
  feed(e,
       {{kOut, "1", "a\n"},
        {kOut, "2", "part"},
        {kOut, "2", " two\n"},
        {kErr, "3", "late\n"},
        {kOut, "4", "tail"}},
       c, 5);
  EXPECT_EQ(c.out, "a\npart two\ntail");
  EXPECT_EQ(c.err, "late\n");
}

TEST(LogEntriesTest, AReplayOfAStreamNeverWrittenPassesEverythingOn) {
  LogEntries e;
  Collected c;
  e.begin_replay();
  feed(e, {{kErr, "1", "only\n"}}, c);
  EXPECT_EQ(c.err, "only\n");
}

TEST(LogEntriesTest, EntriesWithoutAStampArePassedOnWhole) {
  LogEntries e;
  Collected c;
  const LogEntries::Out sink = [&c](LogStream s, std::string_view d) {
    (s == LogStream::kStdout ? c.out : c.err) += d;
  };
  e.feed({kOut, "short\n", true, true}, sink);
  const std::string longer = "not a timestamp at all, just a long line\n";
  e.feed({kOut, std::string_view(longer).substr(0, 10), true, false}, sink);
  e.feed({kOut, std::string_view(longer).substr(10), false, true}, sink);
  EXPECT_EQ(c.out, "short\n" + longer);
}

}  // namespace
}  // namespace pirus::docker
