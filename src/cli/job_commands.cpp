#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/parsing.hpp"
#include "cli/terminal.hpp"
#include "cli/views.hpp"

namespace pirus::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Consecutive failed polls `job wait` tolerates (about 10 s at the default interval).
constexpr int kMaxUnreachablePolls = 20;

std::string job_path(std::int64_t id) {
  return "/api/v1/jobs/" + std::to_string(id);
}

bool is_final(const std::string& status) {
  return status == "done" || status == "canceled" || status == "error";
}

struct Args {
  // run
  std::string pipeline;
  std::vector<std::string> inputs;
  std::vector<std::string> params;
  std::string params_file;
  std::string name;
  int priority = 0;
  double cpus = 0;
  std::int64_t memory_mb = 0;
  bool wait = false;
  CLI::Option* priority_opt = nullptr;
  CLI::Option* cpus_opt = nullptr;
  CLI::Option* memory_opt = nullptr;
  // list
  std::string status;
  std::string pipeline_filter;
  int limit = 0;
  bool all = false;
  // one job
  std::int64_t id = 0;
  bool stderr_stream = false;
  int tail = 0;
  bool follow = false;
  std::string streams;  // logs -f: stdout, stderr or both
  double timeout = 0;
  std::string dir = ".";
  bool force = false;
  bool watch = false;
};

Result<json::array> all_pipelines(Session& s) {
  auto r = s.list("/api/v1/pipelines", true);
  if (!r) return r.status();
  auto* items = r->if_contains("items");
  if (!items || !items->is_array()) return json::array();
  return std::move(items->get_array());
}

Result<std::int64_t> resolve_pipeline(Session& s, const std::string& text) {
  auto ref = parse_pipeline_ref(text);
  if (!ref) return ref.status();
  if (ref->id) return *ref->id;
  auto pipelines = all_pipelines(s);
  if (!pipelines) return pipelines.status();
  return resolve_pipeline_ref(*ref, *pipelines);
}

Result<json::object> read_params_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot read parameters file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(text.str(), ec);
  if (ec) return Status::invalid(path + " is not valid JSON: " + ec.message());
  if (!v.is_object()) return Status::invalid(path + " must hold a JSON object of parameters");
  return std::move(v.get_object());
}

// A whole number as an integer: the server may read cpus as either.
json::value number_value(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e15) return static_cast<std::int64_t>(d);
  return d;
}

int print_outputs(Session& s, const json::value& job) {
  const auto* outputs = job.is_object() ? job.get_object().if_contains("outputs") : nullptr;
  if (!outputs || !outputs->is_array() || outputs->get_array().empty()) {
    s.out() << "no outputs\n";
    return kExitOk;
  }
  const auto& ids = outputs->get_array();
  s.out() << file_ids_table(ids, s.files_by_id(ids));
  return kExitOk;
}

int wait(Session& s, std::int64_t id, double timeout_seconds) {
  const auto start = std::chrono::steady_clock::now();
  ProgressLine line(s.err(), s.console().err_is_tty, s.console().err_columns);
  json::value job;
  std::string status;
  int misses = 0;
  while (true) {
    auto r = s.get(job_path(id));
    if (!r) {
      // A server restarting under a long wait is not a reason to give up on the job, but a
      // server that was never there is reported at once.
      if (is_unreachable(r.status()) && !job.is_null() && ++misses < kMaxUnreachablePolls) {
        s.sleep();
        continue;
      }
      line.finish(false);
      return s.fail(r.status());
    }
    misses = 0;
    job = std::move(*r);
    status = str_field(job, "status");
    const std::int64_t now = now_ms();
    auto elapsed = job_run_seconds(job, now);
    if (!elapsed) {
      auto created = parse_iso_time_ms(str_field(job, "created_at"));
      elapsed = created && now > *created ? (now - *created) / 1000 : 0;
    }
    const std::string label = str_field(job, "progress_label");
    if (!s.quiet()) {
      line.update(
          render_job_progress(num_field(job, "progress").value_or(0), label, status, *elapsed),
          status + "\n" + label, is_final(status));
    }
    if (is_final(status)) break;
    if (timeout_seconds > 0 && std::chrono::steady_clock::now() - start >=
                                   std::chrono::duration<double>(timeout_seconds)) {
      line.finish();
      return s.fail(Status::internal(
          "timed out after " + human_duration(static_cast<std::int64_t>(timeout_seconds)) +
          " waiting for job " + std::to_string(id) + " (" + status + ")"));
    }
    s.sleep();
  }
  line.finish();
  if (s.json()) s.print_json(job);
  if (status == "done") return s.json() ? kExitOk : print_outputs(s, job);
  if (status == "canceled") {
    return s.fail(Status::conflict("job " + std::to_string(id) + " was canceled"));
  }
  std::string message = "job " + std::to_string(id) + " failed";
  if (std::string exit_code = str_field(job, "exit_code"); !exit_code.empty()) {
    message += " (exit code " + exit_code + ")";
  }
  if (std::string reason = str_field(job, "error_reason"); !reason.empty()) {
    message += ": " + reason;
  }
  return s.fail(Status::internal(message));
}

int run(Session& s, const Args& a) {
  auto pipeline_id = resolve_pipeline(s, a.pipeline);
  if (!pipeline_id) return s.fail(pipeline_id.status());

  json::object params;
  if (!a.params_file.empty()) {
    auto from_file = read_params_file(a.params_file);
    if (!from_file) return s.fail(from_file.status());
    params = std::move(*from_file);
  }
  for (const auto& p : a.params) {
    auto kv = parse_param(p);
    if (!kv) return s.fail(kv.status());
    params[kv->first] = std::move(kv->second);
  }

  json::array inputs;
  for (const auto& input : a.inputs) {
    if (is_all_digits(input)) {
      auto id = parse_id(input, "input file id");
      if (!id) return s.fail(id.status());
      inputs.push_back(*id);
      continue;
    }
    std::error_code ec;
    if (!fs::is_regular_file(input, ec)) {
      return s.fail(Status::not_found("no such input file: " + input +
                                      " (an input is a file id or a local file)"));
    }
    auto file = s.upload("/api/v1/files?name=" + url_encode(basename_of(input)), input,
                         "application/octet-stream");
    if (!file) return s.fail(file.status().with_context(input));
    auto id = int_field(*file, "id");
    if (!id) return s.fail(Status::internal("the server did not return a file id for " + input));
    s.note("uploaded " + input + " as file " + std::to_string(*id));
    inputs.push_back(*id);
  }

  json::object body;
  body["pipeline_id"] = *pipeline_id;
  if (!a.name.empty()) body["name"] = a.name;
  body["inputs"] = std::move(inputs);
  body["parameters"] = std::move(params);
  if (a.priority_opt && a.priority_opt->count() > 0) body["priority"] = a.priority;
  json::object resources;
  if (a.cpus_opt && a.cpus_opt->count() > 0) resources["cpus"] = number_value(a.cpus);
  if (a.memory_opt && a.memory_opt->count() > 0) resources["memory_mb"] = a.memory_mb;
  if (!resources.empty()) body["resources"] = std::move(resources);

  const json::value request = std::move(body);
  auto job = s.client().call("POST", "/api/v1/jobs", &request);
  if (!job) return s.fail(job.status());
  auto id = int_field(*job, "id");
  if (!id) return s.fail(Status::internal("the server did not return a job id"));
  if (!a.wait) {
    if (s.json()) {
      s.print_json(*job);
    } else {
      s.out() << *id << '\n';
    }
    return kExitOk;
  }
  if (!s.json()) s.out() << *id << '\n' << std::flush;
  return wait(s, *id, a.timeout);
}

int list(Session& s, const Args& a) {
  std::string query;
  if (!a.status.empty()) query += "&status=" + url_encode(a.status);
  if (!a.pipeline_filter.empty()) {
    auto pid = resolve_pipeline(s, a.pipeline_filter);
    if (!pid) return s.fail(pid.status());
    query += "&pipeline_id=" + std::to_string(*pid);
  }
  if (a.limit > 0) query += "&limit=" + std::to_string(a.limit);
  if (!query.empty()) query[0] = '?';
  auto r = s.list("/api/v1/jobs" + query, a.all);
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
    return kExitOk;
  }
  std::map<std::int64_t, std::string> names;
  if (auto pipelines = all_pipelines(s)) {
    for (const auto& p : *pipelines) {
      if (auto pid = int_field(p, "id")) names[*pid] = pipeline_label(p);
    }
  }
  if (const auto* items = r->if_contains("items"); items && items->is_array()) {
    s.out() << job_table(items->get_array(), names, now_ms());
  }
  if (const auto* next = r->if_contains("next_cursor");
      next && next->is_string() && !next->get_string().empty()) {
    s.note("(more jobs: use --all to list them all)");
  }
  return kExitOk;
}

int show(Session& s, std::int64_t id) {
  auto r = s.get(job_path(id));
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
    return kExitOk;
  }
  const json::value& job = *r;
  std::string pipeline = "-";
  if (auto pid = int_field(job, "pipeline_id"); pid && *pid != 0) {
    pipeline = std::to_string(*pid);
    if (auto p = s.get("/api/v1/pipelines/" + std::to_string(*pid))) {
      pipeline = pipeline_label(*p) + " (" + pipeline + ")";
    }
  } else if (pid) {
    pipeline = "(uninstalled)";
  }
  json::array ids;
  for (const char* kind : {"inputs", "outputs"}) {
    if (const auto* list = job.get_object().if_contains(kind); list && list->is_array()) {
      for (const auto& v : list->get_array()) ids.push_back(v);
    }
  }
  s.out() << job_details(job, pipeline, s.files_by_id(ids), now_ms());
  return kExitOk;
}

// Prints the job's stdout and/or stderr as they are written, until the job ends.
int follow_logs(Session& s, const Args& a) {
  std::string which = a.streams;
  if (which.empty()) which = a.stderr_stream ? "stderr" : "both";
  std::vector<ApiClient::StreamTarget> targets;
  if (which == "stdout" || which == "both") {
    targets.push_back({job_path(a.id) + "/logs/stdout?follow=true",
                       [&s](std::string_view d) { s.out() << d << std::flush; }});
  }
  if (which == "stderr" || which == "both") {
    targets.push_back({job_path(a.id) + "/logs/stderr?follow=true",
                       [](std::string_view d) { std::cerr << d << std::flush; }});
  }
  Status st = s.client().stream(targets);
  if (!st) {
    s.out() << std::flush;
    if (is_unreachable(st)) {
      return s.fail(Status::unavailable("the log stream of job " + std::to_string(a.id) +
                                        " broke before the job ended: " + st.message()));
    }
    return s.fail(st);
  }
  return kExitOk;
}

int logs(Session& s, const Args& a) {
  if (a.follow) return follow_logs(s, a);
  std::string path = job_path(a.id) + "/logs/" + (a.stderr_stream ? "stderr" : "stdout");
  if (a.tail > 0) path += "?tail=" + std::to_string(a.tail);
  auto r = s.client().request("GET", path);
  if (!r) return s.fail(r.status());
  if (!r->ok()) return s.fail(status_from_http(*r));
  s.out() << r->body << std::flush;
  return kExitOk;
}

// With --watch the summary is redrawn (the screen cleared on a terminal) every monitoring
// interval until the job ends; the last one stays.
int monitor(Session& s, const Args& a) {
  const std::string path = job_path(a.id) + "/monitoring";
  for (;;) {
    auto r = s.get(path);
    if (!r) return s.fail(r.status());
    const bool ended = is_final(str_field(*r, "status"));
    if (s.json()) {
      s.print_json(*r);
    } else {
      if (a.watch && s.console().err_is_tty) s.out() << "\x1b[H\x1b[2J";
      s.out() << monitor_details(*r);
      if (a.watch && !s.console().err_is_tty) s.out() << '\n';
      s.out() << std::flush;
    }
    if (!a.watch || ended) return kExitOk;
    const double interval = num_field(*r, "interval_seconds").value_or(5);
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(interval);
    while (std::chrono::steady_clock::now() < until) s.sleep();
  }
}

int action(Session& s, std::int64_t id, const std::string& verb) {
  auto r = s.client().call("POST", job_path(id) + "/" + verb);
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
  } else {
    s.out() << "job " << id << " is now " << str_field(*r, "status") << '\n';
  }
  return kExitOk;
}

int remove(Session& s, std::int64_t id) {
  auto r = s.client().call("DELETE", job_path(id));
  if (!r) return s.fail(r.status());
  if (!s.json()) s.out() << "deleted job " << id << '\n';
  return kExitOk;
}

int outputs(Session& s, const Args& a) {
  auto r = s.get(job_path(a.id));
  if (!r) return s.fail(r.status());
  const auto* ids = r->get_object().if_contains("outputs");
  if (!ids || !ids->is_array() || ids->get_array().empty()) {
    if (s.json()) s.print_json(json::array());
    s.note("job " + std::to_string(a.id) + " has no outputs");
    return kExitOk;
  }
  // Resolve every name and check every destination first, so that a conflict is reported
  // before anything is written.
  struct Target {
    std::int64_t id;
    json::value file;
    fs::path dest;
  };
  std::vector<Target> targets;
  for (const auto& v : ids->get_array()) {
    if (!v.is_int64()) continue;
    auto file = s.get("/api/v1/files/" + std::to_string(v.get_int64()));
    if (!file) return s.fail(file.status());
    fs::path dest = fs::path(a.dir) / safe_file_name(str_field(*file, "name"), v.get_int64());
    for (const auto& t : targets) {
      if (t.dest == dest) dest += "." + std::to_string(v.get_int64());  // same name twice
    }
    std::error_code ec;
    if (fs::exists(dest, ec) && !a.force) {
      return s.fail(Status::conflict(dest.string() + " already exists (use --force to overwrite)"));
    }
    targets.push_back({v.get_int64(), std::move(*file), dest});
  }
  std::error_code ec;
  fs::create_directories(a.dir, ec);
  if (ec) return s.fail(Status::internal("cannot create " + a.dir + ": " + ec.message()));
  json::array done;
  std::vector<std::vector<std::string>> rows;
  for (auto& t : targets) {
    auto d =
        s.client().download("/api/v1/files/" + std::to_string(t.id) + "/content", t.dest.string());
    if (!d) return s.fail(d.status());
    if (!d->ok()) return s.fail(status_from_http(*d).with_context("file " + std::to_string(t.id)));
    auto size = int_field(t.file, "size");
    rows.push_back({std::to_string(t.id), t.dest.string(), size ? human_size(*size) : "-"});
    done.push_back(std::move(t.file));
  }
  if (s.json()) {
    s.print_json(done);
  } else {
    s.out() << render_table({"ID", "PATH", "SIZE"}, rows,
                            {Align::kRight, Align::kLeft, Align::kRight});
  }
  return kExitOk;
}

CLI::App* with_id(CLI::App* cmd, Args& args) {
  cmd->add_option("id", args.id, "Job id")->required()->check(id_arg());
  return cmd;
}

}  // namespace

void add_job_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env) {
  auto* cmd = app.add_subcommand("job", "Run jobs, follow them and fetch their results");
  cmd->fallthrough();
  cmd->require_subcommand(1);
  auto args = std::make_shared<Args>();

  auto* run_cmd = cmd->add_subcommand("run", "Start a job");
  run_cmd
      ->add_option("pipeline", args->pipeline,
                   "Pipeline id, name (its latest ready version) or name:version")
      ->required();
  run_cmd
      ->add_option("--input", args->inputs,
                   "An input: a file id (all digits) or a local file, uploaded first "
                   "(write ./123 for a local file named 123); repeatable")
      ->allow_extra_args(false);
  run_cmd
      ->add_option("--param", args->params,
                   "A parameter KEY=VALUE; VALUE is read as JSON when it parses (42, true, "
                   "\"x\"), else as a string; repeatable, overrides --params-file")
      ->allow_extra_args(false);
  run_cmd->add_option("--params-file", args->params_file, "A JSON object of parameters");
  run_cmd->add_option("--name", args->name, "Job name (default: \"<pipeline> #<id>\")");
  args->priority_opt =
      run_cmd->add_option("--priority", args->priority, "Higher runs first (default 0)");
  args->cpus_opt =
      run_cmd->add_option("--cpus", args->cpus, "CPUs for the job")->check(positive_arg());
  args->memory_opt = run_cmd->add_option("--memory-mb", args->memory_mb, "Memory limit in MiB")
                         ->check(positive_arg());
  run_cmd->add_flag("--wait", args->wait, "Wait for the job to end, as `job wait` does");
  run_cmd->add_option("--timeout", args->timeout, "With --wait: give up after SECONDS")
      ->check(non_negative_arg());
  on_run(run_cmd, env, [args](Session& s) { return run(s, *args); });

  auto* list_cmd = cmd->add_subcommand("list", "List jobs, newest first");
  list_cmd->add_option("--status", args->status, "Only these statuses: S[,S...]");
  list_cmd->add_option("--pipeline", args->pipeline_filter,
                       "Only jobs of this pipeline (id, name or name:version)");
  list_cmd->add_option("--limit", args->limit, "Page size (1..1000)")->check(CLI::Range(1, 1000));
  list_cmd->add_flag("--all", args->all, "Follow the pages to list every job");
  on_run(list_cmd, env, [args](Session& s) { return list(s, *args); });

  auto* show_cmd =
      with_id(cmd->add_subcommand("show", "Show a job, its inputs and outputs"), *args);
  on_run(show_cmd, env, [args](Session& s) { return show(s, args->id); });

  auto* logs_cmd = with_id(cmd->add_subcommand("logs", "Print a job's stdout (or stderr)"), *args);
  logs_cmd->add_flag("--stderr", args->stderr_stream, "The stderr log instead of stdout");
  logs_cmd->add_option("--tail", args->tail, "Only the last N lines")->check(positive_arg());
  logs_cmd->add_flag("-f,--follow", args->follow,
                     "Print the output as it is written, until the job ends (stdout and stderr "
                     "unless --stream or --stderr says otherwise)");
  logs_cmd->add_option("--stream", args->streams, "With -f: stdout, stderr or both (default both)")
      ->check(CLI::IsMember({"stdout", "stderr", "both"}));
  on_run(logs_cmd, env, [args](Session& s) { return logs(s, *args); });

  auto* monitor_cmd = with_id(
      cmd->add_subcommand("monitor", "Show a job's CPU, memory, I/O and their history"), *args);
  monitor_cmd->add_flag("-w,--watch", args->watch, "Refresh until the job ends");
  on_run(monitor_cmd, env, [args](Session& s) { return monitor(s, *args); });

  for (const char* verb : {"pause", "resume", "cancel"}) {
    auto* c = with_id(cmd->add_subcommand(verb, std::string(verb) + " a job"), *args);
    on_run(c, env,
           [args, verb = std::string(verb)](Session& s) { return action(s, args->id, verb); });
  }

  auto* rm_cmd =
      with_id(cmd->add_subcommand("rm", "Delete a finished job, its workspace and outputs"), *args);
  on_run(rm_cmd, env, [args](Session& s) { return remove(s, args->id); });

  auto* wait_cmd = with_id(cmd->add_subcommand("wait", "Wait for a job to end"), *args);
  wait_cmd->add_option("--timeout", args->timeout, "Give up after SECONDS (exit 1)")
      ->check(non_negative_arg());
  on_run(wait_cmd, env, [args](Session& s) { return wait(s, args->id, args->timeout); });

  auto* outputs_cmd =
      with_id(cmd->add_subcommand("outputs", "Download every output file of a job"), *args);
  outputs_cmd->add_option("-d,--dir", args->dir, "Destination directory (default .)");
  outputs_cmd->add_flag("--force", args->force, "Overwrite existing files");
  on_run(outputs_cmd, env, [args](Session& s) { return outputs(s, *args); });
}

}  // namespace pirus::cli
