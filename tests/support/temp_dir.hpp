#pragma once
// A fresh directory under $TMPDIR (or /tmp) that is removed with everything in it when the
// object goes out of scope. Tests never write outside one.

#include <string>

namespace pirus::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "pirus-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Writes `content` to `path`, creating parent directories.
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace pirus::testing
