#include "managers/docker/log_demuxer.hpp"

#include <algorithm>

namespace pirus::docker {

void LogDemuxer::feed(std::string_view data, const Sink& sink) {
  while (!data.empty()) {
    if (remaining_ == 0) {
      const std::size_t take = std::min(header_.size() - header_len_, data.size());
      std::copy_n(data.begin(), take, header_.begin() + header_len_);
      header_len_ += take;
      data.remove_prefix(take);
      if (header_len_ < header_.size()) return;
      header_len_ = 0;
      // 0 (stdin) only appears with attach; 3 (systemerr) is the engine's own complaint.
      current_ = header_[0] == 2 || header_[0] == 3 ? LogStream::kStderr : LogStream::kStdout;
      remaining_ = static_cast<std::uint32_t>(header_[4]) << 24 |
                   static_cast<std::uint32_t>(header_[5]) << 16 |
                   static_cast<std::uint32_t>(header_[6]) << 8 |
                   static_cast<std::uint32_t>(header_[7]);
      frame_size_ = remaining_;
      continue;
    }
    const std::size_t take = std::min<std::size_t>(remaining_, data.size());
    const LogPiece piece{current_, data.substr(0, take), remaining_ == frame_size_,
                         take == remaining_};
    sink(piece);
    remaining_ -= static_cast<std::uint32_t>(take);
    data.remove_prefix(take);
  }
}

}  // namespace pirus::docker
