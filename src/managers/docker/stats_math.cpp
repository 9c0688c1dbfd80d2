#include "managers/docker/stats_math.hpp"

#include <strings.h>

#include <boost/json/parse.hpp>
#include <cstdint>

namespace pirus::docker {

namespace json = boost::json;

namespace {

const json::value* find(const json::value* v, std::string_view key) {
  if (v == nullptr || !v->is_object()) return nullptr;
  return v->as_object().if_contains(key);
}

template <typename... Keys>
const json::value* path(const json::value* v, Keys... keys) {
  ((v = find(v, keys)), ...);
  return v;
}

// The engine prints counters as unsigned 64-bit integers; tolerate any JSON number.
double num(const json::value* v) {
  if (v == nullptr) return 0;
  switch (v->kind()) {
    case json::kind::int64:
      return static_cast<double>(v->get_int64());
    case json::kind::uint64:
      return static_cast<double>(v->get_uint64());
    case json::kind::double_:
      return v->get_double();
    default:
      return 0;
  }
}

std::int64_t inum(const json::value* v) {
  if (v == nullptr) return 0;
  switch (v->kind()) {
    case json::kind::int64:
      return v->get_int64();
    case json::kind::uint64:
      return static_cast<std::int64_t>(v->get_uint64());
    case json::kind::double_:
      return static_cast<std::int64_t>(v->get_double());
    default:
      return 0;
  }
}

double online_cpus(const json::value* cpu_stats) {
  const double online = num(find(cpu_stats, "online_cpus"));
  if (online > 0) return online;
  const json::value* per = path(cpu_stats, "cpu_usage", "percpu_usage");
  if (per != nullptr && per->is_array()) return static_cast<double>(per->as_array().size());
  return 0;
}

}  // namespace

JobStats stats_from_json(const json::value& sample) {
  JobStats s;
  const json::value* root = &sample;

  const json::value* cpu = find(root, "cpu_stats");
  const json::value* precpu = find(root, "precpu_stats");
  const double cpu_delta =
      num(path(cpu, "cpu_usage", "total_usage")) - num(path(precpu, "cpu_usage", "total_usage"));
  const double system_delta =
      num(find(cpu, "system_cpu_usage")) - num(find(precpu, "system_cpu_usage"));
  if (cpu_delta > 0 && system_delta > 0) {
    s.cpu_percent = cpu_delta / system_delta * online_cpus(cpu) * 100.0;
  }

  // Nanoseconds on both cgroup versions as the engine reports them.
  s.cpu_seconds = num(path(cpu, "cpu_usage", "total_usage")) / 1e9;

  const json::value* mem = find(root, "memory_stats");
  std::int64_t usage = inum(find(mem, "usage"));
  // Page cache that the kernel can drop is not the job's doing: v1 names it
  // total_inactive_file, v2 inactive_file.
  const json::value* inactive = path(mem, "stats", "total_inactive_file");
  if (inactive == nullptr) inactive = path(mem, "stats", "inactive_file");
  const std::int64_t inactive_bytes = inum(inactive);
  if (inactive_bytes > 0 && inactive_bytes < usage) usage -= inactive_bytes;
  s.memory_bytes = usage;
  s.memory_limit_bytes = inum(find(mem, "limit"));

  const json::value* io = path(root, "blkio_stats", "io_service_bytes_recursive");
  if (io != nullptr && io->is_array()) {
    for (const json::value& entry : io->as_array()) {
      const json::value* op = find(&entry, "op");
      if (op == nullptr || !op->is_string()) continue;
      const std::string_view name = op->get_string();
      // v1 writes "Read"/"Write", v2 "read"/"write".
      if (name.size() == 4 && strncasecmp(name.data(), "read", 4) == 0) {
        s.block_read_bytes += inum(find(&entry, "value"));
      } else if (name.size() == 5 && strncasecmp(name.data(), "write", 5) == 0) {
        s.block_write_bytes += inum(find(&entry, "value"));
      }
    }
  }

  const json::value* nets = find(root, "networks");
  if (nets != nullptr && nets->is_object()) {
    for (const auto& iface : nets->as_object()) {
      s.net_rx_bytes += inum(find(&iface.value(), "rx_bytes"));
      s.net_tx_bytes += inum(find(&iface.value(), "tx_bytes"));
    }
  }

  s.pids = inum(path(root, "pids_stats", "current"));
  return s;
}

Result<JobStats> parse_stats(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return Status::internal("the engine sent stats that are not a JSON object");
  }
  return stats_from_json(v);
}

}  // namespace pirus::docker
