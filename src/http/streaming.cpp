#include "http/streaming.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "http/streaming_internal.hpp"

namespace pirus::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxClientMessage = 64 * 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

bool has_token(const std::optional<std::string>& header, std::string_view token) {
  if (!header) return false;
  std::string_view rest = *header;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (beast::iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

void log_exception(const char* what) {
  try {
    throw;
  } catch (const std::exception& e) {
    spdlog::error("http: {} failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("http: {} failed with an unknown exception", what);
  }
}

// Runs the stop callback once, whether the server stops before or after it is registered.
class StopSignal {
 public:
  void set(std::function<void()> callback, bool already) {
    callback_ = std::move(callback);
    if (already) fire();
  }
  void fire() {
    if (fired_ || !callback_) return;
    fired_ = true;
    auto cb = callback_;  // the callback may replace itself
    cb();
  }

 private:
  std::function<void()> callback_;
  bool fired_ = false;
};

class ChunkedWriter final : public StreamWriter {
 public:
  ChunkedWriter(detail::StreamContext& ctx, bool chunked) : ctx_(ctx), chunked_(chunked) {}

  asio::awaitable<bool> write(std::string_view data) override {
    if (broken_) co_return false;
    if (data.empty()) co_return true;
    ctx_.stream.expires_after(ctx_.write_timeout);
    const asio::const_buffer payload(data.data(), data.size());
    if (chunked_) {
      auto chunk = bhttp::make_chunk(payload);
      auto [ec, n] = co_await asio::async_write(ctx_.stream, chunk, kNoThrow);
      if (ec) broken_ = true;
    } else {  // HTTP/1.0: the body ends when the connection closes
      auto [ec, n] = co_await asio::async_write(ctx_.stream, payload, kNoThrow);
      if (ec) broken_ = true;
    }
    co_return !broken_;
  }

  bool stopping() const override { return ctx_.stopping; }
  void on_stop(std::function<void()> callback) override {
    stop_.set(std::move(callback), ctx_.stopping);
  }
  void close_now() override {
    broken_ = true;
    ctx_.stream.close();
  }

  void fire_stop() { stop_.fire(); }
  bool usable() const { return !broken_; }

 private:
  detail::StreamContext& ctx_;
  bool chunked_;
  bool broken_ = false;
  StopSignal stop_;
};

class BeastWebSocket final : public WebSocket {
 public:
  explicit BeastWebSocket(detail::StreamContext& ctx) : ctx_(ctx), ws_(ctx.stream) {}

  websocket::stream<beast::tcp_stream&>& raw() { return ws_; }

  asio::awaitable<Result<std::string>> read() override {
    auto [ec, n] = co_await ws_.async_read(buffer_, kNoThrow);
    if (ec) {
      if (ec == websocket::error::closed) {
        const auto& r = ws_.reason();
        co_return Status::unavailable("the client closed the connection (code " +
                                      std::to_string(r.code) + ")");
      }
      co_return Status::unavailable("the connection ended: " + ec.message());
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    co_return text;
  }

  asio::awaitable<bool> write(std::string_view text) override {
    if (broken_) co_return false;
    ws_.text(true);
    auto [ec, n] = co_await ws_.async_write(asio::const_buffer(text.data(), text.size()), kNoThrow);
    if (ec) broken_ = true;
    co_return !broken_;
  }

  asio::awaitable<void> close(std::uint16_t code, std::string_view reason) override {
    if (broken_ || !ws_.is_open()) co_return;
    const std::size_t n = std::min<std::size_t>(reason.size(), 123);
    websocket::close_reason why(n == 0 ? beast::string_view()
                                       : beast::string_view(reason.data(), n));
    why.code = code;
    auto [ec] = co_await ws_.async_close(why, kNoThrow);
    if (ec) broken_ = true;
  }

  void set_heartbeat(std::chrono::seconds every) override {
    websocket::stream_base::timeout t;
    t.handshake_timeout = kHandshakeTimeout;
    t.idle_timeout = every * 2;
    t.keep_alive_pings = true;
    ws_.set_option(t);
  }

  bool stopping() const override { return ctx_.stopping; }
  void on_stop(std::function<void()> callback) override {
    stop_.set(std::move(callback), ctx_.stopping);
  }
  void close_now() override {
    broken_ = true;
    ctx_.stream.close();
  }

  void fire_stop() { stop_.fire(); }

 private:
  detail::StreamContext& ctx_;
  websocket::stream<beast::tcp_stream&> ws_;
  beast::flat_buffer buffer_;
  bool broken_ = false;
  StopSignal stop_;
};

}  // namespace

bool is_websocket_upgrade(const Request& req) {
  return req.method == "GET" && has_token(req.header("upgrade"), "websocket") &&
         has_token(req.header("connection"), "upgrade");
}

namespace detail {

asio::awaitable<void> run_chunked(StreamContext ctx, Response& res, unsigned version, bool head) {
  bhttp::response<bhttp::empty_body> msg;
  msg.version(version);
  msg.result(static_cast<unsigned>(res.status));
  for (const auto& [name, value] : res.headers) msg.set(name, value);
  msg.set(bhttp::field::server, "pirus");
  // Proxies must pass each piece on as it comes (nginx honours X-Accel-Buffering).
  msg.set(bhttp::field::cache_control, "no-cache");
  msg.set("X-Accel-Buffering", "no");
  msg.keep_alive(false);
  const bool chunked = version >= 11;
  if (chunked) msg.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer(msg);
  ctx.stream.expires_after(ctx.write_timeout);
  auto [ec, n] = co_await bhttp::async_write_header(ctx.stream, serializer, kNoThrow);
  if (ec || head) co_return;

  ChunkedWriter writer(ctx, chunked);
  ctx.stop_hook = [&writer] { writer.fire_stop(); };
  bool failed = false;
  try {
    co_await res.stream(writer);
  } catch (...) {
    log_exception("a streaming response");
    failed = true;
  }
  ctx.stop_hook = nullptr;
  // A producer that threw did not finish its content: no last chunk, so the client can tell.
  if (chunked && writer.usable() && !failed) {
    ctx.stream.expires_after(ctx.write_timeout);
    auto last = bhttp::make_chunk_last();
    [[maybe_unused]] auto [last_ec, last_n] =
        co_await asio::async_write(ctx.stream, last, kNoThrow);
  }
}

asio::awaitable<void> run_websocket(StreamContext ctx, const Request& req, Response& res) {
  bhttp::request<bhttp::empty_body> upgrade;
  upgrade.method_string(req.method);
  upgrade.target(req.target);
  upgrade.version(11);
  for (const auto& [name, value] : req.headers) upgrade.set(name, value);

  // The websocket stream keeps its own timers; the TCP stream's would cut it off.
  ctx.stream.expires_never();
  BeastWebSocket ws(ctx);
  auto& raw = ws.raw();
  websocket::stream_base::timeout handshake;
  handshake.handshake_timeout = kHandshakeTimeout;
  handshake.idle_timeout = websocket::stream_base::none();
  handshake.keep_alive_pings = false;
  raw.set_option(handshake);
  raw.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& r) { r.set(bhttp::field::server, "pirus"); }));
  raw.read_message_max(kMaxClientMessage);
  auto [ec] = co_await raw.async_accept(upgrade, kNoThrow);
  if (ec) {
    spdlog::debug("http: websocket handshake failed: {}", ec.message());
    co_return;
  }
  raw.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ctx.stop_hook = [&ws] { ws.fire_stop(); };
  try {
    co_await res.websocket(ws);
  } catch (...) {
    log_exception("a websocket session");
  }
  ctx.stop_hook = nullptr;
}

}  // namespace detail

}  // namespace pirus::http
