#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "packages/package_internal.hpp"

namespace pirus::packages_internal {

namespace json = boost::json;

namespace {

// boost::json reports what went wrong but not where. Feeding the text one byte at a time
// makes the byte that triggers the error the error position; this is only done once a
// fast parse has already failed, so valid documents never pay for it.
std::size_t locate_error(std::string_view text, json::error_code* ec) {
  json::stream_parser parser;
  for (std::size_t i = 0; i < text.size(); ++i) {
    parser.write_some(text.data() + i, 1, *ec);
    if (*ec) return i;
  }
  parser.finish(*ec);
  // An unfinished document is best pointed at where it stops, not after trailing blanks.
  std::size_t end = text.size();
  while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\n' || text[end - 1] == '\r' ||
                     text[end - 1] == '\t')) {
    --end;
  }
  return end;
}

bool is_utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

Result<json::value> parse_json_document(std::string_view text, std::string_view file_name) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec) return v;

  json::error_code located;
  std::size_t offset = locate_error(text, &located);
  if (located) ec = located;
  if (offset > text.size()) offset = text.size();
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  int column = 1;
  for (std::size_t i = line_start; i < offset; ++i) {
    if (!is_utf8_continuation(text[i])) ++column;
  }
  return Status::invalid(std::string(file_name) + ": line " + std::to_string(line) + ", column " +
                         std::to_string(column) + ": " + ec.message());
}

std::string format_number(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(d));
  }
  char buf[64];
  auto [end, err] = std::to_chars(buf, buf + sizeof(buf), d);
  if (err != std::errc()) return std::to_string(d);
  return std::string(buf, end);
}

bool as_double(const json::value& v, double* out) {
  switch (v.kind()) {
    case json::kind::int64:
      *out = static_cast<double>(v.get_int64());
      return true;
    case json::kind::uint64:
      *out = static_cast<double>(v.get_uint64());
      return true;
    case json::kind::double_:
      *out = v.get_double();
      return true;
    default:
      return false;
  }
}

bool as_integer(const json::value& v, std::int64_t* out) {
  switch (v.kind()) {
    case json::kind::int64:
      *out = v.get_int64();
      return true;
    case json::kind::uint64:
      if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return false;
      }
      *out = static_cast<std::int64_t>(v.get_uint64());
      return true;
    case json::kind::double_: {
      double d = v.get_double();
      // 2^63 is exactly representable; anything at or above it does not fit.
      if (!std::isfinite(d) || d != std::floor(d) || d >= 9223372036854775808.0 ||
          d < -9223372036854775808.0) {
        return false;
      }
      *out = static_cast<std::int64_t>(d);
      return true;
    }
    default:
      return false;
  }
}

bool same_scalar(const json::value& a, const json::value& b) {
  double da = 0, db = 0;
  if (as_double(a, &da) && as_double(b, &db)) {
    std::int64_t ia = 0, ib = 0;
    // Compare large integers exactly; doubles would merge neighbours above 2^53.
    if (as_integer(a, &ia) && as_integer(b, &ib)) return ia == ib;
    return da == db;
  }
  return a == b;
}

std::string describe_value(const json::value& v, std::size_t max_chars) {
  // serialize() writes 2.5 as "2.5E0", which nobody would recognise as their input.
  std::string s = v.is_double() ? format_number(v.get_double()) : json::serialize(v);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

}  // namespace pirus::packages_internal
