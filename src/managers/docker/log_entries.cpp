#include "managers/docker/log_entries.hpp"

#include <algorithm>

namespace pirus::docker {
namespace {

bool looks_like_stamp(std::string_view s) {
  return s.size() == LogEntries::kStampSize && s[4] == '-' && s[10] == 'T' &&
         s[LogEntries::kStampSize - 2] == 'Z' && s.back() == ' ';
}

}  // namespace

void LogEntries::begin_replay() {
  for (Stream* s : {&out_, &err_}) {
    s->replaying = true;
    s->replay_skip = s->at_newest;
  }
}

void LogEntries::decide(Stream& s) {
  const std::string_view stamp = std::string_view(s.stamp).substr(0, kStampSize - 1);
  if (stamp > s.newest) {
    s.newest = stamp;
    s.at_newest = 0;
    s.replaying = false;
    s.keep = true;
  } else if (stamp < s.newest) {
    // Older than what was written: the engine went back, and what it will deliver at the
    // newest instant was written already.
    s.replaying = true;
    s.replay_skip = s.at_newest;
    s.keep = false;
  } else {
    s.keep = s.replaying || s.open;
  }
}

void LogEntries::feed(const LogPiece& piece, const Out& out) {
  Stream& s = piece.stream == LogStream::kStdout ? out_ : err_;
  std::string_view data = piece.data;
  if (piece.begins_frame) {
    s.stamp.clear();
    s.stamp_done = false;
  }
  if (!s.stamp_done) {
    const std::size_t take = std::min(kStampSize - s.stamp.size(), data.size());
    s.stamp.append(data.substr(0, take));
    data.remove_prefix(take);
    if (s.stamp.size() < kStampSize && !piece.ends_frame) return;
    s.stamp_done = true;
    if (looks_like_stamp(s.stamp)) {
      decide(s);
    } else {
      // Not a timestamped entry (an engine that ignores the option): nothing to compare it
      // with, so it is passed on whole.
      s.keep = true;
      if (!s.stamp.empty()) out(piece.stream, s.stamp);
    }
  }
  if (!s.keep) return;
  if (s.replaying && s.replay_skip > 0) {
    const auto drop = static_cast<std::size_t>(std::min<std::int64_t>(s.replay_skip, data.size()));
    s.replay_skip -= static_cast<std::int64_t>(drop);
    data.remove_prefix(drop);
  }
  if (!data.empty()) {
    s.at_newest += static_cast<std::int64_t>(data.size());
    s.open = data.back() != '\n';
    out(piece.stream, data);
  }
  if (s.replaying && s.replay_skip == 0 && piece.ends_frame) s.replaying = false;
}

}  // namespace pirus::docker
