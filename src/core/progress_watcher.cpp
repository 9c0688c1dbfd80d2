#include "core/progress_watcher.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace pirus {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
constexpr std::size_t kMaxLabel = 200;
constexpr std::int64_t kMaxReadPerDrain = 1 << 20;  // a runaway file is skipped, not slurped
}  // namespace

std::optional<ProgressUpdate> parse_progress_line(const std::string& line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  ProgressUpdate u;
  if (const auto* p = o.if_contains("progress"); p != nullptr && p->is_number()) {
    double d = p->to_number<double>();
    if (std::isfinite(d)) u.progress = std::clamp(d, 0.0, 1.0);
  }
  if (const auto* l = o.if_contains("label"); l != nullptr && l->is_string()) {
    std::string s(l->get_string());
    if (s.size() > kMaxLabel) s.resize(kMaxLabel);
    for (char& c : s) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    u.label = s;
  }
  if (!u.progress && !u.label) return std::nullopt;
  return u;
}

ProgressWatcher::ProgressWatcher(asio::any_io_executor ex, Sink sink)
    : fd_(ex), flush_(ex), sink_(std::move(sink)) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("inotify unavailable: job progress files will not be followed");
    return;
  }
  fd_.assign(fd);
  read_events();
}

ProgressWatcher::~ProgressWatcher() {
  shutdown();
}

void ProgressWatcher::shutdown() {
  boost::system::error_code ec;
  flush_.cancel();
  if (fd_.is_open()) fd_.close(ec);
}

void ProgressWatcher::watch(Id job_id, const std::string& progress_path) {
  if (!fd_.is_open() || jobs_.count(job_id) != 0) return;
  Watched w;
  w.path = progress_path;
  std::string dir = std::filesystem::path(progress_path).parent_path().string();
  // The directory, not the file: the file may not exist yet, and a job may recreate it.
  w.wd = inotify_add_watch(fd_.native_handle(), dir.c_str(),
                           IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO);
  if (w.wd < 0) {
    spdlog::warn("job {}: cannot follow {}: {}", job_id, progress_path, std::strerror(errno));
    return;
  }
  by_wd_[w.wd] = job_id;
  auto& slot = jobs_[job_id] = std::move(w);
  drain(job_id, slot);
}

void ProgressWatcher::unwatch(Id job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  drain(job_id, it->second);
  if (fd_.is_open()) inotify_rm_watch(fd_.native_handle(), it->second.wd);
  by_wd_.erase(it->second.wd);
  dirty_.erase(job_id);
  jobs_.erase(it);
}

void ProgressWatcher::read_events() {
  fd_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, std::size_t n) {
    if (ec) return;  // closed at shutdown
    std::size_t off = 0;
    while (off + sizeof(inotify_event) <= n) {
      auto* ev = reinterpret_cast<inotify_event*>(buf_ + off);
      off += sizeof(inotify_event) + ev->len;
      if (ev->len == 0) continue;
      auto job = by_wd_.find(ev->wd);
      if (job == by_wd_.end()) continue;
      auto w = jobs_.find(job->second);
      if (w == jobs_.end()) continue;
      if (std::filesystem::path(w->second.path).filename() == ev->name) {
        dirty_.insert(job->second);
      }
    }
    schedule_flush();
    read_events();
  });
}

void ProgressWatcher::schedule_flush() {
  if (flush_pending_ || dirty_.empty()) return;
  flush_pending_ = true;
  flush_.expires_after(std::chrono::milliseconds(250));
  flush_.async_wait([this](boost::system::error_code ec) {
    flush_pending_ = false;
    if (ec) return;
    std::set<Id> dirty;
    dirty.swap(dirty_);
    for (Id id : dirty) {
      auto it = jobs_.find(id);
      if (it != jobs_.end()) drain(id, it->second);
    }
  });
}

void ProgressWatcher::drain(Id job_id, Watched& w) {
  std::ifstream in(w.path, std::ios::binary);
  if (!in) return;
  in.seekg(0, std::ios::end);
  std::int64_t size = in.tellg();
  if (size < w.offset) {  // truncated or replaced: start again
    w.offset = 0;
    w.partial.clear();
  }
  if (size - w.offset > kMaxReadPerDrain) {
    w.offset = size - kMaxReadPerDrain;
    w.partial.clear();
  }
  in.seekg(w.offset);
  std::string data(static_cast<std::size_t>(size - w.offset), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  w.offset += static_cast<std::int64_t>(data.size());
  std::string text = w.partial + data;
  auto last_nl = text.find_last_of('\n');
  if (last_nl == std::string::npos) {
    w.partial = text.size() > 4096 ? "" : text;
    return;
  }
  w.partial = text.substr(last_nl + 1);
  // Only the newest valid line matters, but a line may carry only a label or only a
  // progress: merge from oldest to newest.
  ProgressUpdate merged;
  std::size_t start = 0;
  while (start <= last_nl) {
    std::size_t end = text.find('\n', start);
    auto u = parse_progress_line(text.substr(start, end - start));
    if (u) {
      if (u->progress) merged.progress = u->progress;
      if (u->label) merged.label = u->label;
    }
    start = end + 1;
  }
  if (merged.progress || merged.label) sink_(job_id, merged);
}

}  // namespace pirus
