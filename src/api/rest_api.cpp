#include "api/rest_api.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "api/data_routes.hpp"
#include "api/event_routes.hpp"
#include "api/json_views.hpp"
#include "api/observe_routes.hpp"
#include "api/tus_routes.hpp"
#include "api/web_routes.hpp"
#include "common/fs_util.hpp"
#include "common/json_util.hpp"

namespace pirus::api {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;

namespace {

// --- request helpers -------------------------------------------------------

Result<Id> path_id(const Request& req, const char* name = "id") {
  auto it = req.params.find(name);
  if (it == req.params.end()) return Status::invalid(std::string("missing ") + name);
  Id id = 0;
  const auto& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || ptr != s.data() + s.size() || id <= 0) {
    return Status::invalid(std::string(name) + " must be a positive integer, got '" + s + "'");
  }
  return id;
}

Result<json::object> body_object(const Request& req) {
  if (req.body.empty()) return Status::invalid("the request needs a JSON object body");
  auto v = parse_json(req.body);
  if (!v) return v.status().with_context("malformed JSON");
  if (!v->is_object()) return Status::invalid("the body must be a JSON object");
  return v->get_object();
}

Result<std::int64_t> query_int(const Request& req, const std::string& name, std::int64_t def,
                               std::int64_t lo, std::int64_t hi) {
  auto v = req.query_param(name);
  if (!v) return def;
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size() || n < lo || n > hi) {
    return Status::invalid(name + " must be an integer between " + std::to_string(lo) + " and " +
                           std::to_string(hi));
  }
  return n;
}

// Reads an optional number field of a JSON object with type checking.
Status read_number(const json::object& o, const char* key, double& out) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return Status::ok();
  if (!v->is_number()) return Status::invalid(std::string(key) + " must be a number");
  out = v->to_number<double>();
  return Status::ok();
}

Status read_int(const json::object& o, const char* key, std::int64_t& out) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return Status::ok();
  if (v->is_int64()) {
    out = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    out = static_cast<std::int64_t>(v->get_uint64());
  } else if (v->is_double() && std::floor(v->get_double()) == v->get_double() &&
             std::fabs(v->get_double()) < 9e15) {
    out = static_cast<std::int64_t>(v->get_double());
  } else {
    return Status::invalid(std::string(key) + " must be an integer");
  }
  return Status::ok();
}

Response ok_json(const json::value& v, int status = 200) {
  return Response::json(status, v);
}

Response page_json(json::array items, const std::string& next_cursor) {
  return ok_json(json::object{{"items", std::move(items)}, {"next_cursor", next_cursor}});
}

std::string content_type_for(const std::string& name) {
  auto dot = name.find_last_of('.');
  std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "json") return "application/json";
  if (ext == "txt" || ext == "log" || ext == "tsv" || ext == "csv" || ext == "md" ||
      name == "LICENSE" || name == "README") {
    return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

// Parses "status=a,b" style lists.
Result<std::vector<JobStatus>> parse_statuses(const Request& req) {
  std::vector<JobStatus> out;
  for (auto [it, end] = req.query.equal_range("status"); it != end; ++it) {
    std::stringstream ss(it->second);
    std::string part;
    while (std::getline(ss, part, ',')) {
      if (part.empty()) continue;
      auto s = parse_job_status(part);
      if (!s) return Status::invalid("unknown job status '" + part + "'");
      out.push_back(*s);
    }
  }
  return out;
}

// --- routes ------------------------------------------------------------------

void add_service_routes(http::Server& server, Services s) {
  server.add(
      {"GET", "/api/v1/health", http::BodyKind::kNone, [s](Request&) -> asio::awaitable<Response> {
         int version = s.ctx.store.schema_version();
         bool db_ok = version > 0;
         Status engine = co_await s.ctx.manager.ping();
         bool engine_ok = engine.is_ok();
         bool healthy = db_ok && engine_ok;
         auto running = s.ctx.store.count_jobs({JobStatus::kRunning});
         auto waiting = s.ctx.store.count_jobs({JobStatus::kWaiting});
         json::object engines{
             {std::string(s.ctx.manager.name()), engine_ok ? std::string("ok") : engine.message()}};
         json::object o{
             {"status", healthy ? "ok" : "unhealthy"},
             {"version", "0.1.0"},
             {"database", db_ok ? "ok" : "unavailable"},
             {"schema_version", version},
             {"engines", engines},
             {"jobs",
              {{"running", running ? *running : -1}, {"waiting", waiting ? *waiting : -1}}}};
         co_return ok_json(o, healthy ? 200 : 503);
       }});
  server.add({"GET", "/api/v1/openapi.json", http::BodyKind::kNone,
              [](Request&) -> asio::awaitable<Response> {
                Response r = Response::text(200, openapi_document(), "application/json");
                co_return r;
              }});
}

void add_pipeline_routes(http::Server& server, Services s) {
  server.add({"GET", "/api/v1/pipelines", http::BodyKind::kNone,
              [s](Request&) -> asio::awaitable<Response> {
                auto all = s.ctx.store.list_pipelines();
                if (!all) co_return Response::from_status(all.status());
                json::array items;
                for (const auto& p : *all) items.push_back(pipeline_json(p, false));
                co_return page_json(std::move(items), "");
              }});
  server.add({"POST", "/api/v1/pipelines", http::BodyKind::kFile,
              [s](Request& req) -> asio::awaitable<Response> {
                if (req.body_size == 0) {
                  co_return Response::problem(400, "Bad Request",
                                              "send the package zip as the request body");
                }
                auto p = co_await s.pipelines.install(req.body_file);
                if (!p) co_return Response::from_status(p.status());
                co_return ok_json(pipeline_json(*p, true), 202);
              },
              s.ctx.config.max_package_bytes});
  server.add({"POST", "/api/v1/pipelines/install", http::BodyKind::kSmall,
              [s](Request& req) -> asio::awaitable<Response> {
                auto body = body_object(req);
                if (!body) co_return Response::from_status(body.status());
                std::string zip;
                if (const auto* fid = body->if_contains("file_id"); fid != nullptr) {
                  std::int64_t id = 0;
                  Status st = read_int(*body, "file_id", id);
                  if (!st) co_return Response::from_status(st);
                  auto f = s.ctx.store.get_file(id);
                  if (!f) {
                    co_return Response::from_status(
                        f.status().code() == Code::kNotFound
                            ? Status::invalid("file " + std::to_string(id) + " does not exist")
                            : f.status());
                  }
                  if (f->status != FileStatus::kUploaded && f->status != FileStatus::kChecked) {
                    co_return Response::problem(
                        409, "Conflict",
                        "file " + std::to_string(id) + " is not completely uploaded");
                  }
                  zip = f->path;
                } else if (const auto* path = body->if_contains("path");
                           path != nullptr && path->is_string()) {
                  zip = std::string(path->get_string());
                  if (zip.empty() || zip.front() != '/') {
                    co_return Response::problem(400, "Bad Request",
                                                "path must be an absolute path on the server");
                  }
                  std::error_code ec;
                  if (!std::filesystem::is_regular_file(zip, ec)) {
                    co_return Response::problem(400, "Bad Request",
                                                "no package file at " + zip + " on the server");
                  }
                } else {
                  co_return Response::problem(400, "Bad Request",
                                              "give either file_id or path (a zip on the server)");
                }
                auto p = co_await s.pipelines.install(zip);
                if (!p) co_return Response::from_status(p.status());
                co_return ok_json(pipeline_json(*p, true), 202);
              }});
  server.add({"GET", "/api/v1/pipelines/{id}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto p = s.ctx.store.get_pipeline(*id);
                if (!p) co_return Response::from_status(p.status());
                co_return ok_json(pipeline_json(*p, true));
              }});
  server.add({"DELETE", "/api/v1/pipelines/{id}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                Status st = co_await s.pipelines.uninstall(*id);
                if (!st) co_return Response::from_status(st);
                co_return Response::text(204, "");
              }});
  server.add({"GET", "/api/v1/pipelines/{id}/form", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto p = s.ctx.store.get_pipeline(*id);
                if (!p) co_return Response::from_status(p.status());
                co_return resolved_form_response(s, *p, req);
              }});
  server.add({"GET", "/api/v1/pipelines/{id}/documents/{name}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto p = s.ctx.store.get_pipeline(*id);
                if (!p) co_return Response::from_status(p.status());
                const std::string& name = req.params["name"];
                auto it = p->documents.find(name);
                if (it == p->documents.end()) {
                  co_return Response::problem(
                      404, "Not Found",
                      "pipeline " + std::to_string(*id) + " has no document '" + name + "'");
                }
                // Document paths come from our own package reader (relative, checked); the
                // prefix check is a second line of defence against a tampered row.
                std::string path = std::filesystem::weakly_canonical(p->path + "/" + it->second);
                if (path.rfind(p->path + "/", 0) != 0) {
                  co_return Response::problem(404, "Not Found", "document not available");
                }
                co_return Response::file(path, content_type_for(it->second));
              }});
  server.add({"GET", "/api/v1/pipelines/{id}/build-log", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto p = s.ctx.store.get_pipeline(*id);
                if (!p) co_return Response::from_status(p.status());
                std::string path = s.pipelines.build_log_path(*id);
                std::error_code ec;
                if (!std::filesystem::exists(path, ec)) co_return Response::text(200, "");
                co_return Response::file(path, "text/plain; charset=utf-8");
              }});
}

void add_file_routes(http::Server& server, Services s) {
  server.add({"POST", "/api/v1/files", http::BodyKind::kFile,
              [s](Request& req) -> asio::awaitable<Response> {
                auto name = req.query_param("name");
                if (!name || name->empty()) {
                  co_return Response::problem(400, "Bad Request",
                                              "give the file name as ?name=<file name>");
                }
                auto f = co_await s.files.import_upload(req.body_file, *name,
                                                        req.query_param("sha256").value_or(""));
                if (!f) co_return Response::from_status(f.status());
                co_return ok_json(file_json(*f), 201);
              },
              s.ctx.config.max_upload_bytes});
  server.add({"GET", "/api/v1/files", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                FileQuery q;
                auto limit = query_int(req, "limit", 100, 1, 1000);
                if (!limit) co_return Response::from_status(limit.status());
                q.limit = static_cast<int>(*limit);
                q.cursor = req.query_param("cursor").value_or("");
                if (auto st = req.query_param("status")) {
                  q.status = parse_file_status(*st);
                  if (!q.status)
                    co_return Response::problem(400, "Bad Request",
                                                "unknown file status '" + *st + "'");
                }
                if (req.query_param("job_source_id")) {
                  auto j = query_int(req, "job_source_id", 0, 1, INT64_MAX);
                  if (!j) co_return Response::from_status(j.status());
                  q.job_source_id = *j;
                }
                auto page = s.ctx.store.list_files(q);
                if (!page) co_return Response::from_status(page.status());
                json::array items;
                for (const auto& f : page->items) items.push_back(file_json(f));
                co_return page_json(std::move(items), page->next_cursor);
              }});
  server.add({"GET", "/api/v1/files/{id}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto f = s.ctx.store.get_file(*id);
                if (!f) co_return Response::from_status(f.status());
                auto companions = s.ctx.store.list_companions(*id);
                if (!companions) co_return Response::from_status(companions.status());
                co_return ok_json(file_json(*f, *companions));
              }});
  server.add({"GET", "/api/v1/files/{id}/content", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto f = s.ctx.store.get_file(*id);
                if (!f) co_return Response::from_status(f.status());
                if (f->status != FileStatus::kUploaded && f->status != FileStatus::kChecked) {
                  co_return Response::problem(409, "Conflict",
                                              "file " + std::to_string(*id) + " is not complete");
                }
                std::string base = f->name.substr(f->name.find_last_of('/') + 1);
                co_return Response::file(f->path, content_type_for(base), base);
              }});
  server.add({"DELETE", "/api/v1/files/{id}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                Status st = co_await s.files.remove(*id);
                if (!st) co_return Response::from_status(st);
                co_return Response::text(204, "");
              }});
}

Result<NewJobRequest> parse_new_job(const json::object& body) {
  static const std::set<std::string> kKnown = {"pipeline_id", "name",     "inputs",
                                               "parameters",  "priority", "resources"};
  for (const auto& kv : body) {
    if (kKnown.count(std::string(kv.key())) == 0) {
      return Status::invalid("unknown field '" + std::string(kv.key()) + "'");
    }
  }
  NewJobRequest r;
  if (body.if_contains("pipeline_id") == nullptr) return Status::invalid("pipeline_id is required");
  PIRUS_RETURN_IF_ERROR(read_int(body, "pipeline_id", r.pipeline_id));
  if (const auto* n = body.if_contains("name"); n != nullptr && !n->is_null()) {
    if (!n->is_string()) return Status::invalid("name must be a string");
    r.name = std::string(n->get_string());
  }
  if (const auto* in = body.if_contains("inputs"); in != nullptr && !in->is_null()) {
    if (!in->is_array()) return Status::invalid("inputs must be an array of file ids");
    for (const auto& v : in->get_array()) {
      if (!v.is_int64() || v.get_int64() <= 0) {
        return Status::invalid("inputs must be an array of file ids (positive integers)");
      }
      r.inputs.push_back(v.get_int64());
    }
  }
  if (const auto* p = body.if_contains("parameters"); p != nullptr && !p->is_null()) {
    if (!p->is_object()) return Status::invalid("parameters must be an object");
    r.parameters = p->get_object();
  }
  std::int64_t priority = 0;
  PIRUS_RETURN_IF_ERROR(read_int(body, "priority", priority));
  if (priority < -1000000 || priority > 1000000) {
    return Status::invalid("priority must be between -1000000 and 1000000");
  }
  r.priority = static_cast<int>(priority);
  if (const auto* res = body.if_contains("resources"); res != nullptr && !res->is_null()) {
    if (!res->is_object()) return Status::invalid("resources must be an object");
    const auto& ro = res->get_object();
    for (const auto& kv : ro) {
      std::string k(kv.key());
      if (k != "cpus" && k != "memory_mb" && k != "pids") {
        return Status::invalid("unknown resource '" + k + "' (cpus, memory_mb, pids)");
      }
    }
    PIRUS_RETURN_IF_ERROR(read_number(ro, "cpus", r.resources.cpus));
    PIRUS_RETURN_IF_ERROR(read_int(ro, "memory_mb", r.resources.memory_mb));
    PIRUS_RETURN_IF_ERROR(read_int(ro, "pids", r.resources.pids));
  }
  return r;
}

void add_job_routes(http::Server& server, Services s) {
  server.add({"POST", "/api/v1/jobs", http::BodyKind::kSmall,
              [s](Request& req) -> asio::awaitable<Response> {
                auto body = body_object(req);
                if (!body) co_return Response::from_status(body.status());
                auto parsed = parse_new_job(*body);
                if (!parsed) co_return Response::from_status(parsed.status());
                auto job = s.jobs.create(*parsed);
                if (!job) co_return Response::from_status(job.status());
                Response r = ok_json(job_json(*job), 201);
                r.headers["Location"] = "/api/v1/jobs/" + std::to_string(job->id);
                co_return r;
              }});
  server.add({"GET", "/api/v1/jobs", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                JobQuery q;
                auto statuses = parse_statuses(req);
                if (!statuses) co_return Response::from_status(statuses.status());
                q.statuses = *statuses;
                auto limit = query_int(req, "limit", 100, 1, 1000);
                if (!limit) co_return Response::from_status(limit.status());
                q.limit = static_cast<int>(*limit);
                q.cursor = req.query_param("cursor").value_or("");
                if (req.query_param("pipeline_id")) {
                  auto p = query_int(req, "pipeline_id", 0, 1, INT64_MAX);
                  if (!p) co_return Response::from_status(p.status());
                  q.pipeline_id = *p;
                }
                std::string order = req.query_param("order").value_or("newest");
                if (order == "newest") {
                  q.order = JobOrder::kNewestFirst;
                } else if (order == "oldest") {
                  q.order = JobOrder::kOldestFirst;
                } else if (order == "queue") {
                  q.order = JobOrder::kQueueOrder;
                } else {
                  co_return Response::problem(400, "Bad Request",
                                              "order must be newest, oldest or queue");
                }
                auto page = s.ctx.store.list_jobs(q);
                if (!page) co_return Response::from_status(page.status());
                json::array items;
                for (const auto& j : page->items) items.push_back(job_json(j));
                co_return page_json(std::move(items), page->next_cursor);
              }});
  server.add({"GET", "/api/v1/jobs/{id}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto j = s.ctx.store.get_job(*id);
                if (!j) co_return Response::from_status(j.status());
                co_return ok_json(job_json(*j));
              }});
  using Action = asio::awaitable<Result<Job>> (JobService::*)(Id);
  for (auto [verb, action] : {std::pair<const char*, Action>{"pause", &JobService::pause},
                              {"resume", &JobService::resume},
                              {"cancel", &JobService::cancel}}) {
    server.add({"POST", std::string("/api/v1/jobs/{id}/") + verb, http::BodyKind::kNone,
                [s, action](Request& req) -> asio::awaitable<Response> {
                  auto id = path_id(req);
                  if (!id) co_return Response::from_status(id.status());
                  auto j = co_await (s.jobs.*action)(*id);
                  if (!j) co_return Response::from_status(j.status());
                  co_return ok_json(job_json(*j));
                }});
  }
  server.add({"DELETE", "/api/v1/jobs/{id}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                Status st = co_await s.jobs.remove(*id);
                if (!st) co_return Response::from_status(st);
                co_return Response::text(204, "");
              }});
  server.add({"GET", "/api/v1/jobs/{id}/logs/{stream}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto j = s.ctx.store.get_job(*id);
                if (!j) co_return Response::from_status(j.status());
                const std::string& stream = req.params["stream"];
                if (stream != "stdout" && stream != "stderr") {
                  co_return Response::problem(404, "Not Found",
                                              "log stream must be stdout or stderr");
                }
                if (auto follow = req.query_param("follow"); follow && *follow == "true") {
                  co_return follow_job_log(s, *id, stream);
                }
                // No workspace yet: an empty path reads as a log with no output.
                std::string path = j->path.empty() ? "" : j->path + "/logs/" + stream + ".log";
                co_return co_await job_log_response(s.ctx.workers, req, std::move(path));
              }});
  server.add({"GET", "/api/v1/jobs/{id}/monitoring", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                auto id = path_id(req);
                if (!id) co_return Response::from_status(id.status());
                auto j = s.ctx.store.get_job(*id);
                if (!j) co_return Response::from_status(j.status());
                co_return job_monitoring_response(*j, s.jobs.monitor());
              }});
}

}  // namespace

void register_rest_api(http::Server& server, Services services) {
  add_service_routes(server, services);
  add_pipeline_routes(server, services);
  add_file_routes(server, services);
  add_job_routes(server, services);
  if (services.uploads != nullptr) add_tus_routes(server, services);
  add_data_routes(server, services);
  if (services.hub != nullptr) register_event_routes(server, services);
  register_web_routes(server, services);
}

}  // namespace pirus::api
