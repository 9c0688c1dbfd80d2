#include "core/usage_history.hpp"

#include <algorithm>

namespace pirus {

UsageHistory::UsageHistory(std::size_t capacity)
    : capacity_(std::max<std::size_t>(2, capacity + capacity % 2)) {
  points_.reserve(capacity_);
}

UsageSample UsageHistory::merge(const UsageSample& a, std::size_t na, const UsageSample& b,
                                std::size_t nb) {
  UsageSample m = b;  // the later point's time and cumulative counters
  m.cpu_percent =
      (a.cpu_percent * static_cast<double>(na) + b.cpu_percent * static_cast<double>(nb)) /
      static_cast<double>(na + nb);
  m.memory_bytes = std::max(a.memory_bytes, b.memory_bytes);
  m.pids = std::max(a.pids, b.pids);
  return m;
}

void UsageHistory::add(const UsageSample& sample) {
  ++samples_;
  pending_ = pending_count_ == 0 ? sample : merge(pending_, pending_count_, sample, 1);
  if (++pending_count_ < stride_) return;
  points_.push_back(pending_);
  pending_count_ = 0;
  if (points_.size() >= capacity_) compact();
}

// Called with exactly capacity_ (even) complete points: halves them.
void UsageHistory::compact() {
  std::size_t out = 0;
  for (std::size_t i = 0; i + 1 < points_.size(); i += 2) {
    points_[out++] = merge(points_[i], stride_, points_[i + 1], stride_);
  }
  points_.resize(out);
  stride_ *= 2;
}

std::vector<UsageSample> UsageHistory::points() const {
  std::vector<UsageSample> all = points_;
  if (pending_count_ > 0) all.push_back(pending_);
  return all;
}

}  // namespace pirus
