#include "cli/api_client.hpp"

#include <curl/curl.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

namespace pirus::cli {

namespace json = boost::json;

namespace {

constexpr long kConnectTimeoutSeconds = 5;
// Keep-alive probes let a long `job wait` or a slow upload notice a dead peer without an
// overall timeout, which would cut legitimate multi-gigabyte transfers.
constexpr long kKeepIdleSeconds = 30;
constexpr long kKeepIntervalSeconds = 15;
constexpr std::size_t kMaxErrorBody = 2000;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

bool is_unreachable(const Status& status) {
  return status.code() == Code::kUnavailable && status.message().rfind(kUnreachablePrefix, 0) == 0;
}

Status status_from_http(const HttpResult& result) {
  if (result.ok()) return Status::ok();
  std::string message;
  boost::system::error_code ec;
  json::value v = json::parse(result.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    for (const char* key : {"detail", "title"}) {
      const auto* field = o.if_contains(key);
      if (field && field->is_string() && !field->get_string().empty()) {
        message = std::string(field->get_string());
        break;
      }
    }
  }
  if (message.empty()) {
    message = trim(result.body);
    if (message.size() > kMaxErrorBody) message = message.substr(0, kMaxErrorBody) + "...";
  }
  if (message.empty()) message = "the server answered HTTP " + std::to_string(result.status);
  Code code = Code::kInternal;
  switch (result.status) {
    case 400:
    case 422:
      code = Code::kInvalid;
      break;
    case 404:
      code = Code::kNotFound;
      break;
    case 409:
      code = Code::kConflict;
      break;
    case 413:
      code = Code::kTooLarge;
      break;
    case 503:
      code = Code::kUnavailable;
      break;
    default:
      break;
  }
  return {code, std::move(message)};
}

struct ApiClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

// Everything one transfer's callbacks need; lives on the stack of the calling method.
struct ApiClient::Transfer {
  std::string method;
  std::string path;
  const std::string* body = nullptr;  // in-memory request body
  std::string content_type;
  std::FILE* upload_file = nullptr;  // streamed request body
  std::int64_t upload_size = 0;
  std::int64_t upload_left = -1;  // bytes of upload_file still to send; -1: to its end
  std::vector<std::string> extra_headers;
  std::string upload_name;
  std::function<void(std::int64_t, std::int64_t)> progress;
  std::int64_t last_progress = -1;
  std::FILE* sink = nullptr;  // a download's 2xx body goes here instead of result.body
  std::string sink_name;

  HttpResult result;
  long current_status = 0;  // from the last status line seen
  std::string local_error;  // a local file failed: not the server's fault
};

namespace {

size_t header_cb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<ApiClient::Transfer*>(user);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a 100 Continue, say): forget the previous one's headers.
    t->result.headers.clear();
    const auto sp = line.find(' ');
    t->current_status = sp == std::string_view::npos ? 0 : std::atol(line.data() + sp + 1);
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    t->result.headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t write_cb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<ApiClient::Transfer*>(user);
  const size_t len = size * n;
  if (t->sink != nullptr && t->current_status >= 200 && t->current_status < 300) {
    if (std::fwrite(data, 1, len, t->sink) != len) {
      t->local_error = "cannot write " + t->sink_name + ": " + std::strerror(errno);
      return 0;  // makes curl abort with CURLE_WRITE_ERROR
    }
    return len;
  }
  t->result.body.append(data, len);
  return len;
}

constexpr long kUploadBufferBytes = 1L << 20;

size_t read_cb(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<ApiClient::Transfer*>(user);
  size_t want = size * n;
  if (t->upload_left >= 0) want = std::min<size_t>(want, static_cast<size_t>(t->upload_left));
  if (want == 0) return 0;
  const size_t got = std::fread(buffer, 1, want, t->upload_file);
  if (t->upload_left >= 0) t->upload_left -= static_cast<std::int64_t>(got);
  if (got == 0 && std::ferror(t->upload_file)) {
    t->local_error = "cannot read " + t->upload_name + ": " + std::strerror(errno);
    return CURL_READFUNC_ABORT;
  }
  return got;
}

int xferinfo_cb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<ApiClient::Transfer*>(user);
  // curl calls this about once a second even when idle: only report actual movement.
  if (t->progress && ulnow != t->last_progress) {
    t->last_progress = ulnow;
    t->progress(static_cast<std::int64_t>(ulnow), t->upload_size);
  }
  return 0;
}

void apply_tls(CURL* c, const ApiClient::Tls& tls) {
  if (!tls.ca_cert.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_cert.c_str());
  if (tls.insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

}  // namespace

ApiClient::ApiClient(std::string base_url)
    : base_url_(std::move(base_url)), handle_(std::make_unique<Handle>()) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  global_init();
  handle_->curl = curl_easy_init();
}

ApiClient::~ApiClient() = default;
ApiClient::ApiClient(ApiClient&&) noexcept = default;
ApiClient& ApiClient::operator=(ApiClient&&) noexcept = default;

Result<HttpResult> ApiClient::perform(Transfer& t) {
  CURL* c = handle_ ? handle_->curl : nullptr;
  if (c == nullptr) return Status::internal("cannot initialise libcurl");
  // reset() keeps the connection cache, so the next request reuses the socket.
  curl_easy_reset(c);
  const std::string url = base_url_ + t.path;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, kKeepIdleSeconds);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, kKeepIntervalSeconds);
  // A proxy from the environment must never intercept a local server.
  curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "pirus-cli");
  apply_tls(c, tls_);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);

  curl_slist* headers = nullptr;
  // Without this curl waits up to a second for a "100 Continue" the server may never send
  // before every upload over 1 MiB.
  headers = curl_slist_append(headers, "Expect:");
  for (const auto& h : t.extra_headers) headers = curl_slist_append(headers, h.c_str());
  for (const auto& h : extra_headers_) headers = curl_slist_append(headers, h.c_str());
  const bool bodiless = t.method == "GET" || t.method == "HEAD";
  const bool has_body =
      t.upload_file != nullptr || (!bodiless && t.body != nullptr && !t.body->empty());
  if (has_body) {
    headers = curl_slist_append(headers, ("Content-Type: " + t.content_type).c_str());
  } else {
    // An empty POST would otherwise claim application/x-www-form-urlencoded.
    headers = curl_slist_append(headers, "Content-Type:");
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  if (t.upload_file != nullptr) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    // libcurl's default (64 KiB) makes a gigabyte upload cost 16,000 read/send rounds.
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.upload_size));
    if (t.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, t.method.c_str());
  } else if (t.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (t.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    if (t.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, t.method.c_str());
    if (t.method == "POST" || has_body) {
      static const std::string kEmpty;
      const std::string& body = t.body ? *t.body : kEmpty;
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  if (t.progress) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }

  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  // The handle keeps pointers to this stack frame; drop them before returning.
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));

  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (!t.local_error.empty()) return Status::internal(t.local_error);
  if (rc != CURLE_OK) {
    // A server that refuses an upload early (413) may close before reading it all: its
    // answer matters more than the broken pipe.
    if ((rc == CURLE_SEND_ERROR || (rc == CURLE_RECV_ERROR && t.upload_file != nullptr)) &&
        status >= 400) {
      t.result.status = status;
      return std::move(t.result);
    }
    const std::string reason = curl_easy_strerror(rc);
    std::string message = std::string(kUnreachablePrefix) + base_url_ + ": " + reason;
    // libcurl's detail often repeats the generic reason at its end; keep only what it adds.
    std::string detail = errbuf;
    if (detail.size() > reason.size() &&
        detail.compare(detail.size() - reason.size(), reason.size(), reason) == 0) {
      detail.resize(detail.size() - reason.size());
      while (!detail.empty() && (detail.back() == ' ' || detail.back() == ':')) detail.pop_back();
    }
    if (!detail.empty() && detail != reason) message += " (" + detail + ")";
    return Status::unavailable(std::move(message));
  }
  t.result.status = status;
  return std::move(t.result);
}

Result<HttpResult> ApiClient::request(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& content_type) {
  Transfer t;
  t.method = method;
  t.path = path;
  t.body = &body;
  t.content_type = content_type;
  return perform(t);
}

Result<HttpResult> ApiClient::upload(const std::string& path, const std::string& local_file,
                                     const std::string& content_type,
                                     std::function<void(std::int64_t, std::int64_t)> progress) {
  std::FILE* f = std::fopen(local_file.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return Status::not_found("no such file: " + local_file);
    return Status::internal("cannot read " + local_file + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fclose(f);
    return Status::invalid(local_file + " is not a regular file");
  }
  Transfer t;
  t.method = "POST";
  t.path = path;
  t.content_type = content_type;
  t.upload_file = f;
  t.upload_size = static_cast<std::int64_t>(st.st_size);
  t.upload_name = local_file;
  t.progress = std::move(progress);
  auto result = perform(t);
  std::fclose(f);
  return result;
}

Result<HttpResult> ApiClient::send(const std::string& method, const std::string& path,
                                   const std::vector<std::string>& headers, const RangeBody* body,
                                   std::function<void(std::int64_t, std::int64_t)> progress) {
  Transfer t;
  t.method = method;
  t.path = path;
  t.extra_headers = headers;
  if (body == nullptr) {
    static const std::string kEmpty;
    t.body = &kEmpty;
    return perform(t);
  }
  std::FILE* f = std::fopen(body->local_file.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return Status::not_found("no such file: " + body->local_file);
    return Status::internal("cannot read " + body->local_file + ": " + std::strerror(errno));
  }
  if (fseeko(f, static_cast<off_t>(body->offset), SEEK_SET) != 0) {
    std::fclose(f);
    return Status::internal("cannot read " + body->local_file + ": " + std::strerror(errno));
  }
  t.content_type = body->content_type;
  t.upload_file = f;
  t.upload_size = body->length;
  t.upload_left = body->length;
  t.upload_name = body->local_file;
  t.progress = std::move(progress);
  auto result = perform(t);
  std::fclose(f);
  return result;
}

Result<HttpResult> ApiClient::download(const std::string& path, const std::string& local_file) {
  const std::string part = local_file + ".part";
  std::FILE* f = std::fopen(part.c_str(), "wb");
  if (f == nullptr) return Status::internal("cannot write " + part + ": " + std::strerror(errno));
  Transfer t;
  t.method = "GET";
  t.path = path;
  t.sink = f;
  t.sink_name = part;
  auto result = perform(t);
  const bool closed = std::fclose(f) == 0;
  if (result && result->ok()) {
    if (!closed) {
      std::remove(part.c_str());
      return Status::internal("cannot write " + part + ": " + std::strerror(errno));
    }
    if (std::rename(part.c_str(), local_file.c_str()) != 0) {
      const std::string err = std::strerror(errno);
      std::remove(part.c_str());
      return Status::internal("cannot rename " + part + " to " + local_file + ": " + err);
    }
    return result;
  }
  std::remove(part.c_str());
  return result;
}

Result<boost::json::value> ApiClient::call(const std::string& method, const std::string& path,
                                           const boost::json::value* body) {
  const std::string text = body ? json::serialize(*body) : std::string();
  auto result = request(method, path, text, "application/json");
  if (!result) return result.status();
  if (!result->ok()) return status_from_http(*result);
  if (trim(result->body).empty()) return json::value(nullptr);
  boost::system::error_code ec;
  json::value v = json::parse(result->body, ec);
  if (ec) {
    return Status::internal("the server sent invalid JSON for " + method + " " + path + ": " +
                            ec.message());
  }
  return v;
}

}  // namespace pirus::cli

namespace pirus::cli {

namespace {

struct StreamState {
  const ApiClient::StreamTarget* target = nullptr;
  long status = 0;
  std::string error_body;  // a non-2xx answer's body
  char errbuf[CURL_ERROR_SIZE] = {0};
};

size_t stream_header_cb(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<StreamState*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    const auto sp = line.find(' ');
    st->status = sp == std::string_view::npos ? 0 : std::atol(line.data() + sp + 1);
  }
  return size * n;
}

size_t stream_write_cb(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<StreamState*>(user);
  const size_t len = size * n;
  if (st->status >= 200 && st->status < 300) {
    st->target->sink(std::string_view(data, len));
  } else if (st->error_body.size() < 64 * 1024) {
    st->error_body.append(data, len);
  }
  return len;
}

}  // namespace

Status ApiClient::stream(const std::vector<StreamTarget>& targets) {
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return Status::internal("cannot initialise libcurl");
  std::vector<StreamState> states(targets.size());
  std::vector<CURL*> easies;
  curl_slist* headers = curl_slist_append(nullptr, "Accept: text/plain");
  for (std::size_t i = 0; i < targets.size(); ++i) {
    CURL* c = curl_easy_init();
    if (c == nullptr) continue;
    states[i].target = &targets[i];
    const std::string url = base_url_ + targets[i].path;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, states[i].errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, kKeepIdleSeconds);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, kKeepIntervalSeconds);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pirus-cli");
    apply_tls(c, tls_);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, stream_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &states[i]);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &states[i]);
    curl_easy_setopt(c, CURLOPT_PRIVATE, &states[i]);
    curl_multi_add_handle(multi, c);
    easies.push_back(c);
  }
  Status result = Status::ok();
  int running = static_cast<int>(easies.size());
  while (running > 0) {
    CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc == CURLM_OK && running > 0) mc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    if (mc != CURLM_OK) {
      result = Status::internal(std::string("libcurl: ") + curl_multi_strerror(mc));
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE || !result.is_ok()) continue;
      StreamState* st = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &st);
      const CURLcode rc = msg->data.result;
      if (rc != CURLE_OK) {
        std::string message =
            std::string(kUnreachablePrefix) + base_url_ + ": " + curl_easy_strerror(rc);
        if (st != nullptr && st->errbuf[0] != '\0') message += std::string(" (") + st->errbuf + ")";
        result = Status::unavailable(std::move(message));
      } else if (st != nullptr && (st->status < 200 || st->status >= 300)) {
        HttpResult r;
        r.status = st->status;
        r.body = st->error_body;
        result = status_from_http(r);
      }
      // The first failure ends the others: the caller reports it.
      if (!result.is_ok()) running = 0;
    }
  }
  for (CURL* c : easies) {
    curl_multi_remove_handle(multi, c);
    curl_easy_cleanup(c);
  }
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  return result;
}

}  // namespace pirus::cli
