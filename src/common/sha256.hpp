#pragma once
#include <string>

#include "common/status.hpp"

namespace pirus {

// Hex SHA-256 of a file, read in 1 MiB blocks (constant memory whatever the size).
Result<std::string> sha256_file(const std::string& path);
std::string sha256_hex(const std::string& data);

}  // namespace pirus
