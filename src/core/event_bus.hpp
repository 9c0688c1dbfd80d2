#pragma once
// In-process publish/subscribe of model changes (job_updated, job_log, pipeline_updated,
// file_updated). Lives on the event loop: publish and subscribers run on that one thread,
// so it needs no locks. Push channels (WebSocket/SSE, api/event_hub.hpp) subscribe here.
//
// Publishing is synchronous: every handler runs inside publish(). Handlers must therefore be
// cheap (queue, do not write to sockets) and must not publish recursively.

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "model/model.hpp"

namespace pirus {

struct Event {
  std::string kind;  // "job_updated", "job_log", "pipeline_updated", "file_updated"
  Id id = 0;         // the job, pipeline or file the event is about
  boost::json::object data;
  // Set by publish(): strictly increasing per server run, and the wall-clock time of
  // publication in microseconds since the epoch.
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;
};

class EventBus {
 public:
  using Handler = std::function<void(const Event&)>;
  // Returns a token for unsubscribe().
  std::uint64_t subscribe(Handler handler);
  void unsubscribe(std::uint64_t token);
  // Stamps the event with the next sequence number and the current time, then hands it to
  // every handler.
  void publish(Event event);
  std::size_t subscriber_count() const { return handlers_.size(); }
  // The sequence number of the newest published event (0 before the first).
  std::uint64_t last_seq() const { return seq_; }

 private:
  std::uint64_t next_ = 1;
  std::uint64_t seq_ = 0;
  std::map<std::uint64_t, Handler> handlers_;
};

}  // namespace pirus
