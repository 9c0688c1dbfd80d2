#include "core/scheduler_policy.hpp"

namespace pirus {

std::vector<Id> select_jobs_to_start(const std::vector<Job>& queue, Occupancy occupied,
                                     const SchedulerLimits& limits) {
  std::vector<Id> start;
  for (const auto& job : queue) {
    if (occupied.running >= limits.max_running_jobs) break;
    // A job bigger than the whole budget could never start; let it run alone rather than
    // block the queue forever (its own limits still apply).
    bool alone = occupied.running == 0 && occupied.memory_mb == 0;
    if (limits.max_total_cpus > 0 && !alone &&
        occupied.cpus + job.resources.cpus > limits.max_total_cpus + 1e-9) {
      break;
    }
    if (limits.max_total_memory_mb > 0 && !alone &&
        occupied.memory_mb + job.resources.memory_mb > limits.max_total_memory_mb) {
      break;
    }
    start.push_back(job.id);
    occupied.running += 1;
    occupied.cpus += job.resources.cpus;
    occupied.memory_mb += job.resources.memory_mb;
  }
  return start;
}

}  // namespace pirus
