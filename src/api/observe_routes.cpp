#include "api/observe_routes.hpp"

#include <sys/stat.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>

#include "api/json_views.hpp"
#include "common/file_tail.hpp"
#include "core/offload.hpp"

namespace pirus::api {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;

namespace {

constexpr char kText[] = "text/plain; charset=utf-8";
constexpr std::int64_t kMaxTailLines = 10'000'000;

// nullopt when absent; an error when present but not an integer in [lo, hi].
Result<std::optional<std::int64_t>> optional_int(const Request& req, const std::string& name,
                                                 std::int64_t lo, std::int64_t hi) {
  auto v = req.query_param(name);
  if (!v) return std::optional<std::int64_t>();
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || ptr != v->data() + v->size() || n < lo || n > hi) {
    return Status::invalid(name + " must be an integer between " + std::to_string(lo) + " and " +
                           std::to_string(hi) + ", got '" + *v + "'");
  }
  return std::optional<std::int64_t>(n);
}

std::int64_t file_size(const std::string& path) {
  struct stat sb {};
  return ::stat(path.c_str(), &sb) == 0 ? sb.st_size : -1;
}

Response window(const std::string& path, int status, std::int64_t offset, std::int64_t length) {
  Response r = Response::file(path, kText);
  r.status = status;
  r.file_offset = offset;
  r.file_length = length;
  return r;
}

Response unsatisfiable(std::int64_t size) {
  Response r = Response::problem(
      416, "Range Not Satisfiable",
      "the offset is at or past the end of the log, which has " + std::to_string(size) + " bytes");
  r.headers["Content-Range"] = "bytes */" + std::to_string(size);
  return r;
}

json::value sample_json(const UsageSample& s) {
  return {{"at", format_time(s.at)},
          {"cpu_percent", s.cpu_percent},
          {"cpu_seconds", s.cpu_seconds},
          {"memory_bytes", s.memory_bytes},
          {"block_read_bytes", s.block_read_bytes},
          {"block_write_bytes", s.block_write_bytes},
          {"net_rx_bytes", s.net_rx_bytes},
          {"net_tx_bytes", s.net_tx_bytes},
          {"pids", s.pids}};
}

}  // namespace

asio::awaitable<Response> job_log_response(asio::thread_pool& workers, const Request& req,
                                           std::string path) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  auto tail = optional_int(req, "tail", 0, kMaxTailLines);
  if (!tail) co_return Response::from_status(tail.status());
  auto offset = optional_int(req, "offset", 0, kMax);
  if (!offset) co_return Response::from_status(offset.status());
  auto length = optional_int(req, "length", 1, kMax);
  if (!length) co_return Response::from_status(length.status());
  if (*tail && (*offset || *length)) {
    co_return Response::problem(400, "Bad Request",
                                "tail cannot be combined with offset or length");
  }
  if (*length && !*offset) {
    co_return Response::problem(400, "Bad Request", "length needs an offset");
  }

  if (*tail) {
    const std::int64_t lines = **tail;
    auto find = [path, lines]() { return find_tail(path, lines); };
    Result<TailWindow> w = co_await offload(workers, std::move(find));
    if (!w) {
      if (w.status().code() == Code::kNotFound) co_return Response::text(200, "", kText);
      co_return Response::from_status(w.status());
    }
    Response r = window(path, 200, w->offset, w->size - w->offset);
    // Where the tail starts, so a client can continue with offset= from the end it got.
    r.headers["X-Log-Offset"] = std::to_string(w->offset);
    co_return r;
  }

  if (*offset) {
    const std::int64_t size = std::max<std::int64_t>(0, file_size(path));
    const std::int64_t first = **offset;
    if (first >= size) co_return unsatisfiable(size);
    const std::int64_t count = std::min(length->value_or(kMax), size - first);
    Response r = window(path, 206, first, count);
    r.headers["Content-Range"] = "bytes " + std::to_string(first) + "-" +
                                 std::to_string(first + count - 1) + "/" + std::to_string(size);
    co_return r;
  }

  if (file_size(path) < 0) {
    // No output yet. A Range on nothing cannot be satisfied; a plain read is simply empty.
    if (req.header("range")) co_return unsatisfiable(0);
    co_return Response::text(200, "", kText);
  }
  co_return Response::file(path, kText);  // the HTTP server applies a Range header
}

Response job_monitoring_response(const Job& job, const JobMonitor& monitor) {
  json::object o{{"job_id", job.id}, {"status", std::string(to_string(job.status))}};
  o["interval_seconds"] = monitor.interval_seconds();
  const auto view = monitor.view(job.id);
  std::int64_t memory_limit = job.resources.memory_mb * 1024 * 1024;
  if (view && view->memory_limit_bytes > 0) memory_limit = view->memory_limit_bytes;
  o["limits"] = {
      {"cpus", job.resources.cpus}, {"memory_bytes", memory_limit}, {"pids", job.resources.pids}};
  o["current"] = view && view->current ? sample_json(*view->current) : json::value(nullptr);
  o["peak_memory_bytes"] = std::max(job.peak_memory_bytes, view ? view->peak_memory_bytes : 0);
  double cpu_seconds = job.cpu_seconds;
  if (view && view->current) cpu_seconds = std::max(cpu_seconds, view->current->cpu_seconds);
  o["cpu_seconds"] = cpu_seconds;
  o["cpu_percent_avg"] = view ? view->cpu_percent_avg : 0.0;
  json::array points;
  if (view) {
    for (const UsageSample& s : view->history) points.push_back(sample_json(s));
  }
  o["history"] = {{"samples", view ? view->samples : 0},
                  {"samples_per_point", view ? view->samples_per_point : 1},
                  {"capacity", view ? view->capacity : 0},
                  {"points", std::move(points)}};
  return Response::json(200, o);
}

}  // namespace pirus::api
