#pragma once
// Reads a timestamped log stream (`logs?timestamps=1`) and passes on each entry once.
//
// Docker's json-file reader is not exactly-once when the log rotates under a follow stream:
// it can deliver entries of a rotated file a second time, or skip some (engine 20.10; seen
// with a job writing a gigabyte past limits.job_log_size, whose rotation is what bounds the
// engine's copy). Every entry carries the time the engine took it from the container, fixed
// width, so time order is string order. Per stream, an entry older than the newest one
// already written is a repeat; one at the same instant is a repeat too, unless the newest
// entry was a partial line (a long line is split into entries that share one timestamp).
//
// A non-follow read after the fact (the catch-up once the container is gone) re-reads from
// the start: begin_replay() makes the bytes already written at the newest instant count as
// seen, so only what the follow stream missed is passed on.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "managers/docker/log_demuxer.hpp"

namespace pirus::docker {

class LogEntries {
 public:
  using Out = std::function<void(LogStream stream, std::string_view data)>;

  // "2026-11-25T00:36:00.065786159Z " (RFC 3339 with nanoseconds, then a space).
  static constexpr std::size_t kStampSize = 31;

  // Takes the demuxer's pieces in order; calls `out` with the new payload bytes, timestamps
  // removed.
  void feed(const LogPiece& piece, const Out& out);

  // The next entries re-read what was already delivered.
  void begin_replay();

 private:
  struct Stream {
    std::string newest;          // timestamp of the newest entry written
    std::int64_t at_newest = 0;  // payload bytes written at that instant
    bool open = false;           // the newest entry did not end its line
    std::int64_t replay_skip = 0;
    bool replaying = false;
    // The entry being read.
    std::string stamp;
    bool stamp_done = false;
    bool keep = false;
  };

  void decide(Stream& s);

  Stream out_;
  Stream err_;
};

}  // namespace pirus::docker
