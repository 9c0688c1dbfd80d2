#pragma once
// In-process publish/subscribe of model changes (job_updated, pipeline_updated,
// file_updated). Lives on the event loop: publish and subscribers run on that one thread,
// so it needs no locks. Push channels (WebSocket/SSE) subscribe here.

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "model/model.hpp"

namespace pirus {

struct Event {
  std::string kind;  // "job_updated", "pipeline_updated", "file_updated"
  Id id = 0;
  boost::json::object data;
};

class EventBus {
 public:
  using Handler = std::function<void(const Event&)>;
  // Returns a token for unsubscribe().
  std::uint64_t subscribe(Handler handler);
  void unsubscribe(std::uint64_t token);
  void publish(const Event& event);
  std::size_t subscriber_count() const { return handlers_.size(); }

 private:
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, Handler> handlers_;
};

}  // namespace pirus
