#pragma once
// TUS 1.0.0 resumable uploads under /api/v1/uploads (core protocol, creation, termination,
// checksum with sha256, expiration). The HTTP side only: the rules live in UploadService.

#include "api/rest_api.hpp"

namespace pirus::api {

// Needs services.uploads.
void add_tus_routes(http::Server& server, Services services);

// The OpenAPI "paths" entries of these routes, as a JSON object text.
const char* tus_openapi_paths();

}  // namespace pirus::api
