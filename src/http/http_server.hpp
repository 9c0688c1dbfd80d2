#pragma once
// A small HTTP/1.1 server on Boost.Beast, one coroutine per connection on the server's
// event loop (no thread per connection). It parses and limits requests, routes them, and
// writes responses; the REST API (rest_api.cpp) only registers handlers.
//
// Request bodies are read according to the route's BodyKind *after* routing, so an upload
// streams to a file on disk with constant memory, while JSON bodies are capped small.
// Every error the server produces itself (no route, body too large, malformed request,
// timeout) is an application/problem+json response.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace pirus::http {

namespace asio = boost::asio;

enum class BodyKind {
  kNone,    // any body is refused with 413 (or ignored when empty)
  kSmall,   // read into Request::body, up to ServerLimits::max_small_body
  kFile,    // streamed into a new temporary file (Request::body_file), up to max_file_body
  kStream,  // left unread for the handler, which pulls it through Request::body_stream
};

// The body of a BodyKind::kStream request, read by the handler piece by piece (constant
// memory: the bytes go straight into the handler's buffer). A handler that answers before
// the end of the body may: the connection is then closed after the answer.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Reads the next bytes of the body into `data` (at most `size`, which must be > 0);
  // 0 means the body is complete. kTooLarge past the route's limit, kInvalid for a
  // malformed (chunked) body, kUnavailable when the client went away or stalled for the
  // idle timeout. After an error the body cannot be read any further.
  virtual asio::awaitable<Result<std::size_t>> read_some(char* data, std::size_t size) = 0;
  // The declared Content-Length, when there is one (not for chunked bodies).
  virtual std::optional<std::uint64_t> content_length() const = 0;
};

struct Request {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // raw target, "/api/v1/jobs?status=done"
  std::string path;                               // decoded path without the query
  std::map<std::string, std::string> params;      // path parameters, {"id": "42"}
  std::multimap<std::string, std::string> query;  // decoded query parameters
  std::map<std::string, std::string> headers;     // lower-cased names
  std::string body;                               // BodyKind::kSmall
  std::string body_file;  // BodyKind::kFile: temp file holding the body; the handler may
                          // rename it away, otherwise it is deleted after the response
  std::int64_t body_size = 0;
  BodyStream* body_stream = nullptr;  // BodyKind::kStream: valid during the handler call
  std::string remote_address;

  std::optional<std::string> header(const std::string& lower_name) const;
  std::optional<std::string> query_param(const std::string& name) const;  // first value
};

class StreamWriter;  // http/streaming.hpp
class WebSocket;     // http/streaming.hpp

struct Response {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;           // sent as is unless file_path is set
  std::string file_path;      // when set, the file is streamed (honouring a single Range)
  std::string download_name;  // with file_path: Content-Disposition attachment filename
  // With file_path: serve only the bytes [file_offset, file_offset + file_length) (clipped to
  // the file) with `status` and the headers given, instead of applying the request's Range.
  // -1: the whole file, Range honoured.
  std::int64_t file_offset = 0;
  std::int64_t file_length = -1;
  // A body produced over time (server-sent events, a followed log): the status and headers
  // go out at once, then `stream` sends chunks (Transfer-Encoding: chunked) until it
  // returns; the connection closes afterwards. Contract in http/streaming.hpp.
  std::function<asio::awaitable<void>(StreamWriter&)> stream;
  // Set by the handler of a WebSocket upgrade request: the server completes the handshake
  // and the connection then belongs to `websocket` until it returns. A request that is not
  // an upgrade gets 426 instead.
  std::function<asio::awaitable<void>(WebSocket&)> websocket;

  static Response json(int status, const boost::json::value& v);
  // RFC 9457 problem: {"type","title","status","detail"} as application/problem+json.
  static Response problem(int status, const std::string& title, const std::string& detail);
  // Maps a Status code to 400/404/409/413/503/500 and its message to `detail`.
  static Response from_status(const Status& st);
  static Response file(const std::string& path, const std::string& content_type,
                       const std::string& download_name = "");
  static Response text(int status, std::string body, std::string content_type = "text/plain");
};

using Handler = std::function<asio::awaitable<Response>(Request&)>;

// True for a request asking to become a WebSocket (GET with Upgrade: websocket).
bool is_websocket_upgrade(const Request& req);

struct Route {
  std::string method;
  std::string pattern;  // "/api/v1/jobs/{id}/logs/{stream}": {name} matches one segment
  BodyKind body = BodyKind::kNone;
  Handler handler;
  // Largest body this route accepts; 0 means the server's limit for its BodyKind.
  std::int64_t max_body = 0;
};

struct ServerLimits {
  std::int64_t max_small_body = 1 << 20;    // JSON bodies
  std::int64_t max_file_body = 10LL << 30;  // uploads (kFile and kStream bodies)
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds header_timeout{30};  // slow-loris guard: time to send headers
  std::chrono::seconds idle_timeout{120};   // keep-alive connections
  std::string temp_dir;                     // where kFile bodies are written
};

class Server {
 public:
  Server(asio::io_context& io, ServerLimits limits);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void add(Route route);

  // Binds and starts accepting. `address` is "127.0.0.1", "0.0.0.0" or "::1"; port 0 picks
  // a free port. kUnavailable when the address cannot be bound.
  Status listen(const std::string& address, unsigned short port);
  unsigned short port() const;

  // Stops accepting, lets in-flight requests finish, closes idle keep-alive connections.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Percent-decoding of a path segment or query component ("a%20b" -> "a b").
std::string url_decode(const std::string& s);

}  // namespace pirus::http
