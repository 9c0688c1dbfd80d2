#include "cli/cli.hpp"

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/parsing.hpp"
#include "cli/terminal.hpp"

namespace pirus::cli {

namespace json = boost::json;

Console Console::standard() {
  Console c;
  c.err_is_tty = stderr_is_tty();
  c.err_columns = c.err_is_tty ? stderr_columns() : 0;
  return c;
}

void add_client_commands(CLI::App& app, ClientOptions& opts, int& exit_code) {
  add_client_commands(app, opts, exit_code, Console::standard());
}

void add_client_commands(CLI::App& app, ClientOptions& opts, int& exit_code,
                         const Console& console) {
  if (opts.server_url.empty()) opts.server_url = "http://127.0.0.1:8080";
  app.add_option("--server", opts.server_url, "URL of the Pirus server")
      ->envname("PIRUS_URL")
      ->capture_default_str();
  app.add_option("--ca-cert", opts.ca_cert,
                 "HTTPS: trust this PEM certificate instead of the system's CA store")
      ->envname("PIRUS_CA_CERT")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure", opts.insecure,
               "HTTPS: do not verify the server's certificate (prefer --ca-cert)");
  app.add_flag("--json", opts.json, "Print the API's JSON instead of tables");
  auto env = std::make_shared<CommandEnv>(CommandEnv{&opts, &exit_code, console});
  add_pipeline_commands(app, env);
  add_file_commands(app, env);
  add_job_commands(app, env);
  add_database_commands(app, env);
  add_notify_command(app, env);
  add_health_command(app, env);
}

void on_run(CLI::App* cmd, const std::shared_ptr<CommandEnv>& env,
            std::function<int(Session&)> body) {
  cmd->callback([env, body = std::move(body)] {
    Session session(*env->opts, env->console);
    try {
      *env->exit_code = body(session);
    } catch (const std::exception& e) {
      // Boost.JSON throws on a response of an unexpected shape; report, do not crash.
      *env->exit_code =
          session.fail(Status::internal(std::string("unexpected answer: ") + e.what()));
    }
  });
}

Session::Session(const ClientOptions& opts, const Console& console)
    : opts_(opts), console_(console), client_(opts.server_url) {
  client_.set_tls({opts.ca_cert, opts.insecure});
}

int Session::fail(const Status& status) {
  err() << "error: " << status.message() << '\n' << std::flush;
  return is_unreachable(status) ? kExitUnreachable : kExitError;
}

void Session::note(const std::string& line) {
  if (!quiet()) err() << line << '\n' << std::flush;
}

void Session::print_json(const json::value& v) {
  out() << json::serialize(v) << '\n';
}

void Session::sleep() {
  std::this_thread::sleep_for(console_.poll_interval);
}

Result<json::value> Session::get(const std::string& path) {
  return client_.call("GET", path);
}

Result<json::object> Session::list(const std::string& path, bool all) {
  json::object merged;
  json::array items;
  std::string cursor;
  const char sep = path.find('?') == std::string::npos ? '?' : '&';
  // A server that repeats a cursor would loop forever; no real listing needs this many pages.
  for (int page = 0; page < 100000; ++page) {
    const std::string url = cursor.empty() ? path : path + sep + "cursor=" + url_encode(cursor);
    auto r = client_.call("GET", url);
    if (!r) return r.status();
    if (!r->is_object()) return Status::internal("the server sent a list that is not an object");
    json::object& o = r->get_object();
    if (!all) return std::move(o);
    if (auto* page_items = o.if_contains("items"); page_items && page_items->is_array()) {
      for (auto& item : page_items->get_array()) items.push_back(std::move(item));
    }
    const auto* next = o.if_contains("next_cursor");
    if (!next || !next->is_string() || next->get_string().empty() || next->get_string() == cursor) {
      break;
    }
    cursor = std::string(next->get_string());
  }
  merged["items"] = std::move(items);
  merged["next_cursor"] = "";
  return merged;
}

Result<json::value> Session::upload(const std::string& route, const std::string& local_file,
                                    const std::string& content_type) {
  const std::string label = basename_of(local_file);
  std::unique_ptr<ProgressLine> line;
  std::function<void(std::int64_t, std::int64_t)> progress;
  if (show_progress()) {
    line = std::make_unique<ProgressLine>(err(), true, console_.err_columns);
    line->update(render_transfer_progress(0, 0, label));
    progress = [&line, &label](std::int64_t sent, std::int64_t total) {
      line->update(render_transfer_progress(sent, total, label), {}, sent == total);
    };
  }
  auto r = client_.upload(route, local_file, content_type, progress);
  if (line) line->finish(r.is_ok() && r->ok());
  if (!r) return r.status();
  if (!r->ok()) return status_from_http(*r);
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec) return Status::internal("the server sent invalid JSON after uploading " + label);
  return v;
}

std::map<std::int64_t, json::value> Session::files_by_id(const json::array& ids) {
  std::map<std::int64_t, json::value> files;
  for (const auto& id : ids) {
    if (!id.is_int64() || files.count(id.get_int64())) continue;
    auto f = client_.call("GET", "/api/v1/files/" + std::to_string(id.get_int64()));
    if (f) files[id.get_int64()] = std::move(*f);
  }
  return files;
}

CLI::Validator id_arg() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (parse_id(text, "id")) return {};
        return "must be a positive integer, got '" + text + "'";
      },
      "", "id");
}

namespace {

CLI::Validator number_arg(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(text.c_str(), &end);
        const bool number =
            !text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(v);
        if (number && (v > 0 || (allow_zero && v == 0))) return {};
        return std::string(allow_zero ? "must be a number >= 0" : "must be a number > 0") +
               ", got '" + text + "'";
      },
      "", allow_zero ? "non-negative" : "positive");
}

}  // namespace

CLI::Validator positive_arg() {
  return number_arg(false);
}
CLI::Validator non_negative_arg() {
  return number_arg(true);
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string basename_of(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  return name.empty() ? path : name;
}

}  // namespace pirus::cli
