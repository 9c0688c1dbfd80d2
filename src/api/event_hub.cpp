#include "api/event_hub.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <ctime>

namespace pirus::api {

namespace asio = boost::asio;
namespace json = boost::json;

struct HubState {
  HubState(asio::any_io_executor e, EventBus& b, JobLogWatcher* l, EventLimits lim)
      : ex(std::move(e)), bus(b), logs(l), limits(lim) {}

  void deliver(const Event& e);
  void follow_logs(const Subscription& sub, bool acquire);
  void remove(EventClient& c);

  asio::any_io_executor ex;
  EventBus& bus;
  JobLogWatcher* logs;
  EventLimits limits;
  std::uint64_t bus_token = 0;
  std::uint64_t next_client = 1;
  std::map<std::uint64_t, EventClient*> clients;
  std::uint64_t next_watch = 1;
  std::map<std::uint64_t, std::pair<Id, std::function<void(const Event&)>>> watches;
  std::uint64_t dropped_slow = 0;
};

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

bool known_kind(std::string_view k) {
  for (const char* known : kEventKinds) {
    if (k == known) return true;
  }
  return false;
}

std::string kinds_list() {
  std::string out;
  for (const char* k : kEventKinds) out += std::string(out.empty() ? "" : ", ") + k;
  return out;
}

std::string format_time_us(std::int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1000000));
  return buf.data();
}

Status parse_id(std::string_view text, const std::string& name, std::set<Id>& out) {
  Id id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || ptr != text.data() + text.size() || id <= 0) {
    return Status::invalid(name + " must list positive integer ids, got '" + std::string(text) +
                           "'");
  }
  out.insert(id);
  if (out.size() > kMaxIds) {
    return Status::invalid("at most " + std::to_string(kMaxIds) + " " + name + " ids");
  }
  return Status::ok();
}

Status add_kind(std::string_view k, Subscription& sub) {
  if (!known_kind(k)) {
    return Status::invalid("unknown event kind '" + std::string(k) + "'; the kinds are " +
                           kinds_list());
  }
  sub.kinds.emplace(k);
  return Status::ok();
}

Status finish(Subscription& sub, bool kinds_given) {
  if (!kinds_given) sub.kinds = {"job_updated", "file_updated", "pipeline_updated"};
  if (sub.kinds.count("job_log") != 0 && sub.jobs.empty()) {
    return Status::invalid("job_log is sent only for the jobs named: add job=ID");
  }
  return Status::ok();
}

json::array ids_json(const std::set<Id>& ids) {
  json::array a;
  for (Id id : ids) a.push_back(id);
  return a;
}

}  // namespace

bool Subscription::wants(const Event& e) const {
  if (kinds.count(e.kind) == 0) return false;
  const std::set<Id>* ids = &jobs;
  if (e.kind == "file_updated") ids = &files;
  if (e.kind == "pipeline_updated") ids = &pipelines;
  return ids->empty() || ids->count(e.id) != 0;
}

json::object Subscription::to_json() const {
  json::array k;
  for (const auto& kind : kinds) k.emplace_back(kind);
  json::object o;
  o["kinds"] = std::move(k);
  o["job"] = ids_json(jobs);
  o["file"] = ids_json(files);
  o["pipeline"] = ids_json(pipelines);
  return o;
}

Result<Subscription> subscription_from_query(const std::multimap<std::string, std::string>& q) {
  Subscription sub;
  bool kinds_given = false;
  for (const auto& [name, value] : q) {
    std::set<Id>* ids = nullptr;
    if (name == "job") ids = &sub.jobs;
    if (name == "file") ids = &sub.files;
    if (name == "pipeline") ids = &sub.pipelines;
    if (name != "kinds" && ids == nullptr) {
      return Status::invalid("unknown parameter '" + name +
                             "'; a subscription takes kinds, job, file and pipeline");
    }
    if (name == "kinds") kinds_given = true;
    std::string_view rest = value;
    if (rest.empty()) return Status::invalid(name + " is empty");
    for (;;) {
      auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      Status st = ids != nullptr ? parse_id(item, name, *ids) : add_kind(item, sub);
      if (!st) return st;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  PIRUS_RETURN_IF_ERROR(finish(sub, kinds_given));
  return sub;
}

Result<Subscription> subscription_from_json(const json::object& message) {
  Subscription sub;
  bool kinds_given = false;
  for (const auto& [key, value] : message) {
    if (key == "type") continue;
    std::set<Id>* ids = nullptr;
    if (key == "job") ids = &sub.jobs;
    if (key == "file") ids = &sub.files;
    if (key == "pipeline") ids = &sub.pipelines;
    if (key != "kinds" && ids == nullptr) {
      return Status::invalid("unknown field '" + std::string(key) +
                             "'; a subscription takes kinds, job, file and pipeline");
    }
    if (!value.is_array()) return Status::invalid(std::string(key) + " must be an array");
    if (key == "kinds") kinds_given = true;
    for (const auto& item : value.get_array()) {
      if (ids == nullptr) {
        if (!item.is_string()) return Status::invalid("kinds must be strings");
        PIRUS_RETURN_IF_ERROR(add_kind(item.get_string(), sub));
      } else {
        if (!item.is_int64() || item.get_int64() <= 0) {
          return Status::invalid(std::string(key) + " must list positive integer ids");
        }
        ids->insert(item.get_int64());
        if (ids->size() > kMaxIds) {
          return Status::invalid("at most " + std::to_string(kMaxIds) + " " + std::string(key) +
                                 " ids");
        }
      }
    }
  }
  PIRUS_RETURN_IF_ERROR(finish(sub, kinds_given));
  return sub;
}

bool may_see(const Principal&, const Event&) {
  // Everyone may see everything until authentication exists; then this checks ownership.
  return true;
}

// ---------------------------------------------------------------- EventClient

EventClient::EventClient(asio::any_io_executor ex, std::weak_ptr<HubState> hub)
    : hub_(std::move(hub)), wake_(ex), kill_timer_(ex) {}

EventClient::~EventClient() {
  if (auto hub = hub_.lock()) hub->remove(*this);
}

void EventClient::wake() {
  wake_.cancel();
}

asio::awaitable<void> EventClient::wait(std::chrono::steady_clock::duration at_most) {
  if (!queue_.empty() || overflowed_ || stop_requested_ || gone_) co_return;
  wake_.expires_after(at_most);
  [[maybe_unused]] auto [ec] = co_await wake_.async_wait(kNoThrow);
}

std::shared_ptr<const SerializedEvent> EventClient::pop() {
  if (queue_.empty()) return nullptr;
  auto [e, bytes] = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= bytes;
  return e;
}

void EventClient::push(std::shared_ptr<const SerializedEvent> e, std::size_t bytes) {
  if (overflowed_ || gone_) return;
  auto hub = hub_.lock();
  if (!hub) return;
  if (queue_.size() >= hub->limits.queue_events ||
      queued_bytes_ + bytes > hub->limits.queue_bytes) {
    overflowed_ = true;
    ++hub->dropped_slow;
    spdlog::info("events: {} client {} dropped: too slow ({} events, {} bytes queued)", transport_,
                 id_, queue_.size(), queued_bytes_);
    queue_.clear();
    queued_bytes_ = 0;
    wake();
    // Its transport says goodbye once its current write completes; a client that reads
    // nothing at all never lets that happen, so it is cut off after the grace period.
    kill_timer_.expires_after(hub->limits.drop_grace);
    kill_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !gone_ && kill_) kill_();
    });
    return;
  }
  queue_.emplace_back(std::move(e), bytes);
  queued_bytes_ += bytes;
  if (queue_.size() == 1) wake();
}

void EventClient::reply(const json::object& message) {
  auto e = std::make_shared<SerializedEvent>();
  e->kind = "reply";
  e->json = json::serialize(message);
  const std::size_t bytes = e->json.size();
  push(std::move(e), bytes);
}

void EventClient::request_stop() {
  stop_requested_ = true;
  wake();
}

void EventClient::mark_gone() {
  gone_ = true;
  kill_timer_.cancel();
  wake();
}

// ---------------------------------------------------------------- the hub

void HubState::deliver(const Event& e) {
  for (auto& [token, w] : watches) {
    if (w.first == e.id && (e.kind == "job_updated" || e.kind == "job_log")) w.second(e);
  }
  std::shared_ptr<SerializedEvent> serialized;  // made for the first client that wants it
  for (auto& [id, c] : clients) {
    if (c->overflowed_ || c->gone_ || !c->sub_.wants(e) || !may_see(c->principal_, e)) continue;
    if (!serialized) {
      serialized = std::make_shared<SerializedEvent>();
      serialized->seq = e.seq;
      serialized->kind = e.kind;
      json::object o;
      o["seq"] = e.seq;
      o["time"] = format_time_us(e.time_us);
      o["kind"] = e.kind;
      o["id"] = e.id;
      o["data"] = e.data;
      serialized->json = json::serialize(o);
    }
    c->push(serialized, serialized->json.size() + 64);
  }
}

void HubState::follow_logs(const Subscription& sub, bool acquire) {
  if (logs == nullptr || sub.kinds.count("job_log") == 0) return;
  for (Id job : sub.jobs) {
    if (acquire) {
      logs->acquire(job);
    } else {
      logs->release(job);
    }
  }
}

void HubState::remove(EventClient& c) {
  if (clients.erase(c.id_) != 0) follow_logs(c.sub_, false);
}

EventHub::EventHub(asio::any_io_executor ex, EventBus& bus, JobLogWatcher* logs, EventLimits limits)
    : state_(std::make_shared<HubState>(std::move(ex), bus, logs, limits)) {
  state_->bus_token = bus.subscribe([s = state_.get()](const Event& e) { s->deliver(e); });
}

EventHub::~EventHub() {
  state_->bus.unsubscribe(state_->bus_token);
  for (auto& [id, c] : state_->clients) state_->follow_logs(c->sub_, false);
  for (auto& [token, w] : state_->watches) {
    if (state_->logs != nullptr) state_->logs->release(w.first);
  }
}

std::shared_ptr<EventClient> EventHub::connect(Subscription sub, Principal principal,
                                               std::string transport) {
  std::shared_ptr<EventClient> c(new EventClient(state_->ex, state_));
  c->id_ = state_->next_client++;
  c->transport_ = std::move(transport);
  c->sub_ = std::move(sub);
  c->principal_ = std::move(principal);
  state_->clients[c->id_] = c.get();
  state_->follow_logs(c->sub_, true);
  return c;
}

void EventHub::resubscribe(EventClient& client, Subscription sub) {
  // Acquire the new jobs before releasing the old ones, so a job in both keeps its offset.
  state_->follow_logs(sub, true);
  state_->follow_logs(client.sub_, false);
  client.sub_ = std::move(sub);
}

std::unique_ptr<JobWatch> EventHub::watch_job(Id job, std::function<void(const Event&)> callback) {
  std::unique_ptr<JobWatch> w(new JobWatch());
  w->hub_ = state_;
  w->token_ = state_->next_watch++;
  w->job_ = job;
  state_->watches[w->token_] = {job, std::move(callback)};
  if (state_->logs != nullptr) state_->logs->acquire(job);
  return w;
}

JobWatch::~JobWatch() {
  auto hub = hub_.lock();
  if (!hub) return;
  hub->watches.erase(token_);
  if (hub->logs != nullptr) hub->logs->release(job_);
}

const EventLimits& EventHub::limits() const {
  return state_->limits;
}

std::size_t EventHub::client_count() const {
  return state_->clients.size();
}

json::object EventHub::stats() const {
  std::int64_t ws = 0;
  std::int64_t sse = 0;
  for (const auto& [id, c] : state_->clients) (c->transport_ == "websocket" ? ws : sse) += 1;
  json::object o;
  o["clients"] = ws + sse;
  o["websocket"] = ws;
  o["sse"] = sse;
  o["dropped_slow"] = state_->dropped_slow;
  o["last_seq"] = state_->bus.last_seq();
  o["followed_job_logs"] = state_->logs != nullptr ? state_->logs->followed() : 0;
  return o;
}

}  // namespace pirus::api
