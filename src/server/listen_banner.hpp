#pragma once
// The line `pirus server` logs once it accepts connections. Scripts, tests and benchmarks
// start the server on port 0 and read the real port back from this line, so its wording
// is an interface: change it here only.

#include <optional>
#include <string_view>

namespace pirus {

inline constexpr std::string_view kListeningBanner = "pirus server listening on http://";

// The port of the first banner in `log`, if the server has printed it yet.
std::optional<int> parse_listening_port(std::string_view log);

}  // namespace pirus
