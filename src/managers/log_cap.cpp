#include "managers/log_cap.hpp"

#include <algorithm>
#include <cstdio>

namespace pirus {

LogCap::Admitted LogCap::admit(std::string_view data) {
  Admitted a;
  if (capped_) {
    dropped_ += static_cast<std::int64_t>(data.size());
    return a;
  }
  if (limit_ <= 0 || kept_ + static_cast<std::int64_t>(data.size()) <= limit_) {
    kept_ += static_cast<std::int64_t>(data.size());
    if (!data.empty()) ends_with_newline_ = data.back() == '\n';
    a.keep = data;
    return a;
  }
  const auto room = static_cast<std::size_t>(limit_ - kept_);
  a.keep = data.substr(0, room);
  kept_ += static_cast<std::int64_t>(room);
  if (room > 0) ends_with_newline_ = a.keep.back() == '\n';
  dropped_ += static_cast<std::int64_t>(data.size() - room);
  capped_ = true;
  a.reached_now = true;
  return a;
}

std::string LogCap::prefix() const {
  // The marker gets a line of its own even when the cap cut a line in two.
  return std::string(ends_with_newline_ ? "" : "\n") + "[pirus: log truncated at " +
         log_cap_size_text(limit_) + "; ";
}

std::string LogCap::provisional_marker() const {
  return prefix() + "further output dropped]\n";
}

std::string LogCap::final_marker() const {
  return prefix() + "at least " + std::to_string(dropped_) + " further bytes dropped]\n";
}

std::string log_cap_size_text(std::int64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes);
  int unit = -1;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (v == static_cast<double>(static_cast<std::int64_t>(v))) {
    std::snprintf(buf, sizeof buf, "%lld %s", static_cast<long long>(v), kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

}  // namespace pirus
