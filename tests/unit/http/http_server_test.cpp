// The server over real loopback sockets: an in-process Server on an io_context run by a
// background thread, and a blocking client on plain POSIX sockets, so that tests can send
// anything at all (broken request lines, half headers) and put a deadline on every read.

#include "http/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value_from.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <thread>

#include "support/temp_dir.hpp"

namespace pirus::http {
namespace {

namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using namespace std::literals;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  boost::json::object json() const { return boost::json::parse(body).as_object(); }
};

class Client {
 public:
  explicit Client(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // False when the server has closed (or reset) the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response, or nullopt when the connection ends or `timeout` passes first.
  std::optional<Reply> read(bool head = false, std::chrono::milliseconds timeout = 5s) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    parser.skip(head);
    parser.eager(true);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        std::size_t used = parser.put(boost::asio::buffer(pending_.data(), pending_.size()), ec);
        pending_.erase(0, used);
        if (ec && ec != bhttp::error::need_more) return std::nullopt;
        if (parser.is_done()) return to_reply(parser.release());
        if (used > 0 && !pending_.empty()) continue;
      }
      int got = receive(deadline);
      if (got <= 0) return std::nullopt;
    }
  }

  std::optional<Reply> request(const std::string& raw, bool head = false) {
    if (!send(raw)) return std::nullopt;
    return read(head);
  }

  // True when the server closes the connection within `timeout` (any bytes still in
  // flight are dropped).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int got = receive(deadline);
      if (got == 0) return true;
      if (got < 0) return errno != ETIMEDOUT;
    }
  }

 private:
  // >0 bytes appended to pending_, 0 at end of stream, -1 on error (errno ETIMEDOUT when
  // the deadline passed).
  int receive(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (ready < 0) return -1;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return errno == ECONNRESET ? 0 : -1;
    pending_.append(buf, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }

  static Reply to_reply(const bhttp::response<bhttp::string_body>& msg) {
    Reply r;
    r.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = msg.body();
    return r;
  }

  int fd_ = -1;
  std::string pending_;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra = "") {
  return "POST " + target +
         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra + "\r\n" + body;
}

std::string chunked(const std::string& method, const std::string& target,
                    const std::vector<std::string>& chunks) {
  std::string out =
      method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const auto& c : chunks) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", c.size());
    out += size + c + "\r\n";
  }
  return out + "0\r\n\r\n";
}

boost::json::object map_to_json(const std::map<std::string, std::string>& m) {
  boost::json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

constexpr std::int64_t kSmallLimit = 1024;
constexpr std::int64_t kFileLimit = 256 * 1024;

class HttpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    upload_dir_ = tmp_ / "uploads";
    fs::create_directories(upload_dir_);
    ServerLimits limits;
    limits.max_small_body = kSmallLimit;
    limits.max_file_body = kFileLimit;
    limits.max_header_bytes = 4096;
    limits.header_timeout = 1s;
    limits.idle_timeout = 2s;
    limits.temp_dir = upload_dir_;
    server_ = std::make_unique<Server>(io_, limits);
    add_routes();
    ASSERT_TRUE(server_->listen("127.0.0.1", 0).is_ok());
    ASSERT_NE(server_->port(), 0);
    std::promise<void> finished;
    run_finished_ = finished.get_future();
    thread_ = std::thread([this, finished = std::move(finished)]() mutable {
      io_.run();
      finished.set_value();
    });
  }

  void TearDown() override {
    if (thread_.joinable()) {
      EXPECT_TRUE(stop_and_wait(5s));
    }
  }

  // stop(), then whether io_context::run() returned in time.
  bool stop_and_wait(std::chrono::milliseconds timeout) {
    server_->stop();
    bool returned = run_finished_.wait_for(timeout) == std::future_status::ready;
    if (!returned) io_.stop();
    thread_.join();
    return returned;
  }

  void add_routes() {
    server_->add({"GET", "/echo/{id}/logs/{stream}", BodyKind::kNone,
                  [](Request& req) -> asio::awaitable<Response> {
                    boost::json::object o;
                    o["route"] = "params";
                    o["params"] = map_to_json(req.params);
                    o["path"] = req.path;
                    o["remote"] = req.remote_address;
                    co_return Response::json(200, o);
                  }});
    server_->add(
        {"GET", "/pipelines/{id}", BodyKind::kNone, [](Request& req) -> asio::awaitable<Response> {
           co_return Response::json(200, {{"route", "id"}, {"id", req.params["id"]}});
         }});
    server_->add(
        {"POST", "/pipelines/install", BodyKind::kNone, [](Request&) -> asio::awaitable<Response> {
           co_return Response::json(200, {{"route", "install"}});
         }});
    server_->add(
        {"GET", "/pipelines/install", BodyKind::kNone, [](Request&) -> asio::awaitable<Response> {
           co_return Response::json(200, {{"route", "install"}});
         }});
    server_->add(
        {"DELETE", "/pipelines/{id}", BodyKind::kNone,
         [](Request&) -> asio::awaitable<Response> { co_return Response::text(204, ""); }});
    server_->add({"GET", "/query", BodyKind::kNone, [](Request& req) -> asio::awaitable<Response> {
                    boost::json::array items;
                    for (const auto& [k, v] : req.query) items.push_back({k, v});
                    co_return Response::json(
                        200, {{"items", items}, {"agent", req.header("user-agent").value_or("")}});
                  }});
    server_->add({"POST", "/json", BodyKind::kSmall, [](Request& req) -> asio::awaitable<Response> {
                    auto v = boost::json::parse(req.body);
                    co_return Response::json(200, {{"got", v}, {"size", req.body_size}});
                  }});
    server_->add({"POST", "/nobody", BodyKind::kNone, [](Request&) -> asio::awaitable<Response> {
                    co_return Response::text(200, "ok");
                  }});
    server_->add(
        {"PUT", "/upload", BodyKind::kFile, [this](Request& req) -> asio::awaitable<Response> {
           upload_seen_path_ = req.body_file;
           upload_seen_content_ = pirus::testing::read_file(req.body_file);
           struct stat st {};
           ::stat(req.body_file.c_str(), &st);
           upload_seen_mode_ = st.st_mode & 0777;
           co_return Response::json(200, {{"size", req.body_size}});
         }});
    server_->add(
        {"PUT", "/upload-keep", BodyKind::kFile, [this](Request& req) -> asio::awaitable<Response> {
           fs::rename(req.body_file, tmp_ / "kept");
           co_return Response::json(201, {{"size", req.body_size}});
         }});
    server_->add(
        {"GET", "/download", BodyKind::kNone, [this](Request&) -> asio::awaitable<Response> {
           co_return Response::file(tmp_ / "data.bin", "application/octet-stream", "data set.bin");
         }});
    server_->add({"GET", "/throw", BodyKind::kNone, [](Request&) -> asio::awaitable<Response> {
                    throw std::runtime_error("boom");
                    co_return Response::text(200, "unreachable");
                  }});
    server_->add({"GET", "/slow", BodyKind::kNone, [this](Request&) -> asio::awaitable<Response> {
                    slow_started_ = true;
                    asio::steady_timer timer(co_await asio::this_coro::executor);
                    timer.expires_after(500ms);
                    co_await timer.async_wait(asio::use_awaitable);
                    co_return Response::text(200, "done");
                  }});
  }

  // Waits for the server to remove what it should remove after a response is written.
  bool upload_dir_empty_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (fs::is_empty(upload_dir_)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return fs::is_empty(upload_dir_);
  }

  pirus::testing::TempDir tmp_{"pirus-http-test"};
  std::string upload_dir_;
  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::future<void> run_finished_;

  std::string upload_seen_path_;
  std::string upload_seen_content_;
  unsigned upload_seen_mode_ = 0;
  std::atomic<bool> slow_started_{false};
};

void expect_problem(const Reply& r, int status) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  auto o = r.json();
  EXPECT_EQ(o.at("type").as_string(), "about:blank");
  EXPECT_EQ(o.at("status").as_int64(), status);
  EXPECT_FALSE(o.at("title").as_string().empty());
  EXPECT_TRUE(o.contains("detail"));
}

TEST_F(HttpServer, RoutesWithDecodedPathParameters) {
  Client c(server_->port());
  auto r = c.request(get("/echo/42/logs/std%20err"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->header("server"), "pirus");
  auto o = r->json();
  EXPECT_EQ(o.at("params").at("id").as_string(), "42");
  EXPECT_EQ(o.at("params").at("stream").as_string(), "std err");
  EXPECT_EQ(o.at("path").as_string(), "/echo/42/logs/std err");
  EXPECT_EQ(o.at("remote").as_string(), "127.0.0.1");
}

TEST_F(HttpServer, LiteralRouteWinsOverParameterRoute) {
  Client c(server_->port());
  auto r = c.request(get("/pipelines/install"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json().at("route").as_string(), "install");
  r = c.request(get("/pipelines/17"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json().at("route").as_string(), "id");
  EXPECT_EQ(r->json().at("id").as_string(), "17");
}

TEST_F(HttpServer, UnknownPathGets404Problem) {
  Client c(server_->port());
  auto r = c.request(get("/no/such/thing"));
  ASSERT_TRUE(r);
  expect_problem(*r, 404);
  EXPECT_EQ(r->json().at("title").as_string(), "Not Found");
}

TEST_F(HttpServer, WrongMethodGets405ProblemWithAllow) {
  Client c(server_->port());
  auto r = c.request(post("/pipelines/7", ""));
  ASSERT_TRUE(r);
  expect_problem(*r, 405);
  EXPECT_EQ(r->header("allow"), "DELETE, GET, HEAD, OPTIONS");
  // The connection is still usable: the request had no body left unread.
  r = c.request(get("/pipelines/7"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServer, OptionsGets204WithAllow) {
  Client c(server_->port());
  auto r = c.request("OPTIONS /pipelines/install HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("allow"), "DELETE, GET, HEAD, OPTIONS, POST");
}

TEST_F(HttpServer, QueryIsDecodedAndRepeatedKeysAreKept) {
  Client c(server_->port());
  auto r = c.request(get("/query?tag=a&tag=b%20c&x=1+2", "User-Agent: Test/1\r\n"));
  ASSERT_TRUE(r);
  auto items = r->json().at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].as_array()[0].as_string(), "tag");
  EXPECT_EQ(items[0].as_array()[1].as_string(), "a");
  EXPECT_EQ(items[1].as_array()[1].as_string(), "b c");
  EXPECT_EQ(items[2].as_array()[0].as_string(), "x");
  EXPECT_EQ(items[2].as_array()[1].as_string(), "1 2");
  EXPECT_EQ(r->json().at("agent").as_string(), "Test/1");
}

TEST_F(HttpServer, JsonBodyWithinLimitReachesTheHandler) {
  Client c(server_->port());
  auto r =
      c.request(post("/json", R"({"name":"bwa","n":3})", "Content-Type: application/json\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->json().at("got").at("name").as_string(), "bwa");
  EXPECT_EQ(r->json().at("size").as_int64(), 20);
}

TEST_F(HttpServer, ChunkedJsonBodyWithinLimitReachesTheHandler) {
  Client c(server_->port());
  auto r = c.request(chunked("POST", "/json", {R"({"name":)", R"("bwa"})"}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->json().at("got").at("name").as_string(), "bwa");
}

TEST_F(HttpServer, OversizeJsonBodyGets413Problem) {
  Client c(server_->port());
  std::string big = "\"" + std::string(kSmallLimit + 10, 'x') + "\"";
  auto r = c.request(post("/json", big));
  ASSERT_TRUE(r);
  expect_problem(*r, 413);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(3s));
}

TEST_F(HttpServer, OversizeChunkedJsonBodyGets413Problem) {
  Client c(server_->port());
  auto r = c.request(chunked("POST", "/json", {std::string(600, 'x'), std::string(600, 'y')}));
  ASSERT_TRUE(r);
  expect_problem(*r, 413);
  EXPECT_TRUE(c.closed_within(3s));
}

TEST_F(HttpServer, OversizeBodyWithExpectContinueGets413WithoutContinue) {
  Client c(server_->port());
  ASSERT_TRUE(
      c.send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  expect_problem(*r, 413);
}

TEST_F(HttpServer, ExpectContinueGets100BeforeTheBody) {
  Client c(server_->port());
  ASSERT_TRUE(
      c.send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto interim = c.read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("[1,2,3]"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->json().at("got").as_array().size(), 3u);
}

TEST_F(HttpServer, BodyOnNoBodyRouteGets413Problem) {
  Client c(server_->port());
  auto r = c.request(post("/nobody", "hello"));
  ASSERT_TRUE(r);
  expect_problem(*r, 413);
  EXPECT_EQ(r->json().at("detail").as_string(), "this endpoint takes no body");
  Client c2(server_->port());
  r = c2.request(post("/nobody", ""));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServer, ChunkedBodyOnNoBodyRouteGets413UnlessEmpty) {
  Client c(server_->port());
  auto r = c.request(chunked("POST", "/nobody", {"data"}));
  ASSERT_TRUE(r);
  expect_problem(*r, 413);
  Client c2(server_->port());
  r = c2.request(chunked("POST", "/nobody", {}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServer, EmptyFileBodyStillGetsATempFile) {
  Client c(server_->port());
  auto r = c.request("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->json().at("size").as_int64(), 0);
  EXPECT_EQ(fs::path(upload_seen_path_).parent_path(), fs::path(upload_dir_));
  EXPECT_EQ(upload_seen_mode_, 0600u);
  EXPECT_TRUE(upload_dir_empty_within(2s));
}

TEST_F(HttpServer, FileBodyIsStreamedToAPrivateTempFileThatIsRemovedAfterwards) {
  std::string content;
  for (int i = 0; i < 100000; ++i) content.push_back(static_cast<char>('a' + i % 26));
  Client c(server_->port());
  auto r = c.request("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(content.size()) + "\r\n\r\n" + content);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->json().at("size").as_int64(), static_cast<std::int64_t>(content.size()));
  EXPECT_EQ(upload_seen_content_, content);
  EXPECT_EQ(fs::path(upload_seen_path_).parent_path(), fs::path(upload_dir_));
  EXPECT_EQ(upload_seen_mode_, 0600u);
  EXPECT_TRUE(upload_dir_empty_within(2s));
}

TEST_F(HttpServer, ChunkedFileBodyIsStreamedToo) {
  Client c(server_->port());
  auto r = c.request(
      "PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->json().at("size").as_int64(), 11);
  EXPECT_EQ(upload_seen_content_, "hello world");
  EXPECT_TRUE(upload_dir_empty_within(2s));
}

TEST_F(HttpServer, FileBodyMovedAwayByTheHandlerIsKept) {
  Client c(server_->port());
  auto r = c.request("PUT /upload-keep HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(pirus::testing::read_file(tmp_ / "kept"), "abc");
  EXPECT_TRUE(upload_dir_empty_within(2s));
}

TEST_F(HttpServer, OversizeChunkedFileBodyGets413AndLeavesNoTempFile) {
  Client c(server_->port());
  std::string chunk(64 * 1024, 'z');
  auto r = c.request(chunked("PUT", "/upload", {chunk, chunk, chunk, chunk, chunk}));
  ASSERT_TRUE(r);
  expect_problem(*r, 413);
  EXPECT_TRUE(upload_dir_empty_within(2s));
}

TEST_F(HttpServer, MalformedRequestLineGets400AndClose) {
  Client c(server_->port());
  auto r = c.request("THIS IS NOT HTTP\r\n\r\n");
  ASSERT_TRUE(r);
  expect_problem(*r, 400);
  EXPECT_TRUE(c.closed_within(3s));
}

TEST_F(HttpServer, OversizeHeaderGets431) {
  Client c(server_->port());
  auto r = c.request(get("/pipelines/1", "X-Big: " + std::string(8000, 'b') + "\r\n"));
  ASSERT_TRUE(r);
  expect_problem(*r, 431);
  EXPECT_TRUE(c.closed_within(3s));
}

TEST_F(HttpServer, SlowHeaderIsCutOffAtTheHeaderTimeout) {
  Client c(server_->port());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET /pipelines/1 HTTP/1.1\r\nHost: x\r\n"));
  auto r = c.read(false, 4s);
  ASSERT_TRUE(r);
  expect_problem(*r, 408);
  EXPECT_TRUE(c.closed_within(3s));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(HttpServer, SilentConnectionIsClosedAtTheHeaderTimeout) {
  Client c(server_->port());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_within(4s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Client c(server_->port());
  for (int i = 0; i < 5; ++i) {
    auto r = c.request(get("/pipelines/" + std::to_string(i)));
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->json().at("id").as_string(), std::to_string(i));
    EXPECT_NE(r->header("connection"), "close");
  }
  // Pipelined: both requests in one write, both answered in order.
  ASSERT_TRUE(c.send(get("/pipelines/a") + post("/json", "[1]")));
  auto a = c.read();
  auto b = c.read();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->json().at("id").as_string(), "a");
  EXPECT_EQ(b->json().at("size").as_int64(), 3);
}

TEST_F(HttpServer, ConnectionCloseIsHonoured) {
  Client c(server_->port());
  auto r = c.request(get("/pipelines/1", "Connection: close\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(1s));
}

TEST_F(HttpServer, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  Client c(server_->port());
  ASSERT_TRUE(c.request(get("/pipelines/1")));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_within(5s));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 1500ms);
  EXPECT_LT(elapsed, 4s);
}

class HttpServerDownload : public HttpServer {
 protected:
  void SetUp() override {
    HttpServer::SetUp();
    for (int i = 0; i < 200000; ++i) data_.push_back(static_cast<char>(i % 251));
    pirus::testing::write_file(tmp_ / "data.bin", data_);
  }
  std::string data_;
};

TEST_F(HttpServerDownload, FullFileWithHeaders) {
  Client c(server_->port());
  auto r = c.request(get("/download"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, data_);
  EXPECT_EQ(r->header("content-type"), "application/octet-stream");
  EXPECT_EQ(r->header("accept-ranges"), "bytes");
  EXPECT_EQ(r->header("content-disposition"),
            "attachment; filename=\"data set.bin\"; filename*=UTF-8''data%20set.bin");
  // And the connection carries on.
  EXPECT_TRUE(c.request(get("/pipelines/1")));
}

TEST_F(HttpServerDownload, RangeGets206WithContentRange) {
  Client c(server_->port());
  auto r = c.request(get("/download", "Range: bytes=1000-1999\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->header("content-range"), "bytes 1000-1999/200000");
  EXPECT_EQ(r->body, data_.substr(1000, 1000));

  r = c.request(get("/download", "Range: bytes=199990-\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, data_.substr(199990));
}

TEST_F(HttpServerDownload, SuffixRangeGetsTheLastBytes) {
  Client c(server_->port());
  auto r = c.request(get("/download", "Range: bytes=-100\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->header("content-range"), "bytes 199900-199999/200000");
  EXPECT_EQ(r->body, data_.substr(199900));
}

TEST_F(HttpServerDownload, RangeBeyondTheEndGets416) {
  Client c(server_->port());
  auto r = c.request(get("/download", "Range: bytes=200000-\r\n"));
  ASSERT_TRUE(r);
  expect_problem(*r, 416);
  EXPECT_EQ(r->header("content-range"), "bytes */200000");
}

TEST_F(HttpServerDownload, MultipleRangesGetTheWholeFile) {
  Client c(server_->port());
  auto r = c.request(get("/download", "Range: bytes=0-1,5-6\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), data_.size());
}

TEST_F(HttpServerDownload, HeadGetsHeadersWithoutBody) {
  Client c(server_->port());
  auto r = c.request("HEAD /download HTTP/1.1\r\nHost: x\r\n\r\n", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "200000");
  EXPECT_TRUE(r->body.empty());
  // Had a body been sent, this would read it as the next response.
  r = c.request(get("/pipelines/9"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json().at("id").as_string(), "9");
}

TEST_F(HttpServer, HeadOnJsonRouteGetsContentLengthOnly) {
  Client c(server_->port());
  auto r = c.request("HEAD /pipelines/9 HTTP/1.1\r\nHost: x\r\n\r\n", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), std::to_string(R"({"route":"id","id":"9"})"sv.size()));
  EXPECT_TRUE(c.request(get("/pipelines/1")));
}

TEST_F(HttpServer, MissingDownloadFileGets404) {
  Client c(server_->port());
  auto r = c.request(get("/download"));  // data.bin was never written in this fixture
  ASSERT_TRUE(r);
  expect_problem(*r, 404);
}

TEST_F(HttpServer, ThrowingHandlerGets500AndTheServerKeepsWorking) {
  Client c(server_->port());
  auto r = c.request(get("/throw"));
  ASSERT_TRUE(r);
  expect_problem(*r, 500);
  r = c.request(get("/pipelines/5"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServer, SlowHandlersOnSeveralConnectionsRunConcurrently) {
  std::vector<std::unique_ptr<Client>> clients;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(clients.back()->send(get("/slow")));
  }
  for (auto& c : clients) {
    auto r = c->read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "done");
  }
  // Five 500 ms handlers on one thread: together, not one after another.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST_F(HttpServer, StopClosesIdleConnectionsAndRunReturns) {
  Client idle(server_->port());
  ASSERT_TRUE(idle.request(get("/pipelines/1")));
  Client silent(server_->port());
  EXPECT_TRUE(stop_and_wait(3s));
  EXPECT_TRUE(idle.closed_within(1s));
  EXPECT_TRUE(silent.closed_within(1s));
}

TEST_F(HttpServer, StopFinishesTheRequestInFlight) {
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/slow")));
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!slow_started_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(slow_started_);
  server_->stop();
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(1s));
  EXPECT_TRUE(stop_and_wait(3s));
  // Nobody listens any more.
  EXPECT_THROW(Client(server_->port()), std::runtime_error);
}

TEST(HttpServerListen, UnbindableAddressIsUnavailable) {
  asio::io_context io;
  Server first(io, {});
  ASSERT_TRUE(first.listen("127.0.0.1", 0).is_ok());
  Server second(io, {});
  // Without SO_REUSEPORT, a port being listened on cannot be bound twice.
  Status st = second.listen("127.0.0.1", first.port());
  EXPECT_EQ(st.code(), Code::kUnavailable);
  Server third(io, {});
  EXPECT_EQ(third.listen("not-an-address", 0).code(), Code::kInvalid);
}

TEST(HttpServerListen, ListensOnIpv6Loopback) {
  asio::io_context io;
  Server server(io, {});
  Status st = server.listen("::1", 0);
  if (!st.is_ok()) GTEST_SKIP() << "no IPv6 loopback here: " << st.to_string();
  EXPECT_NE(server.port(), 0);
}

}  // namespace
}  // namespace pirus::http
