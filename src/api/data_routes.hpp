#pragma once
// Routes of the data flow: the HTTP progress channel (POST /api/v1/jobs/{id}/notify) and
// the reference databases (/api/v1/databases). See docs/api.md.

#include "api/rest_api.hpp"

namespace pirus::api {

void add_data_routes(http::Server& server, Services s);

// GET /api/v1/pipelines/{id}/form: the form with __GENOMES_REFS__ resolved to the installed
// databases, and __INPUTS_FILES__ resolved when the client names its inputs (?inputs=3,4).
http::Response resolved_form_response(Services s, const Pipeline& p, http::Request& req);

}  // namespace pirus::api
