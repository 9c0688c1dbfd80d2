#include "core/upload_service.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/fs_util.hpp"
#include "core/file_service.hpp"
#include "core/offload.hpp"

namespace pirus {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kPiece = 1 << 20;            // bytes per disk write (constant memory)
constexpr std::int64_t kEventIntervalMs = 250;     // at most 4 progress events a second
constexpr std::int64_t kPersistIntervalMs = 1000;  // offset saved while a long append runs

struct IndexRule {
  const char* suffix;
  const char* replaces;  // "x.bai" may also stand for "x.bam"; "" when it only appends
};
constexpr IndexRule kIndexRules[] = {
    {".bai", ".bam"}, {".crai", ".cram"}, {".tbi", ""}, {".csi", ""}, {".fai", ""},
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status write_all(int fd, const char* data, std::size_t size, std::int64_t pos) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::internal(std::string("cannot write the upload: ") + std::strerror(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    pos += n;
  }
  return Status::ok();
}

std::string upload_dir(const Config& c, Id id) {
  return c.files_dir() + "/" + std::to_string(id);
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::vector<std::string> companion_primary_names(const std::string& name) {
  std::vector<std::string> out;
  for (const auto& rule : kIndexRules) {
    if (!ends_with(name, rule.suffix)) continue;
    std::string stem = name.substr(0, name.size() - std::strlen(rule.suffix));
    if (*rule.replaces != '\0' && !ends_with(stem, rule.replaces)) {
      out.push_back(stem + rule.replaces);
    }
    out.push_back(stem);
  }
  return out;
}

struct UploadService::HashState {
  std::int64_t upto = 0;  // bytes hashed, from the start
  Sha256 sha;
};

// One piece being written and hashed by the pool; the appending coroutine waits on `timer`,
// which the last task to finish cancels (on the coroutine's executor, so no locks).
struct UploadService::PieceJob {
  explicit PieceJob(const asio::any_io_executor& executor) : timer(executor) {
    timer.expires_at(asio::steady_timer::time_point::max());
  }
  asio::steady_timer timer;
  int pending = 0;
  Status status;
};

void UploadService::start_piece(const std::shared_ptr<PieceJob>& job, int fd, const char* data,
                                std::size_t size, std::int64_t pos, HashState* whole,
                                Sha256* chunk) {
  const asio::any_io_executor back = job->timer.get_executor();
  auto finish = [job, back](Status st) {
    asio::post(back, [job, st]() {
      if (!st) job->status = st;
      if (--job->pending == 0) job->timer.cancel();
    });
  };
  job->pending = whole != nullptr ? 2 : 1;
  asio::post(ctx_.workers, [fd, data, size, pos, chunk, finish]() {
    Status st = write_all(fd, data, size, pos);
    if (st && chunk != nullptr) chunk->update(data, size);
    finish(st);
  });
  if (whole != nullptr) {
    asio::post(ctx_.workers, [data, size, whole, finish]() {
      whole->sha.update(data, size);
      finish(Status::ok());
    });
  }
}

UploadService::UploadService(CoreContext& ctx) : ctx_(ctx), alive_(std::make_shared<bool>(true)) {}

UploadService::~UploadService() {
  *alive_ = false;
}

Result<File> UploadService::get(Id id) {
  auto f = ctx_.store.get_file(id);
  if (!f) return f.status();
  if (f->status == FileStatus::kError) {
    return Status::not_found("upload " + std::to_string(id) + " failed: " + f->error_reason);
  }
  if (f->status == FileStatus::kUploading && f->expires_at > 0 && f->expires_at <= now_ms() &&
      busy_.count(id) == 0) {
    return Status::not_found("upload " + std::to_string(id) + " has expired");
  }
  if (f->status == FileStatus::kUploading && busy_.count(id) == 0) reconcile_offset(*f);
  return f;
}

// Offsets are saved without waiting for the disk (a flush per chunk would halve the
// throughput), so after a crash of the machine the file may hold fewer bytes than the saved
// offset. The client resumes from what is really there.
void UploadService::reconcile_offset(File& f) {
  struct stat sb {};
  if (::stat(f.path.c_str(), &sb) != 0 || sb.st_size >= f.upload_offset) return;
  spdlog::warn("uploads: {} holds {} bytes, not the {} recorded; resuming from there", f.path,
               static_cast<std::int64_t>(sb.st_size), f.upload_offset);
  if (ctx_.store.set_upload_offset(f.id, sb.st_size)) {
    f.upload_offset = sb.st_size;
    hashes_.erase(f.id);
  }
}

asio::awaitable<Result<File>> UploadService::create(NewUpload request) {
  const NewUpload req = request;
  if (req.length < 0) co_return Status::invalid("Upload-Length must not be negative");
  if (req.length > ctx_.config.max_upload_bytes) {
    co_return Status::too_large("the upload is larger than the server's limit of " +
                                std::to_string(ctx_.config.max_upload_bytes) + " bytes");
  }
  std::string expected = req.expected_sha256;
  std::transform(expected.begin(), expected.end(), expected.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!expected.empty() && !is_hex64(expected)) {
    co_return Status::invalid("sha256 must be 64 hexadecimal characters");
  }
  if (req.companion_of) {
    auto primary = ctx_.store.get_file(*req.companion_of);
    if (!primary) {
      co_return Status::invalid("companion_of: file " + std::to_string(*req.companion_of) +
                                " does not exist");
    }
    if (primary->status != FileStatus::kUploaded && primary->status != FileStatus::kChecked) {
      co_return Status::invalid("companion_of: file " + std::to_string(*req.companion_of) +
                                " is not complete");
    }
  }

  File f;
  f.name = safe_file_name(req.name.empty() ? std::string("upload") : req.name);
  f.type = file_type_of(f.name);
  f.size = req.length;
  f.status = FileStatus::kUploading;
  f.expected_sha256 = expected;
  f.companion_of = req.companion_of;
  f.expires_at = now_ms() + ctx_.config.upload_expiry_seconds * 1000;
  f.path = ctx_.config.files_dir() + "/.incoming-" + random_hex(8);
  auto created = ctx_.store.create_file(f);
  if (!created) co_return created.status();
  File file = *created;
  const std::string dir = upload_dir(ctx_.config, file.id);
  const std::string path = dir + "/" + file.name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  int fd = ec ? -1 : ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    spdlog::error("uploads: cannot create {}: {}", path, ec ? ec.message() : std::strerror(errno));
    (void)ctx_.store.delete_file(file.id);
    fs::remove_all(dir, ec);
    co_return Status::internal("the server cannot store the upload");
  }
  ::close(fd);
  file.path = path;
  auto saved = ctx_.store.update_file(file);
  if (!saved) co_return saved.status();
  hashes_[saved->id] = std::make_shared<HashState>();
  publish(*saved, true);
  if (saved->size == 0) co_return co_await complete(*saved);
  co_return *saved;
}

asio::awaitable<AppendResult> UploadService::append(AppendRequest request, ByteSource& source) {
  const AppendRequest req = request;
  AppendResult result;
  auto found = get(req.id);
  if (!found) {
    result.status = found.status();
    co_return result;
  }
  File file = *found;
  result.file = file;
  if (file.status != FileStatus::kUploading) {
    result.status = Status::conflict("upload " + std::to_string(file.id) + " is " +
                                     std::string(to_string(file.status)) + ", not in progress");
    co_return result;
  }
  if (busy_.count(file.id) != 0) {
    result.status =
        Status::conflict("another PATCH to upload " + std::to_string(file.id) + " is in progress");
    co_return result;
  }
  if (req.offset != file.upload_offset) {
    result.status = Status::conflict("Upload-Offset " + std::to_string(req.offset) +
                                     " does not match the upload's offset " +
                                     std::to_string(file.upload_offset));
    co_return result;
  }
  const std::int64_t remaining = file.size - file.upload_offset;
  if (req.content_length && *req.content_length > remaining) {
    result.status = Status::too_large("the body (" + std::to_string(*req.content_length) +
                                      " bytes) goes past the upload's length; " +
                                      std::to_string(remaining) + " bytes remain");
    co_return result;
  }
  const int fd = ::open(file.path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    spdlog::error("uploads: cannot open {}: {}", file.path, std::strerror(errno));
    result.status = Status::internal("the server cannot write the upload");
    co_return result;
  }
  busy_.insert(file.id);

  // The whole-file hash continues only when it covers exactly the bytes before this chunk.
  std::shared_ptr<HashState> hash;
  if (auto it = hashes_.find(file.id); it != hashes_.end() && it->second->upto == req.offset) {
    hash = std::make_shared<HashState>(*it->second);
  }
  const bool check_chunk = !req.chunk_sha256.empty();
  auto chunk_hash = std::make_shared<Sha256>();

  // Two buffers: the socket fills one while the pool writes and hashes the other, and the
  // write and the hash run on the two pool threads at once.
  std::vector<char> buffers[2] = {std::vector<char>(kPiece), std::vector<char>(kPiece)};
  int filling = 0;
  const auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<PieceJob> inflight;
  std::size_t inflight_size = 0;
  std::int64_t written = 0;
  Status failure;
  bool write_failed = false;
  bool broken = false;
  bool overflow = false;
  std::int64_t last_persist = now_ms();
  // Waits for the piece in flight and counts it.
  auto settle = [&]() -> asio::awaitable<void> {
    if (!inflight) co_return;
    while (inflight->pending > 0) {
      (void)co_await inflight->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!inflight->status) {
      spdlog::error("uploads: {}: {}", file.path, inflight->status.message());
      write_failed = true;
    } else {
      written += static_cast<std::int64_t>(inflight_size);
      if (hash) hash->upto += static_cast<std::int64_t>(inflight_size);
      if (!check_chunk) {
        File progress = file;
        progress.upload_offset = req.offset + written;
        publish(progress, false);
        if (now_ms() - last_persist >= kPersistIntervalMs) {
          last_persist = now_ms();
          (void)ctx_.store.set_upload_offset(file.id, progress.upload_offset);
        }
      }
    }
    inflight.reset();
    inflight_size = 0;
  };
  for (bool eof = false; !eof && !broken && !overflow && !write_failed;) {
    std::vector<char>& buffer = buffers[filling];
    std::size_t filled = 0;
    while (filled < buffer.size()) {
      // One byte more than what remains is enough to see a body that is too long.
      const std::int64_t ahead = written + static_cast<std::int64_t>(inflight_size + filled);
      const std::int64_t room = remaining - ahead + 1;
      const std::size_t want = std::min<std::size_t>(
          buffer.size() - filled, static_cast<std::size_t>(std::max<std::int64_t>(room, 1)));
      auto got = co_await source.read_some(buffer.data() + filled, want);
      if (!got) {
        broken = true;
        if (got.status().code() != Code::kUnavailable) failure = got.status();
        break;
      }
      if (*got == 0) {
        eof = true;
        break;
      }
      filled += *got;
      if (ahead + static_cast<std::int64_t>(*got) > remaining) {
        overflow = true;
        break;
      }
    }
    co_await settle();
    if (overflow || write_failed || filled == 0) break;
    inflight = std::make_shared<PieceJob>(executor);
    inflight_size = filled;
    start_piece(inflight, fd, buffer.data(), filled, req.offset + written, hash.get(),
                check_chunk ? chunk_hash.get() : nullptr);
    filling ^= 1;
  }
  co_await settle();
  if (write_failed && failure.is_ok()) {
    failure = Status::internal("the server cannot write the upload");
  }
  ::close(fd);
  busy_.erase(file.id);

  std::int64_t keep = written;
  if (overflow) {
    keep = 0;
    result.status = Status::too_large("the body goes past the upload's length; " +
                                      std::to_string(remaining) + " bytes remained");
  } else if (check_chunk && (broken || !failure.is_ok())) {
    keep = 0;  // an incomplete chunk cannot be verified
  } else if (check_chunk && chunk_hash->digest() != req.chunk_sha256) {
    keep = 0;
    result.checksum_mismatch = true;
    result.status =
        Status::invalid("Upload-Checksum does not match the body; the chunk was discarded");
  }
  if (keep != written) {
    if (::truncate(file.path.c_str(), static_cast<off_t>(req.offset + keep)) != 0) {
      spdlog::warn("uploads: cannot truncate {}: {}", file.path, std::strerror(errno));
    }
    hash.reset();
    if (auto it = hashes_.find(file.id); it != hashes_.end() && it->second->upto != req.offset) {
      hashes_.erase(it);
    }
  } else if (hash) {
    hashes_[file.id] = hash;
  } else {
    hashes_.erase(file.id);
  }

  // Another request may have terminated the upload meanwhile: re-read before writing.
  auto current = ctx_.store.get_file(file.id);
  if (!current) {
    if (result.status.is_ok()) result.status = Status::not_found("the upload was terminated");
    result.file.reset();
    co_return result;
  }
  file = *current;
  file.upload_offset = req.offset + keep;
  file.expires_at = now_ms() + ctx_.config.upload_expiry_seconds * 1000;
  auto saved = ctx_.store.update_file(file);
  if (!saved) {
    if (result.status.is_ok()) result.status = saved.status();
    co_return result;
  }
  file = *saved;
  result.file = file;
  if (!failure.is_ok() && result.status.is_ok()) result.status = failure;
  if (broken && result.status.is_ok()) result.status = Status::unavailable("the client went away");
  if (!result.status.is_ok()) {
    publish(file, true);
    co_return result;
  }
  if (file.upload_offset == file.size) {
    auto done = co_await complete(file);
    if (!done) {
      result.status = done.status();
      auto after = ctx_.store.get_file(file.id);
      if (after) result.file = *after;
      co_return result;
    }
    result.file = *done;
    co_return result;
  }
  publish(file, true);
  co_return result;
}

asio::awaitable<Result<File>> UploadService::complete(File done) {
  File file = done;
  std::string sum;
  if (auto it = hashes_.find(file.id); it != hashes_.end() && it->second->upto == file.size) {
    sum = it->second->sha.hex_digest();
  } else {
    // Bytes from before a restart (or after a discarded chunk): hash the file once.
    std::string path = file.path;
    auto hash = [path]() { return sha256_file(path); };
    auto computed = co_await offload(ctx_.workers, std::move(hash));
    if (!computed) co_return computed.status();
    sum = *computed;
  }
  hashes_.erase(file.id);
  last_event_ms_.erase(file.id);
  file.sha256 = sum;
  file.expires_at = 0;
  if (!file.expected_sha256.empty() && file.expected_sha256 != sum) {
    const std::string reason = "checksum mismatch: expected sha256 " + file.expected_sha256 +
                               ", received " + sum + "; the data was discarded";
    std::error_code ec;
    fs::remove(file.path, ec);
    file.status = FileStatus::kError;
    file.error_reason = reason;
    file.upload_offset = 0;
    auto saved = ctx_.store.update_file(file);
    if (saved) publish(*saved, true);
    co_return Status::invalid(reason);
  }
  // A complete upload is a promise: its bytes are on the disk before it becomes a File.
  {
    std::string path = file.path;
    auto flush = [path]() { return sync_file_data(path); };
    const Status synced = co_await offload(ctx_.workers, std::move(flush));
    if (!synced) {
      spdlog::error("uploads: {}", synced.message());
      co_return Status::internal("the server cannot store the upload");
    }
  }
  // Jobs read inputs through hard links as an unprivileged user: world-readable, like
  // every stored upload (the data directory itself is not).
  ::chmod(file.path.c_str(), 0644);
  file.status = file.expected_sha256.empty() ? FileStatus::kUploaded : FileStatus::kChecked;
  if (!file.companion_of) {
    for (const auto& primary_name : companion_primary_names(file.name)) {
      auto primary = ctx_.store.find_complete_file_by_name(primary_name);
      if (primary && *primary && (*primary)->id != file.id) {
        file.companion_of = (*primary)->id;
        break;
      }
    }
  }
  auto saved = ctx_.store.update_file(file);
  if (!saved) co_return saved.status();
  publish(*saved, true);
  co_return *saved;
}

asio::awaitable<Status> UploadService::terminate(Id id) {
  auto f = ctx_.store.get_file(id);
  if (!f) co_return f.status();
  if (busy_.count(id) != 0) {
    co_return Status::conflict("a PATCH to upload " + std::to_string(id) +
                               " is in progress; terminate it after that request ends");
  }
  PIRUS_CO_RETURN_IF_ERROR(ctx_.store.delete_file(id));
  hashes_.erase(id);
  last_event_ms_.erase(id);
  std::string path = f->path;
  std::string dir = upload_dir(ctx_.config, id);
  auto erase = [path, dir]() {
    std::error_code ec;
    fs::remove(path, ec);
    // Uploads own their directory; outputs live in their job's workspace.
    if (path.rfind(dir + "/", 0) == 0) fs::remove_all(dir, ec);
    return 0;
  };
  (void)co_await offload(ctx_.workers, std::move(erase));
  Event e;
  e.kind = "file_updated";
  e.id = id;
  e.data = {{"id", id}, {"status", "deleted"}};
  ctx_.events.publish(e);
  co_return Status::ok();
}

asio::awaitable<int> UploadService::sweep_expired() {
  int removed = 0;
  auto expired = ctx_.store.list_expired_uploads(now_ms(), 1000);
  if (!expired) {
    spdlog::warn("uploads: cannot list expired uploads: {}", expired.status().message());
    co_return 0;
  }
  for (const File& f : *expired) {
    if (busy_.count(f.id) != 0) continue;
    Status st = co_await terminate(f.id);
    if (st) {
      ++removed;
      spdlog::info("uploads: upload {} ({}) expired unfinished at {} of {} bytes; removed", f.id,
                   f.name, f.upload_offset, f.size);
    }
  }
  co_return removed;
}

void UploadService::start_sweeper() {
  asio::co_spawn(ctx_.loop, sweeper_loop(), asio::detached);
}

void UploadService::stop() {
  stopping_ = true;
  if (sweep_timer_ != nullptr) sweep_timer_->cancel();
}

asio::awaitable<void> UploadService::sweeper_loop() {
  std::shared_ptr<bool> alive = alive_;
  const std::int64_t half = ctx_.config.upload_expiry_seconds * 1000 / 2;
  const auto interval = std::chrono::milliseconds(std::clamp<std::int64_t>(half, 1000, 300000));
  asio::steady_timer timer(ctx_.loop);
  sweep_timer_ = &timer;
  while (*alive && !stopping_) {
    (void)co_await sweep_expired();
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!*alive) co_return;  // `this` is gone
    if (ec) break;
  }
  sweep_timer_ = nullptr;
}

void UploadService::publish(const File& file, bool force) {
  const std::int64_t now = now_ms();
  auto& last = last_event_ms_[file.id];
  if (!force && now - last < kEventIntervalMs) return;
  last = now;
  Event e;
  e.kind = "file_updated";
  e.id = file.id;
  e.data = {{"id", file.id},
            {"name", file.name},
            {"status", std::string(to_string(file.status))},
            {"upload_offset", file.upload_offset},
            {"size", file.size}};
  if (!file.error_reason.empty()) e.data["error_reason"] = file.error_reason;
  ctx_.events.publish(e);
}

}  // namespace pirus
