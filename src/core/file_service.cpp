#include "core/file_service.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/fs_util.hpp"
#include "common/sha256.hpp"
#include "core/offload.hpp"
#include "core/upload_service.hpp"
#include "core/workspace.hpp"

namespace pirus {

namespace asio = boost::asio;
namespace fs = std::filesystem;

std::string file_type_of(const std::string& name) {
  auto dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) return "";
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext.size() > 16 ? "" : ext;
}

asio::awaitable<Result<File>> FileService::import_upload(std::string temp_path, std::string name,
                                                         std::string given_sha256) {
  // GCC 12 miscompiles coroutines that modify a by-value parameter: work on a local copy.
  std::string expected_sha256 = given_sha256;
  std::transform(expected_sha256.begin(), expected_sha256.end(), expected_sha256.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!expected_sha256.empty() &&
      (expected_sha256.size() != 64 ||
       expected_sha256.find_first_not_of("0123456789abcdef") != std::string::npos)) {
    co_return Status::invalid("sha256 must be 64 hexadecimal characters");
  }
  auto hash = [temp_path]() { return sha256_file(temp_path); };
  auto sum = co_await offload(ctx_.workers, std::move(hash));
  if (!sum) co_return sum.status();
  if (!expected_sha256.empty() && *sum != expected_sha256) {
    co_return Status::invalid("checksum mismatch: expected sha256 " + expected_sha256 +
                              ", received " + *sum + "; the upload was discarded");
  }
  std::error_code ec;
  auto size = fs::file_size(temp_path, ec);
  if (ec) co_return Status::internal("cannot read the upload: " + ec.message());

  File f;
  f.name = safe_file_name(name);
  f.type = file_type_of(f.name);
  f.size = static_cast<std::int64_t>(size);
  f.upload_offset = f.size;
  f.sha256 = *sum;
  f.status = expected_sha256.empty() ? FileStatus::kUploaded : FileStatus::kChecked;
  // An index uploaded after its primary joins it (the same rule as resumable uploads).
  for (const auto& primary_name : companion_primary_names(f.name)) {
    auto primary = ctx_.store.find_complete_file_by_name(primary_name);
    if (primary && *primary) {
      f.companion_of = (*primary)->id;
      break;
    }
  }
  // The row needs a unique path before the id exists: reserve one, then move it in place.
  f.path = ctx_.config.files_dir() + "/.incoming-" + random_hex(8);
  auto created = ctx_.store.create_file(f);
  if (!created) co_return created.status();
  File file = *created;
  std::string dir = ctx_.config.files_dir() + "/" + std::to_string(file.id);
  std::string final_path = dir + "/" + file.name;
  fs::create_directories(dir, ec);
  if (!ec) fs::rename(temp_path, final_path, ec);
  if (ec) {
    (void)ctx_.store.delete_file(file.id);
    co_return Status::internal("cannot store the upload: " + ec.message());
  }
  // Jobs read inputs through hard links as an unprivileged user: the stored copy must be
  // world-readable (the data directory itself is not).
  ::chmod(final_path.c_str(), 0644);
  file.path = final_path;
  auto saved = ctx_.store.update_file(file);
  if (!saved) co_return saved.status();
  Event e;
  e.kind = "file_updated";
  e.id = file.id;
  e.data = {{"id", file.id}, {"status", std::string(to_string(saved->status))}};
  ctx_.events.publish(e);
  co_return *saved;
}

asio::awaitable<Status> FileService::remove(Id id) {
  auto f = ctx_.store.get_file(id);
  if (!f) co_return f.status();
  PIRUS_CO_RETURN_IF_ERROR(ctx_.store.delete_file(id));
  std::string path = f->path;
  std::string upload_dir = ctx_.config.files_dir() + "/" + std::to_string(id);
  auto erase = [path, upload_dir]() {
    std::error_code ec;
    fs::remove(path, ec);
    // Uploads own their directory; outputs live in their job's workspace.
    if (path.rfind(upload_dir + "/", 0) == 0) fs::remove_all(upload_dir, ec);
    return 0;
  };
  (void)co_await offload(ctx_.workers, std::move(erase));
  co_return Status::ok();
}

}  // namespace pirus
