// The Docker build context: a tar of the package directory. The walk uses descriptors and
// never follows a symlink, so a link in a package cannot pull host files into the image.

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "packages/package.hpp"
#include "packages/package_internal.hpp"

namespace pirus {

using packages_internal::UniqueFd;

namespace {

constexpr std::size_t kBufferSize = 64 * 1024;

struct WriterDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

std::string errno_text() {
  return std::strerror(errno);
}

class ContextWriter {
 public:
  ContextWriter(archive* a, dev_t out_dev, ino_t out_ino)
      : a_(a), out_dev_(out_dev), out_ino_(out_ino), buffer_(kBufferSize) {}

  Status add_directory(int dir_fd, const std::string& prefix) {
    int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return Status::internal("dup: " + errno_text());
    DIR* d = ::fdopendir(dup_fd);
    if (!d) {
      ::close(dup_fd);
      return Status::internal("reading directory '" + prefix + "': " + errno_text());
    }
    std::vector<std::string> names;
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    // Sorted, so the same package always gives the same tar (and the same build cache key).
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      PIRUS_RETURN_IF_ERROR(add(dir_fd, name, prefix + name));
    }
    return Status::ok();
  }

 private:
  Status add(int dir_fd, const std::string& name, const std::string& rel) {
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status::internal("stat of '" + rel + "': " + errno_text());
    }
    if (st.st_dev == out_dev_ && st.st_ino == out_ino_) return Status::ok();  // the tar itself

    EntryPtr entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), rel.c_str());
    archive_entry_set_perm(entry.get(), st.st_mode & 0777);
    archive_entry_set_mtime(entry.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);

    if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
      PIRUS_RETURN_IF_ERROR(write_header(entry.get(), rel));
      UniqueFd child(
          ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (child.get() < 0) return Status::internal("opening '" + rel + "': " + errno_text());
      return add_directory(child.get(), rel + "/");
    }
    if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<std::size_t>(st.st_size) + 1);
      ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) return Status::internal("reading link '" + rel + "': " + errno_text());
      archive_entry_set_filetype(entry.get(), AE_IFLNK);
      archive_entry_set_symlink(entry.get(),
                                std::string(target.data(), static_cast<std::size_t>(n)).c_str());
      return write_header(entry.get(), rel);
    }
    if (!S_ISREG(st.st_mode)) {
      return Status::invalid("'" + rel +
                             "' is neither a file, a directory nor a symlink and cannot be part "
                             "of a build context");
    }
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) return Status::internal("opening '" + rel + "': " + errno_text());
    // The size in the header must be what follows it, so take it from the open file.
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::internal("'" + rel + "' changed while the build context was written");
    }
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_size(entry.get(), st.st_size);
    PIRUS_RETURN_IF_ERROR(write_header(entry.get(), rel));
    std::int64_t left = st.st_size;
    while (left > 0) {
      std::size_t want = static_cast<std::size_t>(
          std::min<std::int64_t>(left, static_cast<std::int64_t>(buffer_.size())));
      ssize_t n = ::read(fd.get(), buffer_.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::internal("reading '" + rel + "': " + errno_text());
      if (n == 0) {
        return Status::internal("'" + rel + "' shrank while the build context was written");
      }
      if (archive_write_data(a_, buffer_.data(), static_cast<std::size_t>(n)) != n) {
        return Status::internal("writing '" + rel + "' to the build context: " + error());
      }
      left -= n;
    }
    return Status::ok();
  }

  Status write_header(archive_entry* entry, const std::string& rel) {
    if (archive_write_header(a_, entry) < ARCHIVE_WARN) {
      return Status::internal("adding '" + rel + "' to the build context: " + error());
    }
    return Status::ok();
  }

  std::string error() const {
    const char* e = archive_error_string(a_);
    return e ? e : "unknown error";
  }

  archive* a_;
  dev_t out_dev_;
  ino_t out_ino_;
  std::vector<char> buffer_;
};

Status write_tar(const std::string& dir, int out_fd) {
  struct stat out_st;
  if (::fstat(out_fd, &out_st) != 0) return Status::internal("stat of the tar: " + errno_text());
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    if (errno == ENOENT) return Status::not_found("directory '" + dir + "' does not exist");
    return Status::internal("opening '" + dir + "': " + errno_text());
  }
  std::unique_ptr<archive, WriterDeleter> a(archive_write_new());
  if (!a) return Status::internal("archive_write_new failed");
  // pax only where ustar cannot say it (long names, big files): what every tar reader and
  // the Docker daemon accept.
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_open_fd(a.get(), out_fd) != ARCHIVE_OK) {
    const char* e = archive_error_string(a.get());
    return Status::internal(std::string("starting the tar: ") + (e ? e : "unknown error"));
  }
  ContextWriter writer(a.get(), out_st.st_dev, out_st.st_ino);
  PIRUS_RETURN_IF_ERROR(writer.add_directory(root.get(), ""));
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    const char* e = archive_error_string(a.get());
    return Status::internal(std::string("finishing the tar: ") + (e ? e : "unknown error"));
  }
  return Status::ok();
}

}  // namespace

Status write_build_context(const std::string& dir, const std::string& tar_path) {
  UniqueFd out(
      ::open(tar_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (out.get() < 0) {
    return Status::internal("creating '" + tar_path + "': " + errno_text());
  }
  Status st = write_tar(dir, out.get());
  if (!st) ::unlink(tar_path.c_str());  // a truncated context would build something else
  return st;
}

}  // namespace pirus
