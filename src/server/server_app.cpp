#include "server/server_app.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "api/event_hub.hpp"
#include "api/rest_api.hpp"
#include "common/fs_util.hpp"
#include "core/database_service.hpp"
#include "core/file_service.hpp"
#include "core/job_log_watcher.hpp"
#include "core/job_service.hpp"
#include "core/pipeline_service.hpp"
#include "http/http_server.hpp"
#include "managers/docker/docker_manager.hpp"
#include "server/listen_banner.hpp"
#include "store/store.hpp"

namespace pirus {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

Status prepare_data_dir(const Config& c) {
  std::error_code ec;
  for (const auto& dir : {c.data_dir, c.files_dir(), c.pipelines_dir(), c.jobs_dir(),
                          c.databases_dir(), c.tmp_dir()}) {
    fs::create_directories(dir, ec);
    if (ec) return Status::internal("cannot create " + dir + ": " + ec.message());
  }
  // Files of every user live here: only Pirus (and the engine, as root) may look inside.
  ::chmod(c.data_dir.c_str(), 0750);
  ::chmod(c.databases_dir().c_str(), 0755);
  // Partial uploads and build contexts from a previous run are garbage now.
  for (const auto& e : fs::directory_iterator(c.tmp_dir(), ec)) fs::remove_all(e.path(), ec);
  return Status::ok();
}

Result<std::string> instance_id(Store& store) {
  auto id = store.get_meta("instance_id");
  if (id) return id;
  if (id.status().code() != Code::kNotFound) return id.status();
  std::string fresh = random_hex(16);
  PIRUS_RETURN_IF_ERROR(store.set_meta("instance_id", fresh));
  return fresh;
}

std::string resolve_job_user(const std::string& configured) {
  if (configured != "auto") return configured;
  // Root would make job outputs root-owned and give jobs root inside: use nobody instead.
  if (::geteuid() == 0) return "65534:65534";
  return std::to_string(::geteuid()) + ":" + std::to_string(::getegid());
}

// What jobs given the host network reach the server at (the HTTP progress channel).
std::string notify_base_url(const Config& c, unsigned short port) {
  if (!c.job_notify_url.empty()) return c.job_notify_url;
  std::string host = c.listen_address;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

// Images the start-up probe of the data directory may use, best first: the configured one
// alone when set; otherwise small images that are commonly present.
std::vector<std::string> probe_images(const Config& c) {
  if (!c.docker_probe_image.empty()) return {c.docker_probe_image};
  return {"pirus-base/busybox:1", "busybox:latest", "debian:bookworm-slim",
          "pirus-base/debian:bookworm"};
}

// Whether the engine sees the data directory where job mounts will say it is. OK also when
// there is nothing to check with and no mapping that could be wrong (with a warning);
// kUnavailable while the engine cannot be reached; any other error is a refusal.
asio::awaitable<Status> check_data_dir(DockerManager& manager, const Config& config) {
  std::string probe_dir = config.tmp_dir();
  std::vector<std::string> images = probe_images(config);
  std::string user = std::to_string(::geteuid()) + ":" + std::to_string(::getegid());
  Status probed = co_await manager.probe_host_data_dir(std::move(probe_dir), std::move(images),
                                                       std::move(user));
  if (probed) {
    spdlog::info("the engine sees the data directory at {}", config.host_data_dir);
  } else if (probed.code() == Code::kNotFound && config.docker_probe_image.empty() &&
             config.host_data_dir == config.data_dir) {
    spdlog::warn("data directory not checked ({}); set docker.probe_image to check it",
                 probed.message());
    probed = Status::ok();
  }
  co_return probed;
}

// Logs go to stderr (stdout stays free for what a command prints, --print-config) and, with
// server.log_file, to a file rotated by size, so a long-running server's log stays bounded.
Status set_up_logging(const Config& config) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!config.log_file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          config.log_file, static_cast<std::size_t>(config.log_file_size),
          static_cast<std::size_t>(config.log_file_count)));
    } catch (const spdlog::spdlog_ex& e) {
      return Status::invalid("server.log_file: cannot write " + config.log_file + ": " + e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("pirus", sinks.begin(), sinks.end());
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  // Every line at info and above is in the file when it is logged (operators tail it, tests
  // read it); debug and trace lines are flushed with them.
  spdlog::flush_on(spdlog::level::info);
  return Status::ok();
}

}  // namespace

int run_server(const Config& config) {
  if (Status st = set_up_logging(config); !st) {
    std::fprintf(stderr, "pirus: %s\n", st.message().c_str());
    return 2;
  }
  if (Status st = prepare_data_dir(config); !st) {
    spdlog::error("{}", st.message());
    return 1;
  }
  auto store =
      open_store(config.effective_database_url(), {static_cast<int>(config.database_pool_size)});
  if (!store) {
    spdlog::error("cannot open the database: {}", store.status().message());
    return 1;
  }
  auto instance = instance_id(**store);
  if (!instance) {
    spdlog::error("cannot read the server identity: {}", instance.status().message());
    return 1;
  }

  asio::io_context io(1);
  asio::thread_pool workers(2);
  EventBus events;
  DockerConfig dcfg;
  dcfg.socket_path = config.docker_socket;
  dcfg.instance_id = *instance;
  dcfg.log_limit_bytes = config.job_log_bytes;
  dcfg.data_dir = config.data_dir;
  dcfg.host_data_dir = config.host_data_dir;
  DockerManager manager(io.get_executor(), dcfg);
  // The data-directory check runs before the API listens when the engine answers: a refusal
  // then comes before any request is accepted, and start-up recovery follows listen() as
  // closely as ever. With the engine down, it runs once the engine is back (below).
  bool data_dir_checked = false;
  {
    Status probed = Status::unavailable("not checked");
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { probed = co_await check_data_dir(manager, config); },
        asio::detached);
    io.run();
    io.restart();
    if (probed) {
      data_dir_checked = true;
    } else if (probed.code() != Code::kUnavailable) {
      spdlog::error("refusing to start: {}", probed.message());
      return 1;
    }
  }
  CoreContext ctx{config,  **store, manager,   io.get_executor(),
                  workers, events,  *instance, resolve_job_user(config.job_user)};
  PipelineService pipelines(ctx);
  FileService files(ctx);
  JobService jobs(ctx, pipelines);
  DatabaseService databases(ctx, pipelines);

  http::ServerLimits limits;
  limits.max_file_body = std::max(config.max_upload_bytes, config.max_package_bytes);
  limits.temp_dir = config.tmp_dir();
  http::Server server(io, limits);
  JobLogWatcher job_logs(io.get_executor(), events, config.jobs_dir());
  api::EventLimits event_limits;
  event_limits.queue_events = static_cast<std::size_t>(config.event_queue_events);
  event_limits.queue_bytes = static_cast<std::size_t>(config.event_queue_bytes);
  event_limits.heartbeat = std::chrono::seconds(config.event_heartbeat_seconds);
  api::EventHub hub(io.get_executor(), events, &job_logs, event_limits);
  UploadService uploads(ctx);
  api::register_rest_api(server, {ctx, pipelines, files, jobs, databases, &uploads, &hub});
  if (Status st = server.listen(config.listen_address, config.listen_port); !st) {
    spdlog::error("{}", st.message());
    return 1;
  }
  uploads.start_sweeper();
  ctx.notify_base_url = notify_base_url(config, server.port());
  spdlog::info("{}{}:{} (data {}, database {}, jobs run as {})", kListeningBanner,
               config.listen_address, server.port(), config.data_dir,
               redacted_database_url(config.effective_database_url()), ctx.job_user);
  if (config.host_data_dir != config.data_dir) {
    spdlog::info("bind mounts for jobs: {} here is {} on the engine's host", config.data_dir,
                 config.host_data_dir);
  }

  bool stopping = false;
  int exit_code = 0;
  asio::steady_timer retry(io);
  std::function<void()> stop;
  // Connect to the engine (retrying while it is down), check that it sees the data directory
  // where job mounts say it is, then reconcile and schedule.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int attempt = 0; !stopping; ++attempt) {
          Status st = co_await manager.start(&jobs);
          if (st) break;
          if (attempt == 0) spdlog::error("{}; retrying every 5 s", st.message());
          retry.expires_after(std::chrono::seconds(5));
          boost::system::error_code ec;
          co_await retry.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        for (int attempt = 0; !stopping && !data_dir_checked; ++attempt) {
          Status probed = co_await check_data_dir(manager, config);
          if (probed) break;
          if (probed.code() != Code::kUnavailable) {
            spdlog::error("refusing to start: {}", probed.message());
            exit_code = 1;
            stop();
            co_return;
          }
          if (attempt == 0) spdlog::error("{}; retrying every 5 s", probed.message());
          retry.expires_after(std::chrono::seconds(5));
          boost::system::error_code ec;
          co_await retry.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (stopping) co_return;
        pipelines.resume_interrupted_builds();
        co_await jobs.recover();
      },
      asio::detached);

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down (running jobs keep running)", sig);
    stop();
  });
  stop = [&]() {
    if (stopping) return;
    stopping = true;
    signals.cancel();
    retry.cancel();
    server.stop();
    jobs.stop();
    uploads.stop();
    // Let coroutines that are writing job state finish, for at most 20 s.
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer t(io);
          auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
          // Event clients get their goodbye (close frame, SSE close event) for up to 2 s.
          auto clients_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
          while ((jobs.busy() > 0 && std::chrono::steady_clock::now() < deadline) ||
                 (hub.client_count() > 0 && std::chrono::steady_clock::now() < clients_deadline)) {
            t.expires_after(std::chrono::milliseconds(50));
            boost::system::error_code wait_ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
          }
          manager.shutdown();
          job_logs.shutdown();
          io.stop();
        },
        asio::detached);
  };

  io.run();
  workers.join();
  spdlog::info("pirus server stopped");
  return exit_code;
}

}  // namespace pirus
