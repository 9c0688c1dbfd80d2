#include "store/job_validation.hpp"

#include <cmath>

namespace pirus {

namespace {

bool valid_fraction(double v) {
  return std::isfinite(v) && v >= 0 && v <= 1;
}

}  // namespace

Status validate_update(const JobUpdate& u) {
  if (u.progress && !valid_fraction(*u.progress)) {
    return Status::invalid("progress must be between 0 and 1");
  }
  return Status::ok();
}

Status validate_job(const Job& j) {
  if (!valid_fraction(j.progress)) return Status::invalid("progress must be between 0 and 1");
  const Resources& r = j.resources;
  if (!std::isfinite(r.cpus) || r.cpus < 0 || r.memory_mb < 0 || r.pids < 0) {
    return Status::invalid("resources must be non-negative numbers");
  }
  return Status::ok();
}

}  // namespace pirus
