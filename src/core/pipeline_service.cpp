#include "core/pipeline_service.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/fs_util.hpp"
#include "core/job_log_watcher.hpp"
#include "core/offload.hpp"
#include "core/workspace.hpp"

namespace pirus {

namespace asio = boost::asio;
namespace fs = std::filesystem;

std::string PipelineService::package_dir(Id id) const {
  return ctx_.config.pipelines_dir() + "/" + std::to_string(id) + "/package";
}

std::string PipelineService::build_log_path(Id id) const {
  return ctx_.config.pipelines_dir() + "/" + std::to_string(id) + "/build.log";
}

Result<FormSchema> PipelineService::form(const Pipeline& p) const {
  return parse_form(p.form_json);
}

void PipelineService::publish(const Pipeline& p) {
  Event e;
  e.kind = "pipeline_updated";
  e.id = p.id;
  e.data = {{"id", p.id}, {"status", std::string(to_string(p.status))}};
  ctx_.events.publish(e);
}

asio::awaitable<Result<Pipeline>> PipelineService::install(std::string zip_path) {
  std::error_code ec;
  auto zip_size = fs::file_size(zip_path, ec);
  if (ec) co_return Status::invalid("cannot read the package: " + ec.message());
  if (static_cast<std::int64_t>(zip_size) > ctx_.config.max_package_bytes) {
    co_return Status::too_large("the package is larger than limits.max_package_size");
  }

  // Phase 1 (worker pool): unpack into a private staging directory and read it.
  std::string staging = ctx_.config.pipelines_dir() + "/.staging-" + random_hex(8);
  auto unpack = [&]() -> Result<PackageInfo> {
    ExtractLimits limits;
    limits.max_total_bytes = ctx_.config.max_package_bytes * 4;
    Status st = extract_package(zip_path, staging, limits);
    if (!st) return st;
    return read_package(staging);
  };
  auto checked = co_await offload(ctx_.workers, std::move(unpack));
  if (!checked) {
    (void)remove_tree(staging);
    co_return checked.status().with_context("invalid package");
  }
  const PackageInfo& info = *checked;
  if (info.manifest.engine != ctx_.manager.name()) {
    (void)remove_tree(staging);
    co_return Status::invalid("invalid package: manifest.json asks for engine '" +
                              info.manifest.engine + "', this server runs '" +
                              std::string(ctx_.manager.name()) + "'");
  }
  if (ctx_.manager.features().dockerfile_build && !info.has_dockerfile) {
    (void)remove_tree(staging);
    co_return Status::invalid("invalid package: no Dockerfile at the package root");
  }

  Pipeline p;
  p.name = info.manifest.name;
  p.version = info.manifest.version;
  p.type = info.manifest.type;
  p.engine = info.manifest.engine;
  p.description = info.manifest.description;
  p.status = PipelineStatus::kInstalling;
  p.manifest_json = boost::json::serialize(info.manifest.json);
  p.form_json = boost::json::serialize(info.form.json);
  p.documents = info.documents;
  auto created = ctx_.store.create_pipeline(p);
  if (!created) {
    (void)remove_tree(staging);
    co_return created.status();
  }
  // From its first row on, this install is not an interrupted one.
  builds_started_.insert(created->id);
  Pipeline pipeline = *created;

  std::string root = ctx_.config.pipelines_dir() + "/" + std::to_string(pipeline.id);
  (void)remove_tree(root);  // a leftover from a crashed install of a since-deleted row
  fs::create_directories(root, ec);
  if (!ec) fs::rename(staging, package_dir(pipeline.id), ec);
  if (ec) {
    (void)remove_tree(staging);
    (void)ctx_.store.delete_pipeline(pipeline.id);
    co_return Status::internal("cannot store the package: " + ec.message());
  }
  pipeline.path = package_dir(pipeline.id);
  auto saved = ctx_.store.update_pipeline(pipeline, PipelineStatus::kInstalling);
  if (!saved) co_return saved.status();
  publish(*saved);

  asio::co_spawn(ctx_.loop, build(pipeline.id), asio::detached);
  co_return *saved;
}

asio::awaitable<void> PipelineService::build(Id id) {
  auto loaded = ctx_.store.get_pipeline(id);
  if (!loaded || loaded->status != PipelineStatus::kInstalling) co_return;
  Pipeline p = *loaded;
  std::string tar =
      ctx_.config.tmp_dir() + "/build-" + std::to_string(id) + "-" + random_hex(4) + ".tar";
  std::string log_path = build_log_path(id);
  auto log = std::make_shared<std::ofstream>(log_path, std::ios::trunc);

  auto pack = [&]() { return write_build_context(p.path, tar); };
  Status st = co_await offload(ctx_.workers, std::move(pack));
  Result<std::string> image = Status::internal("no build attempted");
  if (!st) {
    image = st;
  } else {
    BuildRequest req;
    req.pipeline_id = id;
    req.context_tar_path = tar;
    // Docker references must be lower case; name and version are checked by the manifest
    // parser, the id keeps references unique per server instance.
    req.image_name =
        "pirus-" + ctx_.instance_id.substr(0, 8) + "-pipeline-" + std::to_string(id) + ":latest";
    req.allow_network = ctx_.config.allow_build_network;
    EventBus* bus = &ctx_.events;
    req.on_log = [log, bus, id](std::string_view line) {
      *log << line;
      if (line.empty() || line.back() != '\n') *log << '\n';
      log->flush();
      // Build output is a few hundred lines per install: each goes out as it comes.
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
      Event e;
      e.kind = "pipeline_updated";
      e.id = id;
      e.data = {{"id", id}, {"status", "installing"}, {"phase", "building"}};
      e.data["build_log"] = boost::json::array{boost::json::string(sanitize_utf8(line))};
      bus->publish(std::move(e));
    };
    image = co_await ctx_.manager.build_image(std::move(req));
  }
  std::error_code ec;
  fs::remove(tar, ec);
  log->close();

  auto current = ctx_.store.get_pipeline(id);
  if (!current) {  // uninstalled while building: do not leave its image behind
    if (image) (void)co_await ctx_.manager.remove_image(*image);
    spdlog::info("pipeline {} was uninstalled while building; its build result is discarded", id);
    co_return;
  }
  p = *current;
  if (image) {
    p.status = PipelineStatus::kReady;
    p.image = *image;
    p.installed_at = now_ms();
    p.error_reason.clear();
    spdlog::info("pipeline {} {} {} is ready (image {})", id, p.name, p.version, p.image);
  } else {
    p.status = PipelineStatus::kError;
    p.error_reason = "image build failed: " + image.status().message();
    spdlog::warn("pipeline {} {} {}: {}", id, p.name, p.version, p.error_reason);
  }
  auto saved = ctx_.store.update_pipeline(p, PipelineStatus::kInstalling);
  if (saved) {
    publish(*saved);
  } else {
    // Uninstalled while building: do not leave its image behind.
    if (image) (void)co_await ctx_.manager.remove_image(*image);
    spdlog::info("pipeline {} was uninstalled while building; its build result is discarded", id);
  }
}

asio::awaitable<Status> PipelineService::uninstall(Id id) {
  auto p = ctx_.store.get_pipeline(id);
  if (!p) co_return p.status();
  // The row goes first: the store refuses while unfinished jobs exist, atomically, so no
  // job can start on an image we are about to remove.
  PIRUS_CO_RETURN_IF_ERROR(ctx_.store.delete_pipeline(id));
  if (!p->image.empty()) {
    Status st = co_await ctx_.manager.remove_image(p->image);
    if (!st) spdlog::warn("pipeline {}: image {} not removed: {}", id, p->image, st.message());
  }
  std::string root = ctx_.config.pipelines_dir() + "/" + std::to_string(id);
  auto erase = [root]() { return remove_tree(root); };
  (void)co_await offload(ctx_.workers, std::move(erase));
  Event e;
  e.kind = "pipeline_updated";
  e.id = id;
  e.data = {{"id", id}, {"status", "deleted"}};
  ctx_.events.publish(e);
  co_return Status::ok();
}

void PipelineService::resume_interrupted_builds() {
  auto all = ctx_.store.list_pipelines();
  if (!all) return;
  for (const auto& p : *all) {
    if (p.status != PipelineStatus::kInstalling || builds_started_.count(p.id) > 0) continue;
    if (!p.path.empty() && fs::exists(p.path)) {
      spdlog::info("pipeline {}: build interrupted by a restart, building again", p.id);
      builds_started_.insert(p.id);
      asio::co_spawn(ctx_.loop, build(p.id), asio::detached);
    } else {
      Pipeline failed = p;
      failed.status = PipelineStatus::kError;
      failed.error_reason =
          "the server stopped while the package was being unpacked; install it again";
      (void)ctx_.store.update_pipeline(failed, PipelineStatus::kInstalling);
    }
  }
}

}  // namespace pirus
