#pragma once
// How the HTTP server's connection coroutine hands itself over to a streaming response or a
// WebSocket session (streaming.cpp). Internal to pirus_http.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <functional>

#include "http/http_server.hpp"

namespace pirus::http::detail {

// What the session lends to a long-lived response. `stop_hook` is called by the session's
// stop() (server shutdown); `stopping` is its flag.
struct StreamContext {
  boost::beast::tcp_stream& stream;
  std::function<void()>& stop_hook;
  const bool& stopping;
  std::chrono::seconds write_timeout;
};

// Writes the header of `res` (chunked) and runs res.stream. The connection must be closed
// afterwards whatever happened.
asio::awaitable<void> run_chunked(StreamContext ctx, Response& res, unsigned version, bool head);

// Completes the WebSocket handshake for `req` and runs res.websocket. The connection must be
// closed afterwards.
asio::awaitable<void> run_websocket(StreamContext ctx, const Request& req, Response& res);

}  // namespace pirus::http::detail
