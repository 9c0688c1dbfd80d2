#include <algorithm>
#include <cctype>

#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace pirus {

Result<DatabaseUrl> parse_database_url(const std::string& url) {
  DatabaseUrl out;
  const auto sep = url.find("://");
  if (sep == std::string::npos) {
    out.target = url;
  } else {
    std::string scheme = url.substr(0, sep);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // libpq reads the whole URI (host, port, ?host=/socket/dir, sslmode...), in lower case
    // scheme only. The rest of a PostgreSQL URL is never echoed: it may carry a password.
    if (scheme == "postgres" || scheme == "postgresql") {
      out.postgres = true;
      out.target = scheme + url.substr(sep);
      return out;
    }
    if (scheme != "sqlite") {
      return Status::invalid("database URL scheme '" + scheme +
                             "' is not supported; use sqlite:///path/to/pirus.db or "
                             "postgresql://...");
    }
    // "sqlite:///abs/path" leaves "/abs/path"; "sqlite://rel/path" leaves "rel/path".
    out.target = url.substr(sep + 3);
  }
  if (out.target.empty()) return Status::invalid("database URL '" + url + "' names no file");
  return out;
}

Result<std::unique_ptr<Store>> open_store(const std::string& url, const StoreOptions& options) {
  auto parsed = parse_database_url(url);
  if (!parsed) return parsed.status();
  if (parsed->postgres) {
    auto store = PgStore::open(parsed->target, options.pool_size);
    if (!store) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  auto store = SqliteStore::open(parsed->target);
  if (!store) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

std::string redacted_database_url(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto authority_end = url.find_first_of("/?", scheme + 3);
  const auto at = url.rfind('@', authority_end == std::string::npos ? url.size() : authority_end);
  if (at == std::string::npos || at < scheme + 3) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace pirus
