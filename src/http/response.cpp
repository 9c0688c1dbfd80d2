#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <optional>

#include "http/http_internal.hpp"

namespace pirus::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Digits only; saturates instead of failing so that an absurdly large offset still reads
// as "beyond the end of the file".
std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      v = std::numeric_limits<std::uint64_t>::max();
    } else {
      v = v * 10 + d;
    }
  }
  return v;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::query_param(const std::string& name) const {
  // lower_bound, not find: among equal keys it is the first one given in the URL.
  auto it = query.lower_bound(name);
  if (it == query.end() || it->first != name) return std::nullopt;
  return it->second;
}

Response Response::json(int status, const boost::json::value& v) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "application/json";
  r.body = boost::json::serialize(v);
  return r;
}

Response Response::problem(int status, const std::string& title, const std::string& detail) {
  boost::json::object o;
  o["type"] = "about:blank";
  o["title"] = title;
  o["status"] = status;
  o["detail"] = detail;
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "application/problem+json";
  r.body = boost::json::serialize(o);
  return r;
}

Response Response::from_status(const Status& st) {
  int status = 500;
  switch (st.code()) {
    case Code::kInvalid:
      status = 400;
      break;
    case Code::kNotFound:
      status = 404;
      break;
    case Code::kConflict:
      status = 409;
      break;
    case Code::kTooLarge:
      status = 413;
      break;
    case Code::kUnavailable:
      status = 503;
      break;
    // An ok Status has no problem to report; answering 500 makes the caller's bug visible.
    case Code::kOk:
    case Code::kInternal:
      status = 500;
      break;
  }
  std::string detail = st.is_ok() ? "an ok status was reported as an error" : st.message();
  return problem(status, reason_phrase(status), detail);
}

Response Response::file(const std::string& path, const std::string& content_type,
                        const std::string& download_name) {
  Response r;
  r.file_path = path;
  r.download_name = download_name;
  r.headers["Content-Type"] = content_type;
  return r;
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = std::move(content_type);
  r.body = std::move(body);
  return r;
}

RangeKind parse_range(std::string_view header, std::uint64_t size, ByteRange& range) {
  header = trim(header);
  auto eq = header.find('=');
  if (eq == std::string_view::npos || !iequals_ascii(trim(header.substr(0, eq)), "bytes")) {
    return RangeKind::kFull;
  }
  std::string_view spec = trim(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return RangeKind::kFull;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::kFull;
  std::string_view first_text = trim(spec.substr(0, dash));
  std::string_view last_text = trim(spec.substr(dash + 1));

  if (first_text.empty()) {  // "-n": the last n bytes
    auto n = parse_digits(last_text);
    if (!n) return RangeKind::kFull;
    if (*n == 0 || size == 0) return RangeKind::kUnsatisfiable;
    range.first = size - std::min(*n, size);
    range.last = size - 1;
    return RangeKind::kPartial;
  }
  auto first = parse_digits(first_text);
  if (!first) return RangeKind::kFull;
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  if (!last_text.empty()) {
    auto parsed = parse_digits(last_text);
    if (!parsed || *parsed < *first) return RangeKind::kFull;
    last = *parsed;
  }
  if (*first >= size) return RangeKind::kUnsatisfiable;
  range.first = *first;
  range.last = std::min(last, size - 1);
  return RangeKind::kPartial;
}

std::string content_disposition(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string fallback;
  std::string encoded;
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    // '%' and '\\' are replaced too: some clients decode or unescape the quoted form.
    bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%';
    fallback.push_back(plain ? ch : '_');
    bool attr_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     std::string_view("!#$&+-.^_`|~").find(ch) != std::string_view::npos;
    if (attr_char) {
      encoded.push_back(ch);
    } else {
      encoded.push_back('%');
      encoded.push_back(kHex[c >> 4]);
      encoded.push_back(kHex[c & 0xf]);
    }
  }
  return "attachment; filename=\"" + fallback + "\"; filename*=UTF-8''" + encoded;
}

std::string reason_phrase(int status) {
  // RFC 9110 renamed 413; Beast still has the old name.
  if (status == 413) return "Content Too Large";
  if (status < 0 || status > 999) return "Unknown";
  auto s = boost::beast::http::int_to_status(static_cast<unsigned>(status));
  if (s == boost::beast::http::status::unknown) return "Unknown";
  return std::string(boost::beast::http::obsolete_reason(s));
}

}  // namespace pirus::http
