#pragma once
// The per-job, per-stream log cap (limits.job_log_size). A chatty tool may print gigabytes;
// the log file keeps the first `limit` bytes, then a marker line, and everything after is
// counted and dropped (the engine's stream is still read to the end, so the container never
// blocks on a full pipe). Engine-agnostic: every manager that writes job logs uses it.
//
// Pure and single-threaded; each stream of each job has its own.

#include <cstdint>
#include <string>
#include <string_view>

namespace pirus {

class LogCap {
 public:
  explicit LogCap(std::int64_t limit = 0) : limit_(limit) {}  // 0: no cap

  struct Admitted {
    std::string_view keep;     // the part of the data to write
    bool reached_now = false;  // this call hit the cap: write provisional_marker() after `keep`
  };
  Admitted admit(std::string_view data);

  bool capped() const { return capped_; }
  std::int64_t kept() const { return kept_; }        // bytes written before the marker
  std::int64_t dropped() const { return dropped_; }  // bytes discarded after it

  // Written when the cap is hit, while the count is still unknown:
  // "[pirus: log truncated at 64 MiB; further output dropped]\n".
  std::string provisional_marker() const;
  // Replaces the provisional marker once the stream has ended (it starts at offset kept()):
  // "[pirus: log truncated at 64 MiB; at least 123456 further bytes dropped]\n". "At least":
  // the count is what reached the server, and an engine that rotates its own record (as
  // Docker's json-file does under a size limit) may skip output a slow reader had not seen.
  std::string final_marker() const;

 private:
  std::string prefix() const;

  std::int64_t limit_;
  std::int64_t kept_ = 0;
  std::int64_t dropped_ = 0;
  bool capped_ = false;
  bool ends_with_newline_ = true;  // of the kept part; an empty log counts as ended
};

// "64 MiB", "1.5 KiB", "1000 bytes": the limit as people write it.
std::string log_cap_size_text(std::int64_t bytes);

}  // namespace pirus
