#pragma once
// Small filesystem helpers shared by the services.

#include <cstdint>
#include <string>

#include "common/status.hpp"

namespace pirus {

// The last `lines` lines of a file, reading at most `max_bytes` from its end.
std::string tail_file(const std::string& path, int lines, std::int64_t max_bytes = 1 << 20);

// Writes `content` to `path` through a temporary file and rename, so readers never see a
// half-written file. `mode` applies to the new file.
Status write_file_atomic(const std::string& path, const std::string& content, unsigned mode = 0644);

// Flushes a file's data to the disk (fdatasync): what a completed upload promises.
Status sync_file_data(const std::string& path);

// `bytes` random bytes from the OS, hex-encoded.
std::string random_hex(int bytes);

// A file name safe to use as one path component: no '/', no NUL, not "." or "..", control
// characters replaced; empty input gives "file".
std::string safe_file_name(const std::string& name);

}  // namespace pirus
