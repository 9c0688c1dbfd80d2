#pragma once
// Splits the Engine's multiplexed log stream (containers without a TTY) back into stdout and
// stderr. Each frame is an 8-byte header [stream, 0, 0, 0, size as big-endian uint32] followed
// by `size` payload bytes. The HTTP layer cuts the stream wherever it likes, so a header or a
// payload may be split across any number of feed() calls; payload bytes are passed on as soon
// as they arrive rather than when their frame is complete, so readers see output live.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace pirus::docker {

enum class LogStream { kStdout, kStderr };

// Part of one frame's payload, with where it sits in its frame: the engine's entries are
// frames, and readers of timestamped logs need to know where an entry starts and ends.
struct LogPiece {
  LogStream stream = LogStream::kStdout;
  std::string_view data;
  bool begins_frame = false;
  bool ends_frame = false;
};

class LogDemuxer {
 public:
  using Sink = std::function<void(const LogPiece& piece)>;

  void feed(std::string_view data, const Sink& sink);
  // True when no frame is half-read: the stream so far ended cleanly.
  bool at_frame_boundary() const { return header_len_ == 0 && remaining_ == 0; }

 private:
  std::array<unsigned char, 8> header_{};
  std::size_t header_len_ = 0;
  std::uint32_t remaining_ = 0;  // payload bytes still due for the current frame
  std::uint32_t frame_size_ = 0;
  LogStream current_ = LogStream::kStdout;
};

}  // namespace pirus::docker
