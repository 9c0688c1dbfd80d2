#pragma once
// `pirus file upload` over TUS 1.0.0 (/api/v1/uploads): the file goes in chunks, each with
// its Upload-Checksum, and an interrupted upload resumes where the server's offset says
// when the same command runs again. What links a run to an earlier upload is a small state
// file (0600) under $XDG_STATE_HOME/pirus/uploads/ (default ~/.local/state/pirus/uploads/),
// keyed by the server URL, the file's absolute path, its size and its mtime: a changed file
// starts a new upload.

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cli/api_client.hpp"
#include "common/status.hpp"

namespace pirus::cli {

struct TusUploadOptions {
  std::int64_t chunk_bytes = 16LL << 20;
  bool whole_sha256 = false;  // also announce the whole file's sha256 (server marks `checked`)
  std::optional<std::int64_t> companion_of;
  std::string name;  // default: the file's base name
  // (bytes the server holds, total) after each chunk and while one is sent.
  std::function<void(std::int64_t, std::int64_t)> progress;
  // Called once when an earlier upload is resumed, with the offset it resumes from.
  std::function<void(std::int64_t)> resumed;
};

// The directory of the state files ($XDG_STATE_HOME/pirus/uploads or
// $HOME/.local/state/pirus/uploads).
std::string upload_state_dir();

// Uploads `local_file`; returns the File JSON of the completed upload. On failure the state
// file stays, so that running it again resumes.
Result<boost::json::value> tus_upload(ApiClient& client, const std::string& local_file,
                                      const TusUploadOptions& options);

}  // namespace pirus::cli
