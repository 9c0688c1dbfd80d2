#pragma once
// Push channels of the REST API: GET /api/v1/events (WebSocket, or server-sent events with
// Accept: text/event-stream), GET /api/v1/events/stats, and the follow mode of job logs.
// docs/api.md "Events" describes the protocol.

#include <string>

#include "api/event_hub.hpp"
#include "api/rest_api.hpp"
#include "http/http_server.hpp"

namespace pirus::api {

// `services.hub` must be set.
void register_event_routes(http::Server& server, Services services);

// The response of GET /api/v1/jobs/{id}/logs/{stream}?follow=true: the log from its first
// byte, then what the job writes, as it is written (chunked), ending after the last bytes
// once the job is final. `stream` is "stdout" or "stderr". When the server stops first the
// body is cut without its last chunk, so clients can tell it is incomplete.
http::Response follow_job_log(const Services& services, Id job_id, const std::string& stream);

}  // namespace pirus::api
