#include "cli/parsing.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <vector>

namespace pirus::cli {

namespace json = boost::json;

boost::json::value parse_param_value(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::value(json::string(text));
  return v;
}

Result<std::pair<std::string, boost::json::value>> parse_param(std::string_view key_value) {
  const auto eq = key_value.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::invalid("--param expects KEY=VALUE, got '" + std::string(key_value) + "'");
  }
  return std::pair<std::string, json::value>(std::string(key_value.substr(0, eq)),
                                             parse_param_value(key_value.substr(eq + 1)));
}

bool is_all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Result<std::int64_t> parse_id(std::string_view text, std::string_view what) {
  std::int64_t id = 0;
  if (is_all_digits(text)) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec == std::errc() && ptr == text.data() + text.size() && id > 0) return id;
  }
  return Status::invalid(std::string(what) + " must be a positive integer, got '" +
                         std::string(text) + "'");
}

Result<PipelineRef> parse_pipeline_ref(std::string_view text) {
  PipelineRef ref;
  if (text.empty()) return Status::invalid("a pipeline reference cannot be empty");
  if (is_all_digits(text)) {
    auto id = parse_id(text, "pipeline id");
    if (!id) return id.status();
    ref.id = *id;
    return ref;
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    ref.name = std::string(text);
    return ref;
  }
  ref.name = std::string(text.substr(0, colon));
  ref.version = std::string(text.substr(colon + 1));
  if (ref.name.empty() || ref.version.empty()) {
    return Status::invalid("a pipeline reference is ID, NAME or NAME:VERSION, got '" +
                           std::string(text) + "'");
  }
  return ref;
}

namespace {

struct VersionPart {
  char separator;  // the character before this part: '\0' for the first one, '.' or '-'
  std::string_view text;
};

std::vector<VersionPart> split_version(std::string_view v) {
  std::vector<VersionPart> parts;
  char sep = '\0';
  std::size_t start = 0;
  for (std::size_t i = 0; i <= v.size(); ++i) {
    if (i == v.size() || v[i] == '.' || v[i] == '-' || v[i] == '+') {
      parts.push_back({sep, v.substr(start, i - start)});
      if (i < v.size()) sep = v[i] == '.' ? '.' : '-';
      start = i + 1;
    }
  }
  return parts;
}

int compare_part(std::string_view a, std::string_view b) {
  const bool na = is_all_digits(a);
  const bool nb = is_all_digits(b);
  if (na && nb) {
    // Compare as numbers without overflow: strip leading zeros, then longer is bigger.
    while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
    while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  } else if (na != nb) {
    return na ? -1 : 1;  // as in semver, numeric identifiers rank below alphanumeric ones
  }
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  const auto pa = split_version(a);
  const auto pb = split_version(b);
  const std::size_t n = std::min(pa.size(), pb.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (pa[i].separator != pb[i].separator) {
      // "1.0.1" vs "1.0-rc": the dotted one continues the release, the dashed one is a
      // pre-release of a shorter version.
      return pa[i].separator == '-' ? -1 : 1;
    }
    if (int c = compare_part(pa[i].text, pb[i].text); c != 0) return c;
  }
  if (pa.size() == pb.size()) return 0;
  // One is a prefix of the other: a "-suffix" is a pre-release (lower), more dotted parts
  // are a later version (higher).
  if (pa.size() > pb.size()) return pa[n].separator == '-' ? -1 : 1;
  return pb[n].separator == '-' ? 1 : -1;
}

Result<std::int64_t> resolve_pipeline_ref(const PipelineRef& ref,
                                          const boost::json::array& pipelines) {
  if (ref.id) return *ref.id;
  std::optional<std::int64_t> best_id;
  std::string best_version;
  std::vector<std::string> versions;
  for (const auto& item : pipelines) {
    const auto* p = item.if_object();
    if (!p) continue;
    const auto* name = p->if_contains("name");
    if (!name || !name->is_string() || name->get_string() != ref.name) continue;
    const auto* version_v = p->if_contains("version");
    const std::string version =
        version_v && version_v->is_string() ? std::string(version_v->get_string()) : "";
    const auto* status_v = p->if_contains("status");
    const std::string status =
        status_v && status_v->is_string() ? std::string(status_v->get_string()) : "";
    versions.push_back(version + " (" + status + ")");
    const auto* id = p->if_contains("id");
    if (!id || !id->is_int64()) continue;
    if (!ref.version.empty()) {
      if (version == ref.version) return id->get_int64();
      continue;
    }
    if (status != "ready") continue;
    const int c = best_id ? compare_versions(version, best_version) : 1;
    // Equal versions cannot coexist on one server, but prefer the newer row if they do.
    if (c > 0 || (c == 0 && id->get_int64() > *best_id)) {
      best_id = id->get_int64();
      best_version = version;
    }
  }
  if (best_id) return *best_id;
  if (versions.empty()) return Status::not_found("no pipeline named '" + ref.name + "'");
  std::string list;
  for (const auto& v : versions) list += (list.empty() ? "" : ", ") + v;
  if (!ref.version.empty()) {
    return Status::not_found("no pipeline " + ref.name + ":" + ref.version +
                             " (installed: " + list + ")");
  }
  return Status::conflict("no version of pipeline '" + ref.name + "' is ready (" + list + ")");
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

}  // namespace pirus::cli
