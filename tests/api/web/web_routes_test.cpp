// The web dashboard's static route against a real `pirus server`: content types, ETag
// revalidation, gzip siblings, the single-page fallback, API priority, and hostile paths
// (dot segments, encoded ones, symbolic links out of the root), sent byte for byte over a
// socket so that no client library normalises them first.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

namespace fs = std::filesystem;

struct Reply {
  int status = 0;
  std::string head;  // status line and headers, lower-cased
  std::string body;
};

// One request with exactly this target; the connection closes after the answer.
Reply send_raw(int port, const std::string& method, const std::string& target,
               const std::string& extra_headers = "") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
                    "Connection: close\r\n\r\n";
  EXPECT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string all;
  char buf[8192];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, n);
  ::close(fd);
  Reply r;
  auto end = all.find("\r\n\r\n");
  if (end == std::string::npos || all.size() < 12) return r;
  r.status = std::stoi(all.substr(9, 3));
  r.head = all.substr(0, end);
  std::transform(r.head.begin(), r.head.end(), r.head.begin(), ::tolower);
  r.body = all.substr(end + 4);
  return r;
}

std::string header_of(const Reply& r, const std::string& name) {
  auto pos = r.head.find("\r\n" + name + ": ");
  if (pos == std::string::npos) return "";
  pos += name.size() + 4;
  return r.head.substr(pos, r.head.find("\r\n", pos) - pos);
}

const std::string kIndex = "<!doctype html><title>dashboard index</title>";
const std::string kSecret = "top secret outside the web root";

class WebRoutesTest : public ServerTest {
 protected:
  void SetUp() override {
    root_ = dir_ / "web";
    write_file(root_ + "/index.html", kIndex);
    write_file(root_ + "/app.js", "export const answer = 42;\n");
    write_file(root_ + "/style.css", "body{color:#111}\n");
    write_file(root_ + "/assets/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
    write_file(dir_ / "secret.txt", kSecret);
    fs::create_symlink(dir_ / "secret.txt", root_ + "/leak.txt");
    fs::create_symlink(dir_.path(), root_ + "/up");
    ServerOptions options;
    options.sets = {"web.root=" + root_};
    options.wait_for_engine = false;
    start_server(options);
  }
  Reply get(const std::string& target, const std::string& headers = "") {
    return send_raw(server().port(), "GET", target, headers);
  }

  TempDir dir_{"pirus-web"};
  std::string root_;
};

TEST_F(WebRoutesTest, ServesFilesWithTheirTypesAndRevalidatesWithEtag) {
  Reply r = get("/");
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, kIndex);
  EXPECT_EQ(header_of(r, "content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(header_of(r, "cache-control"), "no-cache");
  EXPECT_NE(header_of(r, "content-security-policy").find("default-src 'self'"), std::string::npos);
  const std::string etag = header_of(r, "etag");
  ASSERT_FALSE(etag.empty());

  Reply js = get("/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(header_of(js, "content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header_of(js, "x-content-type-options"), "nosniff");
  EXPECT_EQ(header_of(get("/style.css"), "content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(header_of(get("/assets/logo.svg"), "content-type"), "image/svg+xml");

  Reply again = get("/", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(send_raw(server().port(), "HEAD", "/app.js").status, 200);
}

TEST_F(WebRoutesTest, SendsTheGzipSiblingOnlyToClientsThatAcceptIt) {
  write_file(root_ + "/app.js.gz", "pretend-gzip-bytes");
  Reply gz = get("/app.js", "Accept-Encoding: gzip, deflate\r\n");
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(header_of(gz, "content-encoding"), "gzip");
  EXPECT_EQ(header_of(gz, "content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header_of(gz, "vary"), "accept-encoding");
  EXPECT_EQ(gz.body, "pretend-gzip-bytes");
  Reply plain = get("/app.js");
  EXPECT_EQ(header_of(plain, "content-encoding"), "");
  EXPECT_EQ(plain.body, "export const answer = 42;\n");
}

TEST_F(WebRoutesTest, PagesOfTheApplicationGetTheIndexAndMissingFilesA404) {
  for (const char* page : {"/jobs", "/jobs/12", "/pipelines/3/form", "/files?cursor=x"}) {
    Reply r = get(page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.body, kIndex) << page;
  }
  Reply missing = get("/missing.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(header_of(missing, "content-type"), "application/problem+json");
}

TEST_F(WebRoutesTest, ApiRoutesKeepPriority) {
  Reply health = get("/api/v1/health");
  EXPECT_NE(health.status, 404);
  EXPECT_NE(header_of(health, "content-type").find("json"), std::string::npos);
  for (const char* path : {"/api/v1/nothing", "/api", "/api/", "/api/v1/jobs/1/nothing/else"}) {
    Reply r = get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("no route"), std::string::npos) << path << r.body;
  }
  // Another method on a page of the dashboard is no route, not the index.
  Reply post = send_raw(server().port(), "POST", "/index.html");
  EXPECT_EQ(post.status, 404);
  EXPECT_EQ(post.body.find("dashboard index"), std::string::npos);
  // A wrong method on an API route is still a 405.
  EXPECT_EQ(send_raw(server().port(), "PUT", "/api/v1/health").status, 405);
}

TEST_F(WebRoutesTest, HostilePathsNeverLeaveTheRoot) {
  for (const char* target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/..%2fsecret.txt",
        "/assets%2f..%2f..%2fsecret.txt", "/leak.txt", "/up/secret.txt", "/./index.html",
        "/assets//logo.svg", "/..\\secret.txt", "/%5c..%5csecret.txt", "/index.html%00.js"}) {
    Reply r = get(target);
    EXPECT_NE(r.status, 200) << target;
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << target;
    EXPECT_EQ(r.body.find("dashboard index"), std::string::npos) << target;
  }
}

TEST_F(WebRoutesTest, SaysWhatToDoWhenTheDashboardIsNotInstalled) {
  ServerOptions options;
  options.sets = {"web.root=" + (dir_ / "not-built")};
  options.wait_for_engine = false;
  start_server(options);
  Reply r = get("/");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("web.root"), std::string::npos) << r.body;
}

TEST(WebConfig, RelativeRootIsRefused) {
  TempDir dir;
  std::string out;
  int rc = run_command(std::string(PIRUS_BINARY) + " server --data-dir " + (dir / "d") +
                           " --set web.root=relative/dir --print-config 2>&1",
                       &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("web.root"), std::string::npos) << out;
}

}  // namespace
}  // namespace pirus::testing
