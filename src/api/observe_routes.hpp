#pragma once
// Reading what a job produced and used: its logs (whole, the last N lines, or a byte range)
// and its resource usage. The route handlers in rest_api.cpp resolve the job and call these.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>

#include "core/job_monitor.hpp"
#include "http/http_server.hpp"
#include "model/model.hpp"

namespace pirus::api {

// GET /api/v1/jobs/{id}/logs/{stream} (docs/api.md): the whole log, `tail=N` (the last N
// lines, found by reading backwards on the worker pool), `offset`/`length` (206 with
// Content-Range, 416 past the end) or a `Range: bytes=` header. A log that does not exist yet
// is empty. Malformed or conflicting parameters are 400. The bytes stream from disk.
boost::asio::awaitable<http::Response> job_log_response(boost::asio::thread_pool& workers,
                                                        const http::Request& req, std::string path);

// GET /api/v1/jobs/{id}/monitoring: the latest sample, the limits, the totals and the history.
http::Response job_monitoring_response(const Job& job, const JobMonitor& monitor);

}  // namespace pirus::api
