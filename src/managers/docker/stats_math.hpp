#pragma once
// Turns one sample of GET /containers/{id}/stats?stream=false into JobStats, the way the
// docker CLI computes `docker stats` (cgroup v1 and v2 payloads both accepted). Pure.

#include <boost/json/value.hpp>
#include <string_view>

#include "common/status.hpp"
#include "managers/container_manager.hpp"

namespace pirus::docker {

// Missing sections count as zero (a container with network none has no "networks"; a stopped
// one has empty CPU figures). sampled_at is left for the caller.
JobStats stats_from_json(const boost::json::value& sample);
// kInternal when `body` is not a JSON object.
Result<JobStats> parse_stats(std::string_view body);

}  // namespace pirus::docker
