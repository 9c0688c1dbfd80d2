#include "core/job_service.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <set>

#include "common/fs_util.hpp"
#include "common/json_util.hpp"
#include "common/sha256.hpp"
#include "core/database_service.hpp"
#include "core/file_service.hpp"
#include "core/offload.hpp"
#include "core/scheduler_policy.hpp"
#include "core/workspace.hpp"
#include "packages/package.hpp"

namespace pirus {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// The complete companion files (indexes) of each input, by input id.
Result<std::map<Id, std::vector<File>>> companions_of(Store& store,
                                                      const std::vector<File>& files) {
  std::map<Id, std::vector<File>> out;
  for (const auto& f : files) {
    auto list = store.list_companions(f.id);
    if (!list) return list.status();
    for (auto& c : *list) {
      if (c.status == FileStatus::kUploaded || c.status == FileStatus::kChecked) {
        out[f.id].push_back(std::move(c));
      }
    }
  }
  return out;
}

// Keeps busy() accurate across every exit path of a coroutine.
class BusyGuard {
 public:
  explicit BusyGuard(int& n) : n_(n) { ++n_; }
  ~BusyGuard() { --n_; }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  int& n_;
};

std::pair<uid_t, gid_t> parse_user(const std::string& user) {
  auto colon = user.find(':');
  return {static_cast<uid_t>(std::stoul(user.substr(0, colon))),
          static_cast<gid_t>(std::stoul(user.substr(colon + 1)))};
}

std::string status_name(JobStatus s) {
  return std::string(to_string(s));
}

// 256 random bits from OpenSSL's CSPRNG, hex-encoded. Empty when the generator fails.
std::string new_notify_token() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return {};
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

constexpr std::size_t kMaxNotifyLabel = 200;

std::string manifest_path(const json::object& manifest, const char* key, const char* fallback) {
  if (const auto* v = manifest.if_contains(key); v != nullptr && v->is_string()) {
    return std::string(v->get_string());
  }
  return fallback;
}

}  // namespace

JobService::JobService(CoreContext& ctx, PipelineService& pipelines)
    : ctx_(ctx),
      pipelines_(pipelines),
      wake_(ctx.loop),
      progress_(ctx.loop, [this](Id id, const ProgressUpdate& u) { apply_progress(id, u); }),
      monitor_(ctx) {}

void JobService::apply_progress(Id job_id, const ProgressUpdate& update) {
  auto job = ctx_.store.get_job(job_id);
  if (!job || (job->status != JobStatus::kRunning && job->status != JobStatus::kPause)) return;
  JobUpdate u;
  u.progress = update.progress;
  u.progress_label = update.label;
  auto patched = ctx_.store.patch_job(job_id, job->status, u);
  if (patched) publish(*patched);
}

void JobService::publish(const Job& job) {
  Event e;
  e.kind = "job_updated";
  e.id = job.id;
  e.data = {{"id", job.id},
            {"status", status_name(job.status)},
            {"progress", job.progress},
            {"progress_label", job.progress_label}};
  ctx_.events.publish(e);
}

Result<Job> JobService::create(const NewJobRequest& req) {
  auto pipeline = ctx_.store.get_pipeline(req.pipeline_id);
  if (!pipeline) {
    if (pipeline.status().code() == Code::kNotFound) {
      return Status::invalid("pipeline " + std::to_string(req.pipeline_id) + " does not exist");
    }
    return pipeline.status();
  }
  if (pipeline->status != PipelineStatus::kReady) {
    return Status::conflict("pipeline " + std::to_string(pipeline->id) + " is " +
                            std::string(to_string(pipeline->status)) + ", not ready");
  }
  std::set<Id> seen;
  std::vector<File> files;
  for (Id fid : req.inputs) {
    if (!seen.insert(fid).second) {
      return Status::invalid("file " + std::to_string(fid) + " is listed twice in inputs");
    }
    auto f = ctx_.store.get_file(fid);
    if (!f) {
      if (f.status().code() == Code::kNotFound) {
        return Status::invalid("input file " + std::to_string(fid) + " does not exist");
      }
      return f.status();
    }
    if (f->status != FileStatus::kUploaded && f->status != FileStatus::kChecked) {
      return Status::invalid("input file " + std::to_string(fid) + " is " +
                             std::string(to_string(f->status)) +
                             "; only complete files can be used");
    }
    files.push_back(*f);
  }

  auto form = pipelines_.form(*pipeline);
  if (!form) return form.status().with_context("the pipeline's form is unusable");
  FormContext fctx;
  auto companions = companions_of(ctx_.store, files);
  if (!companions) return companions.status();
  for (const auto& in : plan_inputs(files, *companions)) {
    if (!in.companion_of) fctx.input_names.push_back(in.name);
  }
  fctx.genome_refs = list_database_names(ctx_.config.databases_dir());
  auto params = validate_parameters(*form, req.parameters, fctx);
  if (!params) return params.status().with_context("invalid parameters");

  const Config& c = ctx_.config;
  Resources r = req.resources;
  if (r.cpus < 0 || r.memory_mb < 0 || r.pids < 0 || !std::isfinite(r.cpus)) {
    return Status::invalid("resources must be positive numbers");
  }
  if (r.cpus == 0) r.cpus = c.job_cpus;
  if (r.memory_mb == 0) r.memory_mb = c.job_memory_mb;
  if (r.pids == 0) r.pids = c.job_pids;
  if (r.cpus > c.max_job_cpus) {
    return Status::invalid("resources.cpus " + std::to_string(r.cpus) +
                           " is more than the server allows per job (" +
                           std::to_string(c.max_job_cpus) + ")");
  }
  if (r.memory_mb > c.max_job_memory_mb) {
    return Status::invalid("resources.memory_mb is more than the server allows per job (" +
                           std::to_string(c.max_job_memory_mb) + ")");
  }
  if (r.memory_mb < 6) return Status::invalid("resources.memory_mb must be at least 6");
  if (r.pids > c.max_job_pids) {
    return Status::invalid("resources.pids is more than the server allows per job (" +
                           std::to_string(c.max_job_pids) + ")");
  }
  if (r.pids < 8) return Status::invalid("resources.pids must be at least 8");

  Job job;
  job.pipeline_id = pipeline->id;
  job.name = req.name;
  if (job.name.empty()) job.name = pipeline->name + " " + format_time(now_ms()).substr(0, 19);
  if (job.name.size() > 200) return Status::invalid("name is longer than 200 characters");
  job.priority = req.priority;
  job.parameters_json = json::serialize(*params);
  job.resources = r;
  job.inputs = req.inputs;
  auto created = ctx_.store.create_job(job);
  if (!created) return created.status();
  publish(*created);
  wake_scheduler();
  return created;
}

// ---------------------------------------------------------------- scheduler

void JobService::wake_scheduler() {
  if (stopping_ || scheduler_running_) return;
  scheduler_running_ = true;
  asio::post(ctx_.loop, [this]() {
    scheduler_running_ = false;
    schedule_pass();
  });
}

asio::awaitable<void> JobService::schedule_loop() {
  // A safety net: every status change already wakes the scheduler, the tick only matters
  // if a wake-up was ever lost.
  while (!stopping_) {
    wake_.expires_after(std::chrono::seconds(5));
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    schedule_pass();
  }
}

void JobService::schedule_pass() {
  if (stopping_) return;
  JobQuery active;
  active.statuses = {JobStatus::kInitializing, JobStatus::kRunning, JobStatus::kPause};
  active.limit = 10000;
  auto running = ctx_.store.list_jobs(active);
  if (!running) {
    spdlog::error("scheduler: {}", running.status().to_string());
    return;
  }
  Occupancy occ;
  for (const auto& j : running->items) {
    occ.memory_mb += j.resources.memory_mb;
    if (j.status != JobStatus::kPause) {
      occ.running += 1;
      occ.cpus += j.resources.cpus;
    }
  }
  if (occ.running >= ctx_.config.max_running_jobs) return;
  JobQuery waiting;
  waiting.statuses = {JobStatus::kWaiting};
  waiting.order = JobOrder::kQueueOrder;
  waiting.limit = ctx_.config.max_running_jobs;
  auto queue = ctx_.store.list_jobs(waiting);
  if (!queue) {
    spdlog::error("scheduler: {}", queue.status().to_string());
    return;
  }
  SchedulerLimits limits{ctx_.config.max_running_jobs, ctx_.config.max_total_cpus,
                         ctx_.config.max_total_memory_mb};
  for (Id id : select_jobs_to_start(queue->items, occ, limits)) {
    JobUpdate u;
    u.started_at = now_ms();
    u.path = workspace_paths(ctx_.config.jobs_dir(), id).root;
    // Claimed synchronously, before the launch coroutine runs, so the next pass counts it.
    auto claimed = ctx_.store.transition_job(id, JobStatus::kWaiting, JobStatus::kInitializing, u);
    if (!claimed) continue;  // canceled in between
    publish(*claimed);
    asio::co_spawn(ctx_.loop, start(*claimed), asio::detached);
  }
}

void JobService::stop() {
  stopping_ = true;
  wake_.cancel();
  progress_.shutdown();
  monitor_.stop();
}

// ---------------------------------------------------------------- running a job

std::string JobService::build_config_json(const Job& job, const Pipeline& p,
                                          const std::vector<WorkspaceInput>& inputs,
                                          const json::object& manifest,
                                          const std::string& notify_token) const {
  std::string in_dir = manifest_path(manifest, "inputs", "/pipeline/inputs");
  std::string logs_dir = manifest_path(manifest, "logs", "/pipeline/logs");
  json::object cfg;
  cfg["job"] = {
      {"id", job.id}, {"name", job.name}, {"pipeline", p.name}, {"pipeline_version", p.version}};
  auto params = json::parse(job.parameters_json.empty() ? "{}" : job.parameters_json);
  cfg["parameters"] = params;
  json::array ins;
  for (const auto& in : inputs) {
    json::object entry{{"id", in.file.id},
                       {"name", in.name},
                       {"path", in_dir + "/" + in.name},
                       {"size", in.file.size}};
    if (in.companion_of) entry["companion_of"] = *in.companion_of;
    ins.push_back(std::move(entry));
  }
  cfg["inputs"] = std::move(ins);
  cfg["paths"] = {{"inputs", in_dir},
                  {"outputs", manifest_path(manifest, "outputs", "/pipeline/outputs")},
                  {"logs", logs_dir},
                  {"databases", manifest_path(manifest, "databases", "/pipeline/databases")}};
  cfg["progress_file"] = logs_dir + "/progress.jsonl";
  cfg["notify"] = {{"url", notify_url(job.id)}, {"token", notify_token}};
  return pretty_json(cfg);
}

asio::awaitable<void> JobService::start(Job job) {
  BusyGuard busy(busy_);
  auto pipeline = ctx_.store.get_pipeline(job.pipeline_id);
  if (!pipeline || pipeline->status != PipelineStatus::kReady) {
    (void)fail(job, "its pipeline is no longer installed");
    co_return;
  }
  std::vector<File> files;
  for (Id fid : job.inputs) {
    auto f = ctx_.store.get_file(fid);
    if (!f) {
      (void)fail(job, "input file " + std::to_string(fid) + " was deleted");
      co_return;
    }
    files.push_back(*f);
  }
  auto manifest_v = parse_json(pipeline->manifest_json);
  json::object manifest =
      manifest_v && manifest_v->is_object() ? manifest_v->get_object() : json::object{};
  auto companions = companions_of(ctx_.store, files);
  if (!companions) {
    (void)fail(job, "cannot read the inputs' companion files: " + companions.status().message());
    co_return;
  }
  auto inputs = plan_inputs(files, *companions);
  WorkspacePaths ws = workspace_paths(ctx_.config.jobs_dir(), job.id);
  // A fresh token for every start: only its hash is kept, the job gets the token itself.
  const std::string token = new_notify_token();
  Status stored = token.empty() ? Status::internal("the random generator failed")
                                : ctx_.store.set_job_notify_token_hash(job.id, sha256_hex(token));
  if (!stored) {
    (void)fail(job, "could not make its notify token: " + stored.message());
    co_return;
  }
  std::string config_json = build_config_json(job, *pipeline, inputs, manifest, token);
  auto [uid, gid] = parse_user(ctx_.job_user);
  auto prepare = [&, uid = uid, gid = gid]() {
    return prepare_workspace(ws, inputs, config_json, uid, gid);
  };
  Status prepared = co_await offload(ctx_.workers, std::move(prepare));
  if (!prepared) {
    (void)fail(job, "could not prepare the workspace: " + prepared.message());
    co_return;
  }

  std::string in_dir = manifest_path(manifest, "inputs", "/pipeline/inputs");
  std::string out_dir = manifest_path(manifest, "outputs", "/pipeline/outputs");
  std::string logs_dir = manifest_path(manifest, "logs", "/pipeline/logs");
  std::string db_dir = manifest_path(manifest, "databases", "/pipeline/databases");
  JobLaunch l;
  l.job_id = job.id;
  l.image = pipeline->image;
  if (const auto* cmd = manifest.if_contains("command"); cmd != nullptr && cmd->is_array()) {
    for (const auto& a : cmd->get_array()) {
      if (a.is_string()) l.command.emplace_back(a.get_string());
    }
  }
  l.env = {{"PIRUS_JOB_ID", std::to_string(job.id)},
           {"PIRUS_CONFIG_FILE", in_dir + "/config.json"},
           {"PIRUS_PROGRESS_FILE", logs_dir + "/progress.jsonl"},
           {"PIRUS_INPUTS_DIR", in_dir},
           {"PIRUS_OUTPUTS_DIR", out_dir},
           {"PIRUS_LOGS_DIR", logs_dir},
           {"PIRUS_DATABASES_DIR", db_dir},
           {"PIRUS_NOTIFY_URL", notify_url(job.id)},
           {"PIRUS_NOTIFY_TOKEN", token},
           {"HOME", "/tmp"}};
  l.mounts = {{ws.inputs, in_dir, true},
              {ws.outputs, out_dir, false},
              {ws.logs, logs_dir, false},
              {ctx_.config.databases_dir(), db_dir, true}};
  l.user = ctx_.job_user;
  l.network = ctx_.config.job_network;
  l.cpus = job.resources.cpus;
  l.memory_bytes = job.resources.memory_mb * 1024 * 1024;
  l.pids = job.resources.pids;
  const auto* ro = manifest.if_contains("read_only_rootfs");
  l.read_only_rootfs = ro == nullptr || !ro->is_bool() || ro->get_bool();
  l.stdout_path = ws.stdout_log;
  l.stderr_path = ws.stderr_log;

  auto launched = co_await ctx_.manager.launch(std::move(l));
  if (!launched) {
    auto current = ctx_.store.get_job(job.id);
    if (current && current->status == JobStatus::kInitializing) {
      (void)fail(*current, "could not start the container: " + launched.status().message());
    }
    wake_scheduler();
    co_return;
  }
  JobUpdate u;
  u.container_id = *launched;
  auto running =
      ctx_.store.transition_job(job.id, JobStatus::kInitializing, JobStatus::kRunning, u);
  if (!running) {
    // Canceled while we were launching: the container must not outlive the decision.
    early_exits_.erase(job.id);
    Status killed = co_await ctx_.manager.kill_and_remove(*launched);
    if (!killed) spdlog::warn("job {}: container not removed: {}", job.id, killed.message());
    wake_scheduler();
    co_return;
  }
  spdlog::info("job {} running in container {}", job.id, launched->substr(0, 12));
  publish(*running);
  progress_.watch(job.id, workspace_paths(ctx_.config.jobs_dir(), job.id).progress);
  auto early = early_exits_.find(job.id);
  if (early != early_exits_.end()) {
    ExitInfo exit = early->second;
    early_exits_.erase(early);
    co_await handle_exit(job.id, exit);
  }
}

void JobService::on_job_exited(Id job_id, const ExitInfo& exit) {
  asio::co_spawn(
      ctx_.loop,
      [this, job_id, exit]() -> asio::awaitable<void> {
        BusyGuard busy(busy_);
        co_await handle_exit(job_id, exit);
      },
      asio::detached);
}

Result<Job> JobService::fail(const Job& job, const std::string& reason,
                             std::optional<int> exit_code) {
  JobUpdate u;
  u.error_reason = reason;
  u.exit_code = exit_code;
  u.ended_at = now_ms();
  auto failed = ctx_.store.transition_job(job.id, job.status, JobStatus::kError, u);
  if (failed) {
    spdlog::info("job {} failed: {}", job.id, reason.substr(0, reason.find('\n')));
    publish(*failed);
  }
  return failed;
}

asio::awaitable<void> JobService::handle_exit(Id job_id, ExitInfo exit) {
  auto job = ctx_.store.get_job(job_id);
  if (!job) co_return;
  if (job->status != JobStatus::kInitializing) {
    progress_.unwatch(job_id);  // final read
    notify_buckets_.erase(job_id);
  }
  switch (job->status) {
    case JobStatus::kInitializing:
      early_exits_[job_id] = exit;  // the launch coroutine picks it up
      co_return;
    case JobStatus::kRunning:
    case JobStatus::kPause:
      break;
    default:
      co_return;  // canceled, or already handled
  }
  bool success = exit.exit_code == 0 && !exit.oom_killed && exit.engine_error.empty();
  if (success && job->status == JobStatus::kRunning) {
    JobUpdate u;
    u.exit_code = 0;
    u.progress = 1.0;
    auto fin = ctx_.store.transition_job(job_id, JobStatus::kRunning, JobStatus::kFinalizing, u);
    if (fin) {
      publish(*fin);
      co_await finalize_success(*fin);
    }
  } else {
    std::string reason;
    if (!exit.engine_error.empty()) {
      reason = "the container engine failed the job: " + exit.engine_error;
    } else if (exit.oom_killed) {
      reason = "killed: out of memory (limit " + std::to_string(job->resources.memory_mb) +
               " MB); exit code " + std::to_string(exit.exit_code);
    } else if (job->status == JobStatus::kPause) {
      reason =
          "the container stopped while paused (exit code " + std::to_string(exit.exit_code) + ")";
    } else {
      reason = "exited with code " + std::to_string(exit.exit_code);
    }
    std::string tail =
        tail_file(workspace_paths(ctx_.config.jobs_dir(), job_id).stderr_log, 20, 4096);
    if (!tail.empty()) reason += "; last lines of stderr:\n" + tail;
    (void)fail(*job, reason, exit.exit_code);
  }
  if (!job->container_id.empty()) {
    Status removed = co_await ctx_.manager.remove(job->container_id);
    if (!removed) spdlog::warn("job {}: container not removed: {}", job_id, removed.message());
  }
  wake_scheduler();
}

asio::awaitable<void> JobService::finalize_success(Job job) {
  WorkspacePaths ws = workspace_paths(ctx_.config.jobs_dir(), job.id);
  auto collect = [dir = ws.outputs]() { return collect_outputs(dir); };
  auto outputs = co_await offload(ctx_.workers, std::move(collect));
  if (!outputs) {
    (void)fail(job, "could not register the outputs: " + outputs.status().message());
    co_return;
  }
  std::vector<File> files;
  for (const auto& o : *outputs) {
    File f;
    f.name = o.relative_path;
    f.type = file_type_of(o.relative_path);
    f.path = o.path;
    f.size = o.size;
    f.upload_offset = o.size;
    f.sha256 = o.sha256;
    f.status = FileStatus::kChecked;
    f.job_source_id = job.id;
    files.push_back(std::move(f));
  }
  JobUpdate u;
  u.ended_at = now_ms();
  u.progress = 1.0;
  auto done = ctx_.store.finalize_job(job.id, files, u);
  if (!done) {
    if (done.status().code() != Code::kConflict) {
      (void)fail(job, "could not register the outputs: " + done.status().message());
    }
    co_return;
  }
  spdlog::info("job {} done, {} output file(s)", job.id, files.size());
  publish(*done);
}

// ---------------------------------------------------------------- HTTP progress channel

std::string JobService::notify_url(Id job_id) const {
  return ctx_.notify_base_url + "/api/v1/jobs/" + std::to_string(job_id) + "/notify";
}

Result<NotifyRequest> parse_notify_request(const json::object& body) {
  NotifyRequest r;
  std::vector<std::string> errors;
  for (const auto& [key, value] : body) {
    if (key == "progress") {
      if (!value.is_number() || !std::isfinite(value.to_number<double>())) {
        errors.push_back("progress: must be a number between 0 and 1");
      } else {
        r.progress = std::clamp(value.to_number<double>(), 0.0, 1.0);
      }
    } else if (key == "label") {
      if (!value.is_string()) {
        errors.push_back("label: must be a string");
      } else if (value.get_string().size() > kMaxNotifyLabel) {
        errors.push_back("label: must be at most " + std::to_string(kMaxNotifyLabel) +
                         " bytes long");
      } else {
        std::string l(value.get_string());
        for (char& c : l) {
          if (static_cast<unsigned char>(c) < 0x20) c = ' ';
        }
        r.label = std::move(l);
      }
    } else if (key == "status") {
      if (!value.is_string() ||
          (value.get_string() != "running" && value.get_string() != "finalizing" &&
           value.get_string() != "error")) {
        errors.push_back("status: must be running, finalizing or error");
      } else {
        r.status = std::string(value.get_string());
      }
    } else {
      std::string k(key);
      if (k.size() > 40) k = k.substr(0, 40) + "...";
      errors.push_back(k + ": not accepted (a job may send only progress, label and status)");
    }
  }
  if (errors.empty() && !r.progress && !r.label && !r.status) {
    errors.push_back("send at least one of progress, label and status");
  }
  if (!errors.empty()) {
    std::string m;
    for (const auto& e : errors) m += (m.empty() ? "" : "; ") + e;
    return Status::invalid(m);
  }
  return r;
}

asio::awaitable<NotifyOutcome> JobService::notify(Id id, std::string bearer_token,
                                                  std::string body) {
  NotifyOutcome out;
  auto job = ctx_.store.get_job(id);
  if (!job) {
    out.job = job.status();
    co_return out;
  }
  if (bearer_token.empty()) {
    out.refusal = NotifyRefusal::kMissingToken;
    co_return out;
  }
  auto stored = ctx_.store.job_notify_token_hash(id);
  if (!stored) {
    out.job = stored.status();
    co_return out;
  }
  const std::string given = sha256_hex(bearer_token);
  if (stored->size() != given.size() ||
      CRYPTO_memcmp(stored->data(), given.data(), given.size()) != 0) {
    out.refusal = NotifyRefusal::kWrongToken;
    co_return out;
  }
  // Token bucket per job: a job looping on notify must not hammer the store or the events.
  const auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = notify_buckets_.try_emplace(id);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = kNotifyBurst;
  } else {
    std::chrono::duration<double> dt = now - b.last;
    b.tokens = std::min(kNotifyBurst, b.tokens + dt.count() * kNotifyRate);
  }
  b.last = now;
  if (b.tokens < 1) {
    out.refusal = NotifyRefusal::kRateLimited;
    out.retry_after_seconds = static_cast<int>(std::ceil((1 - b.tokens) / kNotifyRate));
    if (out.retry_after_seconds < 1) out.retry_after_seconds = 1;
    co_return out;
  }
  b.tokens -= 1;

  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) {
    out.job = Status::invalid("the body must be a JSON object such as {\"progress\": 0.5}");
    co_return out;
  }
  auto req = parse_notify_request(parsed.get_object());
  if (!req) {
    out.job = req.status();
    co_return out;
  }
  // A job may post as soon as its process starts, which can be before the launch coroutine
  // has recorded `running`: initializing counts as running here (the token only exists in
  // a container that was launched).
  if (job->status != JobStatus::kRunning && job->status != JobStatus::kInitializing) {
    out.job = Status::conflict("job " + std::to_string(id) + " is " + status_name(job->status) +
                               "; progress is accepted only while it runs");
    co_return out;
  }
  if (req->status && *req->status == "error") {
    std::string reason = "the job reported an error";
    if (req->label && !req->label->empty()) reason += ": " + *req->label;
    auto failed = fail(*job, reason);
    if (!failed) {
      out.job = failed.status();
      co_return out;
    }
    progress_.unwatch(id);
    notify_buckets_.erase(id);
    out.job = failed;
    if (!job->container_id.empty()) {
      Status st = co_await ctx_.manager.kill_and_remove(job->container_id);
      if (!st) spdlog::warn("job {}: container not removed: {}", id, st.message());
    }
    wake_scheduler();
    co_return out;
  }
  ProgressUpdate u;
  u.progress = req->progress;
  u.label = req->label;
  if (req->status && *req->status == "finalizing" && !u.label) u.label = "finalizing";
  if (!u.progress && !u.label) {  // status "running" alone: nothing to change
    out.job = *job;
    co_return out;
  }
  JobUpdate patch;
  patch.progress = u.progress;
  patch.progress_label = u.label;
  auto patched = ctx_.store.patch_job(id, job->status, patch);
  if (!patched) {
    out.job = patched.status().code() == Code::kConflict
                  ? Status::conflict("job " + std::to_string(id) +
                                     " stopped running; progress is accepted only while it runs")
                  : patched.status();
    co_return out;
  }
  publish(*patched);
  out.job = patched;
  co_return out;
}

// ---------------------------------------------------------------- user actions

asio::awaitable<Result<Job>> JobService::pause(Id id) {
  auto job = ctx_.store.get_job(id);
  if (!job) co_return job.status();
  if (job->status != JobStatus::kRunning) {
    co_return Status::conflict("job " + std::to_string(id) + " is " + status_name(job->status) +
                               "; only a running job can be paused");
  }
  if (!ctx_.manager.features().pause) {
    co_return Status::conflict("the " + std::string(ctx_.manager.name()) +
                               " engine cannot pause jobs");
  }
  Status st = co_await ctx_.manager.pause(job->container_id);
  if (!st) co_return st.with_context("could not pause job " + std::to_string(id));
  auto paused = ctx_.store.transition_job(id, JobStatus::kRunning, JobStatus::kPause);
  if (!paused) co_return paused.status();
  publish(*paused);
  wake_scheduler();  // a paused job frees its slot
  co_return paused;
}

asio::awaitable<Result<Job>> JobService::resume(Id id) {
  auto job = ctx_.store.get_job(id);
  if (!job) co_return job.status();
  if (job->status != JobStatus::kPause) {
    co_return Status::conflict("job " + std::to_string(id) + " is " + status_name(job->status) +
                               "; only a paused job can be resumed");
  }
  // Pausing gave the job's slot (and CPUs) to the queue; resuming must not overcommit.
  JobQuery active;
  active.statuses = {JobStatus::kInitializing, JobStatus::kRunning};
  active.limit = 10000;
  auto running = ctx_.store.list_jobs(active);
  if (!running) co_return running.status();
  double cpus = 0;
  for (const auto& j : running->items) cpus += j.resources.cpus;
  if (static_cast<int>(running->items.size()) >= ctx_.config.max_running_jobs) {
    co_return Status::conflict("no free slot: " + std::to_string(running->items.size()) +
                               " jobs are running (limits.max_running_jobs); resume job " +
                               std::to_string(id) + " when one of them ends");
  }
  if (ctx_.config.max_total_cpus > 0 &&
      cpus + job->resources.cpus > ctx_.config.max_total_cpus + 1e-9) {
    co_return Status::conflict("not enough free CPUs (limits.max_total_cpus) to resume job " +
                               std::to_string(id) + " now");
  }
  Status st = co_await ctx_.manager.resume(job->container_id);
  if (!st) co_return st.with_context("could not resume job " + std::to_string(id));
  auto resumed = ctx_.store.transition_job(id, JobStatus::kPause, JobStatus::kRunning);
  if (!resumed) co_return resumed.status();
  publish(*resumed);
  co_return resumed;
}

asio::awaitable<Result<Job>> JobService::cancel(Id id) {
  auto job = ctx_.store.get_job(id);
  if (!job) co_return job.status();
  if (is_terminal(job->status)) {
    co_return Status::conflict("job " + std::to_string(id) + " is " + status_name(job->status) +
                               ", which is final");
  }
  if (job->status == JobStatus::kFinalizing) {
    co_return Status::conflict("job " + std::to_string(id) +
                               " has finished and is registering its outputs; it can no longer "
                               "be canceled");
  }
  JobUpdate u;
  u.ended_at = now_ms();
  auto canceled = ctx_.store.transition_job(id, job->status, JobStatus::kCanceled, u);
  if (!canceled) co_return canceled.status();
  spdlog::info("job {} canceled", id);
  progress_.unwatch(id);
  notify_buckets_.erase(id);
  publish(*canceled);
  if (!job->container_id.empty()) {
    Status st = co_await ctx_.manager.kill_and_remove(job->container_id);
    if (!st) spdlog::warn("job {}: container not removed: {}", id, st.message());
  }
  wake_scheduler();
  co_return canceled;
}

asio::awaitable<Status> JobService::remove(Id id) {
  auto job = ctx_.store.get_job(id);
  if (!job) co_return job.status();
  if (!is_terminal(job->status)) {
    co_return Status::conflict("job " + std::to_string(id) + " is " + status_name(job->status) +
                               "; cancel it before deleting it");
  }
  auto removed = ctx_.store.delete_job(id);
  if (!removed) co_return removed.status();
  monitor_.forget(id);
  std::string root = workspace_paths(ctx_.config.jobs_dir(), id).root;
  auto erase = [root]() { return remove_tree(root); };
  (void)co_await offload(ctx_.workers, std::move(erase));
  Event e;
  e.kind = "job_updated";
  e.id = id;
  e.data = {{"id", id}, {"status", "deleted"}};
  ctx_.events.publish(e);
  co_return Status::ok();
}

asio::awaitable<Result<JobStats>> JobService::stats(Id id) {
  auto job = ctx_.store.get_job(id);
  if (!job) co_return job.status();
  if (job->status != JobStatus::kRunning && job->status != JobStatus::kPause) {
    co_return Status::conflict("job " + std::to_string(id) + " is " + status_name(job->status) +
                               "; statistics exist only while it runs");
  }
  if (!ctx_.manager.features().stats) {
    co_return Status::conflict("the engine does not report statistics");
  }
  co_return co_await ctx_.manager.stats(job->container_id);
}

// ---------------------------------------------------------------- recovery

asio::awaitable<void> JobService::recover() {
  BusyGuard busy(busy_);
  Result<std::vector<JobContainer>> containers = Status::internal("not listed yet");
  for (int attempt = 0;; ++attempt) {
    containers = co_await ctx_.manager.list_jobs();
    if (containers || stopping_) break;
    if (attempt == 0) {
      spdlog::error("recovery: cannot list containers ({}); retrying every 5 s",
                    containers.status().message());
    }
    wake_.expires_after(std::chrono::seconds(5));
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!containers) co_return;
  std::map<Id, JobContainer> by_job;
  for (const auto& c : *containers) by_job[c.job_id] = c;

  JobQuery q;
  q.statuses = {JobStatus::kInitializing, JobStatus::kRunning, JobStatus::kPause,
                JobStatus::kFinalizing};
  q.limit = 10000;
  auto active = ctx_.store.list_jobs(q);
  if (!active) {
    spdlog::error("recovery: {}", active.status().to_string());
    co_return;
  }
  std::set<Id> claimed;
  int recovered = 0;
  for (Job job : active->items) {
    auto it = by_job.find(job.id);
    bool has = it != by_job.end() && it->second.state != ContainerState::kMissing;
    if (has) claimed.insert(job.id);
    WorkspacePaths ws = workspace_paths(ctx_.config.jobs_dir(), job.id);
    ++recovered;
    if (job.status == JobStatus::kFinalizing) {
      // Outputs are registered in one transaction with `done`: nothing was registered yet.
      co_await finalize_success(job);
      if (has) (void)co_await ctx_.manager.remove(it->second.container_id);
      continue;
    }
    if (job.status == JobStatus::kInitializing) {
      if (!has || it->second.state == ContainerState::kCreated) {
        if (has) (void)co_await ctx_.manager.kill_and_remove(it->second.container_id);
        auto requeued =
            ctx_.store.transition_job(job.id, JobStatus::kInitializing, JobStatus::kWaiting);
        if (requeued) publish(*requeued);
        continue;
      }
      JobUpdate u;
      u.container_id = it->second.container_id;
      auto r = ctx_.store.transition_job(job.id, JobStatus::kInitializing, JobStatus::kRunning, u);
      if (!r) continue;
      job = *r;
    }
    if (!has || it->second.state == ContainerState::kCreated) {
      if (has) (void)co_await ctx_.manager.kill_and_remove(it->second.container_id);
      (void)fail(job, "its container disappeared while the server was down");
      continue;
    }
    const JobContainer& c = it->second;
    if (c.state == ContainerState::kPaused && job.status == JobStatus::kRunning) {
      auto r = ctx_.store.transition_job(job.id, JobStatus::kRunning, JobStatus::kPause);
      if (r) job = *r;
    } else if (c.state == ContainerState::kRunning && job.status == JobStatus::kPause) {
      auto r = ctx_.store.transition_job(job.id, JobStatus::kPause, JobStatus::kRunning);
      if (r) job = *r;
    }
    progress_.watch(job.id, ws.progress);
    Status st = co_await ctx_.manager.watch(job.id, c.container_id, ws.stdout_log, ws.stderr_log);
    if (!st) {
      (void)fail(job, "could not watch its container again after a restart: " + st.message());
    }
  }
  // Containers of jobs that are final or gone (a cancel whose kill failed, a deleted job).
  for (const auto& c : *containers) {
    if (claimed.count(c.job_id) == 0) {
      spdlog::info("recovery: removing leftover container of job {}", c.job_id);
      (void)co_await ctx_.manager.kill_and_remove(c.container_id);
    }
  }
  if (recovered > 0) spdlog::info("recovery: {} unfinished job(s) reconciled", recovered);
  wake_scheduler();
  if (!schedule_loop_started_) {
    schedule_loop_started_ = true;
    asio::co_spawn(ctx_.loop, schedule_loop(), asio::detached);
  }
  if (!stopping_) monitor_.start();
}

}  // namespace pirus
