#pragma once
// Helpers shared by the files of the packages module. Not part of the module's contract.

#include <unistd.h>

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace pirus::packages_internal {

// Parses one JSON document. On malformed input, kInvalid with
// "<file_name>: line L, column C: <what>", the column counted in characters (not bytes).
Result<boost::json::value> parse_json_document(std::string_view text, std::string_view file_name);

// "10", "-3", "0.25": the way a person writes a bound, not printf's "10.000000".
std::string format_number(double d);

// The numeric value of an int64, uint64 or double JSON value.
bool as_double(const boost::json::value& v, double* out);

// An integer-valued number as int64 (5, 5.0); false for 5.5, strings, out-of-range values.
bool as_integer(const boost::json::value& v, std::int64_t* out);

// Equality for enum choices: numbers compare by value (1 == 1.0), everything else by kind
// and content.
bool same_scalar(const boost::json::value& a, const boost::json::value& b);

// The value as it would appear in JSON, cut to `max_chars` for error messages.
std::string describe_value(const boost::json::value& v, std::size_t max_chars = 60);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

// Owns a file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `rel` (a relative path of plain names) under the directory `root` without
// following any symlink on the way. Returns -1 with errno set on failure.
int open_beneath(int root, const std::string& rel, int flags);

// Reads `rel` under `root` when it is a regular file reached without symlinks; nullopt
// when it is absent or something else. kTooLarge beyond `max_bytes`.
Result<std::optional<std::string>> read_file_beneath(int root, const std::string& rel,
                                                     std::int64_t max_bytes);

}  // namespace pirus::packages_internal
