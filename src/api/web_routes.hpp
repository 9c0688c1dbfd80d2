#pragma once
// The web dashboard: the built single-page application under `web.root`, served at `/`.
// API routes keep priority (this is the router's fallback route), and unknown `/api/...`
// paths stay JSON 404s.

#include "api/rest_api.hpp"

namespace pirus::api {

void register_web_routes(http::Server& server, Services services);

// The directory served: `web.root`, or `web/` next to the running binary.
std::string web_root_of(const Config& config);

}  // namespace pirus::api
