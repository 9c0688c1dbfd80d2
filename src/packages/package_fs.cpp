#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "packages/package_internal.hpp"

namespace pirus::packages_internal {

int open_beneath(int root, const std::string& rel, int flags) {
  int current = ::fcntl(root, F_DUPFD_CLOEXEC, 0);
  if (current < 0) return -1;
  std::size_t i = 0;
  for (;;) {
    std::size_t j = rel.find('/', i);
    std::string part = rel.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (part.empty() || part == "." || part == "..") {
      ::close(current);
      errno = EINVAL;
      return -1;
    }
    const bool last = j == std::string::npos;
    int fd = ::openat(current, part.c_str(),
                      last ? (flags | O_NOFOLLOW | O_CLOEXEC)
                           : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    int err = errno;
    ::close(current);
    if (fd < 0) {
      errno = err;
      return -1;
    }
    if (last) return fd;
    current = fd;
    i = j + 1;
  }
}

Result<std::optional<std::string>> read_file_beneath(int root, const std::string& rel,
                                                     std::int64_t max_bytes) {
  // O_NONBLOCK: a fifo in place of the file must not hang the server.
  UniqueFd fd(open_beneath(root, rel, O_RDONLY | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR || errno == ENXIO) {
      return std::optional<std::string>();
    }
    return Status::internal("opening " + rel + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Status::internal("stat of " + rel + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return std::optional<std::string>();
  if (st.st_size > max_bytes) {
    return Status::too_large(rel + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::internal("reading " + rel + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (static_cast<std::int64_t>(out.size()) > max_bytes) {
      return Status::too_large(rel + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace pirus::packages_internal
