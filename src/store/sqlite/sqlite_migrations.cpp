#include <sqlite3.h>

#include <string>

#include "model/model.hpp"
#include "store/migrations.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace pirus {

namespace {

// Version 1. Notes on choices a reader may wonder about:
// - STRICT tables: a value of the wrong type is an error instead of being stored as is.
// - AUTOINCREMENT: ids are never reused, since workspaces, pipeline directories and
//   clients refer to entities by id long after a row is deleted.
// - job_files.file_id has no ON DELETE action: delete_file/delete_job remove links
//   themselves after checking that no unfinished job reads the file, and the foreign key
//   stops any other path from leaving a running job with a dangling input.
// - The CHECK on jobs backs up the state machine's rule that an error carries a reason.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE files (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  type TEXT NOT NULL DEFAULT '',
  path TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
  upload_offset INTEGER NOT NULL DEFAULT 0 CHECK (upload_offset >= 0),
  status TEXT NOT NULL CHECK (status IN ('uploading', 'uploaded', 'checked', 'error')),
  sha256 TEXT NOT NULL DEFAULT '',
  job_source_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
  tags TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE pipelines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  type TEXT NOT NULL,
  engine TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('initializing', 'installing', 'ready', 'error')),
  description TEXT NOT NULL DEFAULT '',
  manifest_json TEXT NOT NULL DEFAULT '',
  form_json TEXT NOT NULL DEFAULT '',
  documents_json TEXT NOT NULL DEFAULT '{}',
  path TEXT NOT NULL DEFAULT '',
  image TEXT NOT NULL DEFAULT '',
  error_reason TEXT NOT NULL DEFAULT '',
  package_file_id INTEGER REFERENCES files (id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  installed_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE (name, version)
) STRICT;

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pipeline_id INTEGER REFERENCES pipelines (id) ON DELETE SET NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('waiting', 'initializing', 'running', 'pause',
                                         'finalizing', 'done', 'canceled', 'error')),
  priority INTEGER NOT NULL DEFAULT 0,
  parameters_json TEXT NOT NULL DEFAULT '{}',
  cpus REAL NOT NULL DEFAULT 0,
  memory_mb INTEGER NOT NULL DEFAULT 0,
  pids INTEGER NOT NULL DEFAULT 0,
  progress REAL NOT NULL DEFAULT 0,
  progress_label TEXT NOT NULL DEFAULT '',
  path TEXT NOT NULL DEFAULT '',
  container_id TEXT NOT NULL DEFAULT '',
  exit_code INTEGER,
  error_reason TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL DEFAULT 0,
  ended_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  CHECK (status <> 'error' OR error_reason <> '')
) STRICT;

CREATE TABLE job_files (
  job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  file_id INTEGER NOT NULL REFERENCES files (id),
  role TEXT NOT NULL CHECK (role IN ('input', 'output')),
  position INTEGER NOT NULL CHECK (position >= 0),
  PRIMARY KEY (job_id, role, position)
) STRICT;

CREATE INDEX jobs_status ON jobs (status);
CREATE INDEX jobs_queue ON jobs (priority DESC, created_at, id);
CREATE INDEX jobs_created ON jobs (created_at, id);
CREATE INDEX jobs_pipeline ON jobs (pipeline_id);
CREATE INDEX files_job_source ON files (job_source_id);
CREATE INDEX files_created ON files (created_at, id);
CREATE INDEX job_files_file ON job_files (file_id);
CREATE INDEX pipelines_package_file ON pipelines (package_file_id);
)sql";

// Version 2: resumable (TUS) uploads and companion files.
// - expires_at: when an upload still in 'uploading' is swept away (0 = never).
// - expected_sha256: the whole-file checksum given when the upload was created, checked
//   when the last byte arrives (possibly after a server restart, hence stored).
// - error_reason: why a file is in 'error' (a checksum mismatch, say).
// - companion_of: the primary file an index accompanies (x.bam for x.bam.bai); a deleted
//   primary leaves its companions as plain files.
constexpr std::string_view kUploadsSchema = R"sql(
ALTER TABLE files ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN expected_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN error_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN companion_of INTEGER REFERENCES files (id) ON DELETE SET NULL;
CREATE INDEX files_companion_of ON files (companion_of);
CREATE INDEX files_uploading_expiry ON files (expires_at) WHERE status = 'uploading';
CREATE INDEX files_name ON files (name);
)sql";

// Version 3. Totals kept on the job so they outlive the monitor's in-memory history and a
// restart; 0 means "never sampled".
constexpr std::string_view kJobUsage = R"sql(
ALTER TABLE jobs ADD COLUMN peak_memory_bytes INTEGER NOT NULL DEFAULT 0
  CHECK (peak_memory_bytes >= 0);
ALTER TABLE jobs ADD COLUMN cpu_seconds REAL NOT NULL DEFAULT 0 CHECK (cpu_seconds >= 0);
)sql";

// Version 4: the hash of each job's notify token. The token itself is never stored: a
// database leak must not let anyone post progress as a running job.
constexpr std::string_view kNotifyTokens = R"sql(
ALTER TABLE jobs ADD COLUMN notify_token_sha256 TEXT NOT NULL DEFAULT '';
)sql";

// job_files_file and pipelines_package_file serve no query: SQLite checks foreign keys
// on each parent delete by looking up the child column, which without them is a table scan.

Result<int> read_version(sqlite3* db) {
  sqlite::Stmt s(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  auto row = s.step();
  if (!row) return row.status();
  if (!*row) return Status::internal("reading the schema version returned no row");
  return static_cast<int>(s.int64(0));
}

}  // namespace

const std::vector<Migration>& sqlite_migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "files, pipelines, jobs, job_files and meta", kInitialSchema},
      {2, "resumable uploads and companion files", kUploadsSchema},
      {3, "job resource usage: peak memory and CPU seconds", kJobUsage},
      {4, "jobs.notify_token_sha256 (HTTP progress channel)", kNotifyTokens},
  };
  return kMigrations;
}

Result<int> sqlite_schema_version(sqlite3* db) {
  PIRUS_RETURN_IF_ERROR(sqlite::exec(db,
                                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                                     "applied_at INTEGER NOT NULL) STRICT"));
  return read_version(db);
}

Status apply_sqlite_migrations(sqlite3* db, const std::vector<Migration>& migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Status::internal("migration versions must be 1, 2, 3...; entry " + std::to_string(i) +
                              " is " + std::to_string(migrations[i].version));
    }
  }
  auto current = sqlite_schema_version(db);
  if (!current) return current.status().with_context("reading the schema version");
  const int latest = static_cast<int>(migrations.size());
  if (*current > latest) {
    return Status::invalid("the database schema is at version " + std::to_string(*current) +
                           " but this Pirus knows versions up to " + std::to_string(latest) +
                           ": it was written by a newer release");
  }

  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    const std::string what =
        "migration " + std::to_string(m.version) + " (" + std::string(m.name) + ")";
    PIRUS_RETURN_IF_ERROR(sqlite::exec(db, "BEGIN IMMEDIATE").with_context(what));
    // Another process may have applied it while we waited for the write lock.
    auto now_at = read_version(db);
    Status st = now_at ? Status::ok() : now_at.status();
    if (st && *now_at < m.version) {
      // sqlite3_exec needs a NUL-terminated script; string_view does not promise one.
      const std::string script(m.sql);
      st = sqlite::exec(db, script.c_str());
      if (st) {
        sqlite::Stmt ins(db,
                         "INSERT INTO schema_migrations (version, name, applied_at) "
                         "VALUES (?, ?, ?)");
        ins.bind(m.version).bind(m.name).bind(now_ms());
        auto done = ins.run();
        if (!done) st = done.status();
      }
    }
    if (st) st = sqlite::exec(db, "COMMIT");
    if (!st) {
      if (!sqlite3_get_autocommit(db)) (void)sqlite::exec(db, "ROLLBACK");
      return st.with_context(what);
    }
  }
  return Status::ok();
}

}  // namespace pirus
