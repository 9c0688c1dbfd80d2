#pragma once
// Database-level operations behind `pirus db`: migrating a database without starting a
// server, and moving all metadata between databases (SQLite <-> PostgreSQL) as a
// versioned JSON-lines document.
//
// The document (one JSON object per line):
//   {"format":"pirus-db-export","format_version":1,"schema_version":4,"exported_at":MS,
//    "sequences":{"files":N,"pipelines":N,"jobs":N}}
//   {"table":"meta","row":{"key":...,"value":...}}        every row of every table, tables
//   {"table":"files","row":{...}}                          in the order meta, files,
//   ...                                                    pipelines, jobs, job_files
//   {"end":true,"rows":N}
// Every column is written under its name, ids included; `sequences` are the highest ids
// ever handed out, so an import never reuses the id of a row deleted before the export.
// The trailer makes a truncated file an error rather than a partial import.

#include <iosfwd>
#include <string>

#include "common/status.hpp"

namespace pirus {

struct MigrationReport {
  int before = 0;  // schema version found (0: an empty database)
  int after = 0;
};

// Applies pending migrations to the database at `url` (what the server does at start).
Result<MigrationReport> migrate_database(const std::string& url);

struct TransferReport {
  int schema_version = 0;
  std::int64_t rows = 0;
};

// Writes every table of the database at `url` (migrated first) to `out`, read in one
// transaction so the document is a consistent snapshot.
Result<TransferReport> export_database(const std::string& url, std::ostream& out);

// Loads a document written by export_database into the database at `url` (migrated
// first), in one transaction: all of it or nothing. kConflict when the target already
// holds data, kInvalid for a document that is malformed, truncated, of another format
// version or of another schema version. On PostgreSQL the id sequences are moved past the
// imported ids.
Result<TransferReport> import_database(const std::string& url, std::istream& in);

}  // namespace pirus
