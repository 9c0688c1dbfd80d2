// Safe extraction of a pipeline package zip. The original system unpacked uploads with no
// checks at all (zip-slip, absolute paths, symlinks, bombs); every rule here closes one of
// those holes. Files are only ever created relative to directory descriptors opened with
// O_NOFOLLOW, so even a symlink planted by someone else cannot redirect a write.

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "packages/package.hpp"
#include "packages/package_internal.hpp"

namespace pirus {

namespace fs = std::filesystem;
using packages_internal::UniqueFd;

namespace {

// Below this many uncompressed bytes the ratio is not enforced: a tiny package of padded
// text legitimately compresses 1000:1 and is harmless.
constexpr std::int64_t kRatioFloorBytes = 1 << 20;
constexpr std::size_t kBufferSize = 64 * 1024;
constexpr std::size_t kNameInMessage = 200;

std::string errno_text(int err) {
  return std::strerror(err);
}

// The entry name as it can safely appear in a message and a log line.
std::string quote(const std::string& name) {
  std::string out = "'";
  for (std::size_t i = 0; i < name.size() && i < kNameInMessage; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kNameInMessage) out += "...";
  return out + "'";
}

Status invalid_entry(const std::string& name, const std::string& what) {
  return Status::invalid("entry " + quote(name) + " " + what);
}

const char* archive_error(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

// Splits an entry name into its components, dropping empty and "." ones.
Result<std::vector<std::string>> split_entry_name(const std::string& name) {
  if (name[0] == '/') return invalid_entry(name, "has an absolute path");
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid_entry(name, "has control characters in its name");
    // Zips made on Windows may use backslashes as separators; such a name would mean
    // something else on another system, so it is refused rather than guessed at.
    if (c == '\\') return invalid_entry(name, "has a backslash in its name");
  }
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= name.size()) {
    std::size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    std::string part = name.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return invalid_entry(name, "escapes the package directory");
    parts.push_back(std::move(part));
  }
  return parts;
}

const char* forbidden_type_name(mode_t type) {
  switch (type) {
    case AE_IFLNK:
      return "a symbolic link";
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a fifo";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "of an unsupported type";
  }
}

// Opens (creating when missing) the directory `parts[0..count)` under `root`, refusing to
// traverse symlinks.
Result<UniqueFd> open_dirs(int root, const std::vector<std::string>& parts, std::size_t count,
                           const std::string& entry_name) {
  UniqueFd current(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (current.get() < 0) return Status::internal("dup: " + errno_text(errno));
  for (std::size_t i = 0; i < count; ++i) {
    const char* part = parts[i].c_str();
    if (::mkdirat(current.get(), part, 0755) == 0) {
      // The umask must not decide what the build and the job can read.
      ::fchmodat(current.get(), part, 0755, 0);
    } else if (errno != EEXIST) {
      return Status::internal("creating a directory for entry " + quote(entry_name) + ": " +
                              errno_text(errno));
    }
    int fd = ::openat(current.get(), part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOTDIR || errno == ELOOP) {
        return invalid_entry(entry_name, "conflicts with an earlier file entry");
      }
      return Status::internal("opening a directory for entry " + quote(entry_name) + ": " +
                              errno_text(errno));
    }
    current = UniqueFd(fd);
  }
  return current;
}

Status write_all(int fd, const char* data, std::size_t size, const std::string& entry_name) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::internal("writing entry " + quote(entry_name) + ": " + errno_text(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return Status::ok();
}

// The extraction into the temporary directory, without the final rename.
class Extractor {
 public:
  Extractor(archive* a, int root_fd, std::int64_t zip_size, const ExtractLimits& limits,
            std::string noun)
      : a_(a), root_(root_fd), zip_size_(zip_size), limits_(limits), noun_(std::move(noun)) {}

  Status run() {
    std::vector<char> buffer(kBufferSize);
    for (;;) {
      archive_entry* entry = nullptr;
      int r = archive_read_next_header(a_, &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        return Status::invalid(std::string(noun_ == "package" ? "the zip" : "the archive") +
                               " cannot be read: " + archive_error(a_));
      }
      ++entries_;
      if (entries_ > limits_.max_entries) {
        return Status::too_large("the " + noun_ + " has more than " +
                                 std::to_string(limits_.max_entries) + " entries");
      }
      PIRUS_RETURN_IF_ERROR(handle(entry, &buffer));
    }
    return Status::ok();
  }

  // The folder to strip when every extracted entry sits under it, or "".
  std::string single_top_folder() const {
    if (tops_.size() != 1 || top_has_file_) return {};
    return *tops_.begin();
  }

 private:
  Status handle(archive_entry* entry, std::vector<char>* buffer) {
    const char* raw = archive_entry_pathname(entry);
    if (!raw) raw = archive_entry_pathname_utf8(entry);
    if (!raw) {
      return Status::invalid("entry #" + std::to_string(entries_) +
                             " has a name that cannot be decoded");
    }
    const std::string name = raw;
    if (name.empty()) {
      return Status::invalid("entry #" + std::to_string(entries_) + " has an empty name");
    }
    auto parts = split_entry_name(name);
    if (!parts) return parts.status();

    if (archive_entry_hardlink(entry) != nullptr) {
      return invalid_entry(name, "is a hard link, which " + noun_ + "s may not contain");
    }
    const mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR) {
      return invalid_entry(name, std::string("is ") + forbidden_type_name(type) + ", which " +
                                     noun_ + "s may not contain");
    }
    const bool is_dir = type == AE_IFDIR;
    if (archive_entry_is_encrypted(entry)) {
      return invalid_entry(name, "is encrypted; " + noun_ + "s must not be password-protected");
    }
    if (parts->empty()) {
      if (is_dir) return Status::ok();  // "./": the package directory itself
      return invalid_entry(name, "has an empty name");
    }

    std::string normalized;
    for (const auto& p : *parts) normalized += (normalized.empty() ? "" : "/") + p;
    if (!seen_.insert(normalized).second) {
      return invalid_entry(name, std::string("appears more than once in the ") +
                                     (noun_ == "package" ? "zip" : noun_));
    }
    // Finder's resource forks: junk to everyone but macOS.
    if ((*parts)[0] == "__MACOSX") return Status::ok();

    tops_.insert((*parts)[0]);
    if (parts->size() == 1 && !is_dir) top_has_file_ = true;

    if (is_dir) {
      auto dir = open_dirs(root_, *parts, parts->size(), name);
      return dir.status();
    }
    auto parent = open_dirs(root_, *parts, parts->size() - 1, name);
    if (!parent) return parent.status();
    const mode_t mode = (archive_entry_perm(entry) & 0111) ? 0755 : 0644;
    UniqueFd out(::openat(parent->get(), parts->back().c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0) {
      if (errno == EEXIST || errno == EISDIR || errno == ELOOP) {
        return invalid_entry(name, "conflicts with an earlier entry");
      }
      return Status::internal("creating entry " + quote(name) + ": " + errno_text(errno));
    }
    PIRUS_RETURN_IF_ERROR(copy_data(name, out.get(), buffer));
    if (::fchmod(out.get(), mode) != 0) {
      return Status::internal("chmod of entry " + quote(name) + ": " + errno_text(errno));
    }
    return Status::ok();
  }

  // Sizes come from counting the bytes actually decompressed: the sizes a zip declares in
  // its headers are written by whoever made it.
  Status copy_data(const std::string& name, int fd, std::vector<char>* buffer) {
    std::int64_t entry_bytes = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(a_, buffer->data(), buffer->size());
      if (n == 0) break;
      if (n < 0) {
        return invalid_entry(name, std::string("cannot be read: ") + archive_error(a_));
      }
      entry_bytes += n;
      total_bytes_ += n;
      if (entry_bytes > limits_.max_entry_bytes) {
        return Status::too_large("entry " + quote(name) + " is larger than " +
                                 std::to_string(limits_.max_entry_bytes) + " bytes uncompressed");
      }
      if (total_bytes_ > limits_.max_total_bytes) {
        return Status::too_large("the " + noun_ + " is larger than " +
                                 std::to_string(limits_.max_total_bytes) + " bytes uncompressed");
      }
      if (total_bytes_ > kRatioFloorBytes &&
          static_cast<double>(total_bytes_) > limits_.max_ratio * static_cast<double>(zip_size_)) {
        return Status::too_large("the " + noun_ + " expands to more than " +
                                 std::to_string(static_cast<long long>(limits_.max_ratio)) +
                                 " times its compressed size (at entry " + quote(name) +
                                 "), which looks like a zip bomb");
      }
      PIRUS_RETURN_IF_ERROR(write_all(fd, buffer->data(), static_cast<std::size_t>(n), name));
    }
    return Status::ok();
  }

  archive* a_;
  int root_;
  std::int64_t zip_size_;
  ExtractLimits limits_;
  std::string noun_;
  std::int64_t entries_ = 0;
  std::int64_t total_bytes_ = 0;
  std::set<std::string> seen_;
  std::set<std::string> tops_;
  bool top_has_file_ = false;
};

// rename() silently replaces an empty directory; the destination appearing meanwhile must
// be an error instead.
Status move_into_place(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::ok();
  }
  int err = errno;
  if (err == EINVAL || err == ENOSYS) {  // a filesystem without RENAME_NOREPLACE
    struct stat st;
    if (::lstat(to.c_str(), &st) == 0) {
      err = EEXIST;
    } else if (::rename(from.c_str(), to.c_str()) == 0) {
      return Status::ok();
    } else {
      err = errno;
    }
  }
  if (err == EEXIST || err == ENOTEMPTY) {
    return Status::conflict("destination '" + to + "' already exists");
  }
  return Status::internal("moving the package to '" + to + "': " + errno_text(err));
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

// Removes the temporary tree unless it was moved into place.
class TempTree {
 public:
  explicit TempTree(std::string path) : path_(std::move(path)) {}
  ~TempTree() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);  // does not follow symlinks
  }
  void release() { path_.clear(); }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

Status extract_package(const std::string& zip_path, const std::string& dest_dir,
                       const ExtractLimits& limits) {
  return extract_archive(zip_path, dest_dir, limits, false);
}

Status extract_archive(const std::string& zip_path, const std::string& dest_dir,
                       const ExtractLimits& limits, bool allow_tar) {
  const std::string noun = allow_tar ? "archive" : "package";
  std::string dest = dest_dir;
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  if (dest.empty()) return Status::internal("extract_package: empty destination");
  struct stat st;
  if (::lstat(dest.c_str(), &st) == 0) {
    // Not ours to remove: the "remove dest on error" promise is about what we create.
    return Status::conflict("destination '" + dest + "' already exists");
  }
  fs::path dest_path(dest);
  std::string parent = dest_path.has_parent_path() ? dest_path.parent_path().string() : ".";
  std::string tmpl = parent + "/." + dest_path.filename().string() + ".partial-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return Status::internal("creating a temporary directory next to '" + dest +
                            "': " + errno_text(errno));
  }
  TempTree temp(buf.data());
  UniqueFd root(::open(temp.path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (root.get() < 0) return Status::internal("opening " + temp.path() + ": " + errno_text(errno));

  // The central directory, not the local headers, is what unzip tools and the zip's author
  // see, so the seekable reader (which needs open_filename's seek callback) is used.
  if (::stat(zip_path.c_str(), &st) != 0) {
    return Status::not_found("cannot open the " + noun + " '" + zip_path +
                             "': " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::invalid("the " + noun + " '" + zip_path + "' is not a regular file");
  }
  const std::int64_t zip_size = st.st_size > 0 ? st.st_size : 1;

  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (!a) return Status::internal("archive_read_new failed");
  archive_read_support_format_zip_seekable(a.get());
  if (allow_tar) {
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_bzip2(a.get());
    archive_read_support_filter_xz(a.get());
  }
  if (archive_read_open_filename(a.get(), zip_path.c_str(), kBufferSize) != ARCHIVE_OK) {
    return Status::invalid(
        "the " + noun +
        (allow_tar ? " is not a readable zip or tar: " : " is not a readable zip: ") +
        archive_error(a.get()));
  }

  Extractor extractor(a.get(), root.get(), zip_size, limits, noun);
  PIRUS_RETURN_IF_ERROR(extractor.run());

  std::string top = extractor.single_top_folder();
  if (top.empty()) {
    if (::fchmod(root.get(), 0755) != 0) {
      return Status::internal("chmod " + temp.path() + ": " + errno_text(errno));
    }
    Status moved = move_into_place(temp.path(), dest);
    if (moved) temp.release();
    return moved;
  }
  return move_into_place(temp.path() + "/" + top, dest);
}

}  // namespace pirus
