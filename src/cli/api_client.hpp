#pragma once
// A small blocking client for the Pirus REST API (docs/api.md) on libcurl. The `pirus` CLI,
// the API tests and the benchmarks all talk to the server through it.
//
// One ApiClient owns one curl easy handle, reused for every request so that consecutive
// calls share a keep-alive connection. It is therefore NOT thread-safe: use one ApiClient
// per thread.

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace pirus::cli {

struct HttpResult {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names; the last value wins

  bool ok() const { return status >= 200 && status < 300; }
};

// Every transport failure message starts with this, followed by the server URL.
inline constexpr const char* kUnreachablePrefix = "cannot reach the Pirus server at ";

// True for the Status of a transport failure (the server could not be reached or the
// connection broke), as opposed to an HTTP 503 that the server itself answered.
bool is_unreachable(const Status& status);

// The Status an HTTP error response stands for: the message is the problem body's
// "detail" (or the raw body, or "HTTP <status>" when empty), the code follows the
// status: 400/422 kInvalid, 404 kNotFound, 409 kConflict, 413 kTooLarge,
// 503 kUnavailable, anything else kInternal. A 2xx result gives Status::ok().
Status status_from_http(const HttpResult& result);

class ApiClient {
 public:
  // `base_url` is the server root, e.g. "http://127.0.0.1:8080" (a trailing '/' is ignored).
  explicit ApiClient(std::string base_url);
  ~ApiClient();
  ApiClient(ApiClient&&) noexcept;
  ApiClient& operator=(ApiClient&&) noexcept;
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const std::string& base_url() const { return base_url_; }

  // HTTPS: when `ca_cert` (a PEM file) is set, it replaces the system's CA store, so that a
  // self-signed deployment certificate can be verified; `insecure` skips certificate and
  // host name checks altogether (only when explicitly asked for: never a default).
  struct Tls {
    std::string ca_cert;
    bool insecure = false;
  };
  void set_tls(Tls tls) { tls_ = std::move(tls); }

  // A header sent with every later request ("Authorization: Bearer ..."); never logged.
  void add_header(std::string header) { extra_headers_.push_back(std::move(header)); }

  // `method` is GET, POST, DELETE, ...; `path` includes the query
  // ("/api/v1/jobs?status=done"). HTTP errors come back as an HttpResult; only transport
  // failures are a Status (kUnavailable, "cannot reach the Pirus server at URL: ...").
  Result<HttpResult> request(const std::string& method, const std::string& path,
                             const std::string& body = "",
                             const std::string& content_type = "application/json");

  // POSTs `local_file` as the body, streamed from disk (never held in memory), with its
  // Content-Length. `progress(sent, total)` is called as bytes go out. A file that cannot be
  // read is kNotFound/kInternal naming it.
  Result<HttpResult> upload(const std::string& path, const std::string& local_file,
                            const std::string& content_type,
                            std::function<void(std::int64_t, std::int64_t)> progress = {});

  // Sends `method` to `path` with extra request headers ("Name: value"). With a
  // `local_file`, the body is its bytes [offset, offset + length), streamed from disk, as
  // `content_type`; `progress(sent, length)` is called as they go out. For protocols with
  // headers of their own, such as TUS.
  struct RangeBody {
    std::string local_file;
    std::int64_t offset = 0;
    std::int64_t length = 0;
    std::string content_type = "application/octet-stream";
  };
  Result<HttpResult> send(const std::string& method, const std::string& path,
                          const std::vector<std::string>& headers, const RangeBody* body = nullptr,
                          std::function<void(std::int64_t, std::int64_t)> progress = {});

  // GETs `path` and streams a 2xx body into `local_file + ".part"`, renamed to `local_file`
  // once complete. On an HTTP error the problem body is returned in HttpResult::body and
  // nothing is left on disk; on a transport error the ".part" file is removed too.
  Result<HttpResult> download(const std::string& path, const std::string& local_file);

  // request() and JSON parsing: a 2xx response gives its JSON (null for an empty body such
  // as a 204), any other one status_from_http(). `body`, when given, is sent as JSON.
  Result<boost::json::value> call(const std::string& method, const std::string& path,
                                  const boost::json::value* body = nullptr);

  // A long-lived GET (a followed log): each 2xx body chunk goes to `sink` as it arrives.
  struct StreamTarget {
    std::string path;
    std::function<void(std::string_view chunk)> sink;
  };
  // Runs every target at once (libcurl multi) until all have ended. OK when every body
  // ended normally; otherwise the first failure: an HTTP error as status_from_http(), a
  // body cut short or a server that went away as kUnavailable ("cannot reach ...").
  Status stream(const std::vector<StreamTarget>& targets);

  struct Transfer;  // one transfer's state, shared with the libcurl callbacks

 private:
  Result<HttpResult> perform(Transfer& transfer);

  std::string base_url_;
  std::vector<std::string> extra_headers_;
  Tls tls_;
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

}  // namespace pirus::cli
