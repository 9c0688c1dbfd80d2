#pragma once
// Resumable uploads (the TUS protocol's semantics, without its HTTP): an upload is a File
// row in status `uploading` whose bytes grow at files/<id>/<name> (under the data dir, so
// an upload survives a server restart). Each append streams from a ByteSource to disk in
// 1 MiB pieces written by the worker pool; upload_offset advances by what actually reached
// the disk. The last byte turns the upload into a normal File (`uploaded`, or `checked`
// when a whole-file sha256 was announced and matched). Unfinished uploads expire after
// limits.upload_expiry and a periodic sweep removes them.
//
// Runs on the event loop. One append per upload at a time (a second one is kConflict).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/sha256.hpp"
#include "common/status.hpp"
#include "core/core_context.hpp"

namespace pirus {

// Where an append's bytes come from (the HTTP layer adapts a request body to it).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `size` bytes into `data`; 0 at the end. An error means the source is broken (the
  // client went away): the bytes delivered before it still count.
  virtual boost::asio::awaitable<Result<std::size_t>> read_some(char* data, std::size_t size) = 0;
};

struct NewUpload {
  std::int64_t length = 0;
  std::string name;             // as given; sanitised like every file name
  std::string expected_sha256;  // hex or empty
  std::optional<Id> companion_of;
};

struct AppendRequest {
  Id id = 0;
  std::int64_t offset = 0;                     // must equal the stored upload_offset
  std::optional<std::int64_t> content_length;  // the body's declared size, when known
  std::string chunk_sha256;                    // raw 32-byte digest of this body, or empty
};

// What an append did. `status` is ok, or why it failed; `file` is the upload afterwards
// (its offset says what was kept) whenever the upload still exists.
struct AppendResult {
  Status status;
  bool checksum_mismatch = false;  // the chunk was discarded (TUS answers 460)
  std::optional<File> file;
};

class UploadService {
 public:
  explicit UploadService(CoreContext& ctx);
  ~UploadService();

  // kTooLarge past limits.max_upload_bytes; kInvalid for a bad length, name, checksum or
  // companion. A zero-length upload completes at once.
  boost::asio::awaitable<Result<File>> create(NewUpload request);
  // The upload (any file, in fact); kNotFound when unknown or expired.
  Result<File> get(Id id);
  // kConflict: offset mismatch, another append running, or the upload is complete;
  // kTooLarge: the body goes past the declared length.
  boost::asio::awaitable<AppendResult> append(AppendRequest request, ByteSource& source);
  // Removes an upload and its bytes (any file not used by an unfinished job).
  boost::asio::awaitable<Status> terminate(Id id);
  // Removes expired unfinished uploads now; returns how many.
  boost::asio::awaitable<int> sweep_expired();
  // Starts the periodic sweep on the loop (every half expiry time, 1 s to 5 min).
  void start_sweeper();
  void stop();

 private:
  struct HashState;
  struct PieceJob;
  // Writes `size` bytes at `pos` of `fd` and updates the hashes, on the worker pool.
  void start_piece(const std::shared_ptr<PieceJob>& job, int fd, const char* data, std::size_t size,
                   std::int64_t pos, HashState* whole, Sha256* chunk);
  boost::asio::awaitable<Result<File>> complete(File file);
  void publish(const File& file, bool force);
  // Lowers a saved offset to the bytes the file really holds.
  void reconcile_offset(File& f);
  boost::asio::awaitable<void> sweeper_loop();

  CoreContext& ctx_;
  std::set<Id> busy_;
  // The running whole-file hash of each upload appended to since the server started;
  // after a restart the bytes already on disk are hashed once at completion instead.
  std::map<Id, std::shared_ptr<HashState>> hashes_;
  std::map<Id, std::int64_t> last_event_ms_;
  bool stopping_ = false;
  std::shared_ptr<bool> alive_;
  boost::asio::steady_timer* sweep_timer_ = nullptr;  // the sweeper's, while it runs
};

// Index suffixes that make a file the companion of the file without them ("x.bam.bai"
// accompanies "x.bam"; "x.bai" accompanies "x.bam" too). Returns the names a primary could
// have, most specific first; empty when `name` is no known index.
std::vector<std::string> companion_primary_names(const std::string& name);

}  // namespace pirus
