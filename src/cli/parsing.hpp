#pragma once
// Pure parsing for the `pirus` client's arguments: --param values, pipeline references,
// ids, versions and query strings. No I/O, so every rule is unit-tested.

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.hpp"

namespace pirus::cli {

// A --param value: its JSON reading when it is valid JSON (42, true, 1.5, "x", [1,2],
// null), else the text itself as a string (words, 007, hello world).
boost::json::value parse_param_value(std::string_view text);

// "key=value" (split at the first '='); kInvalid without '=' or with an empty key.
Result<std::pair<std::string, boost::json::value>> parse_param(std::string_view key_value);

// What `pirus job run PIPELINE` names: an id ("3"), a name ("wordcount": the highest version
// that is ready) or a name and version ("wordcount:1.0.0").
struct PipelineRef {
  std::optional<std::int64_t> id;
  std::string name;
  std::string version;  // empty: the latest ready version
};

Result<PipelineRef> parse_pipeline_ref(std::string_view text);

// Picks the pipeline id `ref` designates among API Pipeline objects (GET /api/v1/pipelines
// items). An id is returned as is (the server checks it). kNotFound when no pipeline has
// the name (and version); kConflict when the name exists but no version of it is ready.
Result<std::int64_t> resolve_pipeline_ref(const PipelineRef& ref,
                                          const boost::json::array& pipelines);

// Orders versions: dot- or dash-separated parts, numeric parts numerically ("1.10" >
// "1.9"), and a "-suffix" ranks before the plain release ("1.0.0-rc1" < "1.0.0").
// Returns <0, 0 or >0.
int compare_versions(std::string_view a, std::string_view b);

bool is_all_digits(std::string_view text);

// A positive integer id; kInvalid naming `what` ("job id") otherwise.
Result<std::int64_t> parse_id(std::string_view text, std::string_view what);

// Percent-encodes everything but RFC 3986 unreserved characters, for query values.
std::string url_encode(std::string_view text);

}  // namespace pirus::cli
