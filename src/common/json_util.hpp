#pragma once
// Helpers around Boost.JSON that several modules need.

#include <boost/json/value.hpp>
#include <string>

#include "common/status.hpp"

namespace pirus {

// Indented JSON, one scalar per line, so shell tools (grep, awk) in a pipeline can read
// config.json without a JSON parser.
std::string pretty_json(const boost::json::value& v);

// Parses `text`; kInvalid "line L, column C: <reason>" on malformed input.
Result<boost::json::value> parse_json(const std::string& text);

}  // namespace pirus
