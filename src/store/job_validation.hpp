#pragma once

// The field checks every store backend applies before writing a job, so that both reject the
// same input with the same message.

#include "common/status.hpp"
#include "store/store.hpp"

namespace pirus {

Status validate_update(const JobUpdate& u);
Status validate_job(const Job& j);

}  // namespace pirus
