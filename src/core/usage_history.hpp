#pragma once
// The bounded resource-usage history of one job. It covers the job's whole run in at most
// `capacity` points: when it is full, neighbouring points are merged pairwise and each point
// from then on stands for twice as many samples. A job of an hour at a 5 s interval with the
// default 360 points keeps one point per 10 s; a job of a day, one per ~4 min. Memory per job
// is capacity x sizeof(UsageSample), whatever the run time.
//
// Merging keeps what a reader of a summary wants: the CPU% is averaged (weighted by samples),
// memory and pids keep their maximum (a peak is never merged away), and the cumulative
// counters (block I/O, network, CPU seconds) and the time are the later point's.
//
// Not thread-safe: owned by the monitor on the event loop.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/model.hpp"

namespace pirus {

struct UsageSample {
  TimeMs at = 0;
  double cpu_percent = 0;
  double cpu_seconds = 0;  // cumulative
  std::int64_t memory_bytes = 0;
  std::int64_t block_read_bytes = 0;  // cumulative
  std::int64_t block_write_bytes = 0;
  std::int64_t net_rx_bytes = 0;
  std::int64_t net_tx_bytes = 0;
  std::int64_t pids = 0;
};

class UsageHistory {
 public:
  // `capacity` is rounded up to an even number of at least 2.
  explicit UsageHistory(std::size_t capacity);

  void add(const UsageSample& sample);

  // Oldest first; at most capacity() points. The newest point may stand for fewer samples
  // than samples_per_point() (it is still filling).
  std::vector<UsageSample> points() const;
  std::size_t capacity() const { return capacity_; }
  std::size_t samples_per_point() const { return stride_; }
  std::size_t samples() const { return samples_; }

 private:
  static UsageSample merge(const UsageSample& a, std::size_t na, const UsageSample& b,
                           std::size_t nb);
  void compact();

  std::size_t capacity_;
  std::size_t stride_ = 1;  // samples per complete point
  std::size_t samples_ = 0;
  std::vector<UsageSample> points_;  // complete points
  UsageSample pending_;              // the point being filled
  std::size_t pending_count_ = 0;
};

}  // namespace pirus
