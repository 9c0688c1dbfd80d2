// `pirus health`: the server's own view of its health (GET /api/v1/health). Exit 0 when the
// server answers healthy, 1 when it answers unhealthy (503: the database or an engine is
// down), 3 when it cannot be reached; container HEALTHCHECKs and scripts rely on this.

#include <boost/json.hpp>

#include "cli/commands.hpp"

namespace pirus::cli {

namespace json = boost::json;

namespace {

std::string text_of(const json::value* v) {
  if (v == nullptr) return "?";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

int health(Session& s) {
  auto r = s.client().request("GET", "/api/v1/health");
  if (!r) return s.fail(r.status());
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) {
    if (!r->ok()) return s.fail(status_from_http(*r));
    return s.fail(Status::internal("the server sent a health answer that is not JSON"));
  }
  if (s.json()) {
    s.print_json(v);
  } else {
    const json::object& o = v.get_object();
    s.out() << "status    " << text_of(o.if_contains("status")) << '\n'
            << "version   " << text_of(o.if_contains("version")) << '\n'
            << "database  " << text_of(o.if_contains("database")) << '\n';
    if (const auto* engines = o.if_contains("engines"); engines && engines->is_object()) {
      for (const auto& [name, state] : engines->get_object()) {
        s.out() << "engine    " << std::string(name) << ": " << text_of(&state) << '\n';
      }
    }
  }
  return r->ok() ? kExitOk : kExitError;
}

}  // namespace

void add_health_command(CLI::App& app, const std::shared_ptr<CommandEnv>& env) {
  auto* cmd = app.add_subcommand(
      "health", "Ask the server whether it is healthy (exit 0: healthy, 1: unhealthy)");
  on_run(cmd, env, [](Session& s) { return health(s); });
}

}  // namespace pirus::cli
