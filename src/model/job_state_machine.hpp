#pragma once
// The job state machine: the one table of legal transitions, used by every store
// (which applies each transition as a compare-and-swap) and by the services.
//
//   waiting      -> initializing (scheduled) | canceled | error
//   initializing -> running | waiting (requeued by recovery) | canceled | error
//   running      -> pause | finalizing (exit 0) | canceled | error
//   pause        -> running (resume) | canceled | error
//   finalizing   -> done | error
//   done, canceled, error: terminal
//
// A transition to `error` must carry a non-empty, human-readable reason.

#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/model.hpp"

namespace pirus {

bool is_legal_transition(JobStatus from, JobStatus to);

// The statuses reachable from `from` (empty for terminal ones).
std::vector<JobStatus> legal_targets(JobStatus from);

// ok, or a conflict Status saying why ("job cannot go from done to running: done is
// terminal"); invalid when `to` is error and `reason` is empty.
Status check_transition(JobStatus from, JobStatus to, const std::string& reason);

}  // namespace pirus
