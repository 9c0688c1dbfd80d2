#pragma once
// Follows the progress file of every running job (the file channel of the progress
// contract: the job appends JSON lines {"progress":0.42,"label":"aligning"} to
// $PIRUS_PROGRESS_FILE, which works with network none). One inotify descriptor on the
// event loop watches all jobs' logs/ directories; changes are read from the last offset and
// applied at most every 250 ms per job, so a chatty job cannot flood the store.

#include <sys/inotify.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "model/model.hpp"

namespace pirus {

struct ProgressUpdate {
  std::optional<double> progress;  // clamped to 0..1
  std::optional<std::string> label;
};

// Parses one line of a progress file. nullopt for anything that is not a JSON object with
// a numeric `progress` and/or a string `label` (both optional, at least one present).
std::optional<ProgressUpdate> parse_progress_line(const std::string& line);

class ProgressWatcher {
 public:
  using Sink = std::function<void(Id job_id, const ProgressUpdate& update)>;

  ProgressWatcher(boost::asio::any_io_executor ex, Sink sink);
  ~ProgressWatcher();
  ProgressWatcher(const ProgressWatcher&) = delete;
  ProgressWatcher& operator=(const ProgressWatcher&) = delete;

  // Starts following `progress_path` (which may not exist yet) for `job_id`; its directory
  // must exist. Lines already in the file are read too (recovery after a restart).
  void watch(Id job_id, const std::string& progress_path);
  // Stops following; a final read delivers what the job wrote last.
  void unwatch(Id job_id);
  void shutdown();

 private:
  struct Watched {
    std::string path;
    int wd = -1;
    std::int64_t offset = 0;
    std::string partial;  // an unterminated last line
  };
  void read_events();
  void schedule_flush();
  void drain(Id job_id, Watched& w);

  boost::asio::posix::stream_descriptor fd_;
  boost::asio::steady_timer flush_;
  Sink sink_;
  std::map<Id, Watched> jobs_;
  std::map<int, Id> by_wd_;
  std::set<Id> dirty_;
  bool flush_pending_ = false;
  alignas(struct inotify_event) char buf_[16384];
};

}  // namespace pirus
