#include "api/data_routes.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <sstream>

#include "common/json_util.hpp"
#include "core/workspace.hpp"
#include "packages/package.hpp"

namespace pirus::api {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;

namespace {

Result<Id> parse_id(const std::string& s, const std::string& what) {
  Id id = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || ptr != s.data() + s.size() || id <= 0) {
    return Status::invalid(what + " must be a positive integer, got '" + s.substr(0, 40) + "'");
  }
  return id;
}

json::object database_json(const ReferenceDatabase& db) {
  return {{"name", db.name},
          {"size", db.size_bytes},
          {"file_count", db.file_count},
          {"created_at", format_time(db.created_at)}};
}

// "Bearer <token>" (the scheme is case-insensitive); "" when absent or of another scheme.
std::string bearer_token(const Request& req) {
  auto h = req.header("authorization");
  if (!h) return {};
  const std::string& v = *h;
  if (v.size() < 7) return {};
  std::string scheme = v.substr(0, 7);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return {};
  std::string t = v.substr(7);
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

void add_notify_route(http::Server& server, Services s) {
  server.add(
      {"POST", "/api/v1/jobs/{id}/notify", http::BodyKind::kSmall,
       [s](Request& req) -> asio::awaitable<Response> {
         auto id = parse_id(req.params["id"], "id");
         if (!id) co_return Response::from_status(id.status());
         std::string token = bearer_token(req);
         std::string body = req.body;
         NotifyOutcome out = co_await s.jobs.notify(*id, std::move(token), std::move(body));
         switch (out.refusal) {
           case NotifyRefusal::kMissingToken: {
             Response r =
                 Response::problem(401, "Unauthorized",
                                   "send the job's notify token as 'Authorization: Bearer <token>' "
                                   "($PIRUS_NOTIFY_TOKEN in the job)");
             r.headers["WWW-Authenticate"] = "Bearer";
             co_return r;
           }
           case NotifyRefusal::kWrongToken:
             co_return Response::problem(
                 403, "Forbidden", "this is not the notify token of job " + std::to_string(*id));
           case NotifyRefusal::kRateLimited: {
             Response r = Response::problem(
                 429, "Too Many Requests",
                 "job " + std::to_string(*id) + " sends progress too often (at most " +
                     std::to_string(static_cast<int>(JobService::kNotifyRate)) +
                     " per second); retry later");
             r.headers["Retry-After"] = std::to_string(out.retry_after_seconds);
             co_return r;
           }
           case NotifyRefusal::kNone:
             break;
         }
         if (!out.job) co_return Response::from_status(out.job.status());
         const Job& j = *out.job;
         co_return Response::json(200, json::object{{"id", j.id},
                                                    {"status", to_string(j.status)},
                                                    {"progress", j.progress},
                                                    {"progress_label", j.progress_label}});
       }});
}

void add_database_routes(http::Server& server, Services s) {
  server.add({"GET", "/api/v1/databases", http::BodyKind::kNone,
              [s](Request&) -> asio::awaitable<Response> {
                auto all = co_await s.databases.list();
                if (!all) co_return Response::from_status(all.status());
                json::array items;
                for (const auto& db : *all) items.push_back(database_json(db));
                co_return Response::json(
                    200, json::object{{"items", std::move(items)}, {"next_cursor", ""}});
              }});
  server.add({"GET", "/api/v1/databases/{name}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                std::string name = req.params["name"];
                auto db = co_await s.databases.get(std::move(name));
                if (!db) co_return Response::from_status(db.status());
                co_return Response::json(200, database_json(*db));
              }});
  server.add({"POST", "/api/v1/databases", http::BodyKind::kFile,
              [s](Request& req) -> asio::awaitable<Response> {
                auto name = req.query_param("name");
                if (!name || name->empty()) {
                  co_return Response::problem(400, "Bad Request",
                                              "give the database name as ?name=<name>");
                }
                if (Status st = validate_database_name(*name); !st) {
                  co_return Response::from_status(st);
                }
                if (req.body_size == 0) {
                  co_return Response::problem(
                      400, "Bad Request",
                      "send the archive (.tar.gz, .tar, .zip, ...) as the request body");
                }
                std::string n = *name;
                std::string file = req.body_file;
                auto db = co_await s.databases.add_archive(std::move(n), std::move(file));
                if (!db) co_return Response::from_status(db.status());
                co_return Response::json(201, database_json(*db));
              },
              s.ctx.config.max_database_bytes});
  server.add(
      {"POST", "/api/v1/databases/import", http::BodyKind::kSmall,
       [s](Request& req) -> asio::awaitable<Response> {
         auto v = parse_json(req.body);
         if (!v || !v->is_object()) {
           co_return Response::problem(400, "Bad Request",
                                       "the body must be a JSON object {\"name\", \"path\"}");
         }
         const auto& o = v->get_object();
         const auto* name = o.if_contains("name");
         const auto* path = o.if_contains("path");
         if (name == nullptr || !name->is_string() || path == nullptr || !path->is_string()) {
           co_return Response::problem(400, "Bad Request",
                                       "give name and path (a directory on the server)");
         }
         for (const auto& [k, unused] : o) {
           (void)unused;
           if (k != "name" && k != "path") {
             co_return Response::problem(400, "Bad Request", std::string(k) + ": unknown field");
           }
         }
         std::string n(name->get_string());
         std::string p(path->get_string());
         auto db = co_await s.databases.add_directory(std::move(n), std::move(p));
         if (!db) co_return Response::from_status(db.status());
         co_return Response::json(201, database_json(*db));
       }});
  server.add({"DELETE", "/api/v1/databases/{name}", http::BodyKind::kNone,
              [s](Request& req) -> asio::awaitable<Response> {
                std::string name = req.params["name"];
                Status st = co_await s.databases.remove(std::move(name));
                if (!st) co_return Response::from_status(st);
                co_return Response::text(204, "");
              }});
}

}  // namespace

Response resolved_form_response(Services s, const Pipeline& p, Request& req) {
  auto v = parse_json(p.form_json.empty() ? "{}" : p.form_json);
  if (!v || !v->is_object()) {
    return Response::problem(500, "Internal Server Error", "the stored form is unreadable");
  }
  FormContext fctx;
  fctx.genome_refs = list_database_names(s.ctx.config.databases_dir());
  bool with_inputs = false;
  if (auto list = req.query_param("inputs")) {
    with_inputs = true;
    std::vector<File> files;
    std::stringstream ss(*list);
    std::string part;
    while (std::getline(ss, part, ',')) {
      if (part.empty()) continue;
      auto id = parse_id(part, "inputs");
      if (!id) return Response::from_status(id.status());
      auto f = s.ctx.store.get_file(*id);
      if (!f) {
        return Response::from_status(f.status().code() == Code::kNotFound
                                         ? Status::invalid("input file " + part + " does not exist")
                                         : f.status());
      }
      files.push_back(*f);
    }
    for (const auto& in : plan_inputs(files)) fctx.input_names.push_back(in.name);
  }
  return Response::json(200, resolve_form_choices(v->get_object(), fctx, with_inputs));
}

void add_data_routes(http::Server& server, Services s) {
  add_notify_route(server, s);
  add_database_routes(server, s);
}

}  // namespace pirus::api
