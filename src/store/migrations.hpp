#pragma once
// Versioned schema migrations. Each backend keeps an ordered list of SQL scripts; a
// `schema_migrations` table records the versions applied, and Store::open applies the
// pending ones, each in its own transaction. A released migration is never edited: schema
// changes append a new one, so every database reaches the same schema by the same steps.

#include <string_view>
#include <vector>

#include "common/status.hpp"

struct sqlite3;

namespace pirus {

struct Migration {
  int version;            // 1, 2, 3... without gaps
  std::string_view name;  // what it does, recorded next to the version
  std::string_view sql;   // one or more statements
};

// The SQLite schema history, oldest first.
const std::vector<Migration>& sqlite_migrations();

// The highest version recorded in `db` (0 for a fresh database). Creates the
// schema_migrations table when missing.
Result<int> sqlite_schema_version(sqlite3* db);

// Applies every migration above the database's version, in order, each in a
// BEGIN IMMEDIATE transaction together with its schema_migrations row, so a failed one
// leaves the database at the previous version. Refuses a database whose version is beyond
// the last known migration (written by a newer Pirus).
Status apply_sqlite_migrations(sqlite3* db, const std::vector<Migration>& migrations);

}  // namespace pirus
