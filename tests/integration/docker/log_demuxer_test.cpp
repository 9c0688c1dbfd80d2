// The demuxer is pure logic; it lives with the Docker integration tests because its target is
// the only one tests/CMakeLists.txt builds for this module.
#include "managers/docker/log_demuxer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace pirus::docker {
namespace {

std::string frame(std::uint8_t stream, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  const auto n = static_cast<std::uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + payload;
}

struct Collected {
  std::string out;
  std::string err;
};

LogDemuxer::Sink sink_into(Collected& c) {
  return [&c](const LogPiece& p) { (p.stream == LogStream::kStdout ? c.out : c.err) += p.data; };
}

// A payload longer than 255 bytes exercises every byte of the big-endian size.
const std::string kLong = std::string(300, 'x') + "\n";

std::string sample_stream() {
  return frame(1, "out line 1\n") + frame(2, "err line 1\n") + frame(1, "") + frame(1, kLong) +
         frame(2, "err line 2\n") + frame(1, "tail without newline");
}

const std::string kWantOut = "out line 1\n" + kLong + "tail without newline";
const std::string kWantErr = "err line 1\nerr line 2\n";

TEST(LogDemuxerTest, WholeStreamInOneChunk) {
  LogDemuxer d;
  Collected c;
  d.feed(sample_stream(), sink_into(c));
  EXPECT_EQ(c.out, kWantOut);
  EXPECT_EQ(c.err, kWantErr);
  EXPECT_TRUE(d.at_frame_boundary());
}

TEST(LogDemuxerTest, SplitAtEveryOffset) {
  const std::string all = sample_stream();
  for (std::size_t cut = 0; cut <= all.size(); ++cut) {
    LogDemuxer d;
    Collected c;
    d.feed(std::string_view(all).substr(0, cut), sink_into(c));
    d.feed(std::string_view(all).substr(cut), sink_into(c));
    ASSERT_EQ(c.out, kWantOut) << "cut at " << cut;
    ASSERT_EQ(c.err, kWantErr) << "cut at " << cut;
    ASSERT_TRUE(d.at_frame_boundary());
  }
}

TEST(LogDemuxerTest, SplitAtEveryPairOfOffsets) {
  const std::string all = frame(1, "abc\n") + frame(2, "de\n") + frame(1, "fgh");
  for (std::size_t a = 0; a <= all.size(); ++a) {
    for (std::size_t b = a; b <= all.size(); ++b) {
      LogDemuxer d;
      Collected c;
      d.feed(std::string_view(all).substr(0, a), sink_into(c));
      d.feed(std::string_view(all).substr(a, b - a), sink_into(c));
      d.feed(std::string_view(all).substr(b), sink_into(c));
      ASSERT_EQ(c.out, "abc\nfgh") << a << "," << b;
      ASSERT_EQ(c.err, "de\n") << a << "," << b;
    }
  }
}

TEST(LogDemuxerTest, OneByteAtATime) {
  const std::string all = sample_stream();
  LogDemuxer d;
  Collected c;
  for (std::size_t i = 0; i < all.size(); ++i) {
    d.feed(std::string_view(all).substr(i, 1), sink_into(c));
  }
  EXPECT_EQ(c.out, kWantOut);
  EXPECT_EQ(c.err, kWantErr);
  EXPECT_TRUE(d.at_frame_boundary());
}

TEST(LogDemuxerTest, PayloadIsPassedOnBeforeItsFrameIsComplete) {
  const std::string f = frame(1, "hello world\n");
  LogDemuxer d;
  Collected c;
  d.feed(std::string_view(f).substr(0, 8 + 5), sink_into(c));
  EXPECT_EQ(c.out, "hello");
  EXPECT_FALSE(d.at_frame_boundary());
  d.feed(std::string_view(f).substr(8 + 5), sink_into(c));
  EXPECT_EQ(c.out, "hello world\n");
  EXPECT_TRUE(d.at_frame_boundary());
}

TEST(LogDemuxerTest, BinaryPayloadAndSystemErrorStream) {
  const std::string bin("\0\1\2\n\xff", 5);
  LogDemuxer d;
  Collected c;
  d.feed(frame(1, bin) + frame(3, "engine complaint\n"), sink_into(c));
  EXPECT_EQ(c.out, bin);
  EXPECT_EQ(c.err, "engine complaint\n");
}

}  // namespace
}  // namespace pirus::docker
