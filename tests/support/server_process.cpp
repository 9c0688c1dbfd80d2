#include "support/server_process.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/sha256.hpp"
#include "server/listen_banner.hpp"
#include "support/postgres_server.hpp"

namespace pirus::testing {

namespace fs = std::filesystem;

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(15);

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.erase(s.begin());
  return s;
}

size_t collect_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t collect_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    (*headers)[name] = trim(line.substr(colon + 1));
  }
  return size * n;
}

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The value of a `database.url=postgres...` setting, "" when the server uses SQLite.
std::string postgres_url_in(const std::vector<std::string>& sets) {
  const std::string key = "database.url=";
  for (const auto& s : sets) {
    if (s.rfind(key, 0) == 0 && s.compare(key.size(), 8, "postgres") == 0) {
      return s.substr(key.size());
    }
  }
  return "";
}

}  // namespace

// ------------------------------------------------------------------ ServerProcess

ServerProcess::ServerProcess(ServerOptions options)
    : dir_("pirus-server"),
      cleanup_docker_(options.cleanup_docker),
      wait_for_engine_(options.wait_for_engine) {
  data_dir_ = options.data_dir.empty() ? dir_ / "data" : options.data_dir;
  log_path_ = dir_ / "server.log";
  start(options.sets);
}

ServerProcess::~ServerProcess() {
  if (running()) stop();
  if (cleanup_docker_) cleanup_docker();
}

void ServerProcess::start(const std::vector<std::string>& sets) {
  std::vector<std::string> args = {PIRUS_BINARY, "server",   "--data-dir",
                                   data_dir_,    "--listen", "127.0.0.1:0"};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot create " + log_path_ + ": " + strerror(errno));
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(null_fd);
    throw std::runtime_error(std::string("fork failed: ") + strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::setpgid(0, 0);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    const char msg[] = "exec of the pirus binary failed\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with the first kill
  ::close(log_fd);
  ::close(null_fd);
  pid_ = pid;

  // The port: "pirus server listening on http://127.0.0.1:PORT ..." in the log.
  auto deadline = Clock::now() + kStartTimeout;
  for (;;) {
    std::string text = log();
    if (auto port = parse_listening_port(text)) {
      port_ = *port;
      break;
    }
    if (reap(false)) {
      throw std::runtime_error("pirus server exited with " + std::to_string(exit_code_) +
                               " before listening; log:\n" + text);
    }
    if (Clock::now() > deadline) {
      kill9();
      throw std::runtime_error("pirus server did not report its port within 15 s; log:\n" + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  url_ = "http://127.0.0.1:" + std::to_string(port_);

  bool healthy = poll_until(
      [&] {
        if (reap(false)) return true;
        const int status = raw_request("GET", url_ + "/api/v1/health").status;
        return wait_for_engine_ ? status == 200 : status != 0;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
      std::chrono::milliseconds(50));
  if (!healthy || !running()) {
    if (running()) kill9();
    throw std::runtime_error("pirus server at " + url_ + " never became healthy; log:\n" + log());
  }

  std::string out;
  std::string db = data_dir_ + "/pirus.db";
  int rc = 0;
  if (auto pg = postgres_url_in(sets); !pg.empty()) {
    db = "the PostgreSQL database";
    try {
      out = postgres_query_value(pg, "SELECT value FROM meta WHERE key = 'instance_id'");
    } catch (const std::exception& e) {
      out = e.what();
      rc = 1;
    }
  } else {
    rc = run_command("sqlite3 -cmd '.timeout 5000' " + shell_quote(db) +
                         " \"SELECT value FROM meta WHERE key = 'instance_id'\"",
                     &out);
  }
  instance_id_ = trim(out);
  if (rc != 0 || instance_id_.size() < 8) {
    kill9();
    throw std::runtime_error("cannot read the instance id from " + db + " (exit " +
                             std::to_string(rc) + ", output '" + out + "')");
  }
}

bool ServerProcess::reap(bool block) {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == 0) return false;
  if (r < 0 && errno == EINTR) return false;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_ = -1;
  return true;
}

std::string ServerProcess::log() const {
  return read_file(log_path_);
}

std::string ServerProcess::container_name(std::int64_t job_id) const {
  return "pirus-" + instance_prefix() + "-job-" + std::to_string(job_id);
}

int ServerProcess::stop(std::chrono::milliseconds timeout) {
  if (!running()) return -1;
  pid_t pgid = pid_;
  ::kill(pid_, SIGTERM);
  auto deadline = Clock::now() + timeout;
  while (!reap(false)) {
    if (Clock::now() > deadline) {
      ::kill(-pgid, SIGKILL);
      reap(true);
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pgid, SIGKILL);  // anything the server left behind in its group
  return exit_code_;
}

void ServerProcess::kill9() {
  if (!running()) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  reap(true);
}

void ServerProcess::cleanup_docker() const {
  if (instance_id_.empty()) return;
  const std::string label = shell_quote("label=pirus.instance=" + instance_id_);
  run_command("docker ps -aq --filter " + label + " | xargs -r docker rm -f >/dev/null 2>&1");
  run_command("docker images -q --filter " + label +
              " | sort -u | xargs -r docker rmi -f >/dev/null 2>&1");
}

// ------------------------------------------------------------------ processes and docker

int run_command(const std::string& command, std::string* output) {
  std::string cmd = command;
  if (output == nullptr) cmd = "(" + command + ") >/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf{};
  std::string out;
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  if (output != nullptr) *output = std::move(out);
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::optional<boost::json::object> docker_inspect(const std::string& name) {
  std::string out;
  int rc =
      run_command("docker inspect --type container " + shell_quote(name) + " 2>/dev/null", &out);
  if (rc != 0) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(out, ec);
  if (ec || !v.is_array() || v.as_array().empty() || !v.as_array()[0].is_object()) {
    return std::nullopt;
  }
  return v.as_array()[0].as_object();
}

bool docker_image_exists(const std::string& image) {
  return run_command("docker image inspect " + shell_quote(image) + " >/dev/null 2>&1") == 0;
}

bool poll_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

// ------------------------------------------------------------------ packages and data

const std::string& seqstats_zip() {
  static TempDir dir("pirus-seqstats-zip");
  static std::string path = [] {
    std::string zip = dir / "seqstats.zip";
    std::string cmd = "cd " +
                      shell_quote(std::string(PIRUS_SOURCE_DIR) + "/examples/pipelines/seqstats") +
                      " && zip -qr " + shell_quote(zip) + " . -x 'test-data/*'";
    int rc = run_command(cmd);
    if (rc != 0) throw std::runtime_error("`" + cmd + "` failed with " + std::to_string(rc));
    return zip;
  }();
  return path;
}

std::string seqstats_test_data(const std::string& name) {
  return std::string(PIRUS_SOURCE_DIR) + "/examples/pipelines/seqstats/test-data/" + name;
}

namespace {

std::uint32_t crc32(const std::string& data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put16(std::string& out, unsigned v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>((v >> 8) & 0xFF);
}

void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}

}  // namespace

void write_zip(const std::string& path, const std::vector<ZipEntry>& entries) {
  std::string out;
  std::string central;
  const unsigned kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
  for (const auto& e : entries) {
    const std::uint32_t offset = static_cast<std::uint32_t>(out.size());
    const std::uint32_t crc = crc32(e.content);
    const auto size = static_cast<std::uint32_t>(e.content.size());
    const bool dir = !e.name.empty() && e.name.back() == '/';
    const unsigned mode = e.mode != 0 ? e.mode : (dir ? 040755 : 0100644);
    put32(out, 0x04034b50);
    put16(out, 20);  // version needed
    put16(out, 0);   // flags
    put16(out, 0);   // stored
    put16(out, 0);   // time
    put16(out, kDosDate);
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, static_cast<unsigned>(e.name.size()));
    put16(out, 0);
    out += e.name;
    out += e.content;

    put32(central, 0x02014b50);
    put16(central, (3 << 8) | 30);  // made by: unix, 3.0
    put16(central, 20);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, kDosDate);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, static_cast<unsigned>(e.name.size()));
    put16(central, 0);  // extra
    put16(central, 0);  // comment
    put16(central, 0);  // disk
    put16(central, 0);  // internal attributes
    put32(central, (static_cast<std::uint32_t>(mode) << 16) | (dir ? 0x10 : 0));
    put32(central, offset);
    central += e.name;
  }
  const auto cd_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<unsigned>(entries.size()));
  put16(out, static_cast<unsigned>(entries.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, cd_offset);
  put16(out, 0);
  write_file(path, out);
}

RawReply raw_request(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers, const std::string& body) {
  curl_init_once();
  RawReply reply;
  CURL* c = curl_easy_init();
  if (c == nullptr) return reply;
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Expect:");
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply.headers);
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "POST") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  return reply;
}

std::string sha256_of(const std::string& data) {
  return sha256_hex(data);
}

}  // namespace pirus::testing
