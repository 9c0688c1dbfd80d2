#include <algorithm>
#include <set>
#include <stdexcept>

#include "http/http_internal.hpp"

namespace pirus::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string decode_query_component(std::string_view s) {
  std::string plus_as_space(s);
  std::replace(plus_as_space.begin(), plus_as_space.end(), '+', ' ');
  return url_decode(plus_as_space);
}

}  // namespace

std::string url_decode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      // A stray '%' is kept as is: being lenient here costs nothing, as handlers validate
      // the values they use anyway.
      out.push_back(s[i]);
    }
  }
  return out;
}

bool parse_target(std::string_view target, std::vector<std::string>& segments, std::string& path,
                  std::multimap<std::string, std::string>& query) {
  if (target.empty() || target.front() != '/') return false;
  std::string_view raw_path = target;
  std::string_view raw_query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    raw_path = target.substr(0, q);
    raw_query = target.substr(q + 1);
  }
  if (auto f = raw_query.find('#'); f != std::string_view::npos) raw_query = raw_query.substr(0, f);

  segments.clear();
  // Decoding after splitting keeps an encoded "%2F" inside one segment.
  for (std::string_view seg : split(raw_path.substr(1), '/')) {
    std::string decoded = url_decode(std::string(seg));
    if (decoded.find('\0') != std::string::npos) return false;
    segments.push_back(std::move(decoded));
  }
  path = url_decode(std::string(raw_path));

  query.clear();
  if (!raw_query.empty()) {
    for (std::string_view item : split(raw_query, '&')) {
      if (item.empty()) continue;
      std::string_view key = item;
      std::string_view value;
      if (auto eq = item.find('='); eq != std::string_view::npos) {
        key = item.substr(0, eq);
        value = item.substr(eq + 1);
      }
      query.emplace(decode_query_component(key), decode_query_component(value));
    }
  }
  return true;
}

void Router::add(Route route) {
  if (route.pattern.empty() || route.pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + route.pattern);
  }
  Entry e;
  std::vector<std::string_view> pattern_segments =
      split(std::string_view(route.pattern).substr(1), '/');
  if (!pattern_segments.empty()) {
    std::string_view last = pattern_segments.back();
    if (last.size() > 5 && last.front() == '{' && last.substr(last.size() - 4) == "...}") {
      e.tail = std::string(last.substr(1, last.size() - 5));
      pattern_segments.pop_back();
    }
  }
  for (std::string_view seg : pattern_segments) {
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      if (seg.size() == 2) {
        throw std::invalid_argument("empty parameter name in route " + route.pattern);
      }
      e.segments.push_back({std::string(seg.substr(1, seg.size() - 2)), true});
    } else {
      e.segments.push_back({std::string(seg), false});
    }
  }
  e.route = std::move(route);
  if (!e.tail.empty()) {
    fallbacks_.push_back(std::move(e));
  } else {
    entries_.push_back(std::move(e));
  }
}

const Router::Entry* Router::match_fallback(std::string_view method,
                                            const std::vector<std::string>& segments,
                                            std::map<std::string, std::string>& params) const {
  for (const Entry& e : fallbacks_) {
    const bool method_ok =
        e.route.method == method || (method == "HEAD" && e.route.method == "GET");
    if (!method_ok || segments.size() < e.segments.size()) continue;
    bool prefix_ok = true;
    for (std::size_t i = 0; i < e.segments.size() && prefix_ok; ++i) {
      const Segment& s = e.segments[i];
      prefix_ok = s.is_param ? !segments[i].empty() : s.text == segments[i];
    }
    if (!prefix_ok) continue;
    std::string rest;
    for (std::size_t i = e.segments.size(); i < segments.size(); ++i) {
      if (i > e.segments.size()) rest += '/';
      rest += segments[i];
    }
    for (std::size_t i = 0; i < e.segments.size(); ++i) {
      if (e.segments[i].is_param) params[e.segments[i].text] = segments[i];
    }
    params[e.tail] = std::move(rest);
    return &e;
  }
  return nullptr;
}

bool Router::matches(const Entry& e, const std::vector<std::string>& segments) {
  if (e.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = e.segments[i];
    if (s.is_param ? segments[i].empty() : s.text != segments[i]) return false;
  }
  return true;
}

bool Router::more_specific(const Entry& a, const Entry& b) {
  // Both have as many segments as the path; the first segment where one is literal and
  // the other a parameter decides.
  for (std::size_t i = 0; i < a.segments.size(); ++i) {
    if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
  }
  return false;
}

Router::Match Router::match(std::string_view method,
                            const std::vector<std::string>& segments) const {
  std::vector<const Entry*> candidates;
  for (const Entry& e : entries_) {
    if (matches(e, segments)) candidates.push_back(&e);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Entry* a, const Entry* b) { return more_specific(*a, *b); });

  Match m;
  // The most specific route *with this method* wins, so a literal POST-only route does
  // not hide the GET of a parameter route beside it.
  const Entry* chosen = nullptr;
  for (const Entry* e : candidates) {
    if (e->route.method == method) {
      chosen = e;
      break;
    }
  }
  if (chosen == nullptr && method == "HEAD") {
    for (const Entry* e : candidates) {
      if (e->route.method == "GET") {
        chosen = e;
        break;
      }
    }
  }
  if (chosen != nullptr) {
    m.route = &chosen->route;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (chosen->segments[i].is_param) m.params[chosen->segments[i].text] = segments[i];
    }
  }

  m.path_matched = !candidates.empty();
  if (!m.path_matched) {
    if (const Entry* f = match_fallback(method, segments, m.params)) m.route = &f->route;
    return m;
  }
  {
    std::set<std::string> methods{"OPTIONS"};
    for (const Entry* e : candidates) {
      methods.insert(e->route.method);
      if (e->route.method == "GET") methods.insert("HEAD");
    }
    for (const std::string& name : methods) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += name;
    }
  }
  return m;
}

}  // namespace pirus::http
