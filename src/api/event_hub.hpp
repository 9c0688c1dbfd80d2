#pragma once
// Fans the event bus out to push clients (WebSocket and server-sent events, see
// event_routes.cpp and docs/api.md "Events"). Each client has a subscription (kinds and
// ids) and a bounded queue of serialised events; an event is serialised once, and only if
// some client wants it. A client whose queue overflows (by count or by bytes) is marked
// overflowed and its queue freed: its transport then closes it with the "too slow" code,
// and tears the connection down if even that cannot be written within drop_grace.
//
// Threading: the event loop only. Lifetime: clients and watches may outlive the hub (their
// coroutine frames are destroyed with the io_context, after the hub); they then do nothing.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/status.hpp"
#include "core/event_bus.hpp"
#include "core/job_log_watcher.hpp"

namespace pirus::api {

inline constexpr const char* kEventKinds[] = {"job_updated", "job_log", "file_updated",
                                              "pipeline_updated"};

// WebSocket close codes (and the `code` of an SSE `error` event).
inline constexpr std::uint16_t kCloseTooSlow = 4008;         // queue overflowed
inline constexpr std::uint16_t kCloseServerStopping = 1001;  // "going away"

struct Subscription {
  std::set<std::string> kinds;
  // Ids the kinds are limited to; empty means every one. job_* events are about jobs,
  // file_updated about files, pipeline_updated about pipelines.
  std::set<Id> jobs, files, pipelines;

  bool wants(const Event& e) const;
  boost::json::object to_json() const;
};

// From the query of GET /api/v1/events: kinds=a,b  job=1,2  file=3  pipeline=4 (each may be
// repeated). kInvalid, naming the problem, for unknown kinds or parameters, ids that are
// not positive integers, more than kMaxIds ids, or job_log without job ids.
Result<Subscription> subscription_from_query(const std::multimap<std::string, std::string>& q);
// From a WebSocket message {"type":"subscribe","kinds":[...],"job":[...],...}: the same
// rules, arrays instead of comma lists.
Result<Subscription> subscription_from_json(const boost::json::object& message);
inline constexpr std::size_t kMaxIds = 1000;

// Who a connection acts for. There is no authentication yet, so every connection is
// anonymous and may see every event; may_see() is the single place where a subscription
// is checked against the principal once there is.
struct Principal {
  std::string name = "anonymous";
};
bool may_see(const Principal& principal, const Event& event);

struct EventLimits {
  std::size_t queue_events = 1024;      // per client
  std::size_t queue_bytes = 4u << 20;   // per client
  std::chrono::seconds heartbeat{20};   // WebSocket ping / SSE comment when idle
  std::chrono::seconds drop_grace{10};  // a dropped client that cannot even be told is cut
};

struct SerializedEvent {
  std::uint64_t seq = 0;
  std::string kind;
  std::string json;  // {"seq":..,"time":..,"kind":..,"id":..,"data":{..}}
};

struct HubState;

class EventClient {
 public:
  ~EventClient();
  EventClient(const EventClient&) = delete;
  EventClient& operator=(const EventClient&) = delete;

  // Waits until something can be sent, or the client must stop (overflowed, stopping,
  // gone), or `at_most` has passed.
  boost::asio::awaitable<void> wait(std::chrono::steady_clock::duration at_most);
  // The oldest queued message, or null.
  std::shared_ptr<const SerializedEvent> pop();
  // Queues a reply to the client itself (subscribe confirmations, errors); counted against
  // the same limits as events.
  void reply(const boost::json::object& message);

  bool overflowed() const { return overflowed_; }
  bool stop_requested() const { return stop_requested_; }
  bool gone() const { return gone_; }
  void request_stop();  // the server is stopping: say goodbye
  void mark_gone();     // the connection ended (the reader saw it)
  // Called when the client must be cut off without a goodbye (see drop_grace).
  void on_kill(std::function<void()> kill) { kill_ = std::move(kill); }

  const Subscription& subscription() const { return sub_; }
  const Principal& principal() const { return principal_; }

 private:
  friend struct HubState;
  friend class EventHub;
  EventClient(boost::asio::any_io_executor ex, std::weak_ptr<HubState> hub);
  void push(std::shared_ptr<const SerializedEvent> e, std::size_t bytes);
  void wake();

  std::weak_ptr<HubState> hub_;
  std::uint64_t id_ = 0;
  std::string transport_;
  Subscription sub_;
  Principal principal_;
  std::deque<std::pair<std::shared_ptr<const SerializedEvent>, std::size_t>> queue_;
  std::size_t queued_bytes_ = 0;
  bool overflowed_ = false;
  bool stop_requested_ = false;
  bool gone_ = false;
  boost::asio::steady_timer wake_;
  boost::asio::steady_timer kill_timer_;
  std::function<void()> kill_;
};

// Calls back on every event about one job (job_updated and job_log), for log followers.
// Unsubscribes when destroyed.
class JobWatch {
 public:
  ~JobWatch();
  JobWatch(const JobWatch&) = delete;
  JobWatch& operator=(const JobWatch&) = delete;

 private:
  friend class EventHub;
  JobWatch() = default;
  std::weak_ptr<HubState> hub_;
  std::uint64_t token_ = 0;
  Id job_ = 0;
};

class EventHub {
 public:
  EventHub(boost::asio::any_io_executor ex, EventBus& bus, JobLogWatcher* logs, EventLimits limits);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // A new client ("websocket" or "sse"); it receives events published from now on.
  std::shared_ptr<EventClient> connect(Subscription sub, Principal principal,
                                       std::string transport);
  // Replaces a client's subscription.
  void resubscribe(EventClient& client, Subscription sub);
  // `callback` runs (on the loop, synchronously inside the publication: it must be cheap)
  // for every job_updated and job_log event of `job`; job_log events are produced while
  // the watch lives.
  std::unique_ptr<JobWatch> watch_job(Id job, std::function<void(const Event&)> callback);

  const EventLimits& limits() const;
  std::size_t client_count() const;
  // {"clients", "websocket", "sse", "dropped_slow", "last_seq", "followed_job_logs"}
  boost::json::object stats() const;

 private:
  std::shared_ptr<HubState> state_;
};

}  // namespace pirus::api
