#pragma once
// SHA-256 of a local file, streamed (constant memory), for `pirus file upload --sha256`.

#include <string>

#include "common/status.hpp"

namespace pirus::cli {

// Lower-case hex digest; kNotFound when the file does not exist, kInternal on read errors.
Result<std::string> sha256_file(const std::string& path);

}  // namespace pirus::cli
