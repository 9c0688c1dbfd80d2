// GET /api/v1/jobs/{id}/logs/{stream}?follow=true (declared in event_routes.hpp).

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "api/event_routes.hpp"
#include "core/workspace.hpp"
#include "http/streaming.hpp"

namespace pirus::api {

namespace asio = boost::asio;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunk = 64 * 1024;
// Without a hub (or if a notification is missed) the file is looked at this often anyway.
constexpr auto kPoll = std::chrono::milliseconds(500);

// Closes a descriptor when the coroutine ends, however it ends.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

asio::awaitable<void> follow(CoreContext& ctx, EventHub* hub, Id job_id, std::string path,
                             http::StreamWriter& w) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer wake(ex);
  bool dirty = true;
  bool stopping = false;
  std::unique_ptr<JobWatch> watch;
  if (hub != nullptr) {
    watch = hub->watch_job(job_id, [&](const Event&) {
      dirty = true;
      wake.cancel();
    });
  }
  w.on_stop([&] {
    stopping = true;
    wake.cancel();
  });
  Fd file;
  std::int64_t offset = 0;
  std::vector<char> buf(kChunk);
  for (;;) {
    dirty = false;
    // The status is read before the file: once the job is final its logs are complete
    // (the manager reports an exit only after the last bytes are written), so the reads
    // below then see everything.
    auto job = ctx.store.get_job(job_id);
    const bool final = !job || is_terminal(job->status);
    if (file.fd < 0) file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    while (file.fd >= 0 && !stopping) {
      ssize_t got = ::pread(file.fd, buf.data(), buf.size(), offset);
      if (got <= 0) break;
      const bool sent =
          co_await w.write(std::string_view(buf.data(), static_cast<std::size_t>(got)));
      if (!sent) co_return;
      offset += got;
    }
    if (stopping) {
      w.close_now();  // not the end of the log: the client must not take it for one
      co_return;
    }
    if (final) co_return;
    if (!dirty) {
      wake.expires_after(kPoll);
      [[maybe_unused]] auto [ec] = co_await wake.async_wait(kNoThrow);
    }
  }
}

}  // namespace

http::Response follow_job_log(const Services& services, Id job_id, const std::string& stream) {
  WorkspacePaths ws = workspace_paths(services.ctx.config.jobs_dir(), job_id);
  std::string path = stream == "stderr" ? ws.stderr_log : ws.stdout_log;
  CoreContext* ctx = &services.ctx;
  EventHub* hub = services.hub;
  http::Response res;
  res.headers["Content-Type"] = "text/plain; charset=utf-8";
  res.stream = [ctx, hub, job_id, path](http::StreamWriter& w) {
    return follow(*ctx, hub, job_id, path, w);
  };
  return res;
}

}  // namespace pirus::api
