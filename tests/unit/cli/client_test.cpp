// ApiClient and the commands against a tiny in-process HTTP/1.1 server on 127.0.0.1.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "support/temp_dir.hpp"

namespace pirus::cli {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using pirus::testing::read_file;
using pirus::testing::TempDir;
using pirus::testing::write_file;

struct FakeRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

struct FakeResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers = {};
};

FakeResponse problem(int status, const std::string& detail) {
  json::object o{
      {"type", "about:blank"}, {"title", "Error"}, {"status", status}, {"detail", detail}};
  return {status, json::serialize(o), "application/problem+json"};
}

// Serves one connection at a time (the client under test is sequential), with keep-alive,
// answering every request through `handler` on the server thread.
class FakeServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 8) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }

  ~FakeServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  // Set before the first request.
  std::size_t reject_bodies_over = static_cast<std::size_t>(-1);

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  std::vector<FakeRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> targets() {
    std::vector<std::string> out;
    for (const auto& r : requests()) out.push_back(r.method + " " + r.target);
    return out;
  }

 private:
  // Waits until `fd` is readable; false when stopping.
  bool wait_readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void loop() {
    while (wait_readable(listen_fd_)) {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      serve(fd);
      close(fd);
    }
  }

  void serve(int fd) {
    std::string buf;
    char chunk[65536];
    while (true) {
      std::size_t header_end;
      while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!wait_readable(fd)) return;
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      FakeRequest req;
      std::istringstream head(buf.substr(0, header_end));
      std::string line;
      std::getline(head, line);
      std::istringstream request_line(line);
      request_line >> req.method >> req.target;
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        req.headers[name] = value;
      }
      buf.erase(0, header_end + 4);
      std::size_t length = 0;
      if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
        length = std::stoul(it->second);
      }
      if (length > reject_bodies_over) {
        // As a server enforcing a size limit does: answer before reading the body, then
        // close gracefully (drain what the client still sends so it can read the answer).
        const FakeResponse resp = problem(413, "the body is over the limit");
        const std::string out = "HTTP/1.1 413 Too Large\r\nContent-Type: " + resp.content_type +
                                "\r\nContent-Length: " + std::to_string(resp.body.size()) +
                                "\r\nConnection: close\r\n\r\n" + resp.body;
        send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        while (wait_readable(fd) && recv(fd, chunk, sizeof chunk, 0) > 0) {
        }
        return;
      }
      while (buf.size() < length) {
        if (!wait_readable(fd)) return;
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      req.body = buf.substr(0, length);
      buf.erase(0, length);
      FakeResponse resp = handler_(req);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(std::move(req));
      }
      std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " Fake\r\n";
      if (resp.status != 204) {
        out += "Content-Type: " + resp.content_type + "\r\n";
        out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
      }
      for (const auto& [name, value] : resp.headers) out += name + ": " + value + "\r\n";
      out += "X-Fake: yes\r\n\r\n";
      if (resp.status != 204) out += resp.body;
      std::size_t sent = 0;
      while (sent < out.size()) {
        ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
      }
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<FakeRequest> requests_;
  std::thread thread_;
};

// A port with nothing listening: bound then closed, so connecting is refused.
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string pseudo_random_bytes(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xFF);
  }
  return s;
}

// ---------------------------------------------------------------- ApiClient

TEST(ApiClient, CallParsesJson) {
  FakeServer server([](const FakeRequest&) {
    return FakeResponse{200, R"({"status":"ok","jobs":{"running":1}})"};
  });
  ApiClient client(server.url() + "/");
  auto r = client.call("GET", "/api/v1/health");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->at("status").as_string(), "ok");
  EXPECT_EQ(r->at("jobs").at("running").as_int64(), 1);
  ASSERT_EQ(server.targets(), std::vector<std::string>{"GET /api/v1/health"});
}

TEST(ApiClient, CallSendsJsonBody) {
  FakeServer server([](const FakeRequest& r) { return FakeResponse{201, r.body}; });
  ApiClient client(server.url());
  const json::value body = json::parse(R"({"pipeline_id":1,"inputs":[3]})");
  auto r = client.call("POST", "/api/v1/jobs", &body);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(*r, body);
  auto req = server.requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.headers["content-type"], "application/json");
  EXPECT_EQ(json::parse(req.body), body);
}

TEST(ApiClient, EmptyPostHasNoBodyAndNoFormContentType) {
  FakeServer server([](const FakeRequest&) { return FakeResponse{200, R"({"id":7})"}; });
  ApiClient client(server.url());
  ASSERT_TRUE(client.call("POST", "/api/v1/jobs/7/pause"));
  auto req = server.requests().at(0);
  EXPECT_EQ(req.headers["content-length"], "0");
  EXPECT_EQ(req.headers.count("content-type"), 0u);
}

TEST(ApiClient, NoContentIsNull) {
  FakeServer server([](const FakeRequest&) { return FakeResponse{204, ""}; });
  ApiClient client(server.url());
  auto r = client.call("DELETE", "/api/v1/jobs/7");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_TRUE(r->is_null());
  EXPECT_EQ(server.requests().at(0).method, "DELETE");
}

TEST(ApiClient, ProblemBodyBecomesStatusWithDetailAndMappedCode) {
  const std::vector<std::pair<int, Code>> cases = {
      {400, Code::kInvalid},  {404, Code::kNotFound},    {409, Code::kConflict},
      {413, Code::kTooLarge}, {503, Code::kUnavailable}, {500, Code::kInternal},
      {405, Code::kInternal}};
  for (const auto& [http, code] : cases) {
    FakeServer server([http = http](const FakeRequest&) {
      return problem(http, "job 12 is done, which is final");
    });
    ApiClient client(server.url());
    auto r = client.call("POST", "/api/v1/jobs/12/pause");
    ASSERT_FALSE(r) << http;
    EXPECT_EQ(r.status().code(), code) << http;
    EXPECT_EQ(r.status().message(), "job 12 is done, which is final") << http;
    // A 503 is the server speaking: not the same as an unreachable server.
    EXPECT_FALSE(is_unreachable(r.status()));
  }
}

TEST(ApiClient, NonProblemErrorBodyIsUsedRaw) {
  FakeServer server([](const FakeRequest&) {
    return FakeResponse{502, "bad gateway\n", "text/plain"};
  });
  ApiClient client(server.url());
  auto r = client.call("GET", "/api/v1/jobs");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInternal);
  EXPECT_EQ(r.status().message(), "bad gateway");
}

TEST(ApiClient, HttpErrorsAreResultsForRequest) {
  FakeServer server([](const FakeRequest&) { return problem(404, "no job 9"); });
  ApiClient client(server.url());
  auto r = client.request("GET", "/api/v1/jobs/9");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers["content-type"], "application/problem+json");
  EXPECT_EQ(r->headers["x-fake"], "yes");
  EXPECT_EQ(status_from_http(*r).code(), Code::kNotFound);
}

TEST(ApiClient, InvalidJsonIsInternal) {
  FakeServer server([](const FakeRequest&) { return FakeResponse{200, "{not json"}; });
  ApiClient client(server.url());
  auto r = client.call("GET", "/api/v1/jobs");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInternal);
}

TEST(ApiClient, ConnectionRefusedIsUnavailable) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  ApiClient client(url);
  auto r = client.call("GET", "/api/v1/health");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_TRUE(is_unreachable(r.status()));
  EXPECT_EQ(r.status().message().rfind(
                "cannot reach the Pirus server at " + url + ": Couldn't connect", 0),
            0u)
      << r.status().message();
}

TEST(ApiClient, ReusesTheConnection) {
  FakeServer server([](const FakeRequest&) { return FakeResponse{200, "{}"}; });
  ApiClient client(server.url());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.call("GET", "/api/v1/health"));
  EXPECT_EQ(server.connections(), 1);
}

TEST(ApiClient, UploadStreamsTheExactBytes) {
  TempDir dir;
  const std::string content = pseudo_random_bytes(3 * 1024 * 1024 + 17);
  write_file(dir / "in.bin", content);
  FakeServer server([](const FakeRequest& r) {
    return FakeResponse{201, json::serialize(json::object{{"size", r.body.size()}})};
  });
  ApiClient client(server.url());
  std::vector<std::pair<std::int64_t, std::int64_t>> calls;
  auto r = client.upload(
      "/api/v1/files?name=in.bin", dir / "in.bin", "application/octet-stream",
      [&](std::int64_t sent, std::int64_t total) { calls.emplace_back(sent, total); });
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->status, 201);
  auto req = server.requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/api/v1/files?name=in.bin");
  EXPECT_EQ(req.headers["content-length"], std::to_string(content.size()));
  EXPECT_EQ(req.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(req.headers.count("expect"), 0u);
  EXPECT_TRUE(req.body == content);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().first, static_cast<std::int64_t>(content.size()));
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].second, static_cast<std::int64_t>(content.size()));
    if (i > 0) {
      EXPECT_GE(calls[i].first, calls[i - 1].first);
    }
  }
}

TEST(ApiClient, UploadRefusedEarlyReturnsTheServersAnswer) {
  TempDir dir;
  write_file(dir / "big.bin", pseudo_random_bytes(8 * 1024 * 1024));
  FakeServer server([](const FakeRequest&) { return FakeResponse{201, "{}"}; });
  server.reject_bodies_over = 1024;
  ApiClient client(server.url());
  auto r = client.upload("/api/v1/files?name=big.bin", dir / "big.bin", "application/octet-stream");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(status_from_http(*r).code(), Code::kTooLarge);
  EXPECT_EQ(status_from_http(*r).message(), "the body is over the limit");
}

TEST(ApiClient, UploadOfAMissingFileIsNotFound) {
  FakeServer server([](const FakeRequest&) { return FakeResponse{201, "{}"}; });
  ApiClient client(server.url());
  auto r = client.upload("/api/v1/files?name=x", "/nonexistent/x", "application/octet-stream");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_TRUE(server.requests().empty());
}

TEST(ApiClient, DownloadWritesTheExactBytesAndNoPartFile) {
  TempDir dir;
  const std::string content = pseudo_random_bytes(2 * 1024 * 1024 + 3);
  FakeServer server([&](const FakeRequest&) {
    return FakeResponse{200, content, "application/octet-stream"};
  });
  ApiClient client(server.url());
  auto r = client.download("/api/v1/files/3/content", dir / "out.bin");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());  // the bytes went to the file
  EXPECT_TRUE(read_file(dir / "out.bin") == content);
  EXPECT_FALSE(fs::exists(dir / "out.bin.part"));
}

TEST(ApiClient, DownloadOfAnEmptyFileCreatesIt) {
  TempDir dir;
  FakeServer server([](const FakeRequest&) { return FakeResponse{200, "", "text/plain"}; });
  ApiClient client(server.url());
  auto r = client.download("/api/v1/files/3/content", dir / "empty");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_TRUE(fs::exists(dir / "empty"));
  EXPECT_EQ(fs::file_size(dir / "empty"), 0u);
}

TEST(ApiClient, DownloadErrorLeavesNothing) {
  TempDir dir;
  FakeServer server([](const FakeRequest&) { return problem(404, "no file 3"); });
  ApiClient client(server.url());
  auto r = client.download("/api/v1/files/3/content", dir / "out.bin");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(status_from_http(*r).message(), "no file 3");
  EXPECT_FALSE(fs::exists(dir / "out.bin"));
  EXPECT_FALSE(fs::exists(dir / "out.bin.part"));
}

TEST(ApiClient, DownloadWhenUnreachableLeavesNothing) {
  TempDir dir;
  ApiClient client("http://127.0.0.1:" + std::to_string(closed_port()));
  auto r = client.download("/api/v1/files/3/content", dir / "out.bin");
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_unreachable(r.status()));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// ---------------------------------------------------------------- commands

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

CliRun run_cli(const std::string& url, std::vector<std::string> args) {
  CLI::App app{"pirus"};
  ClientOptions opts;
  int exit_code = -1;
  std::ostringstream out, err;
  Console console;
  console.out = &out;
  console.err = &err;
  console.poll_interval = std::chrono::milliseconds(5);
  add_client_commands(app, opts, exit_code, console);
  if (!url.empty()) {
    args.insert(args.begin(), url);
    args.insert(args.begin(), "--server");
  }
  args.insert(args.begin(), "pirus");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return {2, out.str(), err.str() + e.what()};
  }
  return {exit_code, out.str(), err.str()};
}

// A router over "METHOD target" keys; unknown routes are 404 problems.
FakeServer::Handler routes(
    std::map<std::string, std::function<FakeResponse(const FakeRequest&)>> table) {
  return [table = std::move(table)](const FakeRequest& r) {
    auto it = table.find(r.method + " " + r.target);
    if (it == table.end()) return problem(404, "no route " + r.method + " " + r.target);
    return it->second(r);
  };
}

FakeResponse ok_json(const std::string& body) {
  return {200, body};
}

TEST(Commands, UnreachableServerExitsThree) {
  auto r = run_cli("http://127.0.0.1:" + std::to_string(closed_port()), {"job", "list"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err.rfind("error: cannot reach the Pirus server at", 0), 0u) << r.err;
}

TEST(Commands, ApiErrorExitsOneWithDetail) {
  FakeServer server(routes({}));
  auto r = run_cli(server.url(), {"job", "show", "9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: no route GET /api/v1/jobs/9\n");
}

TEST(Commands, ServerUrlFromEnvironment) {
  FakeServer server(routes({{"POST /api/v1/jobs/4/cancel", [](const FakeRequest&) {
                               return ok_json(R"({"id":4,"status":"canceled"})");
                             }}}));
  setenv("PIRUS_URL", server.url().c_str(), 1);
  auto r = run_cli("", {"job", "cancel", "4"});
  unsetenv("PIRUS_URL");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job 4 is now canceled\n");
}

TEST(Commands, HealthExitsZeroWhenHealthyAndOneWhenNot) {
  std::string body =
      R"({"status":"ok","version":"0.1.0","database":"ok","engines":{"docker":"ok"}})";
  int status = 200;
  FakeServer server(routes({{"GET /api/v1/health", [&](const FakeRequest&) {
                               return FakeResponse{status, body};
                             }}}));
  auto r = run_cli(server.url(), {"health"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("status    ok\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("engine    docker: ok\n"), std::string::npos) << r.out;

  status = 503;
  body = R"({"status":"unhealthy","database":"ok","engines":{"docker":"cannot connect"}})";
  r = run_cli(server.url(), {"health"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("engine    docker: cannot connect\n"), std::string::npos) << r.out;
}

TEST(Commands, CaCertMustBeAnExistingFile) {
  auto r = run_cli("https://127.0.0.1:1", {"--ca-cert", "/nonexistent/ca.pem", "health"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent/ca.pem"), std::string::npos) << r.err;
}

TEST(Commands, JsonFlagAfterTheSubcommandPrintsTheRawResponse) {
  const std::string job = R"({"id":7,"status":"running","outputs":[]})";
  FakeServer server(
      routes({{"GET /api/v1/jobs/7", [&](const FakeRequest&) { return ok_json(job); }}}));
  auto r = run_cli(server.url(), {"job", "show", "7", "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), json::parse(job));
}

TEST(Commands, JobRunResolvesTheNameAndBuildsTheBody) {
  json::value posted;
  FakeServer server(routes({
      {"GET /api/v1/pipelines",
       [](const FakeRequest&) {
         return ok_json(R"({"items":[
           {"id":1,"name":"wordcount","version":"1.0.0","status":"ready"},
           {"id":2,"name":"wordcount","version":"1.2.0","status":"ready"},
           {"id":3,"name":"wordcount","version":"2.0.0","status":"installing"}],
           "next_cursor":""})");
       }},
      {"POST /api/v1/jobs",
       [&](const FakeRequest& r) {
         posted = json::parse(r.body);
         return FakeResponse{201, R"({"id":7,"status":"waiting"})"};
       }},
  }));
  auto r = run_cli(
      server.url(),
      {"job",     "run",        "wordcount", "--input",    "3",       "--input",      "4",
       "--param", "n=42",       "--param",   "mode=words", "--param", "quoted=\"7\"", "--name",
       "my run",  "--priority", "5",         "--cpus",     "2",       "--memory-mb",  "256"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "7\n");
  EXPECT_EQ(posted, json::parse(R"({"pipeline_id":2,"name":"my run","inputs":[3,4],
      "parameters":{"n":42,"mode":"words","quoted":"7"},"priority":5,
      "resources":{"cpus":2,"memory_mb":256}})"));
}

TEST(Commands, JobRunUploadsLocalInputsAndReadsTheParamsFile) {
  TempDir dir;
  write_file(dir / "my sample.txt", "hello\n");
  write_file(dir / "params.json", R"({"mode":"lines","n":1})");
  json::value posted;
  std::string uploaded;
  FakeServer server(routes({
      {"POST /api/v1/files?name=my%20sample.txt",
       [&](const FakeRequest& r) {
         uploaded = r.body;
         return FakeResponse{201, R"({"id":11,"name":"my sample.txt","size":6})"};
       }},
      {"POST /api/v1/jobs",
       [&](const FakeRequest& r) {
         posted = json::parse(r.body);
         return FakeResponse{201, R"({"id":8,"status":"waiting"})"};
       }},
  }));
  auto r = run_cli(server.url(), {"job", "run", "5", "--input", dir / "my sample.txt",
                                  "--params-file", dir / "params.json", "--param", "n=2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(uploaded, "hello\n");
  EXPECT_EQ(posted, json::parse(R"({"pipeline_id":5,"inputs":[11],
      "parameters":{"mode":"lines","n":2}})"));
}

TEST(Commands, JobRunRejectsAMissingInputBeforeCreatingTheJob) {
  FakeServer server(routes({}));
  auto r = run_cli(server.url(), {"job", "run", "5", "--input", "./no-such-file"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such input file: ./no-such-file"), std::string::npos) << r.err;
  EXPECT_TRUE(server.requests().empty());
}

TEST(Commands, JobWaitShowsProgressThenOutputs) {
  std::atomic<int> polls{0};
  FakeServer server(routes({
      {"GET /api/v1/jobs/7",
       [&](const FakeRequest&) {
         int n = polls++;
         if (n < 2) {
           return ok_json(R"({"id":7,"status":"running","progress":0.42,
             "progress_label":"counting","outputs":[]})");
         }
         return ok_json(R"({"id":7,"status":"done","progress":1,"progress_label":"",
           "outputs":[21]})");
       }},
      {"GET /api/v1/files/21",
       [](const FakeRequest&) { return ok_json(R"({"id":21,"name":"counts.tsv","size":2048})"); }},
  }));
  auto r = run_cli(server.url(), {"job", "wait", "7"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ID  NAME           SIZE\n21  counts.tsv  2.0 KiB\n");
  // Not a terminal: one line per status or label change, not one per poll.
  EXPECT_EQ(r.err,
            "[####------] 42% counting  running 0m00s\n"
            "[##########] 100%  done 0m00s\n");
}

TEST(Commands, JobWaitReportsTheErrorReason) {
  FakeServer server(routes({{"GET /api/v1/jobs/7", [](const FakeRequest&) {
                               return ok_json(R"({"id":7,"status":"error","exit_code":2,
                                 "error_reason":"the process exited with 2"})");
                             }}}));
  auto r = run_cli(server.url(), {"job", "wait", "7"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("error: job 7 failed (exit code 2): the process exited with 2\n"),
            std::string::npos)
      << r.err;
}

TEST(Commands, JobWaitCanceledExitsOne) {
  FakeServer server(routes({{"GET /api/v1/jobs/7", [](const FakeRequest&) {
                               return ok_json(R"({"id":7,"status":"canceled"})");
                             }}}));
  auto r = run_cli(server.url(), {"job", "wait", "7", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(json::parse(r.out).at("status"), "canceled");
}

TEST(Commands, JobWaitTimesOut) {
  FakeServer server(routes({{"GET /api/v1/jobs/7", [](const FakeRequest&) {
                               return ok_json(R"({"id":7,"status":"waiting"})");
                             }}}));
  auto r = run_cli(server.url(), {"job", "wait", "7", "--timeout", "0.05"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("error: timed out"), std::string::npos) << r.err;
}

TEST(Commands, JobListAllFollowsTheCursor) {
  FakeServer server(routes({
      {"GET /api/v1/jobs?status=running%2Cdone",
       [](const FakeRequest&) {
         return ok_json(R"({"items":[{"id":2,"name":"b","pipeline_id":1,"status":"done"}],
           "next_cursor":"c/1"})");
       }},
      {"GET /api/v1/jobs?status=running%2Cdone&cursor=c%2F1",
       [](const FakeRequest&) {
         return ok_json(R"({"items":[{"id":1,"name":"a","pipeline_id":9,"status":"running"}],
           "next_cursor":""})");
       }},
      {"GET /api/v1/pipelines",
       [](const FakeRequest&) {
         return ok_json(R"({"items":[{"id":1,"name":"wc","version":"1"}]})");
       }},
  }));
  auto r = run_cli(server.url(), {"job", "list", "--status", "running,done", "--all"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2  b     wc:1      done"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1  a     9         running"), std::string::npos) << r.out;
}

TEST(Commands, FileDownloadRefusesToOverwriteUnlessForced) {
  TempDir dir;
  write_file(dir / "sample.txt", "old");
  FakeServer server(routes({
      {"GET /api/v1/files/3",
       [](const FakeRequest&) { return ok_json(R"({"id":3,"name":"sample.txt","size":3})"); }},
      {"GET /api/v1/files/3/content",
       [](const FakeRequest&) {
         return FakeResponse{200, "new", "text/plain"};
       }},
  }));
  auto refused = run_cli(server.url(), {"file", "download", "3", "-o", dir.path()});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("already exists"), std::string::npos) << refused.err;
  EXPECT_EQ(read_file(dir / "sample.txt"), "old");

  auto forced = run_cli(server.url(), {"file", "download", "3", "-o", dir.path(), "--force"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(read_file(dir / "sample.txt"), "new");
  EXPECT_FALSE(fs::exists(dir / "sample.txt.part"));
}

TEST(Commands, FileUploadSpeaksTusWithNameAndChecksums) {
  TempDir dir;
  write_file(dir / "abc.txt", "abc");
  ::setenv("XDG_STATE_HOME", (dir / "state").c_str(), 1);
  std::vector<FakeRequest> seen;
  FakeServer server([&](const FakeRequest& r) {
    seen.push_back(r);
    if (r.method == "POST" && r.target == "/api/v1/uploads") {
      return FakeResponse{201,
                          "{}",
                          "application/json",
                          {{"Location", "/api/v1/uploads/5"}, {"Tus-Resumable", "1.0.0"}}};
    }
    if (r.method == "PATCH" && r.target == "/api/v1/uploads/5") {
      return FakeResponse{204, "", "", {{"Upload-Offset", "3"}, {"Tus-Resumable", "1.0.0"}}};
    }
    if (r.method == "GET" && r.target == "/api/v1/files/5") {
      return FakeResponse{200, R"({"id":5,"name":"abc.txt","size":3,"status":"checked"})"};
    }
    return problem(404, "unexpected " + r.method + " " + r.target);
  });
  auto r = run_cli(server.url(), {"file", "upload", dir / "abc.txt", "--sha256"});
  ::unsetenv("XDG_STATE_HOME");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].headers["tus-resumable"], "1.0.0");
  EXPECT_EQ(seen[0].headers["upload-length"], "3");
  // filename "abc.txt" and sha256 of "abc" (hex), base64-encoded.
  EXPECT_EQ(
      seen[0].headers["upload-metadata"],
      "filename YWJjLnR4dA==,sha256 "
      "YmE3ODE2YmY4ZjAxY2ZlYTQxNDE0MGRlNWRhZTIyMjNiMDAzNjFhMzk2MTc3YTljYjQxMGZmNjFmMjAwMTVhZA==");
  EXPECT_EQ(seen[1].headers["upload-offset"], "0");
  EXPECT_EQ(seen[1].headers["content-type"], "application/offset+octet-stream");
  EXPECT_EQ(seen[1].headers["upload-checksum"],
            "sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  EXPECT_EQ(seen[1].body, "abc");
  EXPECT_EQ(r.out, "ID  NAME     SIZE  STATUS\n 5  abc.txt   3 B  checked\n");
  // Done: nothing is left to resume.
  EXPECT_TRUE(fs::is_empty(dir / "state/pirus/uploads"));
}

TEST(Commands, JobOutputsDownloadsEveryOutput) {
  TempDir dir;
  FakeServer server(routes({
      {"GET /api/v1/jobs/7",
       [](const FakeRequest&) { return ok_json(R"({"id":7,"status":"done","outputs":[21,22]})"); }},
      {"GET /api/v1/files/21",
       [](const FakeRequest&) { return ok_json(R"({"id":21,"name":"a.txt","size":1})"); }},
      {"GET /api/v1/files/22",
       [](const FakeRequest&) { return ok_json(R"({"id":22,"name":"../b.txt","size":2})"); }},
      {"GET /api/v1/files/21/content",
       [](const FakeRequest&) {
         return FakeResponse{200, "A", "text/plain"};
       }},
      {"GET /api/v1/files/22/content",
       [](const FakeRequest&) {
         return FakeResponse{200, "BB", "text/plain"};
       }},
  }));
  auto r = run_cli(server.url(), {"job", "outputs", "7", "-d", dir / "out"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "out/a.txt"), "A");
  EXPECT_EQ(read_file(dir / "out/b.txt"), "BB");  // never outside the directory
}

TEST(Commands, PipelineInstallFailureShowsReasonAndBuildLogTail) {
  TempDir dir;
  write_file(dir / "wc.zip", "PK fake zip");
  std::string log;
  for (int i = 1; i <= 40; ++i) log += "step " + std::to_string(i) + "\n";
  std::atomic<int> polls{0};
  FakeServer server(routes({
      {"POST /api/v1/pipelines?filename=wc.zip",
       [](const FakeRequest& r) {
         EXPECT_EQ(r.body, "PK fake zip");
         EXPECT_EQ(r.headers.at("content-type"), "application/zip");
         return FakeResponse{202, R"({"id":4,"name":"wc","version":"1","status":"installing"})"};
       }},
      {"GET /api/v1/pipelines/4",
       [&](const FakeRequest&) {
         if (polls++ == 0)
           return ok_json(R"({"id":4,"name":"wc","version":"1","status":"installing"})");
         return ok_json(R"({"id":4,"name":"wc","version":"1","status":"error",
           "error_reason":"docker build failed"})");
       }},
      {"GET /api/v1/pipelines/4/build-log",
       [&](const FakeRequest&) {
         return FakeResponse{200, log, "text/plain"};
       }},
  }));
  auto r = run_cli(server.url(), {"pipeline", "install", dir / "wc.zip"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("building image..."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error: pipeline wc:1 failed to install: docker build failed\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("step 11\n"), std::string::npos);
  EXPECT_NE(r.err.find("step 40\n"), std::string::npos);
  EXPECT_EQ(r.err.find("step 10\n"), std::string::npos);
}

TEST(Commands, PipelineInstallWaitsUntilReady) {
  TempDir dir;
  write_file(dir / "wc.zip", "PK");
  std::atomic<int> polls{0};
  FakeServer server(routes({
      {"POST /api/v1/pipelines?filename=wc.zip",
       [](const FakeRequest&) {
         return FakeResponse{202, R"({"id":4,"name":"wc","version":"1","status":"installing"})"};
       }},
      {"GET /api/v1/pipelines/4",
       [&](const FakeRequest&) {
         if (polls++ < 2) return ok_json(R"({"id":4,"status":"installing"})");
         return ok_json(R"({"id":4,"name":"wc","version":"1","status":"ready",
           "form":{"properties":{"n":{"type":"integer","default":3}}}})");
       }},
  }));
  auto r = run_cli(server.url(), {"pipeline", "install", dir / "wc.zip"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("status       ready\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n    integer  no        3        -\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "building image... 0m00s\n");  // not a terminal: once
}

}  // namespace
}  // namespace pirus::cli
