#include "managers/docker/docker_manager.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/fs_util.hpp"
#include "managers/docker/docker_client.hpp"
#include "managers/docker/host_paths.hpp"
#include "managers/docker/log_demuxer.hpp"
#include "managers/docker/log_entries.hpp"
#include "managers/docker/stats_math.hpp"
#include "managers/log_cap.hpp"

namespace pirus {
namespace docker {

namespace json = boost::json;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

// After a die, how long the job's log stream may take to drain before the job is reported
// anyway: logs are normally complete within milliseconds of the exit.
constexpr milliseconds kLogDrainGrace = 5s;
// After the log stream ended without a die event (one lost while dockerd restarted), how often
// the container is inspected until it is seen stopped.
constexpr milliseconds kExitRecheck = 10s;
constexpr milliseconds kFirstBackoff = 100ms;
constexpr milliseconds kMaxBackoff = 5s;
// Timestamped, so that LogEntries can tell a repeated entry from a new one.
constexpr const char* kFollowLogsQuery = "/logs?follow=1&stdout=1&stderr=1&timestamps=1";

}  // namespace

struct Watched {
  Id job_id = 0;
  std::string cid;
  std::string stdout_path;
  std::string stderr_path;
  // Where this manager's output starts in each file: a re-read after a broken log stream
  // cuts the files back to here. 0 for watch(), which rewrites the files whole.
  std::optional<std::pair<off_t, off_t>> log_base;
  bool logs_done = false;
  bool die_seen = false;
  std::optional<ExitInfo> exit;  // known once the die has been inspected
  // What of the engine's timestamped record the files hold since log_base: a repeat or a
  // catch-up read passes on only what is new.
  LogEntries entries;
  // What the files keep of each stream since log_base (limits.job_log_size).
  LogCap cap_out;
  LogCap cap_err;
  bool finished = false;   // being reported, or forgotten: nothing more to watch
  bool forgotten = false;  // by kill_and_remove or shutdown: never reported
  std::shared_ptr<EngineStream> log_stream;
};

struct ManagerState {
  ManagerState(asio::any_io_executor e, DockerConfig c)
      : ex(std::move(e)),
        cfg(std::move(c)),
        client(ex, cfg.socket_path, cfg.api_version),
        paths(cfg.data_dir, cfg.host_data_dir) {}

  asio::any_io_executor ex;
  DockerConfig cfg;
  DockerClient client;
  HostPathMap paths;
  JobObserver* observer = nullptr;
  bool started = false;
  bool stopped = false;
  std::shared_ptr<EngineStream> events;
  std::map<std::string, std::shared_ptr<Watched>> watched;  // by full container id
  std::set<asio::steady_timer*> sleepers;                   // cancelled by shutdown()
  // The newest event seen, in ns since the epoch: a reconnected event stream resumes here.
  std::int64_t last_event_ns = 0;
};

namespace {

using StatePtr = std::shared_ptr<ManagerState>;
using WatchedPtr = std::shared_ptr<Watched>;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

void log_exception(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("docker: background task failed: {}", ex.what());
  }
}

template <typename Awaitable>
void spawn(const StatePtr& st, Awaitable&& a) {
  asio::co_spawn(st->ex, std::forward<Awaitable>(a), log_exception);
}

struct SleeperGuard {
  ManagerState& st;
  asio::steady_timer& timer;
  ~SleeperGuard() { st.sleepers.erase(&timer); }
};

// Returns early when the manager stops.
asio::awaitable<void> sleep_for(StatePtr st, milliseconds d) {
  if (st->stopped) co_return;
  asio::steady_timer timer(st->ex, d);
  st->sleepers.insert(&timer);
  SleeperGuard guard{*st, timer};
  co_await timer.async_wait(kAwait);
}

// ---- JSON helpers: the engine's documents are read defensively, absent means default. ----

const json::value* jget(const json::value* v, std::string_view key) {
  if (v == nullptr || !v->is_object()) return nullptr;
  return v->as_object().if_contains(key);
}

std::string jstr(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t jint(const json::value* v, std::int64_t def = 0) {
  if (v == nullptr) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return def;
}

bool jbool(const json::value* v) {
  return v != nullptr && v->is_bool() && v->get_bool();
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return out;
}

Result<json::value> parse_json(const std::string& body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Status::internal("the engine sent malformed JSON for " + std::string(what));
  return v;
}

// Image references carry '/' and ':' that the engine's router expects verbatim in the path.
std::string path_encode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '/' || c == ':' || c == '@') {
      out.push_back(c);
    } else {
      out += url_encode(std::string_view(&c, 1));
    }
  }
  return out;
}

std::string label_filter(const ManagerState& st) {
  json::object f;
  f["label"] = json::array{json::string("pirus.instance=" + st.cfg.instance_id)};
  return url_encode(json::serialize(f));
}

// ---- Engine calls shared by several operations. ----

// Requests are built here, as named objects, never as braced temporaries inside a co_await
// expression: GCC 12 destroys such temporaries twice (a double free seen in testing).
asio::awaitable<Result<EngineResponse>> call(StatePtr st, http::verb method, std::string target,
                                             std::string json_body) {
  EngineRequest req;
  req.method = method;
  req.target = std::move(target);
  if (!json_body.empty()) {
    req.body = std::move(json_body);
    req.content_type = "application/json";
  }
  co_return co_await st->client.call(std::move(req));
}

asio::awaitable<Result<std::shared_ptr<EngineStream>>> open_get_stream(StatePtr st,
                                                                       std::string target) {
  EngineRequest req;
  req.method = http::verb::get;
  req.target = std::move(target);
  co_return co_await st->client.open_stream(std::move(req));
}

asio::awaitable<Result<json::value>> inspect(StatePtr st, std::string cid) {
  auto r = co_await call(st, http::verb::get, "/containers/" + cid + "/json", "");
  if (!r.is_ok()) co_return r.status();
  if (!r->ok()) co_return status_from_engine(r->status, r->body);
  co_return parse_json(r->body, "container " + cid);
}

ExitInfo exit_from_inspect(const json::value& doc) {
  const json::value* state = jget(&doc, "State");
  ExitInfo e;
  e.exit_code = static_cast<int>(jint(jget(state, "ExitCode"), -1));
  e.oom_killed = jbool(jget(state, "OOMKilled"));
  e.engine_error = jstr(jget(state, "Error"));
  return e;
}

std::string state_of(const json::value& doc) {
  return jstr(jget(jget(&doc, "State"), "Status"));
}

bool is_stopped_state(std::string_view s) {
  return s == "exited" || s == "dead";
}

asio::awaitable<Status> delete_container(StatePtr st, std::string cid, bool force) {
  const std::string target = "/containers/" + cid + (force ? "?force=1&v=1" : "?v=1");
  auto r = co_await call(st, http::verb::delete_, target, "");
  if (!r.is_ok()) co_return r.status();
  if (r->ok() || r->status == 404) co_return Status::ok();
  // Two removals racing (ours and an AutoRemove, or a retried cancel): the container goes.
  if (r->status == 409 &&
      engine_message(r->body).find("already in progress") != std::string::npos) {
    co_return Status::ok();
  }
  co_return status_from_engine(r->status, r->body).with_context("removing container " + cid);
}

// ---- Log files. ----

class LogFiles {
 public:
  LogFiles() = default;
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;
  ~LogFiles() {
    if (out_ >= 0) ::close(out_);
    if (err_ >= 0) ::close(err_);
  }

  // Opens both files for appending, first cutting them back to `base` when given (and
  // zeroing the counts of what they hold); otherwise records their current sizes into `base`.
  Status open_session(Watched& w, std::int64_t log_limit) {
    auto& base = w.log_base;
    PIRUS_RETURN_IF_ERROR(open_one(w.stdout_path, out_, base ? &base->first : nullptr));
    PIRUS_RETURN_IF_ERROR(open_one(w.stderr_path, err_, base ? &base->second : nullptr));
    if (!base) base.emplace(size_of(out_), size_of(err_));
    w.entries = LogEntries{};
    w.cap_out = LogCap(log_limit);
    w.cap_err = LogCap(log_limit);
    return Status::ok();
  }

  // Opens both files for appending after what they hold.
  Status open_append(const Watched& w) {
    PIRUS_RETURN_IF_ERROR(open_one(w.stdout_path, out_, nullptr));
    return open_one(w.stderr_path, err_, nullptr);
  }

  // Unbuffered: each piece is in the file (and visible to readers) when this returns. Past
  // the cap, data is only counted.
  void write(Watched& w, LogStream s, std::string_view data) {
    const bool out = s == LogStream::kStdout;
    LogCap& cap = out ? w.cap_out : w.cap_err;
    const LogCap::Admitted admitted = cap.admit(data);
    const int fd = out ? out_ : err_;
    write_all(fd, admitted.keep);
    if (admitted.reached_now) write_all(fd, cap.provisional_marker());
  }

 private:
  void write_all(int fd, std::string_view data) {
    while (fd >= 0 && !data.empty()) {
      const ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!write_failed_) spdlog::error("docker: cannot write a job log: {}", strerror(errno));
        write_failed_ = true;
        return;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  static off_t size_of(int fd) {
    struct stat sb {};
    return fd >= 0 && ::fstat(fd, &sb) == 0 ? sb.st_size : 0;
  }

  static Status open_one(const std::string& path, int& fd, const off_t* cut_to) {
    if (path.empty()) return Status::ok();  // the caller does not want this stream
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Status::internal("cannot open " + path + ": " + strerror(errno));
    if (cut_to != nullptr && ::ftruncate(fd, *cut_to) != 0) {
      return Status::internal("cannot truncate " + path + ": " + strerror(errno));
    }
    return Status::ok();
  }

  int out_ = -1;
  int err_ = -1;
  bool write_failed_ = false;
};

// Appends whatever the engine's record holds beyond what the follow stream delivered.
// Engine 20.10 can end a follow stream before the last entry when that entry is a line
// without a newline, flushed only as the container's logger closes; by the time the die is
// seen the logger is closed and the record complete.
asio::awaitable<Status> catch_up_logs(StatePtr st, WatchedPtr w) {
  // A capped stream keeps nothing more, so re-reading it (possibly gigabytes) is pointless.
  const bool want_out = !w->cap_out.capped();
  const bool want_err = !w->cap_err.capped();
  if (!want_out && !want_err) co_return Status::ok();
  LogFiles files;
  if (Status s = files.open_append(*w); !s.is_ok()) co_return s;
  const std::string target = "/containers/" + w->cid + "/logs?stdout=" + (want_out ? "1" : "0") +
                             "&stderr=" + (want_err ? "1" : "0") + "&timestamps=1";
  auto opened = co_await open_get_stream(st, target);
  if (!opened.is_ok()) co_return opened.status();
  auto stream = *opened;
  w->entries.begin_replay();
  std::int64_t appended = 0;
  const LogEntries::Out append = [&](LogStream s, std::string_view d) {
    appended += static_cast<std::int64_t>(d.size());
    files.write(*w, s, d);
  };
  LogDemuxer demux;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    auto n = co_await stream->read_some(buf.data(), buf.size());
    if (!n.is_ok()) co_return n.status();
    if (*n == 0) break;
    if (st->stopped || w->forgotten) co_return Status::ok();
    demux.feed({buf.data(), *n}, [&](const LogPiece& p) { w->entries.feed(p, append); });
  }
  if (appended > 0) {
    spdlog::debug("docker: job {}: {} log bytes recovered after the follow stream ended", w->job_id,
                  appended);
  }
  co_return Status::ok();
}

// Replaces the provisional marker of a capped log by the final one, which says how much
// was dropped (known only now that the stream has ended).
void finish_capped_log(const std::string& path, off_t base, const LogCap& cap, Id job_id) {
  if (path.empty() || !cap.capped()) return;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  const off_t at = base + static_cast<off_t>(cap.kept());
  const std::string marker = cap.final_marker();
  if (::ftruncate(fd, at) != 0 ||
      ::pwrite(fd, marker.data(), marker.size(), at) != static_cast<ssize_t>(marker.size())) {
    spdlog::warn("docker: job {}: cannot finish the truncated log {}: {}", job_id, path,
                 strerror(errno));
  }
  ::close(fd);
}

// ---- Completion: a job is reported once both its die and its log EOF were seen. ----

asio::awaitable<void> report(StatePtr st, WatchedPtr w) {
  const Status caught_up = co_await catch_up_logs(st, w);
  if (!caught_up.is_ok() && !st->stopped && !w->forgotten) {
    spdlog::warn("docker: job {}: cannot check its logs are complete: {}", w->job_id,
                 caught_up.message());
  }
  if (st->stopped || w->forgotten) co_return;
  if (w->log_base) {
    finish_capped_log(w->stdout_path, w->log_base->first, w->cap_out, w->job_id);
    finish_capped_log(w->stderr_path, w->log_base->second, w->cap_err, w->job_id);
  }
  if (auto it = st->watched.find(w->cid); it != st->watched.end() && it->second == w) {
    st->watched.erase(it);
  }
  w->forgotten = true;  // reported: exactly once
  const ExitInfo info = w->exit.value_or(ExitInfo{});
  if (st->observer != nullptr) st->observer->on_job_exited(w->job_id, info);
}

// Stops watching and reports; the job stays registered until reported so that a
// kill_and_remove in between still suppresses the callback.
void complete(const StatePtr& st, const WatchedPtr& w) {
  if (w->finished || st->stopped) return;
  w->finished = true;
  if (w->log_stream) w->log_stream->close();
  spawn(st, report(st, w));
}

asio::awaitable<void> complete_after_grace(StatePtr st, WatchedPtr w) {
  co_await sleep_for(st, kLogDrainGrace);
  if (st->stopped || w->finished) co_return;
  spdlog::warn(
      "docker: logs of job {} (container {}) did not end {} ms after it exited; "
      "reporting the exit anyway",
      w->job_id, w->cid.substr(0, 12), kLogDrainGrace.count());
  complete(st, w);
}

void on_exit_known(const StatePtr& st, const WatchedPtr& w, ExitInfo info) {
  if (w->finished || st->stopped) return;
  w->exit = std::move(info);
  if (w->logs_done) {
    complete(st, w);
  } else {
    spawn(st, complete_after_grace(st, w));
  }
}

asio::awaitable<void> finish_die(StatePtr st, WatchedPtr w, int event_exit_code) {
  // The die event carries the exit code but not whether the kernel OOM-killed the job.
  auto doc = co_await inspect(st, w->cid);
  if (st->stopped || w->finished) co_return;
  ExitInfo info;
  info.exit_code = event_exit_code;
  if (doc.is_ok()) {
    ExitInfo inspected = exit_from_inspect(*doc);
    info.oom_killed = inspected.oom_killed;
    info.engine_error = inspected.engine_error;
    if (info.exit_code < 0) info.exit_code = inspected.exit_code;
  }
  on_exit_known(st, w, std::move(info));
}

// Called when the die may have been missed (events down, or the die came before the
// container was registered): inspects once and completes if the container has stopped.
// Returns false while it still runs.
asio::awaitable<bool> check_stopped(StatePtr st, WatchedPtr w) {
  auto doc = co_await inspect(st, w->cid);
  if (st->stopped || w->finished || w->die_seen) co_return true;
  if (!doc.is_ok()) {
    if (doc.status().code() != Code::kNotFound) co_return false;  // engine down: ask later
    w->die_seen = true;
    ExitInfo gone;
    gone.engine_error = "container " + w->cid.substr(0, 12) + " disappeared";
    on_exit_known(st, w, std::move(gone));
    co_return true;
  }
  if (!is_stopped_state(state_of(*doc))) co_return false;
  w->die_seen = true;
  on_exit_known(st, w, exit_from_inspect(*doc));
  co_return true;
}

// co_await appears only as a statement or as the initializer of a variable in these
// coroutines: GCC 12 miscompiles `if (co_await ...)` inside a loop (the frame is resumed at a
// bogus suspension point; reproduced with a 20-line program).
asio::awaitable<void> recheck_until_stopped(StatePtr st, WatchedPtr w) {
  bool stopped = false;
  while (!stopped) {
    co_await sleep_for(st, kExitRecheck);
    if (st->stopped || w->finished || w->die_seen) break;
    const bool seen = co_await check_stopped(st, w);
    stopped = seen;
  }
}

void on_logs_done(const StatePtr& st, const WatchedPtr& w) {
  w->logs_done = true;
  if (w->exit) {
    complete(st, w);
  } else if (!w->die_seen) {
    // Follow-mode logs end when the container stops, so its die is due any moment; if the
    // event was lost, the recheck finds the container stopped.
    spawn(st, recheck_until_stopped(st, w));
  }
}

// ---- Log streaming. ----

asio::awaitable<void> log_loop(StatePtr st, WatchedPtr w) {
  std::vector<char> buf(64 * 1024);
  milliseconds backoff = kFirstBackoff;
  for (;;) {
    if (st->stopped || w->finished) co_return;
    LogFiles files;
    if (Status s = files.open_session(*w, st->cfg.log_limit_bytes); !s.is_ok()) {
      // Nothing can be recorded, but the job's completion must still be reported.
      spdlog::error("docker: job {}: {}", w->job_id, s.message());
      break;
    }
    auto opened = co_await open_get_stream(st, "/containers/" + w->cid + kFollowLogsQuery);
    if (st->stopped || w->finished) {
      if (opened.is_ok()) (*opened)->close();
      co_return;
    }
    if (!opened.is_ok()) {
      if (opened.status().code() == Code::kNotFound) break;  // removed: no more output
      spdlog::warn("docker: cannot stream the logs of job {}: {}", w->job_id,
                   opened.status().message());
      co_await sleep_for(st, backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    auto stream = *opened;
    w->log_stream = stream;
    const LogEntries::Out write = [&](LogStream s, std::string_view d) { files.write(*w, s, d); };
    LogDemuxer demux;
    Status end;
    for (;;) {
      auto n = co_await stream->read_some(buf.data(), buf.size());
      if (!n.is_ok()) {
        end = n.status();
        break;
      }
      if (*n == 0) break;
      if (st->stopped || w->finished) co_return;
      demux.feed({buf.data(), *n}, [&](const LogPiece& p) { w->entries.feed(p, write); });
    }
    if (w->log_stream == stream) w->log_stream.reset();
    if (st->stopped || w->finished) co_return;
    if (end.is_ok()) break;
    // The connection broke (dockerd restarting). The json-file log keeps everything, so the
    // next attempt reads it all again over what this manager wrote: nothing lost or doubled.
    spdlog::warn("docker: log stream of job {} broke ({}); re-reading it", w->job_id,
                 end.message());
    co_await sleep_for(st, backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  if (st->stopped || w->finished) co_return;
  on_logs_done(st, w);
}

// ---- The event stream. ----

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

asio::awaitable<Result<std::shared_ptr<EngineStream>>> open_events(StatePtr st) {
  json::object f;
  f["type"] = json::array{"container"};
  f["event"] = json::array{"die"};
  f["label"] = json::array{json::string("pirus.instance=" + st->cfg.instance_id)};
  std::string target = "/events?filters=" + url_encode(json::serialize(f));
  if (st->last_event_ns > 0) {
    char since[48];
    std::snprintf(since, sizeof since, "%lld.%09lld",
                  static_cast<long long>(st->last_event_ns / 1000000000),
                  static_cast<long long>(st->last_event_ns % 1000000000));
    target += "&since=";
    target += since;
  }
  co_return co_await open_get_stream(st, target);
}

void handle_event(const StatePtr& st, std::string_view line) {
  boost::system::error_code ec;
  json::value ev = json::parse(line, ec);
  if (ec || !ev.is_object()) {
    spdlog::warn("docker: ignoring an unreadable event: {}", line);
    return;
  }
  st->last_event_ns = std::max(st->last_event_ns, jint(jget(&ev, "timeNano")));
  if (jstr(jget(&ev, "Action")) != "die") return;
  const json::value* actor = jget(&ev, "Actor");
  std::string cid = jstr(jget(actor, "ID"));
  if (cid.empty()) cid = jstr(jget(&ev, "id"));
  auto it = st->watched.find(cid);
  // Unknown: not ours to report (killed by kill_and_remove, or not watched since a restart).
  if (it == st->watched.end()) return;
  WatchedPtr w = it->second;
  if (w->die_seen || w->finished) return;  // a replay after reconnecting
  w->die_seen = true;
  const auto code = parse_int(jstr(jget(jget(actor, "Attributes"), "exitCode")));
  spawn(st, finish_die(st, w, code ? static_cast<int>(*code) : -1));
}

// Reads events until the stream ends or breaks.
asio::awaitable<void> pump_events(StatePtr st, std::shared_ptr<EngineStream> stream) {
  std::string pending;
  std::vector<char> buf(16 * 1024);
  for (;;) {
    auto n = co_await stream->read_some(buf.data(), buf.size());
    if (st->stopped) co_return;
    if (!n.is_ok()) {
      spdlog::warn("docker: event stream: {}", n.status().message());
      co_return;
    }
    if (*n == 0) co_return;
    pending.append(buf.data(), *n);
    std::size_t pos;
    while ((pos = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, pos);
      pending.erase(0, pos + 1);
      if (line.find_first_not_of(" \r\t") != std::string::npos) handle_event(st, line);
      if (st->stopped) co_return;
    }
  }
}

// After a reconnection: a die may have happened while no stream was open, and a restarted
// dockerd does not replay events from before its restart.
asio::awaitable<void> resync(StatePtr st) {
  std::vector<WatchedPtr> all;
  for (const auto& [cid, w] : st->watched) all.push_back(w);
  for (const WatchedPtr& w : all) {
    if (st->stopped) co_return;
    if (w->finished || w->die_seen) continue;
    co_await check_stopped(st, w);
  }
}

asio::awaitable<void> events_loop(StatePtr st, std::shared_ptr<EngineStream> stream) {
  while (!st->stopped) {
    co_await pump_events(st, stream);
    stream->close();
    if (st->stopped) co_return;
    spdlog::warn("docker: lost the event stream of {}; reconnecting", st->cfg.socket_path);
    milliseconds backoff = kFirstBackoff;
    for (;;) {
      co_await sleep_for(st, backoff);
      if (st->stopped) co_return;
      backoff = std::min(backoff * 2, kMaxBackoff);
      auto r = co_await open_events(st);
      if (st->stopped) {
        if (r.is_ok()) (*r)->close();
        co_return;
      }
      if (r.is_ok()) {
        stream = *r;
        st->events = stream;
        break;
      }
    }
    spdlog::info("docker: event stream of {} reconnected", st->cfg.socket_path);
    spawn(st, resync(st));
  }
}

// ---- Build output. ----

class BuildOutput {
 public:
  explicit BuildOutput(const std::function<void(std::string_view)>& on_log) : on_log_(on_log) {}

  void feed(std::string_view data) {
    pending_.append(data);
    std::size_t pos;
    while ((pos = pending_.find('\n')) != std::string::npos) {
      const std::string line = pending_.substr(0, pos);
      pending_.erase(0, pos + 1);
      handle(line);
    }
  }

  void finish() {
    if (!pending_.empty()) handle(pending_);
    pending_.clear();
    if (!text_.empty()) emit(text_);
    text_.clear();
  }

  const std::optional<std::string>& error() const { return error_; }

 private:
  void handle(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;
    boost::system::error_code ec;
    json::value msg = json::parse(line, ec);
    if (ec || !msg.is_object()) {
      emit(line);
      return;
    }
    if (const json::value* s = jget(&msg, "stream"); s != nullptr && s->is_string()) {
      // A "stream" piece is raw output: it may hold several lines or end mid-line.
      text_.append(s->get_string());
      std::size_t pos;
      while ((pos = text_.find('\n')) != std::string::npos) {
        emit(std::string_view(text_).substr(0, pos));
        text_.erase(0, pos + 1);
      }
    }
    if (const json::value* s = jget(&msg, "status"); s != nullptr && s->is_string()) {
      std::string text(s->get_string());
      if (std::string progress = jstr(jget(&msg, "progress")); !progress.empty()) {
        text += " " + progress;
      }
      emit(text);
    }
    if (const json::value* e = jget(&msg, "error"); e != nullptr) {
      std::string text = jstr(e);
      if (text.empty()) text = jstr(jget(jget(&msg, "errorDetail"), "message"));
      if (text.empty()) text = "the build failed";
      if (!text_.empty()) emit(text_);
      text_.clear();
      emit(text);
      error_ = text;
    }
  }

  void emit(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (on_log_) on_log_(line);
  }

  const std::function<void(std::string_view)>& on_log_;
  std::string pending_;
  std::string text_;
  std::optional<std::string> error_;
};

bool valid_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

ContainerState map_state(std::string_view s) {
  if (s == "running" || s == "restarting") return ContainerState::kRunning;
  if (s == "paused") return ContainerState::kPaused;
  if (s == "created") return ContainerState::kCreated;
  if (s == "exited" || s == "dead") return ContainerState::kExited;
  return ContainerState::kMissing;  // "removing"
}

Status simple_result(const Result<EngineResponse>& r, const std::string& context) {
  if (!r.is_ok()) return r.status().with_context(context);
  if (r->ok()) return Status::ok();
  return status_from_engine(r->status, r->body).with_context(context);
}

// Pause and unpause answer 409 for "not running" but 500 for "not paused": both are the
// container's state, not an engine failure.
Status state_change_result(const Result<EngineResponse>& r, const std::string& context) {
  if (r.is_ok() && r->status == 500) {
    const std::string msg = engine_message(r->body);
    if (msg.find("is not paused") != std::string::npos ||
        msg.find("is not running") != std::string::npos ||
        msg.find("is already paused") != std::string::npos) {
      return Status::conflict(msg).with_context(context);
    }
  }
  return simple_result(r, context);
}

}  // namespace
}  // namespace docker

using docker::ManagerState;
using docker::Watched;
using docker::WatchedPtr;

DockerManager::DockerManager(asio::any_io_executor ex, DockerConfig cfg)
    : st_(std::make_shared<ManagerState>(std::move(ex), std::move(cfg))) {}

DockerManager::~DockerManager() {
  shutdown();
}

ManagerFeatures DockerManager::features() const {
  ManagerFeatures f;
  f.pause = true;
  f.stats = true;
  f.dockerfile_build = true;
  f.network_none = true;
  f.recovery = true;
  return f;
}

std::string DockerManager::container_name(const std::string& instance_id, Id job_id) {
  std::string prefix = instance_id.substr(0, 8);
  for (char& c : prefix) {
    if (!docker::valid_name_char(c)) c = '-';
  }
  return "pirus-" + prefix + "-job-" + std::to_string(job_id);
}

asio::awaitable<Status> DockerManager::ping() {
  auto st = st_;
  auto ping = co_await docker::call(st, docker::http::verb::get, "/_ping", "");
  if (!ping.is_ok()) co_return ping.status();
  if (!ping->ok()) {
    co_return Status::unavailable("dockerd at " + st->cfg.socket_path + " answered /_ping with " +
                                  std::to_string(ping->status));
  }
  co_return Status::ok();
}

asio::awaitable<Status> DockerManager::start(JobObserver* observer) {
  auto st = st_;
  if (st->started) co_return Status::conflict("the docker manager is already started");
  if (st->stopped) co_return Status::conflict("the docker manager was shut down");
  auto ping = co_await docker::call(st, docker::http::verb::get, "/_ping", "");
  if (!ping.is_ok()) co_return ping.status();
  if (!ping->ok()) {
    co_return Status::unavailable("dockerd at " + st->cfg.socket_path + " answered /_ping with " +
                                  std::to_string(ping->status) + ": " +
                                  docker::engine_message(ping->body));
  }
  // A later reconnection resumes from here at the latest (1 s earlier for clock rounding):
  // a job that dies before the first event still has its die replayed.
  st->last_event_ns = docker::now_ns() - 1'000'000'000;
  auto events = co_await docker::open_events(st);
  if (!events.is_ok()) {
    co_return Status::unavailable("cannot watch the events of dockerd at " + st->cfg.socket_path +
                                  ": " + events.status().message());
  }
  if (st->stopped) {
    (*events)->close();
    co_return Status::conflict("the docker manager was shut down");
  }
  st->observer = observer;
  st->started = true;
  st->events = *events;
  docker::spawn(st, docker::events_loop(st, *events));
  co_return Status::ok();
}

void DockerManager::shutdown() {
  auto& st = *st_;
  if (st.stopped) return;
  st.stopped = true;
  st.observer = nullptr;
  if (st.events) st.events->close();
  for (auto& [cid, w] : st.watched) {
    w->finished = true;
    w->forgotten = true;
    if (w->log_stream) w->log_stream->close();
  }
  st.watched.clear();
  for (asio::steady_timer* t : st.sleepers) t->cancel();
}

namespace {

// dockerd's classic builder resolves cached layers by id while it builds; when another build
// or an image removal (pruning untagged parents) deletes such a layer meanwhile, the build
// fails with one of these, although nothing is wrong with the package. Building again
// rebuilds the missing layer.
bool is_layer_cache_race(const Status& st) {
  const std::string& m = st.message();
  return m.find("failed to get digest") != std::string::npos ||
         m.find("No such image") != std::string::npos ||
         m.find("layer does not exist") != std::string::npos;
}

asio::awaitable<Result<std::string>> build_once(std::shared_ptr<docker::ManagerState> st,
                                                const BuildRequest& request) {
  const std::string context = "building image " + request.image_name;
  if (request.image_name.empty()) co_return Status::invalid(context + ": no image name");
  if (::access(request.context_tar_path.c_str(), R_OK) != 0) {
    co_return Status::invalid(context + ": cannot read the build context " +
                              request.context_tar_path + ": " + strerror(errno));
  }
  docker::json::object labels;
  labels["pirus.instance"] = st->cfg.instance_id;
  labels["pirus.pipeline"] = std::to_string(request.pipeline_id);
  // dockerd runs without its default bridge, so "default" only works where an admin set one
  // up; it is what allow_network asks for all the same.
  const std::string target =
      "/build?t=" + docker::url_encode(request.image_name) +
      "&rm=1&forcerm=1&networkmode=" + (request.allow_network ? "default" : "none") +
      "&labels=" + docker::url_encode(docker::json::serialize(labels));
  docker::EngineRequest req;
  req.method = docker::http::verb::post;
  req.target = target;
  req.content_type = "application/x-tar";
  req.body_file = request.context_tar_path;
  auto opened = co_await st->client.open_stream(std::move(req));
  if (!opened.is_ok()) {
    if (opened.status().code() == Code::kUnavailable) co_return opened.status();
    co_return Status::invalid(context + ": " + opened.status().message());
  }
  auto stream = *opened;
  docker::BuildOutput output(request.on_log);
  std::vector<char> buf(16 * 1024);
  Status end;
  for (;;) {
    auto n = co_await stream->read_some(buf.data(), buf.size());
    if (!n.is_ok()) {
      end = n.status();
      break;
    }
    if (*n == 0) break;
    output.feed({buf.data(), *n});
  }
  stream->close();
  output.finish();
  if (output.error()) co_return Status::invalid(context + ": " + *output.error());
  if (!end.is_ok()) co_return end.with_context(context);
  co_return request.image_name;
}

}  // namespace

asio::awaitable<Result<std::string>> DockerManager::build_image(BuildRequest request) {
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    Result<std::string> built = co_await build_once(st_, request);
    if (built.is_ok() || attempt == kAttempts || !is_layer_cache_race(built.status())) {
      co_return built;
    }
    if (request.on_log) {
      request.on_log(
          "[pirus] the engine lost a cached layer during the build (a concurrent "
          "build or image removal); building again\n");
    }
  }
}

asio::awaitable<Status> DockerManager::remove_image(std::string image) {
  auto st = st_;
  auto r = co_await docker::call(st, docker::http::verb::delete_,
                                 "/images/" + docker::path_encode(image) + "?force=1", "");
  if (r.is_ok() && r->status == 404) co_return Status::ok();
  co_return docker::simple_result(r, "removing image " + image);
}

asio::awaitable<Result<std::string>> DockerManager::launch(JobLaunch l) {
  namespace json = docker::json;
  auto st = st_;
  const std::string context = "launching job " + std::to_string(l.job_id);
  if (l.image.empty()) co_return Status::invalid(context + ": no image");

  json::object hc;
  json::array binds;
  for (const Mount& m : l.mounts) {
    const std::string source = st->paths.to_host(m.host_path);
    // Binds are "host:container:mode": a ':' inside a path would be misread.
    if (source.empty() || source[0] != '/' || m.container_path.empty() ||
        m.container_path[0] != '/' || source.find(':') != std::string::npos ||
        m.container_path.find(':') != std::string::npos) {
      co_return Status::invalid(context + ": mount paths must be absolute and free of ':' (" +
                                source + " -> " + m.container_path + ")");
    }
    binds.emplace_back(
        json::string(source + ":" + m.container_path + (m.read_only ? ":ro" : ":rw")));
  }
  hc["Binds"] = std::move(binds);
  hc["NetworkMode"] = l.network.empty() ? std::string("none") : l.network;
  hc["CapDrop"] = json::array{"ALL"};
  hc["SecurityOpt"] = json::array{"no-new-privileges"};
  if (l.cpus > 0) hc["NanoCpus"] = static_cast<std::int64_t>(std::llround(l.cpus * 1e9));
  if (l.memory_bytes > 0) {
    hc["Memory"] = l.memory_bytes;
    hc["MemorySwap"] = l.memory_bytes;  // equal to Memory: no swap on top
  }
  if (l.pids > 0) hc["PidsLimit"] = l.pids;
  hc["ReadonlyRootfs"] = l.read_only_rootfs;
  if (l.read_only_rootfs) {
    hc["Tmpfs"] = json::object{{"/tmp", "rw,noexec,nosuid,size=268435456"}};
  }
  hc["Init"] = true;         // a real PID 1 reaps zombies and forwards signals
  hc["AutoRemove"] = false;  // the exit code and logs must outlive the process
  json::object log_options;
  if (st->cfg.log_limit_bytes > 0) {
    // The engine's own record is what a reconnect or a restart re-reads, so it must hold at
    // least what the files keep (more with JSON framing of short lines); beyond that it only
    // costs disk, so it rotates over two files.
    const std::int64_t engine_max = std::max<std::int64_t>(4 * st->cfg.log_limit_bytes, 32 << 20);
    log_options["max-size"] = std::to_string(engine_max);
    log_options["max-file"] = "2";
  }
  hc["LogConfig"] = json::object{{"Type", "json-file"}, {"Config", std::move(log_options)}};

  json::object body;
  body["Image"] = l.image;
  if (!l.command.empty()) {
    json::array cmd;
    for (const auto& a : l.command) cmd.emplace_back(json::string(a));
    body["Cmd"] = std::move(cmd);
  }
  json::array env;
  for (const auto& [k, v] : l.env) env.emplace_back(json::string(k + "=" + v));
  body["Env"] = std::move(env);
  if (!l.user.empty()) body["User"] = l.user;
  body["Labels"] = json::object{{"pirus.instance", st->cfg.instance_id},
                                {"pirus.job", std::to_string(l.job_id)}};
  body["AttachStdin"] = false;
  body["AttachStdout"] = false;
  body["AttachStderr"] = false;
  body["Tty"] = false;  // without a TTY the engine keeps stdout and stderr apart
  body["OpenStdin"] = false;
  body["HostConfig"] = std::move(hc);

  const std::string name = container_name(st->cfg.instance_id, l.job_id);
  auto created = co_await docker::call(st, docker::http::verb::post,
                                       "/containers/create?name=" + docker::url_encode(name),
                                       json::serialize(body));
  if (!created.is_ok()) co_return created.status().with_context(context);
  if (created->status == 404) {
    co_return Status::not_found(context + ": image '" + l.image + "' not found");
  }
  if (!created->ok()) {
    co_return docker::status_from_engine(created->status, created->body).with_context(context);
  }
  auto doc = docker::parse_json(created->body, "a created container");
  std::string cid = doc.is_ok() ? docker::jstr(docker::jget(&*doc, "Id")) : std::string();
  if (cid.empty()) co_return Status::internal(context + ": the engine returned no container id");

  // Registered before it starts, so that no die can come before the manager listens for it.
  auto w = std::make_shared<Watched>();
  w->job_id = l.job_id;
  w->cid = cid;
  w->stdout_path = l.stdout_path;
  w->stderr_path = l.stderr_path;
  st->watched[cid] = w;

  auto started =
      co_await docker::call(st, docker::http::verb::post, "/containers/" + cid + "/start", "");
  Status start_status;
  if (!started.is_ok()) {
    start_status = started.status().with_context(context);
  } else if (!started->ok() && started->status != 304) {  // 304: already started
    // The runtime's refusals (unknown user, unusable mount) come back as 500: they are about
    // the job's settings, not a broken engine.
    start_status = started->status == 500
                       ? Status::invalid(docker::engine_message(started->body))
                       : docker::status_from_engine(started->status, started->body);
    start_status = start_status.with_context(context + ": starting the container");
  }
  if (!start_status.is_ok()) {
    w->finished = true;
    w->forgotten = true;
    if (auto it = st->watched.find(cid); it != st->watched.end() && it->second == w) {
      st->watched.erase(it);
    }
    const Status rm = co_await docker::delete_container(st, cid, true);
    if (!rm.is_ok()) {
      spdlog::warn("docker: cannot remove container {} after a failed start: {}", cid.substr(0, 12),
                   rm.message());
    }
    co_return start_status;
  }
  if (!st->stopped) docker::spawn(st, docker::log_loop(st, w));
  co_return cid;
}

namespace docker {
namespace {

asio::awaitable<Result<std::string>> first_local_image(StatePtr st,
                                                       std::vector<std::string> images) {
  std::string tried;
  for (const auto& image : images) {
    if (image.empty()) continue;
    std::string target = "/images/" + path_encode(image) + "/json";
    auto r = co_await call(st, http::verb::get, std::move(target), "");
    if (!r.is_ok()) co_return r.status();
    if (r->ok()) co_return image;
    tried += (tried.empty() ? "" : ", ") + image;
  }
  co_return Status::not_found("none of these images exists locally: " +
                              (tried.empty() ? std::string("(none given)") : tried));
}

// Runs the probe container to its end and returns what it printed on stdout.
asio::awaitable<Result<std::string>> run_probe(StatePtr st, std::string name, std::string body) {
  std::string create_target = "/containers/create?name=" + url_encode(name);
  auto created = co_await call(st, http::verb::post, std::move(create_target), std::move(body));
  if (!created.is_ok()) co_return created.status();
  if (!created->ok()) co_return status_from_engine(created->status, created->body);
  auto doc = parse_json(created->body, "a created container");
  const std::string cid = doc.is_ok() ? jstr(jget(&*doc, "Id")) : std::string();
  if (cid.empty()) co_return Status::internal("the engine returned no container id");

  Result<std::string> out = std::string();
  std::string start_target = "/containers/" + cid + "/start";
  auto started = co_await call(st, http::verb::post, std::move(start_target), "");
  if (!started.is_ok()) {
    out = started.status();
  } else if (!started->ok()) {
    // A bind source missing on the engine's host is refused here (400 or 500).
    out = Status::invalid(engine_message(started->body));
  } else {
    std::string wait_target = "/containers/" + cid + "/wait";
    auto waited = co_await call(st, http::verb::post, std::move(wait_target), "");
    std::string logs_target = "/containers/" + cid + "/logs?stdout=1&stderr=1";
    auto logs = co_await call(st, http::verb::get, std::move(logs_target), "");
    if (!waited.is_ok()) {
      out = waited.status();
    } else if (!logs.is_ok()) {
      out = logs.status();
    } else if (!logs->ok()) {
      out = status_from_engine(logs->status, logs->body);
    } else {
      std::string stdout_text;
      std::string stderr_text;
      LogDemuxer demux;
      demux.feed(logs->body, [&](const LogPiece& p) {
        (p.stream == LogStream::kStdout ? stdout_text : stderr_text).append(p.data);
      });
      if (!stderr_text.empty() && stdout_text.empty()) {
        while (!stderr_text.empty() && stderr_text.back() == '\n') stderr_text.pop_back();
        out = Status::invalid(stderr_text);
      } else {
        out = std::move(stdout_text);
      }
    }
  }
  const Status removed = co_await delete_container(st, cid, true);
  if (!removed.is_ok()) {
    spdlog::warn("docker: cannot remove the probe container {}: {}", cid.substr(0, 12),
                 removed.message());
  }
  co_return out;
}

}  // namespace
}  // namespace docker

asio::awaitable<Status> DockerManager::probe_host_data_dir(std::string probe_dir,
                                                           std::vector<std::string> images,
                                                           std::string user) {
  namespace json = docker::json;
  auto st = st_;
  auto image = co_await docker::first_local_image(st, std::move(images));
  if (!image.is_ok()) {
    co_return image.status().with_context("checking that the engine sees the data directory");
  }
  const std::string token = random_hex(16);
  const std::string file = probe_dir + "/host-path-probe-" + token;
  const std::string host_file = st->paths.to_host(file);
  if (Status w = write_file_atomic(file, token + "\n", 0644); !w.is_ok()) co_return w;

  json::object mount{
      {"Type", "bind"}, {"Source", host_file}, {"Target", "/pirus-probe"}, {"ReadOnly", true}};
  json::object hc;
  hc["NetworkMode"] = "none";
  hc["Mounts"] = json::array{std::move(mount)};
  hc["CapDrop"] = json::array{"ALL"};
  hc["SecurityOpt"] = json::array{"no-new-privileges"};
  hc["AutoRemove"] = false;
  json::object body;
  body["Image"] = *image;
  body["Entrypoint"] = json::array{"cat"};
  body["Cmd"] = json::array{"/pirus-probe"};
  if (!user.empty()) body["User"] = user;
  // No pirus.instance label: this container is not a job and must not reach the job watcher.
  body["Labels"] = json::object{{"pirus.probe", st->cfg.instance_id}};
  body["HostConfig"] = std::move(hc);
  std::string name = "pirus-" + st->cfg.instance_id.substr(0, 8) + "-probe-" + token.substr(0, 8);
  std::string serialized = json::serialize(body);
  auto printed = co_await docker::run_probe(st, std::move(name), std::move(serialized));
  std::error_code ec;
  std::filesystem::remove(file, ec);

  if (printed.is_ok() && *printed == token + "\n") co_return Status::ok();
  if (!printed.is_ok() && printed.status().code() == Code::kUnavailable) {
    co_return printed.status();
  }
  const std::string seen =
      printed.is_ok()
          ? "found " + (printed->empty()
                            ? std::string("an empty file")
                            : "other content (" + std::to_string(printed->size()) + " bytes)")
          : "could not read it (" + printed.status().message() + ")";
  co_return Status::invalid(
      "the container engine does not see the data directory where Pirus expects it: the file " +
      file + " (server.data_dir = " + st->cfg.data_dir +
      ") should appear on the engine's host as " + host_file + " (server.host_data_dir = " +
      st->paths.to_host(st->cfg.data_dir) + "), but a container of image " + *image + " " + seen +
      ". Set server.host_data_dir to the host directory that is mounted at server.data_dir "
      "(docs/deployment.md, path mapping)");
}

asio::awaitable<Status> DockerManager::pause(std::string container_id) {
  auto st = st_;
  auto r = co_await docker::call(st, docker::http::verb::post,
                                 "/containers/" + container_id + "/pause", "");
  co_return docker::state_change_result(r, "pausing container " + container_id);
}

asio::awaitable<Status> DockerManager::resume(std::string container_id) {
  auto st = st_;
  auto r = co_await docker::call(st, docker::http::verb::post,
                                 "/containers/" + container_id + "/unpause", "");
  co_return docker::state_change_result(r, "resuming container " + container_id);
}

asio::awaitable<Status> DockerManager::kill_and_remove(std::string container_id) {
  auto st = st_;
  // Forgotten first: the die that the kill causes must not be reported.
  if (auto it = st->watched.find(container_id); it != st->watched.end()) {
    it->second->finished = true;
    it->second->forgotten = true;
    if (it->second->log_stream) it->second->log_stream->close();
    st->watched.erase(it);
  }
  co_return co_await docker::delete_container(st, container_id, true);
}

asio::awaitable<Status> DockerManager::remove(std::string container_id) {
  auto st = st_;
  co_return co_await docker::delete_container(st, container_id, false);
}

asio::awaitable<Result<JobStats>> DockerManager::stats(std::string container_id) {
  auto st = st_;
  // stream=false waits for a second sample so that precpu_stats is filled (about 1 s).
  auto r = co_await docker::call(st, docker::http::verb::get,
                                 "/containers/" + container_id + "/stats?stream=false", "");
  const std::string context = "stats of container " + container_id;
  if (!r.is_ok()) co_return r.status().with_context(context);
  if (!r->ok()) co_return docker::status_from_engine(r->status, r->body).with_context(context);
  auto s = docker::parse_stats(r->body);
  if (!s.is_ok()) co_return s.status().with_context(context);
  s->sampled_at = now_ms();
  co_return s;
}

asio::awaitable<Result<std::vector<JobContainer>>> DockerManager::list_jobs() {
  auto st = st_;
  auto r = co_await docker::call(st, docker::http::verb::get,
                                 "/containers/json?all=1&filters=" + docker::label_filter(*st), "");
  const std::string context = "listing containers";
  if (!r.is_ok()) co_return r.status().with_context(context);
  if (!r->ok()) co_return docker::status_from_engine(r->status, r->body).with_context(context);
  auto doc = docker::parse_json(r->body, "the container list");
  if (!doc.is_ok()) co_return doc.status();
  if (!doc->is_array()) co_return Status::internal("the container list is not an array");

  std::vector<JobContainer> jobs;
  for (const auto& c : doc->as_array()) {
    const auto job =
        docker::parse_int(docker::jstr(docker::jget(docker::jget(&c, "Labels"), "pirus.job")));
    if (!job) continue;  // labelled by hand, not by a launch
    JobContainer jc;
    jc.job_id = *job;
    jc.container_id = docker::jstr(docker::jget(&c, "Id"));
    jc.state = docker::map_state(docker::jstr(docker::jget(&c, "State")));
    if (jc.state == ContainerState::kExited) {
      auto ins = co_await docker::inspect(st, jc.container_id);
      if (ins.is_ok()) {
        jc.exit = docker::exit_from_inspect(*ins);
      } else if (ins.status().code() == Code::kNotFound) {
        jc.state = ContainerState::kMissing;  // removed since the list was taken
      } else {
        co_return ins.status().with_context(context);
      }
    }
    jobs.push_back(std::move(jc));
  }
  co_return jobs;
}

asio::awaitable<Status> DockerManager::watch(Id job_id, std::string container_id,
                                             std::string stdout_path, std::string stderr_path) {
  auto st = st_;
  if (st->stopped) co_return Status::conflict("the docker manager was shut down");
  if (st->watched.count(container_id) != 0) {
    co_return Status::conflict("container " + container_id + " is already watched");
  }
  // Registered before the inspection so that a die in between is caught by the event stream.
  auto w = std::make_shared<Watched>();
  w->job_id = job_id;
  w->cid = container_id;
  w->stdout_path = std::move(stdout_path);
  w->stderr_path = std::move(stderr_path);
  w->log_base.emplace(0, 0);  // rewritten whole from the engine's record
  st->watched[container_id] = w;

  auto doc = co_await docker::inspect(st, container_id);
  if (!doc.is_ok()) {
    w->finished = true;
    w->forgotten = true;
    if (auto it = st->watched.find(container_id); it != st->watched.end() && it->second == w) {
      st->watched.erase(it);
    }
    co_return doc.status().with_context("watching job " + std::to_string(job_id));
  }
  if (w->finished || st->stopped) co_return Status::ok();
  // Engine ids are what the event stream reports; accept a short id or a name from the caller.
  const std::string full_id = docker::jstr(docker::jget(&*doc, "Id"));
  if (!full_id.empty() && full_id != container_id) {
    if (st->watched.count(full_id) != 0) {
      st->watched.erase(container_id);
      co_return Status::conflict("container " + full_id + " is already watched");
    }
    st->watched.erase(container_id);
    w->cid = full_id;
    st->watched[full_id] = w;
  }
  if (!w->die_seen && docker::is_stopped_state(docker::state_of(*doc))) {
    w->die_seen = true;
    w->exit = docker::exit_from_inspect(*doc);
  }
  docker::spawn(st, docker::log_loop(st, w));
  co_return Status::ok();
}

}  // namespace pirus
