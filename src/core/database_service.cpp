#include "core/database_service.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/fs_util.hpp"
#include "core/offload.hpp"
#include "core/workspace.hpp"
#include "packages/package.hpp"

namespace pirus {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kMaxEntries = 1000000;

std::string errno_text(int err) {
  return std::strerror(err);
}

// Size, file count and modification time of one database directory (no links followed).
Result<ReferenceDatabase> measure(const std::string& dir, const std::string& name) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::not_found("no reference database named '" + name + "'");
  }
  ReferenceDatabase db;
  db.name = name;
  db.created_at = static_cast<TimeMs>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return Status::internal("cannot read " + dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status::internal("cannot read " + dir + ": " + ec.message());
    auto s = it->symlink_status(ec);
    if (ec || !fs::is_regular_file(s)) continue;
    db.file_count += 1;
    db.size_bytes += static_cast<std::int64_t>(it->file_size(ec));
  }
  return db;
}

// Copies `from` (a directory) into `to` (created), regular files and directories only,
// never following a link; files get 0644 (0755 when executable), directories 0755.
class TreeCopier {
 public:
  explicit TreeCopier(std::int64_t max_bytes) : max_bytes_(max_bytes) {}

  Status copy_dir(int from_fd, int to_parent, const std::string& name, const std::string& shown) {
    if (::mkdirat(to_parent, name.c_str(), 0755) != 0) {
      return Status::internal("creating " + shown + ": " + errno_text(errno));
    }
    ::fchmodat(to_parent, name.c_str(), 0755, 0);
    int to_fd = ::openat(to_parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (to_fd < 0) return Status::internal("opening " + shown + ": " + errno_text(errno));
    Fd to(to_fd);
    int dup = ::fcntl(from_fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return Status::internal("dup: " + errno_text(errno));
    DIR* d = ::fdopendir(dup);
    if (d == nullptr) {
      ::close(dup);
      return Status::internal("reading " + shown + ": " + errno_text(errno));
    }
    std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
    while (dirent* e = ::readdir(d)) {
      std::string entry = e->d_name;
      if (entry == "." || entry == "..") continue;
      if (++entries_ > kMaxEntries) {
        return Status::too_large("the directory has more than " + std::to_string(kMaxEntries) +
                                 " entries");
      }
      std::string entry_shown = shown + "/" + entry;
      struct stat st;
      if (::fstatat(from_fd, entry.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return Status::internal("reading " + entry_shown + ": " + errno_text(errno));
      }
      if (S_ISDIR(st.st_mode)) {
        int sub = ::openat(from_fd, entry.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) return Status::internal("opening " + entry_shown + ": " + errno_text(errno));
        Fd sub_fd(sub);
        PIRUS_RETURN_IF_ERROR(copy_dir(sub_fd.get(), to.get(), entry, entry_shown));
      } else if (S_ISREG(st.st_mode)) {
        PIRUS_RETURN_IF_ERROR(copy_file(from_fd, to.get(), entry, entry_shown, st.st_mode));
      } else {
        return Status::invalid("'" + entry_shown + "' is " +
                               (S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file") +
                               "; reference databases hold regular files and directories only");
      }
    }
    return Status::ok();
  }

 private:
  class Fd {
   public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
      if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

   private:
    int fd_;
  };

  Status copy_file(int from_dir, int to_dir, const std::string& name, const std::string& shown,
                   mode_t mode) {
    int in = ::openat(from_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return Status::internal("opening " + shown + ": " + errno_text(errno));
    Fd in_fd(in);
    int out =
        ::openat(to_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) return Status::internal("creating a copy of " + shown + ": " + errno_text(errno));
    Fd out_fd(out);
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t n = ::read(in, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::internal("reading " + shown + ": " + errno_text(errno));
      }
      if (n == 0) break;
      total_ += n;
      if (total_ > max_bytes_) {
        return Status::too_large("the directory holds more than " + std::to_string(max_bytes_) +
                                 " bytes (limits.max_database_size)");
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(out, buf.data() + off, static_cast<std::size_t>(n - off));
        if (w < 0) {
          if (errno == EINTR) continue;
          return Status::internal("writing a copy of " + shown + ": " + errno_text(errno));
        }
        off += w;
      }
    }
    ::fchmod(out, (mode & 0111) ? 0755 : 0644);
    return Status::ok();
  }

  std::int64_t max_bytes_;
  std::int64_t entries_ = 0;
  std::int64_t total_ = 0;
};

// Copies `source` into a hidden temporary directory next to `dest`, then renames it in.
Status copy_tree_into_place(const std::string& source, const std::string& dest,
                            std::int64_t max_bytes) {
  fs::path d(dest);
  std::string parent = d.parent_path().string();
  std::string tmp_name = "." + d.filename().string() + ".partial-" + random_hex(6);
  int src = ::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (src < 0) {
    return Status::invalid("cannot open the directory '" + source + "': " + errno_text(errno));
  }
  int parent_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0) {
    ::close(src);
    return Status::internal("opening " + parent + ": " + errno_text(errno));
  }
  TreeCopier copier(max_bytes);
  Status st = copier.copy_dir(src, parent_fd, tmp_name, source);
  ::close(src);
  ::close(parent_fd);
  const std::string tmp = parent + "/" + tmp_name;
  if (st) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) != 0) {
      st = errno == EEXIST || errno == ENOTEMPTY
               ? Status::conflict("a reference database named '" + d.filename().string() +
                                  "' already exists")
               : Status::internal("moving the database into place: " + errno_text(errno));
    }
  }
  if (!st) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }
  return st;
}

// The directory's mtime is the database's creation time: set it now that it is in place.
void stamp_created(const std::string& dir) {
  ::utimensat(AT_FDCWD, dir.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
}

bool names_database(const FormSchema& form, const json::object& params, const std::string& db) {
  for (const auto& f : form.fields) {
    if (f.enum_placeholder != "__GENOMES_REFS__") continue;
    const json::value* v = params.if_contains(f.key);
    if (v != nullptr && v->is_string() && v->get_string() == db) return true;
  }
  return false;
}

}  // namespace

Status validate_database_name(const std::string& name) {
  auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 64 && ok_first(name[0]);
  for (std::size_t i = 1; ok && i < name.size(); ++i) {
    char c = name[i];
    ok = ok_first(c) || c == '.' || c == '_' || c == '-';
  }
  if (!ok) {
    return Status::invalid(
        "a reference database name is 1 to 64 characters: lower-case letters, digits, '.', '_' "
        "and '-', starting with a letter or a digit");
  }
  return Status::ok();
}

std::vector<std::string> list_database_names(const std::string& databases_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(databases_dir, ec)) {
    std::string n = e.path().filename().string();
    // Hidden entries are databases being built or removed.
    if (n.empty() || n[0] == '.') continue;
    if (e.is_directory(ec) && !e.is_symlink(ec)) names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  return names;
}

DatabaseService::DatabaseService(CoreContext& ctx, PipelineService& pipelines)
    : ctx_(ctx), pipelines_(pipelines) {
  // Leftovers of an add or a remove cut short by a crash.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ctx_.config.databases_dir(), ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(".deleting-", 0) == 0 ||
        (n[0] == '.' && n.find(".partial-") != std::string::npos)) {
      fs::remove_all(e.path(), ec);
    }
  }
}

asio::awaitable<Result<std::vector<ReferenceDatabase>>> DatabaseService::list() {
  auto work = [dir = ctx_.config.databases_dir()]() -> Result<std::vector<ReferenceDatabase>> {
    std::vector<ReferenceDatabase> out;
    for (const auto& n : list_database_names(dir)) {
      auto db = measure(dir + "/" + n, n);
      if (db) out.push_back(std::move(*db));  // removed meanwhile: not listed
    }
    return out;
  };
  co_return co_await offload(ctx_.workers, std::move(work));
}

asio::awaitable<Result<ReferenceDatabase>> DatabaseService::get(std::string name) {
  if (Status st = validate_database_name(name); !st) {
    co_return Status::not_found("no reference database named '" + name + "'");
  }
  auto work = [dir = ctx_.config.databases_dir(), name]() {
    return measure(dir + "/" + name, name);
  };
  co_return co_await offload(ctx_.workers, std::move(work));
}

asio::awaitable<Result<ReferenceDatabase>> DatabaseService::add_archive(std::string name,
                                                                        std::string archive_path) {
  if (Status st = validate_database_name(name); !st) co_return st;
  const std::string dest = ctx_.config.databases_dir() + "/" + name;
  if (!adding_.insert(name).second) {
    co_return Status::conflict("the reference database '" + name + "' is being added");
  }
  ExtractLimits limits;
  limits.max_entries = kMaxEntries;
  limits.max_total_bytes = ctx_.config.max_database_bytes;
  limits.max_entry_bytes = ctx_.config.max_database_bytes;
  auto work = [archive_path, dest, limits]() -> Result<ReferenceDatabase> {
    struct stat st;
    if (::lstat(dest.c_str(), &st) == 0) {
      return Status::conflict("a reference database named '" + fs::path(dest).filename().string() +
                              "' already exists");
    }
    Status extracted = extract_archive(archive_path, dest, limits, true);
    if (!extracted) {
      if (extracted.code() == Code::kConflict) {
        return Status::conflict("a reference database named '" +
                                fs::path(dest).filename().string() + "' already exists");
      }
      return extracted;
    }
    ::chmod(dest.c_str(), 0755);
    stamp_created(dest);
    return measure(dest, fs::path(dest).filename().string());
  };
  auto r = co_await offload(ctx_.workers, std::move(work));
  adding_.erase(name);
  if (r) spdlog::info("reference database '{}' added ({} files)", name, r->file_count);
  co_return r;
}

asio::awaitable<Result<ReferenceDatabase>> DatabaseService::add_directory(std::string name,
                                                                          std::string source_dir) {
  if (Status st = validate_database_name(name); !st) co_return st;
  const std::string& root = ctx_.config.database_import_root;
  if (root.empty()) {
    co_return Status::invalid(
        "adding a reference database from a server directory is disabled: the administrator "
        "must set databases.import_root");
  }
  if (source_dir.empty() || source_dir.front() != '/') {
    co_return Status::invalid("path must be an absolute directory on the server");
  }
  std::error_code ec;
  std::error_code root_ec;
  fs::path real = fs::canonical(source_dir, ec);
  fs::path real_root = fs::canonical(root, root_ec);
  if (ec || real.empty()) co_return Status::invalid("no directory at " + source_dir);
  if (root_ec) {
    co_return Status::invalid("databases.import_root (" + root + ") does not exist");
  }
  const std::string r = real_root.string();
  const std::string p = real.string();
  if (p != r && p.rfind(r == "/" ? r : r + "/", 0) != 0) {
    co_return Status::invalid("path must be inside databases.import_root (" + root + ")");
  }
  if (!fs::is_directory(real, ec)) co_return Status::invalid(source_dir + " is not a directory");
  if (!adding_.insert(name).second) {
    co_return Status::conflict("the reference database '" + name + "' is being added");
  }
  const std::string dest = ctx_.config.databases_dir() + "/" + name;
  auto work = [src = p, dest, max = ctx_.config.max_database_bytes]() -> Result<ReferenceDatabase> {
    struct stat st;
    std::string n = fs::path(dest).filename().string();
    if (::lstat(dest.c_str(), &st) == 0) {
      return Status::conflict("a reference database named '" + n + "' already exists");
    }
    PIRUS_RETURN_IF_ERROR(copy_tree_into_place(src, dest, max));
    stamp_created(dest);
    return measure(dest, n);
  };
  auto res = co_await offload(ctx_.workers, std::move(work));
  adding_.erase(name);
  if (res) spdlog::info("reference database '{}' copied from {}", name, p);
  co_return res;
}

Status DatabaseService::check_not_in_use(const std::string& name) {
  JobQuery q;
  q.statuses = {JobStatus::kWaiting, JobStatus::kInitializing, JobStatus::kRunning,
                JobStatus::kPause, JobStatus::kFinalizing};
  q.limit = 10000;
  auto jobs = ctx_.store.list_jobs(q);
  if (!jobs) return jobs.status();
  for (const auto& j : jobs->items) {
    auto p = ctx_.store.get_pipeline(j.pipeline_id);
    if (!p) continue;
    auto form = pipelines_.form(*p);
    if (!form) continue;
    boost::system::error_code ec;
    json::value params = json::parse(j.parameters_json.empty() ? "{}" : j.parameters_json, ec);
    if (ec || !params.is_object()) continue;
    if (names_database(*form, params.get_object(), name)) {
      return Status::conflict("job " + std::to_string(j.id) + " (" +
                              std::string(to_string(j.status)) + ") uses the reference database '" +
                              name + "'; remove it when that job has ended");
    }
  }
  return Status::ok();
}

asio::awaitable<Status> DatabaseService::remove(std::string name) {
  if (Status st = validate_database_name(name); !st) {
    co_return Status::not_found("no reference database named '" + name + "'");
  }
  if (adding_.count(name) != 0) {
    co_return Status::conflict("the reference database '" + name + "' is being added");
  }
  const std::string dir = ctx_.config.databases_dir() + "/" + name;
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    co_return Status::not_found("no reference database named '" + name + "'");
  }
  if (Status used = check_not_in_use(name); !used) co_return used;
  // Out of sight first (atomic), so no new job can validate against it, then deleted.
  const std::string hidden =
      ctx_.config.databases_dir() + "/.deleting-" + name + "-" + random_hex(6);
  if (::rename(dir.c_str(), hidden.c_str()) != 0) {
    co_return Status::internal("cannot remove the reference database '" + name +
                               "': " + errno_text(errno));
  }
  auto erase = [hidden]() { return remove_tree(hidden); };
  Status removed = co_await offload(ctx_.workers, std::move(erase));
  if (!removed) spdlog::warn("reference database '{}': {}", name, removed.message());
  spdlog::info("reference database '{}' removed", name);
  co_return Status::ok();
}

}  // namespace pirus
