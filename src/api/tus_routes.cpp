#include "api/tus_routes.hpp"

#include <time.h>

#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <sstream>

#include "api/json_views.hpp"
#include "common/sha256.hpp"

namespace pirus::api {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;

namespace {

constexpr const char* kTusVersion = "1.0.0";
constexpr const char* kExtensions = "creation,termination,checksum,expiration";
constexpr const char* kOffsetType = "application/offset+octet-stream";

// Adds the headers every TUS answer carries.
Response tus(Response res) {
  res.headers["Tus-Resumable"] = kTusVersion;
  return res;
}

Response tus_problem(int status, const std::string& title, const std::string& detail) {
  return tus(Response::problem(status, title, detail));
}

// A status from the upload service, as TUS wants it.
Response tus_status(const Status& st) {
  return tus(Response::from_status(st));
}

std::string http_date(TimeMs t) {
  time_t secs = static_cast<time_t>(t / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// A non-negative decimal integer and nothing else ("+5", "-1", "1e3", " 7" are refused).
std::optional<std::int64_t> parse_count(const std::string& s) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return n;
}

Result<Id> upload_id(const Request& req) {
  auto it = req.params.find("id");
  auto n = it == req.params.end() ? std::nullopt : parse_count(it->second);
  if (!n || *n <= 0) return Status::not_found("no such upload");
  return *n;
}

// The TUS spec: a request without the version it speaks is refused with 412 and the
// versions this server speaks.
std::optional<Response> check_version(const Request& req) {
  auto v = req.header("tus-resumable");
  if (v && *v == kTusVersion) return std::nullopt;
  Response res =
      tus_problem(412, "Precondition Failed",
                  v ? "Tus-Resumable " + *v + " is not supported; this server speaks 1.0.0"
                    : "the Tus-Resumable header is missing");
  res.headers["Tus-Version"] = kTusVersion;
  return res;
}

// "key base64,key2 base64,key3": keys are unique and free of spaces and commas; values are
// base64 and may be absent.
Result<std::map<std::string, std::string>> parse_metadata(const std::string& header) {
  std::map<std::string, std::string> out;
  std::stringstream ss(header);
  std::string pair;
  while (std::getline(ss, pair, ',')) {
    while (!pair.empty() && pair.front() == ' ') pair.erase(0, 1);
    while (!pair.empty() && pair.back() == ' ') pair.pop_back();
    if (pair.empty()) return Status::invalid("Upload-Metadata has an empty entry");
    auto space = pair.find(' ');
    std::string key = pair.substr(0, space);
    std::string value;
    if (space != std::string::npos) {
      auto decoded = base64_decode(pair.substr(space + 1));
      if (!decoded)
        return Status::invalid("Upload-Metadata: the value of " + key + " is not base64");
      value = *decoded;
    }
    if (!out.emplace(key, value).second) {
      return Status::invalid("Upload-Metadata: " + key + " is given twice");
    }
  }
  return out;
}

std::string upload_location(Id id) {
  return "/api/v1/uploads/" + std::to_string(id);
}

// Adapts a request body to the upload service's source of bytes.
class BodySource final : public ByteSource {
 public:
  explicit BodySource(http::BodyStream& body) : body_(body) {}
  asio::awaitable<Result<std::size_t>> read_some(char* data, std::size_t size) override {
    auto got = co_await body_.read_some(data, size);
    co_return got;
  }

 private:
  http::BodyStream& body_;
};

Response options_response() {
  Response res;
  res.status = 204;
  res.headers["Tus-Resumable"] = kTusVersion;
  res.headers["Tus-Version"] = kTusVersion;
  res.headers["Tus-Extension"] = kExtensions;
  res.headers["Tus-Checksum-Algorithm"] = "sha256";
  return res;
}

// A required header holding a byte count (Upload-Length, Upload-Offset).
Result<std::int64_t> count_header(const Request& req, const char* lower_name, const char* name) {
  auto text = req.header(lower_name);
  if (!text) return Status::invalid(std::string("the ") + name + " header is missing");
  auto count = parse_count(*text);
  if (!count) {
    return Status::invalid(std::string(name) + " must be a non-negative integer, got '" + *text +
                           "'");
  }
  return *count;
}

asio::awaitable<Response> create_upload(Services s, Request& req) {
  if (auto refused = check_version(req)) co_return *refused;
  if (req.header("upload-defer-length")) {
    co_return tus_problem(400, "Bad Request", "Upload-Defer-Length is not supported");
  }
  auto length = count_header(req, "upload-length", "Upload-Length");
  if (!length) co_return tus_problem(400, "Bad Request", length.status().message());
  NewUpload nu;
  nu.length = *length;
  if (auto meta_text = req.header("upload-metadata")) {
    auto meta = parse_metadata(*meta_text);
    if (!meta) co_return tus_status(meta.status());
    for (const auto& [key, value] : *meta) {
      if (key == "filename" || key == "name") {
        nu.name = value;
      } else if (key == "sha256") {
        nu.expected_sha256 = value;
      } else if (key == "companion_of") {
        auto primary = parse_count(value);
        if (!primary || *primary <= 0) {
          co_return tus_problem(
              400, "Bad Request",
              "Upload-Metadata: companion_of must be a file id, got '" + value + "'");
        }
        nu.companion_of = *primary;
      }
      // Other keys (filetype, ...) are the client's business: accepted and ignored.
    }
  }
  auto created = co_await s.uploads->create(std::move(nu));
  if (!created) co_return tus_status(created.status());
  Response res = tus(Response::json(201, file_json(*created)));
  res.headers["Location"] = upload_location(created->id);
  res.headers["Upload-Offset"] = std::to_string(created->upload_offset);
  if (created->expires_at > 0) res.headers["Upload-Expires"] = http_date(created->expires_at);
  co_return res;
}

asio::awaitable<Response> head_upload(Services s, Request& req) {
  if (auto refused = check_version(req)) co_return *refused;
  auto id = upload_id(req);
  if (!id) co_return tus_status(id.status());
  auto f = s.uploads->get(*id);
  if (!f) co_return tus_status(f.status());
  Response res = tus(Response::text(200, ""));
  res.headers.erase("Content-Type");
  res.headers["Cache-Control"] = "no-store";
  res.headers["Upload-Offset"] = std::to_string(f->upload_offset);
  res.headers["Upload-Length"] = std::to_string(f->size);
  if (f->status == FileStatus::kUploading && f->expires_at > 0) {
    res.headers["Upload-Expires"] = http_date(f->expires_at);
  }
  co_return res;
}

asio::awaitable<Response> patch_upload(Services s, Request& req) {
  if (auto refused = check_version(req)) co_return *refused;
  auto id = upload_id(req);
  if (!id) co_return tus_status(id.status());
  auto type = req.header("content-type");
  if (!type || *type != kOffsetType) {
    co_return tus_problem(415, "Unsupported Media Type",
                          std::string("a PATCH body must be ") + kOffsetType);
  }
  auto offset = count_header(req, "upload-offset", "Upload-Offset");
  if (!offset) co_return tus_problem(400, "Bad Request", offset.status().message());
  AppendRequest ar;
  ar.id = *id;
  ar.offset = *offset;
  if (auto declared = req.body_stream->content_length()) {
    ar.content_length = static_cast<std::int64_t>(*declared);
  }
  if (auto checksum = req.header("upload-checksum")) {
    auto space = checksum->find(' ');
    std::string algorithm = checksum->substr(0, space);
    if (algorithm != "sha256") {
      co_return tus_problem(
          400, "Bad Request",
          "Upload-Checksum algorithm '" + algorithm + "' is not supported; use sha256");
    }
    auto digest =
        space == std::string::npos ? std::nullopt : base64_decode(checksum->substr(space + 1));
    if (!digest || digest->size() != 32) {
      co_return tus_problem(400, "Bad Request",
                            "Upload-Checksum must be 'sha256 <base64 of the 32-byte digest>'");
    }
    ar.chunk_sha256 = *digest;
  }
  BodySource source(*req.body_stream);
  AppendResult r = co_await s.uploads->append(ar, source);
  if (r.checksum_mismatch) {
    Response res = tus_problem(460, "Checksum Mismatch", r.status.message());
    if (r.file) res.headers["Upload-Offset"] = std::to_string(r.file->upload_offset);
    co_return res;
  }
  if (!r.status) co_return tus_status(r.status);
  Response res;
  res.status = 204;
  res = tus(res);
  res.headers["Upload-Offset"] = std::to_string(r.file ? r.file->upload_offset : 0);
  if (r.file && r.file->status == FileStatus::kUploading && r.file->expires_at > 0) {
    res.headers["Upload-Expires"] = http_date(r.file->expires_at);
  }
  co_return res;
}

asio::awaitable<Response> delete_upload(Services s, Request& req) {
  if (auto refused = check_version(req)) co_return *refused;
  auto id = upload_id(req);
  if (!id) co_return tus_status(id.status());
  Status st = co_await s.uploads->terminate(*id);
  if (!st) co_return tus_status(st);
  Response res;
  res.status = 204;
  co_return tus(res);
}

}  // namespace

void add_tus_routes(http::Server& server, Services s) {
  // Tus-Max-Size follows the configuration, so the OPTIONS answer is made per server.
  const std::string max_size = std::to_string(s.ctx.config.max_upload_bytes);
  auto options_with_max = [max_size](Request&) -> asio::awaitable<Response> {
    Response res = options_response();
    res.headers["Tus-Max-Size"] = max_size;
    co_return res;
  };
  server.add({"OPTIONS", "/api/v1/uploads", http::BodyKind::kNone, options_with_max});
  server.add({"OPTIONS", "/api/v1/uploads/{id}", http::BodyKind::kNone, options_with_max});
  server.add({"POST", "/api/v1/uploads", http::BodyKind::kNone,
              [s](Request& req) { return create_upload(s, req); }});
  server.add({"HEAD", "/api/v1/uploads/{id}", http::BodyKind::kNone,
              [s](Request& req) { return head_upload(s, req); }});
  server.add({"PATCH", "/api/v1/uploads/{id}", http::BodyKind::kStream,
              [s](Request& req) { return patch_upload(s, req); }, s.ctx.config.max_upload_bytes});
  server.add({"DELETE", "/api/v1/uploads/{id}", http::BodyKind::kNone,
              [s](Request& req) { return delete_upload(s, req); }});
}

const char* tus_openapi_paths() {
  return R"JSON({"/api/v1/uploads":{"options":{"summary":"TUS capabilities (Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm)","responses":{"204":{"description":"No content"}}},"post":{"summary":"Create a resumable upload (TUS creation); headers Tus-Resumable, Upload-Length, Upload-Metadata (filename, sha256, companion_of)","responses":{"201":{"description":"Created; Location names the upload","content":{"application/json":{"schema":{"$ref":"#/components/schemas/File"}}}},"400":{"$ref":"#/components/responses/Problem"},"412":{"$ref":"#/components/responses/Problem"},"413":{"$ref":"#/components/responses/Problem"}}}},"/api/v1/uploads/{id}":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"integer","minimum":1}}],"options":{"summary":"TUS capabilities","responses":{"204":{"description":"No content"}}},"head":{"summary":"Upload-Offset and Upload-Length of an upload","responses":{"200":{"description":"Headers only"},"404":{"description":"Unknown or expired"}}},"patch":{"summary":"Append bytes at Upload-Offset (application/offset+octet-stream; optional Upload-Checksum: sha256 <base64>)","requestBody":{"required":true,"content":{"application/offset+octet-stream":{"schema":{"type":"string","format":"binary"}}}},"responses":{"204":{"description":"Appended; Upload-Offset is the new offset"},"400":{"$ref":"#/components/responses/Problem"},"404":{"$ref":"#/components/responses/Problem"},"409":{"$ref":"#/components/responses/Problem"},"412":{"$ref":"#/components/responses/Problem"},"413":{"$ref":"#/components/responses/Problem"},"415":{"$ref":"#/components/responses/Problem"},"460":{"$ref":"#/components/responses/Problem"}}},"delete":{"summary":"Terminate an upload (TUS termination)","responses":{"204":{"description":"Removed"},"404":{"$ref":"#/components/responses/Problem"},"409":{"$ref":"#/components/responses/Problem"}}}}})JSON";
}

}  // namespace pirus::api
