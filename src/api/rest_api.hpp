#pragma once
// The native REST API, /api/v1 (docs/api.md, and the OpenAPI document it serves).
// Handlers translate HTTP to service calls and service Statuses to problem responses;
// the rules live in the services.

#include "core/core_context.hpp"
#include "core/database_service.hpp"
#include "core/file_service.hpp"
#include "core/job_service.hpp"
#include "core/pipeline_service.hpp"
#include "core/upload_service.hpp"
#include "http/http_server.hpp"

namespace pirus::api {

class EventHub;  // api/event_hub.hpp

struct Services {
  CoreContext& ctx;
  PipelineService& pipelines;
  FileService& files;
  JobService& jobs;
  DatabaseService& databases;
  UploadService* uploads = nullptr;  // resumable uploads (/api/v1/uploads)
  // Push events (api/event_routes.hpp); null in tests that do not need them, where log
  // following falls back to polling the file.
  EventHub* hub = nullptr;
};

void register_rest_api(http::Server& server, Services services);

// The OpenAPI 3 description of the routes above.
const char* openapi_document();

}  // namespace pirus::api
