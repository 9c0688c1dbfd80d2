#pragma once
// Pieces of the HTTP server that have no I/O in them, kept apart so the unit tests can reach
// them directly: the router, request-target parsing, Range parsing and Content-Disposition.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_server.hpp"

namespace pirus::http {

// Splits an origin-form target ("/a/b%20c?x=1&x=2") into decoded path segments, the decoded
// path and the decoded query ('+' counts as a space in the query only). False when the
// target is not origin-form or a segment decodes to a NUL byte.
bool parse_target(std::string_view target, std::vector<std::string>& segments, std::string& path,
                  std::multimap<std::string, std::string>& query);

class Router {
 public:
  // Throws std::invalid_argument for a pattern that does not start with '/' or has an
  // empty parameter name: those are programming errors found at start-up.
  // A last segment `{name...}` makes a fallback route: it matches its prefix followed by
  // any number of segments (joined with '/' into the parameter, "" for none), and is
  // chosen only when no ordinary route has the path, and only for its own method (HEAD
  // falls back to GET). Other methods on such a path stay 404.
  void add(Route route);

  struct Match {
    const Route* route = nullptr;  // null: no route for this method (see `allow`)
    std::map<std::string, std::string> params;
    bool path_matched = false;  // some route has this path, with another method
    std::string allow;          // "GET, HEAD, OPTIONS": the methods this path accepts
  };
  // A HEAD request falls back to the GET route of the same path.
  Match match(std::string_view method, const std::vector<std::string>& segments) const;

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter's name
    bool is_param = false;
  };
  struct Entry {
    Route route;
    std::vector<Segment> segments;
    std::string tail;  // fallback routes: the name of the `{name...}` parameter
  };
  static bool matches(const Entry& e, const std::vector<std::string>& segments);
  static bool more_specific(const Entry& a, const Entry& b);
  const Entry* match_fallback(std::string_view method, const std::vector<std::string>& segments,
                              std::map<std::string, std::string>& params) const;

  std::vector<Entry> entries_;
  std::vector<Entry> fallbacks_;
};

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

enum class RangeKind {
  kFull,           // no usable Range header: serve the whole file with 200
  kPartial,        // serve `range` with 206
  kUnsatisfiable,  // 416
};

// Interprets one "Range" header value against a file of `size` bytes. Only a single
// "bytes=" range is honoured; several ranges, other units and syntax errors mean kFull,
// which RFC 9110 allows a server to do.
RangeKind parse_range(std::string_view header, std::uint64_t size, ByteRange& range);

// "attachment; filename=\"...\"; filename*=UTF-8''..." with an ASCII fallback name for old
// clients and the exact name percent-encoded per RFC 5987.
std::string content_disposition(std::string_view name);

// Standard reason phrase for a status code ("Not Found"), "Unknown" for odd codes.
std::string reason_phrase(int status);

}  // namespace pirus::http
