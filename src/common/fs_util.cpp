#include "common/fs_util.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace pirus {

std::string tail_file(const std::string& path, int lines, std::int64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::int64_t size = in.tellg();
  std::int64_t start = std::max<std::int64_t>(0, size - max_bytes);
  in.seekg(start);
  std::string data(static_cast<std::size_t>(size - start), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (lines <= 0) return "";
  // Walk back over `lines` newlines, ignoring a final one that ends the last line.
  std::size_t end = data.size();
  if (end > 0 && data[end - 1] == '\n') --end;
  std::size_t pos = end;
  int seen = 0;
  while (pos > 0) {
    if (data[pos - 1] == '\n' && ++seen == lines) break;
    --pos;
  }
  return data.substr(pos);
}

Status write_file_atomic(const std::string& path, const std::string& content, unsigned mode) {
  std::string tmp = path + ".tmp-" + random_hex(4);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::internal("cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::internal("cannot write " + tmp + ": " + std::strerror(err));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::internal("cannot flush " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::internal("cannot rename to " + path + ": " + std::strerror(err));
  }
  return Status::ok();
}

Status sync_file_data(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::internal("cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fdatasync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::internal("cannot flush " + path + ": " + std::strerror(err));
  return Status::ok();
}

std::string random_hex(int bytes) {
  std::vector<unsigned char> buf(static_cast<std::size_t>(bytes));
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = getrandom(buf.data() + got, buf.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : buf) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

std::string safe_file_name(const std::string& name) {
  std::string base = name;
  auto slash = base.find_last_of("/\\");
  if (slash != std::string::npos) base = base.substr(slash + 1);
  std::string out;
  for (unsigned char c : base) {
    out += (c < 0x20 || c == 0x7f) ? '_' : static_cast<char>(c);
  }
  if (out.size() > 200) out = out.substr(out.size() - 200);
  if (out.empty() || out == "." || out == "..") return "file";
  return out;
}

}  // namespace pirus
