#include "managers/docker/docker_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/file_base.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>

namespace pirus::docker {

namespace beast = boost::beast;
namespace json = boost::json;
using asio::local::stream_protocol;
using boost::system::error_code;
using Socket = beast::basic_stream<stream_protocol, asio::any_io_executor>;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseBytes = 256u << 20;  // `list` of many containers is big
constexpr std::size_t kMaxErrorBytes = 1u << 20;

Status transport_error(const std::string& socket_path, const error_code& ec,
                       std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return Status::unavailable("dockerd at " + socket_path + " did not answer within " +
                               std::to_string(timeout.count() / 1000) + " s");
  }
  return Status::unavailable("cannot reach dockerd at " + socket_path + ": " + ec.message());
}

template <typename Body>
void fill_headers(http::request<Body>& req, const EngineRequest& r) {
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "pirus");
  req.keep_alive(false);
  if (!r.content_type.empty()) req.set(http::field::content_type, r.content_type);
}

// Connects and writes the request; the timeout stays armed for the caller's header read.
asio::awaitable<Status> connect_and_send(Socket& socket, const std::string& socket_path,
                                         const std::string& api_version, const EngineRequest& r,
                                         std::chrono::milliseconds timeout) {
  const std::string target = "/" + api_version + r.target;
  std::optional<http::request<http::file_body>> file_req;
  if (!r.body_file.empty()) {
    // Opened before connecting so that a missing file is not mistaken for a dead engine.
    file_req.emplace(r.method, target, 11);
    error_code ec;
    file_req->body().open(r.body_file.c_str(), beast::file_mode::scan, ec);
    if (ec) co_return Status::internal("cannot read " + r.body_file + ": " + ec.message());
    fill_headers(*file_req, r);
    file_req->prepare_payload();
  }

  socket.expires_after(timeout);
  auto [cec] = co_await socket.async_connect(stream_protocol::endpoint(socket_path), kAwait);
  if (cec) co_return transport_error(socket_path, cec, timeout);

  error_code wec;
  if (file_req) {
    auto [ec, n] = co_await http::async_write(socket, *file_req, kAwait);
    wec = ec;
  } else {
    http::request<http::string_body> req{r.method, target, 11};
    fill_headers(req, r);
    if (!r.content_type.empty()) req.body() = r.body;
    req.prepare_payload();
    auto [ec, n] = co_await http::async_write(socket, req, kAwait);
    wec = ec;
  }
  if (wec) co_return transport_error(socket_path, wec, timeout);
  co_return Status::ok();
}

}  // namespace

std::string engine_message(std::string_view body) {
  error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* m = v.as_object().if_contains("message"); m && m->is_string()) {
      return std::string(m->get_string());
    }
  }
  std::string text(body);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Status status_from_engine(unsigned status, std::string_view body) {
  std::string msg = engine_message(body);
  if (msg.empty()) msg = "the engine answered HTTP " + std::to_string(status);
  switch (status) {
    case 400:
      return Status::invalid(std::move(msg));
    case 404:
      return Status::not_found(std::move(msg));
    case 409:
      return Status::conflict(std::move(msg));
    default:
      return Status::internal(std::move(msg));
  }
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

struct EngineStream::Impl {
  explicit Impl(Socket s) : socket(std::move(s)) {}
  Socket socket;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  std::string socket_path;
  bool closed = false;
  bool done = false;
  Status pending;  // an error that arrived together with data, reported on the next read
};

EngineStream::EngineStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EngineStream::~EngineStream() = default;

bool EngineStream::closed() const {
  return impl_->closed;
}

void EngineStream::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  error_code ec;
  impl_->socket.socket().shutdown(stream_protocol::socket::shutdown_both, ec);
  impl_->socket.close();
}

asio::awaitable<Result<std::size_t>> EngineStream::read_some(char* buf, std::size_t size) {
  Impl& s = *impl_;
  if (s.closed) co_return Status::unavailable("the stream was closed");
  if (!s.pending.is_ok()) co_return s.pending;
  for (;;) {
    if (s.done || s.parser.is_done()) {
      s.done = true;
      co_return std::size_t{0};
    }
    auto& body = s.parser.get().body();
    body.data = buf;
    body.size = size;
    // Not http::async_read: with a buffer body it would wait for `size` bytes, and a quiet
    // stream (events) may send one line an hour.
    auto [ec, n] = co_await http::async_read_some(s.socket, s.buffer, s.parser, kAwait);
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t got = size - s.parser.get().body().size;
    if (ec) {
      Status st = s.closed ? Status::unavailable("the stream was closed")
                           : Status::unavailable("the connection to dockerd at " + s.socket_path +
                                                 " broke: " + ec.message());
      if (got > 0) {
        s.pending = st;
        co_return got;
      }
      co_return st;
    }
    if (got > 0) co_return got;
  }
}

DockerClient::DockerClient(asio::any_io_executor ex, std::string socket_path,
                           std::string api_version)
    : ex_(std::move(ex)),
      socket_path_(std::move(socket_path)),
      api_version_(std::move(api_version)) {}

asio::awaitable<Result<EngineResponse>> DockerClient::call(EngineRequest request) {
  Socket socket(ex_);
  Status st = co_await connect_and_send(socket, socket_path_, api_version_, request, timeout_);
  if (!st.is_ok()) co_return st;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  auto [ec, n] = co_await http::async_read(socket, buffer, parser, kAwait);
  if (ec) co_return transport_error(socket_path_, ec, timeout_);
  error_code ignored;
  socket.socket().shutdown(stream_protocol::socket::shutdown_both, ignored);
  EngineResponse resp;
  resp.status = parser.get().result_int();
  resp.body = std::move(parser.get().body());
  co_return resp;
}

asio::awaitable<Result<std::shared_ptr<EngineStream>>> DockerClient::open_stream(
    EngineRequest request) {
  auto impl = std::make_unique<EngineStream::Impl>(Socket(ex_));
  impl->socket_path = socket_path_;
  impl->parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  Status st =
      co_await connect_and_send(impl->socket, socket_path_, api_version_, request, timeout_);
  if (!st.is_ok()) co_return st;
  auto [ec, n] = co_await http::async_read_header(impl->socket, impl->buffer, impl->parser, kAwait);
  if (ec) co_return transport_error(socket_path_, ec, timeout_);
  const unsigned status = impl->parser.get().result_int();
  if (status >= 200 && status < 300) {
    // A stream may stay silent for hours (events, a quiet job's logs): no deadline from here.
    impl->socket.expires_never();
    co_return std::make_shared<EngineStream>(std::move(impl));
  }
  impl->socket.expires_after(timeout_);
  auto stream = std::make_shared<EngineStream>(std::move(impl));

  std::string body;
  char buf[4096];
  for (;;) {
    auto r = co_await stream->read_some(buf, sizeof buf);
    if (!r.is_ok() || *r == 0) break;
    body.append(buf, *r);
    if (body.size() > kMaxErrorBytes) break;
  }
  stream->close();
  co_return status_from_engine(status, body);
}

}  // namespace pirus::docker
