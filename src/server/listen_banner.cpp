#include "server/listen_banner.hpp"

#include <charconv>

namespace pirus {

std::optional<int> parse_listening_port(std::string_view log) {
  const auto at = log.find(kListeningBanner);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = log.substr(at + kListeningBanner.size());
  // host:port, where the host may be an IPv6 literal in brackets.
  const auto space = rest.find_first_of(" \n");
  if (space == std::string_view::npos) return std::nullopt;  // line not complete yet
  rest = rest.substr(0, space);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  int port = 0;
  const char* first = rest.data() + colon + 1;
  const char* last = rest.data() + rest.size();
  auto [ptr, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || ptr != last || port <= 0 || port > 65535) return std::nullopt;
  return port;
}

}  // namespace pirus
