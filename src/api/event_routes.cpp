#include "api/event_routes.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "http/streaming.hpp"

namespace pirus::api {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// How long a closing client may take to answer our close frame before it is cut.
constexpr auto kCloseWait = std::chrono::seconds(5);

asio::awaitable<void> sleep_for(Clock::duration d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, d);
  [[maybe_unused]] auto [ec] = co_await t.async_wait(kNoThrow);
}

json::object error_reply(const std::string& detail) {
  json::object o;
  o["type"] = "error";
  o["detail"] = detail;
  return o;
}

// Reads subscription changes until the connection ends.
asio::awaitable<void> ws_reader(EventHub& hub, std::shared_ptr<EventClient> client,
                                http::WebSocket& ws) {
  for (;;) {
    Result<std::string> msg = co_await ws.read();
    if (!msg) break;
    boost::system::error_code ec;
    json::value v = json::parse(*msg, ec);
    if (ec || !v.is_object()) {
      client->reply(error_reply("messages must be JSON objects"));
      continue;
    }
    const auto* type = v.get_object().if_contains("type");
    if (type == nullptr || !type->is_string() || type->get_string() != "subscribe") {
      client->reply(error_reply("unknown message type: the only one is \"subscribe\""));
      continue;
    }
    auto sub = subscription_from_json(v.get_object());
    if (!sub) {
      client->reply(error_reply(sub.status().message()));
      continue;
    }
    hub.resubscribe(*client, std::move(*sub));
    json::object ok;
    ok["type"] = "subscribed";
    ok["subscription"] = client->subscription().to_json();
    client->reply(ok);
  }
  client->mark_gone();
}

asio::awaitable<void> run_ws_client(EventHub& hub, Subscription sub, http::WebSocket& ws) {
  auto client = hub.connect(sub, Principal{}, "websocket");
  ws.set_heartbeat(hub.limits().heartbeat);
  client->on_kill([&ws] { ws.close_now(); });
  ws.on_stop([c = client.get()] { c->request_stop(); });
  json::object hello;
  hello["type"] = "subscribed";
  hello["subscription"] = client->subscription().to_json();
  client->reply(hello);

  // One reader and this writer share the connection (Beast allows one of each at a time).
  // Named first: GCC 12 mishandles capturing lambdas inside a co_await full-expression.
  auto ex = co_await asio::this_coro::executor;
  auto reader = ws_reader(hub, client, ws);
  auto reader_done = [c = client](std::exception_ptr e) {
    if (e) spdlog::warn("events: a websocket reader failed");
    c->mark_gone();
  };
  asio::co_spawn(ex, std::move(reader), std::move(reader_done));
  for (;;) {
    if (client->gone()) break;
    if (client->overflowed()) {
      co_await ws.close(kCloseTooSlow, "too slow");
      break;
    }
    if (client->stop_requested()) {
      co_await ws.close(kCloseServerStopping, "server stopping");
      break;
    }
    auto e = client->pop();
    if (!e) {
      co_await client->wait(std::chrono::hours(1));
      continue;
    }
    const bool sent = co_await ws.write(e->json);
    if (!sent) {
      ws.close_now();
      break;
    }
  }
  // The reader must be done before the WebSocket goes away: it ends when the close
  // handshake completes, or when the connection is torn down.
  const auto deadline = Clock::now() + kCloseWait;
  while (!client->gone()) {
    if (Clock::now() > deadline) ws.close_now();
    co_await sleep_for(std::chrono::milliseconds(20));
  }
}

std::string sse_frame(const SerializedEvent& e) {
  std::string out;
  out.reserve(e.json.size() + e.kind.size() + 40);
  out += "id: ";
  out += std::to_string(e.seq);
  out += "\nevent: ";
  out += e.kind;
  out += "\ndata: ";
  out += e.json;  // JSON has no raw newlines
  out += "\n\n";
  return out;
}

asio::awaitable<void> run_sse_client(EventHub& hub, Subscription sub, http::StreamWriter& w) {
  auto client = hub.connect(sub, Principal{}, "sse");
  client->on_kill([&w] { w.close_now(); });
  w.on_stop([c = client.get()] { c->request_stop(); });
  const auto heartbeat = hub.limits().heartbeat;
  std::string hello =
      "retry: 3000\n: subscribed " + json::serialize(client->subscription().to_json()) + "\n\n";
  bool ok = co_await w.write(hello);
  auto last_write = Clock::now();
  while (ok) {
    if (client->overflowed()) {
      std::string bye = "event: error\ndata: {\"code\":" + std::to_string(kCloseTooSlow) +
                        ",\"reason\":\"too slow\"}\n\n";
      co_await w.write(bye);
      break;
    }
    if (client->stop_requested()) {
      std::string bye = "event: close\ndata: {\"code\":" + std::to_string(kCloseServerStopping) +
                        ",\"reason\":\"server stopping\"}\n\n";
      co_await w.write(bye);
      break;
    }
    auto e = client->pop();
    if (e) {
      std::string frame = sse_frame(*e);
      ok = co_await w.write(frame);
      last_write = Clock::now();
      continue;
    }
    co_await client->wait(heartbeat);
    if (Clock::now() - last_write >= heartbeat) {
      // A comment: keeps proxies from closing an idle stream, and finds dead clients.
      std::string beat = ": heartbeat\n\n";
      ok = co_await w.write(beat);
      last_write = Clock::now();
    }
  }
  client->mark_gone();
}

}  // namespace

void register_event_routes(http::Server& server, Services services) {
  EventHub* hub = services.hub;
  server.add({"GET", "/api/v1/events", http::BodyKind::kNone,
              [hub](Request& req) -> asio::awaitable<Response> {
                auto sub = subscription_from_query(req.query);
                if (!sub) co_return Response::from_status(sub.status());
                Response res;
                if (http::is_websocket_upgrade(req)) {
                  res.websocket = [hub, s = *sub](http::WebSocket& ws) {
                    return run_ws_client(*hub, s, ws);
                  };
                  co_return res;
                }
                auto accept = req.header("accept");
                if (accept && accept->find("text/event-stream") != std::string::npos) {
                  res.headers["Content-Type"] = "text/event-stream";
                  res.stream = [hub, s = *sub](http::StreamWriter& w) {
                    return run_sse_client(*hub, s, w);
                  };
                  co_return res;
                }
                co_return Response::problem(
                    406, "Not Acceptable",
                    "/api/v1/events streams events: open it as a WebSocket, or as server-sent "
                    "events with Accept: text/event-stream");
              }});
  server.add({"GET", "/api/v1/events/stats", http::BodyKind::kNone,
              [hub](Request&) -> asio::awaitable<Response> {
                co_return Response::json(200, hub->stats());
              }});
}

}  // namespace pirus::api
