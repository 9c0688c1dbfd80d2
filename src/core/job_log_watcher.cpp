#include "core/job_log_watcher.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/workspace.hpp"

namespace pirus {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::int64_t kMaxReadPerDrain = 1 << 20;
constexpr std::size_t kMaxLine = 16 * 1024;
constexpr std::size_t kMaxEventBytes = 64 * 1024;

bool is_final_status(std::string_view s) {
  return s == "done" || s == "error" || s == "canceled" || s == "deleted";
}

std::int64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : 0;
}

}  // namespace

std::string sanitize_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are invalid too.
    if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
               (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) {
      ok = false;
    }
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

JobLogWatcher::JobLogWatcher(asio::any_io_executor ex, EventBus& bus, std::string jobs_dir)
    : fd_(ex), bus_(bus), jobs_dir_(std::move(jobs_dir)) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("inotify unavailable: job_log events will not be published");
  } else {
    fd_.assign(fd);
    read_events();
  }
  bus_token_ = bus_.subscribe([this, ex](const Event& e) {
    if (e.kind != "job_updated" || jobs_.count(e.id) == 0) return;
    const auto* status = e.data.if_contains("status");
    const bool final = status != nullptr && status->is_string() &&
                       is_final_status(std::string_view(status->get_string()));
    // Not inline: publishing from inside a publication would reorder events.
    asio::post(ex, [this, id = e.id, final] {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) return;
      ensure_watch(id, it->second);  // the logs directory appears when the job starts
      drain(id, it->second.out, "stdout", final);
      drain(id, it->second.err, "stderr", final);
    });
  });
}

JobLogWatcher::~JobLogWatcher() {
  shutdown();
}

void JobLogWatcher::shutdown() {
  if (bus_token_ != 0) bus_.unsubscribe(bus_token_);
  bus_token_ = 0;
  boost::system::error_code ec;
  if (fd_.is_open()) fd_.close(ec);
}

void JobLogWatcher::acquire(Id job_id) {
  Followed& f = jobs_[job_id];
  if (f.refs++ > 0) return;
  WorkspacePaths ws = workspace_paths(jobs_dir_, job_id);
  f.out.path = ws.stdout_log;
  f.err.path = ws.stderr_log;
  f.out.offset = file_size(f.out.path);
  f.err.offset = file_size(f.err.path);
  ensure_watch(job_id, f);
}

void JobLogWatcher::release(Id job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || --it->second.refs > 0) return;
  if (it->second.wd >= 0) {
    // One watch per directory: another job never shares it, so it can go.
    if (fd_.is_open()) inotify_rm_watch(fd_.native_handle(), it->second.wd);
    by_wd_.erase(it->second.wd);
  }
  jobs_.erase(it);
}

void JobLogWatcher::ensure_watch(Id job_id, Followed& f) {
  if (f.wd >= 0 || !fd_.is_open()) return;
  std::string dir = workspace_paths(jobs_dir_, job_id).logs;
  int wd = inotify_add_watch(fd_.native_handle(), dir.c_str(), IN_MODIFY | IN_CREATE);
  if (wd < 0) return;  // not created yet: retried when the job changes status
  f.wd = wd;
  by_wd_[wd] = job_id;
}

void JobLogWatcher::read_events() {
  fd_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, std::size_t n) {
    if (ec) return;  // closed at shutdown
    std::map<Id, std::pair<bool, bool>> dirty;
    std::size_t off = 0;
    while (off + sizeof(inotify_event) <= n) {
      auto* ev = reinterpret_cast<inotify_event*>(buf_ + off);
      off += sizeof(inotify_event) + ev->len;
      if (ev->len == 0) continue;
      auto job = by_wd_.find(ev->wd);
      if (job == by_wd_.end()) continue;
      std::string_view name(ev->name);
      if (name == "stdout.log") dirty[job->second].first = true;
      if (name == "stderr.log") dirty[job->second].second = true;
    }
    for (const auto& [id, which] : dirty) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;
      if (which.first) drain(id, it->second.out, "stdout", false);
      if (which.second) drain(id, it->second.err, "stderr", false);
    }
    read_events();
  });
}

void JobLogWatcher::drain(Id job_id, Stream& s, const char* name, bool final) {
  std::int64_t skipped = 0;
  std::string data;
  int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    const std::int64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::int64_t>(st.st_size) : 0;
    // Smaller than what was published: the manager is rewriting the file with the same
    // content (after a broken engine stream); what it rewrites was published already.
    if (size > s.offset) {
      if (size - s.offset > kMaxReadPerDrain) {
        skipped = size - kMaxReadPerDrain - s.offset;
        s.offset = size - kMaxReadPerDrain;
        skipped += static_cast<std::int64_t>(s.partial.size());
        s.partial.clear();
      }
      data.resize(static_cast<std::size_t>(size - s.offset));
      ssize_t got = ::pread(fd, data.data(), data.size(), s.offset);
      data.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
      s.offset += static_cast<std::int64_t>(data.size());
      if (skipped > 0) {  // resume at a line boundary
        auto nl = data.find('\n');
        std::size_t drop = nl == std::string::npos ? data.size() : nl + 1;
        skipped += static_cast<std::int64_t>(drop);
        data.erase(0, drop);
      }
    }
    ::close(fd);
  }
  std::int64_t line_offset = s.offset - static_cast<std::int64_t>(data.size()) -
                             static_cast<std::int64_t>(s.partial.size());
  std::string text = std::move(s.partial);
  s.partial.clear();
  text += data;

  json::array lines;
  std::size_t batch_bytes = 0;
  std::int64_t batch_offset = line_offset;
  auto flush = [&] {
    if (lines.empty() && skipped == 0) return;
    Event e;
    e.kind = "job_log";
    e.id = job_id;
    e.data["id"] = job_id;
    e.data["stream"] = name;
    e.data["offset"] = batch_offset;
    e.data["lines"] = std::move(lines);
    e.data["skipped_bytes"] = skipped;
    lines = json::array();
    skipped = 0;
    batch_bytes = 0;
    bus_.publish(std::move(e));
  };
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = text.find('\n', start);
    std::size_t end = nl;
    if (nl == std::string::npos) {
      if (text.size() - start < kMaxLine && !(final && start < text.size())) break;
      if (start >= text.size()) break;
      end = std::min(text.size(), start + kMaxLine);
    } else if (nl - start > kMaxLine) {
      end = start + kMaxLine;
    }
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (batch_bytes > 0 && batch_bytes + line.size() > kMaxEventBytes) {
      flush();
      batch_offset = line_offset + static_cast<std::int64_t>(start);
    }
    if (lines.empty()) batch_offset = line_offset + static_cast<std::int64_t>(start);
    lines.emplace_back(sanitize_utf8(line));
    batch_bytes += line.size() + 8;
    start = (end == nl) ? nl + 1 : end;
  }
  flush();
  s.partial = text.substr(start);
}

}  // namespace pirus
