#pragma once
// Which waiting jobs may start now. Pure logic, so it is unit-tested on its own.
//
// Policy: strict priority order (priority desc, then FIFO). The head of the queue starts
// when a slot and its resources are free; if it does not fit, nothing behind it starts
// either, so a large high-priority job is never starved by a stream of small ones.
// Running and initializing jobs hold a slot, their CPUs and their memory; paused jobs hold
// only their memory (a paused container keeps its pages but uses no CPU).

#include <vector>

#include "model/model.hpp"

namespace pirus {

struct SchedulerLimits {
  int max_running_jobs = 4;
  double max_total_cpus = 0;             // 0 = no CPU budget
  std::int64_t max_total_memory_mb = 0;  // 0 = no memory budget
};

struct Occupancy {
  int running = 0;  // initializing + running
  double cpus = 0;
  std::int64_t memory_mb = 0;  // running + paused
};

// `queue` is in queue order. Returns the ids to start, in order.
std::vector<Id> select_jobs_to_start(const std::vector<Job>& queue, Occupancy occupied,
                                     const SchedulerLimits& limits);

}  // namespace pirus
