#include "http/http_server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include "http/http_internal.hpp"
#include "http/streaming_internal.hpp"

namespace pirus::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;  // "http" already names this namespace
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 8 * 1024;
constexpr std::size_t kFileChunk = 64 * 1024;
// After an error answer sent before the request body was read, the client may still be
// sending. Closing at once would make the kernel reset the connection, and a reset can
// destroy our answer before the client reads it; so the rest is read and dropped, briefly.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1 << 20;

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// Removes an upload's temporary file once the request is over, unless the handler has
// moved it somewhere else already (then there is nothing left to remove).
struct TempFile {
  std::string path;
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

Response too_large_problem(BodyKind kind, std::uint64_t max) {
  std::string detail = kind == BodyKind::kNone
                           ? "this endpoint takes no body"
                           : "the body is larger than " + std::to_string(max) + " bytes";
  return Response::problem(413, reason_phrase(413), detail);
}

void log_coroutine_exception(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("http: {} ended with an exception: {}", what, x.what());
  } catch (...) {
    spdlog::error("http: {} ended with an unknown exception", what);
  }
}

}  // namespace

// Named, not anonymous, because Server::Impl derives from ServerCore.
namespace detail {

class Session;

// Everything the sessions share with the Server object; sessions hold it by shared_ptr, so
// it outlives the Server when connections are still draining.
struct ServerCore {
  ServerCore(asio::io_context& io_context, ServerLimits server_limits)
      : io(io_context), limits(std::move(server_limits)), acceptor(asio::make_strand(io_context)) {}

  void stop_now();

  asio::io_context& io;
  ServerLimits limits;
  Router router;           // filled before listen(), read-only afterwards
  tcp::acceptor acceptor;  // on a strand of its own, like each session
  std::atomic<unsigned short> port{0};

  std::mutex mu;  // guards the fields below: stop() may come from any thread
  bool stopping = false;
  std::uint64_t next_session_id = 0;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;
};

// One connection. All of its work runs on its own strand, so the io_context may be run by
// several threads.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<detail::ServerCore> core, tcp::socket socket, std::uint64_t id)
      : core_(std::move(core)),
        limits_(core_->limits),
        stream_(std::move(socket)),
        header_timer_(stream_.get_executor()),
        id_(id),
        accepted_at_(Clock::now()) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_address_ = endpoint.address().to_string();
  }

  ~Session() {
    std::lock_guard lock(core_->mu);
    core_->sessions.erase(id_);
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  // `self` keeps the session alive for as long as the coroutine runs.
  asio::awaitable<void> run(std::shared_ptr<Session> self);

  // On the session's strand: the current request, if any, is answered, then the
  // connection closes; a connection waiting for its next request closes now.
  void stop() {
    stopping_ = true;
    if (state_ == State::kIdle || state_ == State::kLingering) stream_.cancel();
    if (stop_hook_) stop_hook_();  // a long-lived response or WebSocket finishes itself
  }

 private:
  enum class State { kIdle, kBusy, kLingering };
  enum class Outcome { kKeepAlive, kClose, kCloseAndDrain };

  asio::awaitable<Outcome> serve_one(Clock::time_point header_deadline);
  asio::awaitable<Outcome> header_error(const beast::error_code& ec);
  // GCC 12 miscompiles coroutines that assign to a by-value parameter and co_await in a
  // condition; hence references, const locals and named results in these coroutines.
  asio::awaitable<Outcome> respond(Response& res, const Request* req, unsigned version, bool head,
                                   bool keep_asked, bool unread_body);
  asio::awaitable<bool> write_response(Response& res, const Request* req, unsigned version,
                                       bool head, bool keep);
  asio::awaitable<bool> write_file(Response& res, const Request* req, unsigned version, bool head,
                                   bool keep);
  asio::awaitable<bool> send_continue(unsigned version);
  // BodyKind::kStream: the handler reads the body itself through a StreamBody.
  asio::awaitable<Outcome> serve_stream(const Route& route, Request& req,
                                        bhttp::request_parser<bhttp::empty_body>& header_parser,
                                        unsigned version, bool head, bool keep, bool body_pending,
                                        bool expect_continue);
  // Runs the handler; an exception becomes a 500 problem.
  asio::awaitable<Response> invoke_handler(const Route& route, Request& req);
  friend class StreamBody;
  // The descriptor of a new, empty file, whose path goes to `temp`.
  Result<int> create_upload_file(TempFile& temp);
  template <class Parser>
  asio::awaitable<beast::error_code> read_body(Parser& parser);
  asio::awaitable<void> close(bool drain);

  void arm_header_timer(Clock::time_point deadline);
  void disarm_header_timer();

  std::shared_ptr<detail::ServerCore> core_;
  const ServerLimits& limits_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  asio::steady_timer header_timer_;
  std::uint64_t timer_generation_ = 0;
  bool header_timed_out_ = false;
  std::uint64_t id_;
  Clock::time_point accepted_at_;
  std::string remote_address_;
  State state_ = State::kIdle;
  bool stopping_ = false;
  std::function<void()> stop_hook_;  // set while a streaming response or WebSocket runs

  detail::StreamContext stream_context() {
    return {stream_, stop_hook_, stopping_, limits_.idle_timeout};
  }
};

asio::awaitable<void> Session::run([[maybe_unused]] std::shared_ptr<Session> self) {
  bool first = true;
  for (;;) {
    if (stopping_) break;
    if (buffer_.size() == 0) {
      // Waiting for the next request is the only state stop() may interrupt.
      state_ = State::kIdle;
      stream_.expires_after(first ? limits_.header_timeout : limits_.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kNoThrow);
      if (ec) break;  // peer closed, idle timeout, or stop()
      buffer_.commit(n);
    }
    state_ = State::kBusy;
    // The first request's header must arrive within header_timeout of the connection;
    // later ones within header_timeout of their first byte.
    Clock::time_point deadline = (first ? accepted_at_ : Clock::now()) + limits_.header_timeout;
    first = false;
    Outcome outcome = co_await serve_one(deadline);
    if (outcome != Outcome::kKeepAlive) {
      co_await close(outcome == Outcome::kCloseAndDrain);
      co_return;
    }
  }
  co_await close(false);
}

void Session::arm_header_timer(Clock::time_point deadline) {
  header_timed_out_ = false;
  header_timer_.expires_at(deadline);
  // The generation tells a late expiry (its handler already queued when the header
  // arrived) from a real one, so it cannot cancel the body read that follows.
  header_timer_.async_wait(
      [weak = weak_from_this(), generation = ++timer_generation_](beast::error_code ec) {
        if (ec) return;
        auto self = weak.lock();
        if (!self || self->timer_generation_ != generation) return;
        self->header_timed_out_ = true;
        // cancel, not close: the socket stays usable to send the 408.
        beast::error_code ignored;
        self->stream_.socket().cancel(ignored);
      });
}

void Session::disarm_header_timer() {
  ++timer_generation_;
  header_timer_.cancel();
}

asio::awaitable<Session::Outcome> Session::serve_one(Clock::time_point header_deadline) {
  bhttp::request_parser<bhttp::empty_body> header_parser;
  header_parser.header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(limits_.max_header_bytes, UINT32_MAX)));
  // The limit depends on the route, which is not known yet; it is checked below.
  header_parser.body_limit(boost::none);

  // The header has a deadline of its own (header_timer_), so the stream's must not fire.
  stream_.expires_never();
  arm_header_timer(header_deadline);
  auto [read_ec, read_n] =
      co_await bhttp::async_read_header(stream_, buffer_, header_parser, kNoThrow);
  disarm_header_timer();
  if (read_ec) co_return co_await header_error(read_ec);

  // Everything needed from the header is copied out now: reading the body moves the
  // parser, and its message with it.
  const auto& header = header_parser.get();
  const unsigned version = header.version();
  Request req;
  req.method = std::string(header.method_string());
  req.target = std::string(header.target());
  req.remote_address = remote_address_;
  for (const auto& field : header) {
    auto [it, inserted] =
        req.headers.emplace(to_lower(field.name_string()), std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += field.value();
    }
  }
  const bool head = req.method == "HEAD";
  const bool keep = header.keep_alive();
  const bool body_pending = !header_parser.is_done();
  const boost::optional<std::uint64_t> content_length = header_parser.content_length();
  const bool expect_continue =
      version >= 11 && beast::iequals(header[bhttp::field::expect], "100-continue");

  std::vector<std::string> segments;
  if (!parse_target(req.target, segments, req.path, req.query)) {
    Response bad = Response::problem(400, "Bad Request", "the request target is not a valid path");
    co_return co_await respond(bad, &req, version, head, false, body_pending);
  }

  Router::Match match = core_->router.match(req.method, segments);
  if (match.route == nullptr) {
    Response res;
    if (!match.path_matched) {
      res = Response::problem(404, "Not Found", "no route for " + req.path);
    } else if (req.method == "OPTIONS") {
      res.status = 204;
      res.headers["Allow"] = match.allow;
    } else {
      res = Response::problem(405, "Method Not Allowed",
                              req.method + " is not allowed on " + req.path);
      res.headers["Allow"] = match.allow;
    }
    co_return co_await respond(res, &req, version, head, keep, body_pending);
  }
  const Route& route = *match.route;
  req.params = std::move(match.params);
  if (route.body == BodyKind::kStream) {
    co_return co_await serve_stream(route, req, header_parser, version, head, keep, body_pending,
                                    expect_continue);
  }

  TempFile temp;
  beast::file upload;
  if (route.body == BodyKind::kFile) {
    // Even an empty upload gets its file, so handlers need no special case for it.
    Result<int> created = create_upload_file(temp);
    if (!created) {
      Response failure = Response::from_status(created.status());
      co_return co_await respond(failure, &req, version, head, false, body_pending);
    }
    upload.native_handle(*created);
    req.body_file = temp.path;
  }
  if (body_pending) {
    std::int64_t limit = 0;
    if (route.body == BodyKind::kSmall) limit = limits_.max_small_body;
    if (route.body == BodyKind::kFile) limit = limits_.max_file_body;
    if (route.max_body > 0 && route.body != BodyKind::kNone) limit = route.max_body;
    const auto max = static_cast<std::uint64_t>(std::max<std::int64_t>(limit, 0));
    const bool too_large = (content_length && *content_length > max) ||
                           (route.body == BodyKind::kNone && expect_continue);
    if (too_large) {
      Response refused = too_large_problem(route.body, max);
      co_return co_await respond(refused, &req, version, head, false, true);
    }
    if (expect_continue) {
      bool sent = co_await send_continue(version);
      if (!sent) co_return Outcome::kClose;
    }

    beast::error_code body_ec;
    if (route.body == BodyKind::kFile) {
      bhttp::request_parser<bhttp::file_body> parser(std::move(header_parser));
      parser.body_limit(max);
      parser.get().body().reset(std::move(upload), body_ec);
      if (!body_ec) body_ec = co_await read_body(parser);
      parser.get().body().close();
    } else {
      // kNone gets here only for a chunked body, which may turn out empty.
      bhttp::request_parser<bhttp::string_body> parser(std::move(header_parser));
      parser.body_limit(max);
      body_ec = co_await read_body(parser);
      if (!body_ec) req.body = std::move(parser.get().body());
    }
    if (body_ec == bhttp::error::body_limit) {
      Response refused = too_large_problem(route.body, max);
      co_return co_await respond(refused, &req, version, head, false, true);
    }
    if (is_parse_error(body_ec)) {
      Response bad =
          Response::problem(400, "Bad Request", "malformed request body: " + body_ec.message());
      co_return co_await respond(bad, &req, version, head, false, true);
    }
    if (body_ec) co_return Outcome::kClose;  // the client went away or stalled
  }
  if (route.body == BodyKind::kFile) {
    beast::error_code ignored;
    upload.close(ignored);  // no-op when the body parser took it
    std::error_code size_ec;
    auto size = std::filesystem::file_size(temp.path, size_ec);
    req.body_size = size_ec ? 0 : static_cast<std::int64_t>(size);
  } else {
    req.body_size = static_cast<std::int64_t>(req.body.size());
  }

  Response res = co_await invoke_handler(route, req);
  if (res.websocket) {
    if (is_websocket_upgrade(req)) {
      co_await detail::run_websocket(stream_context(), req, res);
      co_return Outcome::kClose;
    }
    res =
        Response::problem(426, "Upgrade Required",
                          req.path + " is a WebSocket endpoint: send a WebSocket upgrade request");
    res.headers["Upgrade"] = "websocket";
  }
  co_return co_await respond(res, &req, version, head, keep, false);
}

// Hands the body to a kStream handler straight from the socket, into the caller's buffer,
// so nothing is accumulated. A body of known length (an upload's PATCH) is read from the
// socket directly, in reads as large as the caller's buffer: Beast's parser would read it
// 64 KiB at a time into its own buffer and copy it from there. A chunked body goes through
// the parser (Beast's buffer_body), which removes the chunk framing.
class StreamBody final : public BodyStream {
 public:
  StreamBody(Session& session, bhttp::request_parser<bhttp::empty_body>& header_parser,
             std::uint64_t max, bool pending, bool expect_continue, unsigned version)
      : session_(session),
        parser_(std::move(header_parser)),
        pending_(pending),
        expect_continue_(expect_continue),
        version_(version) {
    parser_.body_limit(max);
    if (pending_ && !parser_.chunked() && parser_.content_length()) {
      raw_remaining_ = *parser_.content_length();
    }
  }

  asio::awaitable<Result<std::size_t>> read_some(char* data, std::size_t size) override {
    if (failure_) co_return *failure_;
    if (!pending_ || parser_.is_done()) co_return std::size_t{0};
    if (expect_continue_) {
      expect_continue_ = false;
      const bool sent = co_await session_.send_continue(version_);
      if (!sent) {
        failure_ = Status::unavailable("the client went away");
        co_return *failure_;
      }
    }
    if (raw_remaining_) co_return co_await read_raw(data, size);
    auto& body = parser_.get().body();
    for (;;) {
      body.data = data;
      body.size = size;
      body.more = true;
      session_.stream_.expires_after(session_.limits_.idle_timeout);
      auto [ec, n] =
          co_await bhttp::async_read_some(session_.stream_, session_.buffer_, parser_, kNoThrow);
      const std::size_t got = size - body.size;
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) failure_ = failure_of(ec);
      // Bytes that arrived before an error still count; the error comes with the next call.
      if (got > 0 || parser_.is_done()) co_return got;
      if (failure_) co_return *failure_;
    }
  }

  std::optional<std::uint64_t> content_length() const override {
    auto n = parser_.content_length();
    if (n) return *n;
    return std::nullopt;
  }

  // Some of the body is still on the wire: the connection cannot carry another request.
  bool unread() const {
    if (raw_remaining_) return failure_ || *raw_remaining_ > 0;
    return pending_ && (failure_ || !parser_.is_done());
  }

 private:
  asio::awaitable<Result<std::size_t>> read_raw(char* data, std::size_t size) {
    std::uint64_t& left = *raw_remaining_;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size, left));
    if (want == 0) co_return std::size_t{0};
    // What came in with the header first; the rest of that buffer may be the next request.
    if (session_.buffer_.size() > 0) {
      const std::size_t n = asio::buffer_copy(asio::buffer(data, want), session_.buffer_.data());
      session_.buffer_.consume(n);
      left -= n;
      co_return n;
    }
    session_.stream_.expires_after(session_.limits_.idle_timeout);
    auto [ec, n] = co_await session_.stream_.async_read_some(asio::buffer(data, want), kNoThrow);
    left -= n;
    if (ec && n == 0) {
      failure_ = ec == asio::error::eof
                     ? Status::unavailable("the client closed the connection mid-body")
                     : failure_of(ec);
      co_return *failure_;
    }
    co_return n;
  }

  Status failure_of(const beast::error_code& ec) const {
    if (ec == bhttp::error::body_limit) {
      return Status::too_large("the body is larger than this endpoint accepts");
    }
    if (is_parse_error(ec)) return Status::invalid("malformed request body: " + ec.message());
    return Status::unavailable("the client went away or stalled: " + ec.message());
  }

  Session& session_;
  bhttp::request_parser<bhttp::buffer_body> parser_;
  bool pending_;
  bool expect_continue_;
  unsigned version_;
  std::optional<Status> failure_;
  std::optional<std::uint64_t> raw_remaining_;  // set for a body of known length
};

asio::awaitable<Session::Outcome> Session::serve_stream(
    const Route& route, Request& req, bhttp::request_parser<bhttp::empty_body>& header_parser,
    unsigned version, bool head, bool keep, bool body_pending, bool expect_continue) {
  const std::int64_t limit = route.max_body > 0 ? route.max_body : limits_.max_file_body;
  const auto max = static_cast<std::uint64_t>(std::max<std::int64_t>(limit, 0));
  const auto declared = header_parser.content_length();
  if (body_pending && declared && *declared > max) {
    Response refused = too_large_problem(route.body, max);
    co_return co_await respond(refused, &req, version, head, false, true);
  }
  StreamBody body(*this, header_parser, max, body_pending, expect_continue, version);
  req.body_stream = &body;
  Response res = co_await invoke_handler(route, req);
  req.body_stream = nullptr;
  const bool unread = body.unread();
  co_return co_await respond(res, &req, version, head, keep, unread);
}

asio::awaitable<Response> Session::invoke_handler(const Route& route, Request& req) {
  Response res;
  bool failed = false;
  try {
    res = co_await route.handler(req);
  } catch (const std::exception& e) {
    spdlog::error("http: {} {} failed: {}", req.method, req.target, e.what());
    failed = true;
  } catch (...) {
    spdlog::error("http: {} {} failed with an unknown exception", req.method, req.target);
    failed = true;
  }
  if (failed) {
    res = Response::problem(500, reason_phrase(500),
                            "the server failed while handling this request; its log has details");
  }
  co_return res;
}

Result<int> Session::create_upload_file(TempFile& temp) {
  std::string dir = limits_.temp_dir;
  if (dir.empty()) dir = std::filesystem::temp_directory_path().string();
  std::string name = dir + "/pirus-upload-XXXXXX";
  std::vector<char> buf(name.begin(), name.end());
  buf.push_back('\0');
  int fd = ::mkostemp(buf.data(), O_CLOEXEC);  // mode 0600 and a name nobody else has
  if (fd < 0) {
    spdlog::error("http: cannot create an upload file in {}: {}", dir, std::strerror(errno));
    return Status::internal("the server cannot store the upload");
  }
  temp.path = buf.data();
  return fd;
}

asio::awaitable<Session::Outcome> Session::header_error(const beast::error_code& ec) {
  Response res;
  if (header_timed_out_ && ec == asio::error::operation_aborted) {
    res = Response::problem(408, "Request Timeout",
                            "the request header did not arrive within " +
                                std::to_string(limits_.header_timeout.count()) + " s");
  } else if (ec == bhttp::error::header_limit) {
    res = Response::problem(
        431, "Request Header Fields Too Large",
        "the request header is larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
  } else if (is_parse_error(ec)) {
    res = Response::problem(400, "Bad Request", "malformed request: " + ec.message());
  } else {
    co_return Outcome::kClose;  // the peer closed or reset the connection
  }
  co_return co_await respond(res, nullptr, 11, false, false, true);
}

asio::awaitable<Session::Outcome> Session::respond(Response& res, const Request* req,
                                                   unsigned version, bool head, bool keep_asked,
                                                   bool unread_body) {
  // An unread body stands between this request and the next one.
  const bool keep = keep_asked && !unread_body && !stopping_;
  const bool written = co_await write_response(res, req, version, head, keep);
  if (!written) co_return Outcome::kClose;
  if (keep) co_return Outcome::kKeepAlive;
  co_return unread_body ? Outcome::kCloseAndDrain : Outcome::kClose;
}

asio::awaitable<bool> Session::write_response(Response& res, const Request* req, unsigned version,
                                              bool head, bool keep) {
  if (!res.file_path.empty()) co_return co_await write_file(res, req, version, head, keep);
  if (res.stream) {
    // A long-lived body ends with the connection: no keep-alive after it.
    co_await detail::run_chunked(stream_context(), res, version, head);
    co_return false;
  }
  if (res.status < 100 || res.status > 599) {
    spdlog::error("http: a handler answered with status {}", res.status);
    res = Response::problem(500, reason_phrase(500), "the handler gave an invalid status");
  }
  bhttp::response<bhttp::string_body> msg;
  msg.version(version);
  msg.result(static_cast<unsigned>(res.status));
  for (const auto& [name, value] : res.headers) msg.set(name, value);
  msg.set(bhttp::field::server, "pirus");
  msg.keep_alive(keep);
  const bool bodiless = res.status / 100 == 1 || res.status == 204 || res.status == 304;
  if (!bodiless) msg.body() = std::move(res.body);
  msg.prepare_payload();

  stream_.expires_after(limits_.idle_timeout);
  if (head) {
    // Same header, Content-Length included, and no body.
    bhttp::response<bhttp::empty_body> head_msg(std::move(msg.base()));
    auto [ec, n] = co_await bhttp::async_write(stream_, head_msg, kNoThrow);
    co_return !ec;
  }
  auto [ec, n] = co_await bhttp::async_write(stream_, msg, kNoThrow);
  co_return !ec;
}

asio::awaitable<bool> Session::write_file(Response& res, const Request* req, unsigned version,
                                          bool head, bool keep) {
  beast::error_code ec;
  beast::file file;
  file.open(res.file_path.c_str(), beast::file_mode::scan, ec);
  std::uint64_t size = 0;
  if (!ec) size = file.size(ec);
  if (ec) {
    spdlog::warn("http: cannot open {} for a download: {}", res.file_path, ec.message());
    Response missing = Response::problem(404, "Not Found", "the file is not available");
    co_return co_await write_response(missing, req, version, head, keep);
  }

  int status = res.status;
  std::uint64_t first = 0;
  std::uint64_t count = size;
  std::string content_range;
  std::optional<std::string> range_header = req ? req->header("range") : std::nullopt;
  if (res.file_length >= 0) {
    first = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, res.file_offset)), size);
    count = std::min<std::uint64_t>(static_cast<std::uint64_t>(res.file_length), size - first);
  } else if (status == 200 && range_header) {
    ByteRange range;
    switch (parse_range(*range_header, size, range)) {
      case RangeKind::kFull:
        break;
      case RangeKind::kPartial:
        status = 206;
        first = range.first;
        count = range.last - range.first + 1;
        content_range = "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) +
                        "/" + std::to_string(size);
        break;
      case RangeKind::kUnsatisfiable: {
        Response refused = Response::problem(
            416, "Range Not Satisfiable",
            "the range is outside the file, which has " + std::to_string(size) + " bytes");
        refused.headers["Content-Range"] = "bytes */" + std::to_string(size);
        refused.headers["Accept-Ranges"] = "bytes";
        co_return co_await write_response(refused, req, version, head, keep);
      }
    }
  }

  bhttp::response<bhttp::empty_body> msg;
  msg.version(version);
  msg.result(static_cast<unsigned>(status));
  for (const auto& [name, value] : res.headers) msg.set(name, value);
  msg.set(bhttp::field::server, "pirus");
  msg.set(bhttp::field::accept_ranges, "bytes");
  if (!res.download_name.empty()) {
    msg.set(bhttp::field::content_disposition, content_disposition(res.download_name));
  }
  if (!content_range.empty()) msg.set(bhttp::field::content_range, content_range);
  msg.content_length(count);
  msg.keep_alive(keep);
  stream_.expires_after(limits_.idle_timeout);
  auto [header_ec, header_n] = co_await bhttp::async_write(stream_, msg, kNoThrow);
  if (header_ec) co_return false;
  if (head || count == 0) co_return true;

  // The bytes go out by hand rather than through file_body, which cannot stop before the
  // end of the file; each chunk gets a fresh timeout so that a slow but steady client of a
  // large file is not cut off.
  file.seek(first, ec);
  if (ec) co_return false;
  std::vector<char> chunk(kFileChunk);
  while (count > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(count, chunk.size()));
    std::size_t got = file.read(chunk.data(), want, ec);
    if (ec || got == 0) {
      // Content-Length is already promised; closing is the only honest way out.
      spdlog::warn("http: {} shrank or failed while being sent", res.file_path);
      co_return false;
    }
    stream_.expires_after(limits_.idle_timeout);
    auto [write_ec, written] =
        co_await asio::async_write(stream_, asio::buffer(chunk.data(), got), kNoThrow);
    if (write_ec) co_return false;
    count -= got;
  }
  co_return true;
}

asio::awaitable<bool> Session::send_continue(unsigned version) {
  bhttp::response<bhttp::empty_body> interim{bhttp::status::continue_, version};
  stream_.expires_after(limits_.idle_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream_, interim, kNoThrow);
  co_return !ec;
}

template <class Parser>
asio::awaitable<beast::error_code> Session::read_body(Parser& parser) {
  // Piece by piece, so that idle_timeout bounds a stall rather than a whole upload.
  while (!parser.is_done()) {
    stream_.expires_after(limits_.idle_timeout);
    auto [ec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser, kNoThrow);
    if (ec) co_return ec;
  }
  co_return beast::error_code{};
}

asio::awaitable<void> Session::close(bool drain) {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (drain && !ec && !stopping_) {
    state_ = State::kLingering;
    stream_.expires_after(kLingerTime);
    std::array<char, kReadChunk> sink;
    std::size_t total = 0;
    while (total < kLingerBytes) {
      auto [read_ec, n] = co_await stream_.async_read_some(asio::buffer(sink), kNoThrow);
      if (read_ec) break;
      total += n;
    }
  }
  stream_.socket().close(ec);
}

}  // namespace detail

struct Server::Impl : detail::ServerCore {
  using ServerCore::ServerCore;
};

namespace {

asio::awaitable<void> accept_loop(std::shared_ptr<detail::ServerCore> core) {
  for (;;) {
    auto [ec, socket] = co_await core->acceptor.async_accept(
        asio::any_io_executor(asio::make_strand(core->io)), kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !core->acceptor.is_open()) break;
      spdlog::warn("http: accept failed: {}", ec.message());
      // Out of descriptors, typically: retrying at once would spin.
      asio::steady_timer pause(core->acceptor.get_executor());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    std::shared_ptr<detail::Session> session;
    {
      std::lock_guard lock(core->mu);
      if (core->stopping) break;
      std::uint64_t id = core->next_session_id++;
      session = std::make_shared<detail::Session>(core, std::move(socket), id);
      core->sessions[id] = session;
    }
    asio::co_spawn(session->executor(), session->run(session),
                   [](std::exception_ptr e) { log_coroutine_exception("a connection", e); });
  }
}

}  // namespace

void detail::ServerCore::stop_now() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu);
    stopping = true;
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  beast::error_code ec;
  acceptor.close(ec);
  for (auto& s : live) asio::post(s->executor(), [s] { s->stop(); });
}

Server::Server(asio::io_context& io, ServerLimits limits)
    : impl_(std::make_shared<Impl>(io, std::move(limits))) {}

Server::~Server() {
  stop();
}

void Server::add(Route route) {
  impl_->router.add(std::move(route));
}

Status Server::listen(const std::string& address, unsigned short port) {
  beast::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) return Status::invalid("not an IP address: " + address);
  tcp::acceptor& acceptor = impl_->acceptor;
  if (acceptor.is_open()) return Status::conflict("the server is listening already");
  tcp::endpoint endpoint(ip, port);
  auto fail = [&](const std::string& step) {
    beast::error_code ignored;
    acceptor.close(ignored);
    return Status::unavailable("cannot " + step + " " + address + ":" + std::to_string(port) +
                               ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("set SO_REUSEADDR on");
  acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  impl_->port = acceptor.local_endpoint(ec).port();
  asio::co_spawn(impl_->acceptor.get_executor(), accept_loop(impl_),
                 [](std::exception_ptr e) { log_coroutine_exception("the accept loop", e); });
  return Status::ok();
}

unsigned short Server::port() const {
  return impl_->port;
}

void Server::stop() {
  // Once run() has returned nobody will run a posted handler; the work is then done here,
  // which is safe as no thread is inside the io_context.
  if (impl_->io.stopped()) {
    impl_->stop_now();
    return;
  }
  asio::dispatch(impl_->acceptor.get_executor(), [core = impl_] { core->stop_now(); });
}

}  // namespace pirus::http
