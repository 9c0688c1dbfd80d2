#include "managers/docker/host_paths.hpp"

#include <utility>

namespace pirus::docker {

HostPathMap::HostPathMap(std::string data_dir, std::string host_data_dir)
    : from_(std::move(data_dir)), to_(std::move(host_data_dir)) {
  if (to_.empty()) to_ = from_;
}

std::string HostPathMap::to_host(const std::string& path) const {
  if (identity() || path.compare(0, from_.size(), from_) != 0) return path;
  if (path.size() == from_.size()) return to_;
  // "/" as data_dir makes every absolute path a descendant.
  const std::string rest = from_ == "/" ? path : path.substr(from_.size());
  if (rest.empty() || rest.front() != '/') return path;
  return to_ == "/" ? rest : to_ + rest;
}

}  // namespace pirus::docker
