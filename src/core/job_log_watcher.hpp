#pragma once
// Publishes the lines jobs write to their stdout.log and stderr.log as job_log events, but
// only for the jobs someone follows (an event subscriber or a log follower has acquired
// them): a job nobody follows costs nothing, its files are neither read nor formatted.
//
// Reads the files rather than hooking into a container manager, so it works with every
// engine and reports exactly what the log files hold. One inotify descriptor on the event
// loop serves every followed job. Event data:
//   {"id":42,"stream":"stdout","offset":1024,"lines":["a","b"],"skipped_bytes":0}
// `offset` is the byte offset of the first line in the log file. A job that writes faster
// than kMaxReadPerDrain per wake-up has the excess skipped (counted in skipped_bytes), so a
// chatty job cannot stall the event loop. Lines are valid UTF-8 (invalid bytes become
// U+FFFD) and at most 16 KiB (longer ones are split). The unterminated last line of a job
// is published when the job reaches a final status.
//
// Threading: everything on the event loop.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <map>
#include <string>

#include "core/event_bus.hpp"

namespace pirus {

class JobLogWatcher {
 public:
  JobLogWatcher(boost::asio::any_io_executor ex, EventBus& bus, std::string jobs_dir);
  ~JobLogWatcher();
  JobLogWatcher(const JobLogWatcher&) = delete;
  JobLogWatcher& operator=(const JobLogWatcher&) = delete;

  // Reference-counted. The first acquire starts at the current end of the job's files:
  // only lines written from now on are published.
  void acquire(Id job_id);
  void release(Id job_id);
  // Number of jobs followed now.
  std::size_t followed() const { return jobs_.size(); }
  void shutdown();

 private:
  struct Stream {
    std::string path;
    std::int64_t offset = 0;  // bytes published (or skipped) so far
    std::string partial;      // an unterminated last line
  };
  struct Followed {
    int refs = 0;
    int wd = -1;
    Stream out, err;
  };
  void read_events();
  void ensure_watch(Id job_id, Followed& f);
  void drain(Id job_id, Stream& s, const char* name, bool final);

  boost::asio::posix::stream_descriptor fd_;
  EventBus& bus_;
  std::string jobs_dir_;
  std::uint64_t bus_token_ = 0;
  std::map<Id, Followed> jobs_;
  std::map<int, Id> by_wd_;
  alignas(8) char buf_[16384];
};

// Replaces invalid UTF-8 sequences with U+FFFD (for text that goes into JSON and WebSocket
// text frames).
std::string sanitize_utf8(std::string_view in);

}  // namespace pirus
