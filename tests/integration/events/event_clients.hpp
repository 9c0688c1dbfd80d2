#pragma once
// Test clients of the push channels: a Beast WebSocket client whose messages are read by a
// thread of its own (so a test can also leave it unread: a slow client), a server-sent
// events client and a streaming GET on libcurl.

#include <curl/curl.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace pirus::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace json = boost::json;

class WsClient {
 public:
  // Connects and completes the handshake. `rcvbuf` > 0 sets a small socket receive buffer
  // before connecting. Reading starts at once unless `read_now` is false.
  WsClient(int port, const std::string& target, int rcvbuf = 0, bool read_now = true) : ws_(io_) {
    auto& sock = ws_.next_layer();
    sock.open(asio::ip::tcp::v4());
    if (rcvbuf > 0) sock.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    ws_.handshake("127.0.0.1:" + std::to_string(port), target);
    if (read_now) start();
  }
  ~WsClient() {
    boost::system::error_code ec;
    ws_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    if (reader_.joinable()) reader_.join();
    ws_.next_layer().close(ec);
  }

  // Only before start(): Beast streams are not for two threads at once.
  void send(const std::string& text) { ws_.write(asio::buffer(text)); }

  void start() {
    reader_ = std::thread([this] {
      beast::flat_buffer buf;
      for (;;) {
        boost::system::error_code ec;
        ws_.read(buf, ec);
        std::lock_guard lock(mu_);
        if (ec) {
          if (ec == websocket::error::closed) {
            close_code_ = ws_.reason().code;
            close_reason_ = std::string(ws_.reason().reason.c_str());
          }
          ended_ = true;
          cv_.notify_all();
          return;
        }
        messages_.push_back(beast::buffers_to_string(buf.data()));
        buf.consume(buf.size());
        cv_.notify_all();
      }
    });
  }

  // The next message (a reply or an event), nullopt after `timeout` or at the end.
  std::optional<json::object> next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !messages_.empty() || ended_; });
    if (messages_.empty()) return std::nullopt;
    std::string m = std::move(messages_.front());
    messages_.pop_front();
    return json::parse(m).as_object();
  }
  // The next event, skipping replies ({"type":...}).
  std::optional<json::object> next_event(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = next(left);
      if (!m || !m->contains("type")) return m;
    }
  }
  // Waits until the connection has ended; the close code (0 when no close frame came).
  int wait_closed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return ended_; });
    return ended_ ? close_code_ : -1;
  }
  std::string close_reason() {
    std::lock_guard lock(mu_);
    return close_reason_;
  }
  bool ended() {
    std::lock_guard lock(mu_);
    return ended_;
  }
  std::size_t received() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }

 private:
  asio::io_context io_;
  websocket::stream<asio::ip::tcp::socket> ws_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> messages_;
  bool ended_ = false;
  int close_code_ = 0;
  std::string close_reason_;
};

// A GET whose body is collected, with arrival times, by a thread until it ends or stop().
class StreamingGet {
 public:
  StreamingGet(const std::string& url, std::vector<std::string> headers = {}) {
    thread_ = std::thread([this, url, headers] {
      CURL* c = curl_easy_init();
      curl_slist* list = nullptr;
      for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &StreamingGet::on_data);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &StreamingGet::on_progress);
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      CURLcode rc = curl_easy_perform(c);
      long status = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      curl_slist_free_all(list);
      curl_easy_cleanup(c);
      std::lock_guard lock(mu_);
      result_ = rc;
      status_ = status;
      done_ = true;
      cv_.notify_all();
    });
  }
  ~StreamingGet() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void stop() { stop_ = true; }
  std::string body() {
    std::lock_guard lock(mu_);
    return body_;
  }
  // Waits until the body contains `needle`.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return body_.find(needle) != std::string::npos || done_;
    }) && body_.find(needle) != std::string::npos;
  }
  // Waits until the transfer ends; its curl result.
  std::optional<CURLcode> wait_done(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return done_; })) return std::nullopt;
    return result_;
  }
  long status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  static size_t on_data(char* data, size_t size, size_t n, void* self) {
    auto* s = static_cast<StreamingGet*>(self);
    std::lock_guard lock(s->mu_);
    s->body_.append(data, size * n);
    s->cv_.notify_all();
    return size * n;
  }
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<StreamingGet*>(self)->stop_ ? 1 : 0;
  }

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::string body_;
  bool done_ = false;
  CURLcode result_ = CURLE_OK;
  long status_ = 0;
};

// The events in a server-sent events body: (id, event, data) of each complete frame.
struct SseFrame {
  std::string id, event, data;
};
inline std::vector<SseFrame> parse_sse(const std::string& body) {
  std::vector<SseFrame> out;
  std::size_t start = 0;
  for (;;) {
    auto end = body.find("\n\n", start);
    if (end == std::string::npos) break;
    SseFrame f;
    std::size_t pos = start;
    while (pos < end) {
      auto nl = body.find('\n', pos);
      if (nl == std::string::npos || nl > end) nl = end;
      std::string line = body.substr(pos, nl - pos);
      auto colon = line.find(": ");
      if (colon != std::string::npos && colon > 0) {
        std::string field = line.substr(0, colon);
        std::string value = line.substr(colon + 2);
        if (field == "id") f.id = value;
        if (field == "event") f.event = value;
        if (field == "data") f.data = value;
      }
      pos = nl + 1;
    }
    if (!f.event.empty()) out.push_back(f);
    start = end + 2;
  }
  return out;
}

}  // namespace pirus::testing
