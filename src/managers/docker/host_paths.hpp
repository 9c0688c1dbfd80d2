#pragma once
// Pirus may run in a container while it asks the HOST's dockerd to bind-mount job
// directories: every bind source it sends must then be a path on the host, not the path the
// server sees. HostPathMap turns a server path under data_dir into the same path under
// host_data_dir (server.host_data_dir); paths outside data_dir are sent as they are.

#include <string>

namespace pirus::docker {

class HostPathMap {
 public:
  HostPathMap() = default;
  // Both absolute and normalised (no trailing '/'); equal (or empty) means no mapping.
  HostPathMap(std::string data_dir, std::string host_data_dir);

  bool identity() const { return from_.empty() || from_ == to_; }
  // `path` itself when it is not data_dir or below it (component-wise: /data2 is not under
  // /data), else host_data_dir + the rest.
  std::string to_host(const std::string& path) const;

 private:
  std::string from_;
  std::string to_;
};

}  // namespace pirus::docker
