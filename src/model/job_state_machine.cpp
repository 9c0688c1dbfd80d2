#include "model/job_state_machine.hpp"

#include <array>

namespace pirus {

namespace {

using S = JobStatus;
constexpr std::size_t kCount = 8;

// kTable[from][to]: the whole state machine in one place. Rows follow the order of
// JobStatus: waiting, initializing, running, pause, finalizing, done, canceled, error.
constexpr std::array<std::array<bool, kCount>, kCount> kTable = {{
    //            wait   init   run    pause  final  done   cancel error
    /* wait  */ {false, true, false, false, false, false, true, true},
    /* init  */ {true, false, true, false, false, false, true, true},
    /* run   */ {false, false, false, true, true, false, true, true},
    /* pause */ {false, false, true, false, false, false, true, true},
    /* final */ {false, false, false, false, false, true, false, true},
    /* done  */ {false, false, false, false, false, false, false, false},
    /* cancel*/ {false, false, false, false, false, false, false, false},
    /* error */ {false, false, false, false, false, false, false, false},
}};

std::size_t idx(S s) {
  return static_cast<std::size_t>(s);
}

}  // namespace

bool is_legal_transition(JobStatus from, JobStatus to) {
  return kTable[idx(from)][idx(to)];
}

std::vector<JobStatus> legal_targets(JobStatus from) {
  std::vector<JobStatus> out;
  for (std::size_t to = 0; to < kCount; ++to) {
    if (kTable[idx(from)][to]) out.push_back(static_cast<JobStatus>(to));
  }
  return out;
}

Status check_transition(JobStatus from, JobStatus to, const std::string& reason) {
  if (is_terminal(from)) {
    return Status::conflict("job is " + std::string(to_string(from)) + ", which is final");
  }
  if (!is_legal_transition(from, to)) {
    return Status::conflict("job cannot go from " + std::string(to_string(from)) + " to " +
                            std::string(to_string(to)));
  }
  if (to == JobStatus::kError && reason.empty()) {
    return Status::invalid("a job can only enter error with a reason");
  }
  return Status::ok();
}

}  // namespace pirus
