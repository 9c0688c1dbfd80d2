#pragma once
// Long-lived connections: chunked streaming responses (server-sent events, followed logs)
// and WebSocket sessions. A handler returns a Response with `stream` or `websocket` set
// (http_server.hpp); the connection's own coroutine then runs it on the event loop, so a
// thousand open streams cost a thousand sockets and coroutine frames, not threads.
//
// Threading: every method is called on the connection's executor (the event loop), and so
// are the on_stop callbacks. At most one write (or close) and one read may be in flight at
// a time on one connection; the owner of the connection keeps to that.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace pirus::http {

namespace asio = boost::asio;

class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends `data` as one chunk (nothing for empty data). false once the client is gone, a
  // write stalled past the server's idle timeout, or close_now() was called: the producer
  // should then return.
  virtual asio::awaitable<bool> write(std::string_view data) = 0;
  // True once the server is stopping. `callback` runs once when stopping starts (at once if
  // it has already), so that a producer waiting for data can wake up and finish.
  virtual bool stopping() const = 0;
  virtual void on_stop(std::function<void()> callback) = 0;
  // Closes the connection now, without the last chunk: the client sees an incomplete body.
  // A pending write fails. For a stream that cannot be completed honestly.
  virtual void close_now() = 0;
};

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // The next message from the client. kUnavailable once the connection has closed (the
  // message says why: the peer's close code and reason, a timeout, a broken connection).
  virtual asio::awaitable<Result<std::string>> read() = 0;
  // Sends one text message (valid UTF-8). false when the connection is gone.
  virtual asio::awaitable<bool> write(std::string_view text) = 0;
  // Sends a close frame with `code` and `reason` (at most 123 bytes) and waits for the
  // peer's answer (bounded by the handshake timeout). Never concurrently with write().
  virtual asio::awaitable<void> close(std::uint16_t code, std::string_view reason) = 0;
  // Keep-alive: a ping goes out when nothing was received for `every`, and the connection
  // is dropped when nothing (not even a pong) arrives for twice that.
  virtual void set_heartbeat(std::chrono::seconds every) = 0;
  virtual bool stopping() const = 0;
  virtual void on_stop(std::function<void()> callback) = 0;
  // Tears the TCP connection down at once; pending operations fail.
  virtual void close_now() = 0;
};

}  // namespace pirus::http
