#include "common/file_tail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace pirus {

namespace {

constexpr std::int64_t kBlock = 64 * 1024;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<TailWindow> find_tail(const std::string& path, std::int64_t lines) {
  if (lines < 0) return Status::invalid("a tail needs a line count of 0 or more");
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) return Status::not_found(path + " does not exist");
    return Status::internal("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat sb {};
  if (::fstat(f.fd, &sb) != 0) {
    return Status::internal("cannot stat " + path + ": " + std::strerror(errno));
  }
  TailWindow w;
  w.size = sb.st_size;
  w.offset = w.size;
  if (lines == 0 || w.size == 0) return w;

  // Walking back from the end, the newline ending the last line is skipped; each further
  // newline ends the line before a wanted one, so the `lines`-th one found marks the start.
  std::vector<char> block(static_cast<std::size_t>(std::min(kBlock, w.size)));
  std::int64_t end = w.size;  // bytes before `end` are still to scan
  std::int64_t seen = 0;
  bool first_byte = true;
  while (end > 0) {
    const std::int64_t start = std::max<std::int64_t>(0, end - kBlock);
    const auto want = static_cast<std::size_t>(end - start);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t n =
          ::pread(f.fd, block.data() + got, want - got, start + static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::internal("cannot read " + path + ": " + std::strerror(errno));
      if (n == 0) break;  // the file shrank meanwhile: what is left still counts
      got += static_cast<std::size_t>(n);
    }
    for (std::size_t i = got; i > 0; --i) {
      const char c = block[i - 1];
      if (first_byte) {
        first_byte = false;
        if (c == '\n') continue;  // ends the last line
      }
      if (c == '\n' && ++seen == lines) {
        w.offset = start + static_cast<std::int64_t>(i);
        return w;
      }
    }
    end = start;
  }
  w.offset = 0;
  return w;
}

}  // namespace pirus
