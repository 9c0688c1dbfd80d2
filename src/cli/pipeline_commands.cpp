#include <boost/json.hpp>
#include <chrono>
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/parsing.hpp"
#include "cli/terminal.hpp"
#include "cli/views.hpp"

namespace pirus::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBuildLogLines = 30;

std::string pipeline_path(std::int64_t id) {
  return "/api/v1/pipelines/" + std::to_string(id);
}

int print_pipeline(Session& s, const json::value& p) {
  if (s.json()) {
    s.print_json(p);
  } else {
    s.out() << pipeline_details(p);
  }
  return kExitOk;
}

int install(Session& s, const std::string& package, bool no_wait) {
  std::error_code ec;
  if (!fs::is_regular_file(package, ec)) {
    return s.fail(Status::not_found("no such package file: " + package));
  }
  auto created = s.upload("/api/v1/pipelines?filename=" + url_encode(basename_of(package)), package,
                          "application/zip");
  if (!created) return s.fail(created.status());
  json::value p = std::move(*created);
  const auto id = int_field(p, "id");
  if (!id) return s.fail(Status::internal("the server did not return a pipeline id"));
  if (no_wait) return print_pipeline(s, p);

  ProgressLine line(s.err(), s.console().err_is_tty, s.console().err_columns);
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    const std::string status = str_field(p, "status");
    if (status == "ready" || status == "error") break;
    if (!s.quiet()) {
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
              .count();
      line.update("building image... " + human_duration(elapsed), "building");
    }
    s.sleep();
    auto next = s.get(pipeline_path(*id));
    if (!next) {
      line.finish(false);
      return s.fail(next.status());
    }
    p = std::move(*next);
  }
  line.finish(false);
  if (str_field(p, "status") == "ready") return print_pipeline(s, p);

  if (s.json()) s.print_json(p);
  std::string reason = str_field(p, "error_reason");
  const int code = s.fail(Status::internal("pipeline " + pipeline_label(p) + " failed to install" +
                                           (reason.empty() ? "" : ": " + reason)));
  auto log = s.client().request("GET", pipeline_path(*id) + "/build-log");
  if (log && log->ok() && !log->body.empty()) {
    s.err() << "--- last " << kBuildLogLines << " lines of the build log ---\n"
            << last_lines(log->body, kBuildLogLines) << std::flush;
  }
  return code;
}

int list(Session& s) {
  auto r = s.list("/api/v1/pipelines", true);
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
  } else if (const auto* items = r->if_contains("items"); items && items->is_array()) {
    s.out() << pipeline_table(items->get_array());
  }
  return kExitOk;
}

int show(Session& s, std::int64_t id) {
  auto r = s.get(pipeline_path(id));
  if (!r) return s.fail(r.status());
  return print_pipeline(s, *r);
}

int remove(Session& s, std::int64_t id) {
  auto r = s.client().call("DELETE", pipeline_path(id));
  if (!r) return s.fail(r.status());
  if (!s.json()) s.out() << "deleted pipeline " << id << '\n';
  return kExitOk;
}

struct Args {
  std::string package;
  bool no_wait = false;
  std::int64_t id = 0;
};

}  // namespace

void add_pipeline_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env) {
  auto* cmd = app.add_subcommand("pipeline", "Install, list and remove pipelines");
  cmd->fallthrough();
  cmd->require_subcommand(1);
  auto args = std::make_shared<Args>();

  auto* install_cmd = cmd->add_subcommand(
      "install", "Upload a pipeline package (zip) and wait until its image is built");
  install_cmd->add_option("package", args->package, "The package zip")->required();
  install_cmd->add_flag("--no-wait", args->no_wait, "Return once uploaded, while the image builds");
  on_run(install_cmd, env, [args](Session& s) { return install(s, args->package, args->no_wait); });

  auto* list_cmd = cmd->add_subcommand("list", "List installed pipelines");
  on_run(list_cmd, env, [](Session& s) { return list(s); });

  auto* show_cmd = cmd->add_subcommand("show", "Show a pipeline and its parameters");
  show_cmd->add_option("id", args->id, "Pipeline id")->required()->check(id_arg());
  on_run(show_cmd, env, [args](Session& s) { return show(s, args->id); });

  auto* rm_cmd = cmd->add_subcommand("rm", "Uninstall a pipeline (its image and package files)");
  rm_cmd->add_option("id", args->id, "Pipeline id")->required()->check(id_arg());
  on_run(rm_cmd, env, [args](Session& s) { return remove(s, args->id); });
}

}  // namespace pirus::cli
