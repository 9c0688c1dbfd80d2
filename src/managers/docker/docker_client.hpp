#pragma once
// A small Docker Engine API client: HTTP/1.1 over the engine's unix socket, with Beast and
// C++20 coroutines. Every call opens its own connection and closes it afterwards: the engine
// is local, connecting costs microseconds, and a connection that dockerd dropped can never
// poison a later call. Streaming responses (events, logs, build output) keep theirs until
// the body ends or close() is called.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace pirus::docker {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct EngineRequest {
  http::verb method = http::verb::get;
  std::string target;        // after the version prefix: "/containers/json?all=1"
  std::string body;          // sent as is, with content_type
  std::string content_type;  // empty: no body
  std::string body_file;     // when set, this file is streamed as the body (build contexts)
};

struct EngineResponse {
  unsigned status = 0;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

// A non-2xx answer as a Status: 404 kNotFound, 409 kConflict, 400 kInvalid, anything else
// kInternal. The message is the engine's own ("No such container: ...").
Status status_from_engine(unsigned status, std::string_view body);
// The "message" field of an engine error body, or the body itself.
std::string engine_message(std::string_view body);
// Percent-encodes everything but RFC 3986 unreserved characters, for query values.
std::string url_encode(std::string_view s);

// The body of a streaming response, read piece by piece as the engine sends it.
class EngineStream {
 public:
  struct Impl;
  explicit EngineStream(std::unique_ptr<Impl> impl);
  ~EngineStream();
  EngineStream(const EngineStream&) = delete;
  EngineStream& operator=(const EngineStream&) = delete;

  // Copies the next body bytes into buf. 0 means the body ended cleanly (the last chunk of a
  // chunked body arrived). An error means the connection broke first (dockerd went away) or
  // close() was called.
  asio::awaitable<Result<std::size_t>> read_some(char* buf, std::size_t size);
  // Closes the connection; a pending read_some completes with an error. Safe to call twice.
  void close();
  bool closed() const;

 private:
  std::unique_ptr<Impl> impl_;
};

class DockerClient {
 public:
  DockerClient(asio::any_io_executor ex, std::string socket_path, std::string api_version);

  // One request, the whole response. Any HTTP status is a success here; only failing to
  // talk to the engine (no socket, dropped connection, timeout) is an error (kUnavailable).
  asio::awaitable<Result<EngineResponse>> call(EngineRequest request);
  // Sends the request and waits for the response header. A non-2xx answer is read whole and
  // returned as status_from_engine(); a 2xx one gives the stream positioned at the body.
  asio::awaitable<Result<std::shared_ptr<EngineStream>>> open_stream(EngineRequest request);

  const std::string& socket_path() const { return socket_path_; }
  // A call, or a stream's request and header, that takes longer than this fails.
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

 private:
  asio::any_io_executor ex_;
  std::string socket_path_;
  std::string api_version_;
  std::chrono::milliseconds timeout_{std::chrono::minutes(2)};
};

}  // namespace pirus::docker
