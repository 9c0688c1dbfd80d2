// BodyKind::kStream: the handler pulls the body itself, in pieces, straight off the socket.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <future>
#include <string>
#include <thread>

#include "http/http_server.hpp"

namespace pirus::http {
namespace {

using namespace std::chrono_literals;

// A connection to the server, with a 3 s receive timeout so that no test can hang.
int connect_to(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Everything the server sends until it closes (or the timeout passes); closes `fd`.
std::string read_until_closed(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Sends `request` on a fresh connection and returns everything the server sent until it
// closed (or 3 s passed).
std::string exchange(unsigned short port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  return read_until_closed(fd);
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

class StreamBodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerLimits limits;
    limits.idle_timeout = 2s;
    server_ = std::make_unique<Server>(io_, limits);
    // Reads the body 7 bytes at a time and answers with what it got, or the read error.
    server_->add({"PUT", "/stream", BodyKind::kStream,
                  [](Request& req) -> boost::asio::awaitable<Response> {
                    std::string got;
                    char piece[7];
                    for (;;) {
                      auto n = co_await req.body_stream->read_some(piece, sizeof piece);
                      if (!n) co_return Response::from_status(n.status());
                      if (*n == 0) break;
                      got.append(piece, *n);
                    }
                    auto declared = req.body_stream->content_length();
                    co_return Response::text(
                        200, "got " + std::to_string(got.size()) + " declared " +
                                 (declared ? std::to_string(*declared) : "none") + ": " + got);
                  },
                  1000});
    // Answers without reading the body at all.
    server_->add(
        {"PUT", "/early", BodyKind::kStream, [](Request&) -> boost::asio::awaitable<Response> {
           co_return Response::problem(409, "Conflict", "not now");
         }});
    ASSERT_TRUE(server_->listen("127.0.0.1", 0).is_ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    io_.stop();
    thread_.join();
  }

  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(StreamBodyTest, HandlerReadsAContentLengthBodyInPieces) {
  std::string body(100, 'a');
  std::string r = exchange(server_->port(),
                           "PUT /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           "Content-Length: 100\r\n\r\n" +
                               body);
  EXPECT_NE(r.find("200 OK"), std::string::npos) << r;
  EXPECT_NE(r.find("got 100 declared 100: " + body), std::string::npos) << r;
}

TEST_F(StreamBodyTest, ChunkedBodiesAndEmptyBodiesWork) {
  std::string r =
      exchange(server_->port(),
               "PUT /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_NE(r.find("got 11 declared none: hello world"), std::string::npos) << r;
  std::string empty = exchange(server_->port(),
                               "PUT /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               "Content-Length: 0\r\n\r\n");
  EXPECT_NE(empty.find("got 0 declared 0: "), std::string::npos) << empty;
}

TEST_F(StreamBodyTest, LimitsHoldBeforeAndDuringTheBody) {
  std::string declared =
      exchange(server_->port(), "PUT /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
  EXPECT_NE(declared.find("413"), std::string::npos) << declared;
  std::string chunk(600, 'b');
  char size_line[16];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  std::string chunked =
      exchange(server_->port(),
               "PUT /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   std::string(size_line) + chunk + "\r\n" + size_line + chunk + "\r\n0\r\n\r\n");
  EXPECT_NE(chunked.find("413"), std::string::npos) << chunked.substr(0, 300);
  std::string bad = exchange(server_->port(),
                             "PUT /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "zz\r\nhello\r\n0\r\n\r\n");
  EXPECT_NE(bad.find("400"), std::string::npos) << bad;
}

TEST_F(StreamBodyTest, KeepAliveAfterAFullReadCloseAfterAnEarlyAnswer) {
  const std::string one = "PUT /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  std::string two =
      exchange(server_->port(), one +
                                    "PUT /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    "Content-Length: 3\r\n\r\ndef");
  EXPECT_EQ(count(two, "HTTP/1.1 200"), 2) << two;
  EXPECT_NE(two.find(": abc"), std::string::npos);
  EXPECT_NE(two.find(": def"), std::string::npos);
  // The unread body of /early stands before any next request: the server closes.
  std::string early = exchange(
      server_->port(), "PUT /early HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + one);
  EXPECT_EQ(count(early, "HTTP/1.1 409"), 1) << early;
  EXPECT_EQ(count(early, "HTTP/1.1 200"), 0) << early;
  EXPECT_NE(early.find("Connection: close"), std::string::npos) << early;
}

// A body of known length is read off the socket directly; a client that stops half way
// gets an error from the handler's read, not a hang, and nothing of the next bytes is lost.
TEST_F(StreamBodyTest, ABodyCutShortEndsTheReadWithAnError) {
  const int fd = connect_to(server_->port());
  ASSERT_GE(fd, 0);
  const std::string head = "PUT /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  std::this_thread::sleep_for(50ms);
  const std::string half(50, 'h');
  ::send(fd, half.data(), half.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  const std::string out = read_until_closed(fd);
  // The handler saw the failed read (503: the client went away) and the server closed.
  EXPECT_NE(out.find("HTTP/1.1 503"), std::string::npos) << out;
  EXPECT_EQ(out.find("got "), std::string::npos) << out;
}

TEST_F(StreamBodyTest, ABodyEndsAtItsLengthWhateverFollows) {
  std::string body;
  for (int i = 0; i < 900; ++i) body.push_back(static_cast<char>('a' + i % 26));
  std::string r = exchange(server_->port(),
                           "PUT /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           "Content-Length: 900\r\n\r\n" +
                               body + "GARBAGE AFTER THE BODY");
  const std::string want = "got 900 declared 900: " + body;
  ASSERT_GE(r.size(), want.size()) << r;
  EXPECT_EQ(r.substr(r.size() - want.size()), want) << r;
}

}  // namespace
}  // namespace pirus::http
