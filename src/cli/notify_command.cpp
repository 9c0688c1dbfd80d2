// `pirus notify`: reports a job's progress from inside the job, over the HTTP channel.
// It reads PIRUS_NOTIFY_URL and PIRUS_NOTIFY_TOKEN, which Pirus gives every job.

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>

#include "cli/commands.hpp"

namespace pirus::cli {

namespace json = boost::json;

namespace {

struct Args {
  double progress = std::nan("");
  std::string label;
  bool label_set = false;
  std::string status;
  std::string url;
  std::string token;
};

std::string env_or(const char* name, const std::string& given) {
  if (!given.empty()) return given;
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

int notify(Session& s, const Args& a) {
  const std::string url = env_or("PIRUS_NOTIFY_URL", a.url);
  const std::string token = env_or("PIRUS_NOTIFY_TOKEN", a.token);
  if (url.empty()) {
    return s.fail(
        Status::invalid("no notify URL: run inside a Pirus job (PIRUS_NOTIFY_URL) or give --url"));
  }
  if (token.empty()) {
    return s.fail(Status::invalid(
        "no notify token: run inside a Pirus job (PIRUS_NOTIFY_TOKEN) or give --token"));
  }
  json::object body;
  if (!std::isnan(a.progress)) body["progress"] = a.progress;
  if (a.label_set) body["label"] = a.label;
  if (!a.status.empty()) body["status"] = a.status;
  if (body.empty()) {
    return s.fail(Status::invalid("give at least one of --progress, --label and --status"));
  }
  ApiClient client(url);
  client.add_header("Authorization: Bearer " + token);
  json::value v = body;
  auto r = client.call("POST", "", &v);
  if (!r) return s.fail(r.status());
  if (s.json()) s.print_json(*r);
  return kExitOk;
}

}  // namespace

void add_notify_command(CLI::App& app, const std::shared_ptr<CommandEnv>& env) {
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "notify", "From inside a job: report its progress (PIRUS_NOTIFY_URL, PIRUS_NOTIFY_TOKEN)");
  cmd->add_option("--progress", args->progress, "Fraction done, 0 to 1")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--label", args->label, "What the job is doing, e.g. aligning")
      ->each([args](const std::string&) { args->label_set = true; });
  cmd->add_option("--status", args->status,
                  "running, finalizing (a hint) or error (ends the job with --label as reason)")
      ->check(CLI::IsMember({"running", "finalizing", "error"}));
  cmd->add_option("--url", args->url, "Notify URL (default: $PIRUS_NOTIFY_URL)");
  cmd->add_option("--token", args->token, "Notify token (default: $PIRUS_NOTIFY_TOKEN)");
  on_run(cmd, env, [args](Session& s) { return notify(s, *args); });
}

}  // namespace pirus::cli
