#pragma once

// Job error messages worded the same by every store backend.

#include "common/status.hpp"
#include "model/model.hpp"

namespace pirus {

// Re-words a state machine Status ("job is done, which is final") for a given job
// ("job 4 is done, which is final"), keeping its code.
Status about_job(const Status& st, Id id);

// The conflict for a compare-and-set on a job's status that found another status.
Status job_moved(Id id, JobStatus actual, JobStatus expected);

}  // namespace pirus
