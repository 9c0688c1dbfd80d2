#pragma once
// Files stored by Pirus: uploads and job outputs. An upload lands in files/<id>/<name>;
// outputs stay where the job wrote them (jobs/<id>/outputs/...), so reports keep their
// relative links. Runs on the event loop; hashing goes to the worker pool.

#include <boost/asio/awaitable.hpp>
#include <string>

#include "common/status.hpp"
#include "core/core_context.hpp"

namespace pirus {

class FileService {
 public:
  explicit FileService(CoreContext& ctx) : ctx_(ctx) {}

  // Takes ownership of `temp_path` (a complete upload): hashes it, checks `expected_sha256`
  // when given (a mismatch is kInvalid and nothing is kept), and stores it as a File in
  // `uploaded`, or `checked` when the checksum matched.
  boost::asio::awaitable<Result<File>> import_upload(std::string temp_path, std::string name,
                                                     std::string expected_sha256);

  // kConflict while an unfinished job uses the file. Removes the row, then the bytes.
  boost::asio::awaitable<Status> remove(Id id);

 private:
  CoreContext& ctx_;
};

// The lower-cased last extension without the dot ("reads.FASTQ.GZ" -> "gz").
std::string file_type_of(const std::string& name);

}  // namespace pirus
