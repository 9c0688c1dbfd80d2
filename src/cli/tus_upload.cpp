#include "cli/tus_upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "cli/file_hash.hpp"
#include "common/sha256.hpp"

namespace pirus::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kTus = "Tus-Resumable: 1.0.0";
constexpr int kAttempts = 5;  // per chunk, for transport errors and checksum mismatches

struct LocalFile {
  std::string path;  // absolute
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
};

Result<LocalFile> inspect(const std::string& local_file) {
  struct stat st {};
  if (::stat(local_file.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::not_found("no such file: " + local_file);
    return Status::internal("cannot read " + local_file + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::invalid(local_file + " is not a regular file");
  std::error_code ec;
  LocalFile f;
  f.path = fs::absolute(local_file, ec).lexically_normal().string();
  if (ec) f.path = local_file;
  f.size = static_cast<std::int64_t>(st.st_size);
  f.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return f;
}

// The raw SHA-256 of bytes [offset, offset + length) of `path`, read in 1 MiB pieces.
Result<std::string> range_sha256(const std::string& path, std::int64_t offset,
                                 std::int64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::internal("cannot read " + path + ": " + std::strerror(errno));
  Sha256 sha;
  std::vector<char> buf(1 << 20);
  std::int64_t pos = offset;
  std::int64_t left = length;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::int64_t>(left, buf.size()));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::internal("cannot read " + path + ": it shrank or failed while uploading");
    }
    sha.update(buf.data(), static_cast<std::size_t>(n));
    pos += n;
    left -= n;
  }
  ::close(fd);
  return sha.digest();
}

std::string state_key(const std::string& server, const LocalFile& f) {
  return sha256_hex(server + "\n" + f.path + "\n" + std::to_string(f.size) + "\n" +
                    std::to_string(f.mtime_ns));
}

Status write_state(const std::string& path, const json::object& state) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Status::internal("cannot create " + fs::path(path).parent_path().string());
  ::chmod(fs::path(path).parent_path().c_str(), 0700);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::internal("cannot write " + tmp + ": " + std::strerror(errno));
  const std::string text = json::serialize(state) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::internal("cannot write " + path);
  }
  return Status::ok();
}

std::optional<json::object> read_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.get_object();
}

std::optional<std::int64_t> header_int(const HttpResult& r, const char* name) {
  auto it = r.headers.find(name);
  if (it == r.headers.end() || it->second.empty() ||
      it->second.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(it->second);
}

// The upload's current offset from HEAD; nullopt when the server no longer knows it.
Result<std::optional<std::int64_t>> server_offset(ApiClient& client, const std::string& location) {
  auto r = client.send("HEAD", location, {kTus});
  if (!r) return r.status();
  if (r->status == 404 || r->status == 410) return std::optional<std::int64_t>();
  if (r->status != 200) return status_from_http(*r);
  auto offset = header_int(*r, "upload-offset");
  if (!offset) return Status::internal("the server's HEAD answer has no Upload-Offset");
  return std::optional<std::int64_t>(*offset);
}

std::string file_route(const std::string& location) {
  return "/api/v1/files/" + location.substr(location.find_last_of('/') + 1);
}

}  // namespace

std::string upload_state_dir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && *xdg == '/') return std::string(xdg) + "/pirus/uploads";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/tmp") +
         "/.local/state/pirus/uploads";
}

Result<json::value> tus_upload(ApiClient& client, const std::string& local_file,
                               const TusUploadOptions& options) {
  auto file = inspect(local_file);
  if (!file) return file.status();
  const std::string state_path =
      upload_state_dir() + "/" + state_key(client.base_url(), *file) + ".json";

  std::string location;
  std::int64_t offset = 0;
  if (auto state = read_state(state_path)) {
    const auto* loc = state->if_contains("location");
    if (loc != nullptr && loc->is_string()) {
      auto known = server_offset(client, std::string(loc->get_string()));
      if (!known) return known.status();
      if (*known) {
        location = std::string(loc->get_string());
        offset = **known;
        if (options.resumed) options.resumed(offset);
      }
    }
    if (location.empty()) std::remove(state_path.c_str());  // expired or terminated
  }

  if (location.empty()) {
    const std::string name =
        options.name.empty() ? fs::path(file->path).filename().string() : options.name;
    std::string metadata = "filename " + base64_encode(name);
    if (options.whole_sha256) {
      auto digest = sha256_file(file->path);
      if (!digest) return digest.status();
      metadata += ",sha256 " + base64_encode(*digest);
    }
    if (options.companion_of) {
      metadata += ",companion_of " + base64_encode(std::to_string(*options.companion_of));
    }
    auto r = client.send(
        "POST", "/api/v1/uploads",
        {kTus, "Upload-Length: " + std::to_string(file->size), "Upload-Metadata: " + metadata});
    if (!r) return r.status();
    if (r->status != 201) return status_from_http(*r);
    auto it = r->headers.find("location");
    if (it == r->headers.end() || it->second.empty()) {
      return Status::internal("the server created the upload without a Location");
    }
    location = it->second;
    // An absolute URL is reduced to its path: the client talks to its own base URL.
    if (auto scheme = location.find("://"); scheme != std::string::npos) {
      auto slash = location.find('/', scheme + 3);
      location = slash == std::string::npos ? "/" : location.substr(slash);
    }
    json::object state{{"server", client.base_url()},
                       {"path", file->path},
                       {"size", file->size},
                       {"mtime_ns", file->mtime_ns},
                       {"location", location}};
    if (file->size > 0) {
      if (Status st = write_state(state_path, state); !st) return st;
    }
  }

  int failures = 0;
  while (offset < file->size) {
    if (options.progress) options.progress(offset, file->size);
    const std::int64_t length = std::min(options.chunk_bytes, file->size - offset);
    auto digest = range_sha256(file->path, offset, length);
    if (!digest) return digest.status();
    ApiClient::RangeBody body{file->path, offset, length, "application/offset+octet-stream"};
    std::function<void(std::int64_t, std::int64_t)> chunk_progress;
    if (options.progress) {
      const std::int64_t base = offset;
      const std::int64_t total = file->size;
      const auto& report = options.progress;
      chunk_progress = [base, total, &report](std::int64_t sent, std::int64_t) {
        report(base + sent, total);
      };
    }
    auto r = client.send("PATCH", location,
                         {kTus, "Upload-Offset: " + std::to_string(offset),
                          "Upload-Checksum: sha256 " + base64_encode(*digest)},
                         &body, chunk_progress);
    if (r && r->status == 204) {
      auto next = header_int(*r, "upload-offset");
      if (!next) return Status::internal("the server's PATCH answer has no Upload-Offset");
      offset = *next;
      failures = 0;
      continue;
    }
    // 409 (someone else moved the offset) and 460 (the chunk was damaged on the way) are
    // settled by asking the server where it stands and sending from there again.
    const bool transient = !r || r->status == 409 || r->status == 460 || r->status >= 500;
    if (!transient || ++failures >= kAttempts) {
      if (!r) return r.status();
      // Refused for good (a checksum of the whole file that does not match, say): a
      // later run must start over rather than resume this upload.
      if (!transient) std::remove(state_path.c_str());
      return status_from_http(*r);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * failures));
    auto known = server_offset(client, location);
    if (!known) return known.status();
    if (!*known) {
      std::remove(state_path.c_str());
      return Status::not_found(
          "the server no longer has this upload (expired or terminated); "
          "run the command again to start over");
    }
    offset = **known;
  }
  if (options.progress) options.progress(file->size, file->size);

  auto done = client.call("GET", file_route(location));
  if (!done) return done.status();
  std::remove(state_path.c_str());
  return done;
}

}  // namespace pirus::cli
