#include "core/event_bus.hpp"

#include <chrono>
#include <vector>

namespace pirus {

std::uint64_t EventBus::subscribe(Handler handler) {
  handlers_[next_] = std::move(handler);
  return next_++;
}

void EventBus::unsubscribe(std::uint64_t token) {
  handlers_.erase(token);
}

void EventBus::publish(Event event) {
  event.seq = ++seq_;
  event.time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  // A handler may unsubscribe itself (or others) while we iterate: copy the tokens first.
  std::vector<std::uint64_t> tokens;
  tokens.reserve(handlers_.size());
  for (const auto& [t, h] : handlers_) tokens.push_back(t);
  for (auto t : tokens) {
    auto it = handlers_.find(t);
    if (it != handlers_.end()) it->second(event);
  }
}

}  // namespace pirus
