#include "store/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <utility>

#include "model/job_state_machine.hpp"
#include "store/job_messages.hpp"
#include "store/job_validation.hpp"
#include "store/migrations.hpp"
#include "store/row_mapping.hpp"
#include "store/store_cursor.hpp"

namespace pirus {

// ---------------------------------------------------------------------------------------
// sqlite:: helpers

namespace sqlite {

Status error_status(sqlite3* db, int rc, std::string_view context) {
  // sqlite3_errmsg describes the connection's last error, which is not always `rc` (a
  // bind error, for one, does not set it).
  const bool own = db != nullptr && sqlite3_extended_errcode(db) == rc;
  std::string detail = own ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string msg = context.empty() ? detail : std::string(context) + ": " + detail;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::conflict(std::move(msg));
      }
      return Status::invalid(std::move(msg));
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return Status::invalid(std::move(msg));
    case SQLITE_TOOBIG:
      return Status::too_large(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
      return Status::unavailable(std::move(msg));
    default:
      return Status::internal(std::move(msg));
  }
}

Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is available from sqlite3_errmsg
  if (rc == SQLITE_OK) return Status::ok();
  return error_status(db, rc, "");
}

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) status_ = error_status(db, rc, "preparing a statement");
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

namespace {
Status bind_error(sqlite3* db, int rc, int param) {
  return error_status(db, rc, "binding parameter " + std::to_string(param));
}
}  // namespace

Stmt& Stmt::bind(std::int64_t v) {
  if (status_) {
    const int rc = sqlite3_bind_int64(stmt_, next_param_, static_cast<sqlite3_int64>(v));
    if (rc != SQLITE_OK) status_ = bind_error(db_, rc, next_param_);
  }
  ++next_param_;
  return *this;
}

Stmt& Stmt::bind(double v) {
  if (status_) {
    const int rc = sqlite3_bind_double(stmt_, next_param_, v);
    if (rc != SQLITE_OK) status_ = bind_error(db_, rc, next_param_);
  }
  ++next_param_;
  return *this;
}

Stmt& Stmt::bind(std::string_view v) {
  if (status_) {
    // A null pointer would bind SQL NULL, and an empty string_view may carry one.
    const char* data = v.empty() ? "" : v.data();
    const int rc =
        sqlite3_bind_text64(stmt_, next_param_, data, v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) status_ = bind_error(db_, rc, next_param_);
  }
  ++next_param_;
  return *this;
}

Stmt& Stmt::bind(std::nullopt_t) {
  if (status_) {
    const int rc = sqlite3_bind_null(stmt_, next_param_);
    if (rc != SQLITE_OK) status_ = bind_error(db_, rc, next_param_);
  }
  ++next_param_;
  return *this;
}

Result<bool> Stmt::step() {
  if (!status_) return status_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  status_ = error_status(db_, rc, "");
  return status_;
}

Result<std::int64_t> Stmt::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.status();
    if (!*row) break;
  }
  return static_cast<std::int64_t>(sqlite3_changes64(db_));
}

void Stmt::reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  next_param_ = 1;
  status_ = Status::ok();
}

bool Stmt::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t Stmt::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

double Stmt::real(int col) const {
  return sqlite3_column_double(stmt_, col);
}

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p),
          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::optional<std::int64_t> Stmt::optional_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

}  // namespace sqlite

// ---------------------------------------------------------------------------------------

namespace {

using sqlite::Stmt;

enum class TxKind { kRead, kWrite };

// Rolls back unless committed, so every early return leaves the database untouched.
class Transaction {
 public:
  Transaction(sqlite3* db, TxKind kind) : db_(db) {
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads and
    // then writes can fail with SQLITE_BUSY at once, without waiting for busy_timeout.
    status_ = sqlite::exec(db, kind == TxKind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
    active_ = status_.is_ok();
  }
  ~Transaction() {
    if (active_ && sqlite3_get_autocommit(db_) == 0) (void)sqlite::exec(db_, "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  const Status& status() const { return status_; }

  Status commit() {
    Status st = sqlite::exec(db_, "COMMIT");
    if (st) active_ = false;
    return st;
  }

 private:
  sqlite3* db_;
  Status status_;
  bool active_ = false;
};

// Runs `fn` (returning Status or Result<T>) in one transaction under the connection lock,
// committing only when it succeeds.
template <typename F>
auto in_tx(sqlite3* db, std::mutex& mu, TxKind kind, F&& fn) -> decltype(fn()) {
  std::lock_guard<std::mutex> lock(mu);
  Transaction tx(db, kind);
  if (!tx.status()) return tx.status().with_context("starting a transaction");
  auto result = fn();
  if (!result.is_ok()) return result;
  Status st = tx.commit();
  if (!st) return st.with_context("committing");
  return result;
}

std::string str(Id id) {
  return std::to_string(id);
}

std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// ----- files -----

Result<std::vector<File>> read_files(Stmt& s) {
  std::vector<File> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.status();
    if (!*row) break;
    auto f = read_file_row(s);
    if (!f) return f.status();
    out.push_back(std::move(*f));
  }
  return out;
}

Result<File> load_file(sqlite3* db, Id id) {
  Stmt s(db, std::string("SELECT ") + kFileCols + " FROM files WHERE id = ?");
  s.bind(id);
  auto row = s.step();
  if (!row) return row.status();
  if (!*row) return Status::not_found("file " + str(id) + " not found");
  return read_file_row(s);
}

Result<bool> exists(sqlite3* db, const char* sql, Id id) {
  Stmt s(db, sql);
  s.bind(id);
  return s.step();
}

// Friendlier than the UNIQUE constraint's message, which the constraint still backs up.
// The path is not repeated: it is a server path, and this message may reach a client.
Status check_path_free(sqlite3* db, const std::string& path, Id self) {
  Stmt s(db, "SELECT id FROM files WHERE path = ? AND id <> ?");
  s.bind(path).bind(self);
  auto row = s.step();
  if (!row) return row.status();
  if (*row) return Status::conflict("file " + str(s.int64(0)) + " is already stored at that path");
  return Status::ok();
}

Status check_job_exists(sqlite3* db, const std::optional<Id>& id, const char* what) {
  if (!id) return Status::ok();
  auto found = exists(db, "SELECT 1 FROM jobs WHERE id = ?", *id);
  if (!found) return found.status();
  if (!*found) return Status::invalid(std::string(what) + ": job " + str(*id) + " does not exist");
  return Status::ok();
}

Status check_companion_exists(sqlite3* db, const File& file) {
  if (!file.companion_of) return Status::ok();
  auto found = exists(db, "SELECT 1 FROM files WHERE id = ?", *file.companion_of);
  if (!found) return found.status();
  if (!*found)
    return Status::invalid("companion_of: file " + str(*file.companion_of) + " does not exist");
  if (*file.companion_of == file.id) return Status::invalid("a file cannot be its own companion");
  return Status::ok();
}

Result<File> insert_file(sqlite3* db, const File& file) {
  PIRUS_RETURN_IF_ERROR(check_path_free(db, file.path, 0));
  PIRUS_RETURN_IF_ERROR(check_job_exists(db, file.job_source_id, "job_source_id"));
  PIRUS_RETURN_IF_ERROR(check_companion_exists(db, file));
  const TimeMs now = now_ms();
  Stmt s(db,
         "INSERT INTO files (name, type, path, size, upload_offset, status, sha256, "
         "job_source_id, tags, created_at, updated_at, companion_of, expires_at, "
         "expected_sha256, error_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(file.name)
      .bind(file.type)
      .bind(file.path)
      .bind(file.size)
      .bind(file.upload_offset)
      .bind(to_string(file.status))
      .bind(file.sha256)
      .bind(file.job_source_id)
      .bind(file.tags)
      .bind(now)
      .bind(now)
      .bind(file.companion_of)
      .bind(file.expires_at)
      .bind(file.expected_sha256)
      .bind(file.error_reason);
  auto done = s.run();
  if (!done) return done.status().with_context("adding a file");
  return load_file(db, static_cast<Id>(sqlite3_last_insert_rowid(db)));
}

// kConflict when an unfinished job reads the file: deleting it would pull the input from
// under a job that has not run yet or is running.
Status check_not_read_by_unfinished_job(sqlite3* db, Id file_id) {
  Stmt s(db,
         "SELECT j.id, j.status FROM job_files AS l JOIN jobs AS j ON j.id = l.job_id "
         "WHERE l.file_id = ? AND l.role = 'input' "
         "AND j.status NOT IN ('done', 'canceled', 'error') ORDER BY j.id LIMIT 1");
  s.bind(file_id);
  auto row = s.step();
  if (!row) return row.status();
  if (*row) {
    return Status::conflict("file " + str(file_id) + " is an input of job " + str(s.int64(0)) +
                            ", which is " + s.text(1));
  }
  return Status::ok();
}

// ----- pipelines -----

Result<Pipeline> load_pipeline(sqlite3* db, Id id) {
  Stmt s(db, std::string("SELECT ") + kPipelineCols + " FROM pipelines WHERE id = ?");
  s.bind(id);
  auto row = s.step();
  if (!row) return row.status();
  if (!*row) return Status::not_found("pipeline " + str(id) + " not found");
  return read_pipeline_row(s);
}

// The checks behind the (name, version) and package_file_id constraints, with messages a
// user can act on.
Status check_pipeline_refs(sqlite3* db, const Pipeline& p, Id self) {
  Stmt s(db, "SELECT id FROM pipelines WHERE name = ? AND version = ? AND id <> ?");
  s.bind(p.name).bind(p.version).bind(self);
  auto row = s.step();
  if (!row) return row.status();
  if (*row) {
    return Status::conflict("pipeline " + p.name + " " + p.version + " already exists (id " +
                            str(s.int64(0)) + ")");
  }
  if (p.package_file_id) {
    auto found = exists(db, "SELECT 1 FROM files WHERE id = ?", *p.package_file_id);
    if (!found) return found.status();
    if (!*found) {
      return Status::invalid("package file " + str(*p.package_file_id) + " does not exist");
    }
  }
  return Status::ok();
}

// ----- jobs -----

// One prepared statement re-run per job: a page holds at most 10000 jobs, and an IN list
// that long would pass SQLite's parameter limit.
Status fill_links(sqlite3* db, std::vector<Job>& jobs) {
  Stmt s(db, "SELECT file_id, role FROM job_files WHERE job_id = ? ORDER BY role, position");
  for (Job& j : jobs) {
    s.reset();
    s.bind(j.id);
    j.inputs.clear();
    j.outputs.clear();
    for (;;) {
      auto row = s.step();
      if (!row) return row.status();
      if (!*row) break;
      (s.text(1) == "output" ? j.outputs : j.inputs).push_back(s.int64(0));
    }
  }
  return Status::ok();
}

Result<std::vector<Job>> read_jobs(sqlite3* db, Stmt& s) {
  std::vector<Job> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.status();
    if (!*row) break;
    auto j = read_job_row(s);
    if (!j) return j.status();
    out.push_back(std::move(*j));
  }
  PIRUS_RETURN_IF_ERROR(fill_links(db, out));
  return out;
}

Result<Job> load_job(sqlite3* db, Id id) {
  Stmt s(db, std::string("SELECT ") + kJobCols + " FROM jobs WHERE id = ?");
  s.bind(id);
  auto jobs = read_jobs(db, s);
  if (!jobs) return jobs.status();
  if (jobs->empty()) return Status::not_found("job " + str(id) + " not found");
  return std::move(jobs->front());
}

// The compare-and-swap every status change goes through. Absent fields keep their value
// (COALESCE with a NULL parameter), so one fixed statement serves every update. true when
// the row was at `from` and has been changed.
Result<bool> cas_update(sqlite3* db, Id id, JobStatus from, JobStatus to, const JobUpdate& u) {
  Stmt s(db,
         "UPDATE jobs SET status = ?, updated_at = ?, "
         "container_id = COALESCE(?, container_id), path = COALESCE(?, path), "
         "exit_code = COALESCE(?, exit_code), error_reason = COALESCE(?, error_reason), "
         "progress = COALESCE(?, progress), progress_label = COALESCE(?, progress_label), "
         "started_at = COALESCE(?, started_at), ended_at = COALESCE(?, ended_at) "
         "WHERE id = ? AND status = ?");
  s.bind(to_string(to))
      .bind(now_ms())
      .bind(u.container_id)
      .bind(u.path)
      .bind(u.exit_code)
      .bind(u.error_reason)
      .bind(u.progress)
      .bind(u.progress_label)
      .bind(u.started_at)
      .bind(u.ended_at)
      .bind(id)
      .bind(to_string(from));
  auto changed = s.run();
  if (!changed) return changed.status().with_context("updating job " + str(id));
  return *changed > 0;
}

Status link_file(sqlite3* db, Id job_id, Id file_id, const char* role, std::int64_t position) {
  Stmt s(db, "INSERT INTO job_files (job_id, file_id, role, position) VALUES (?, ?, ?, ?)");
  s.bind(job_id).bind(file_id).bind(role).bind(position);
  auto done = s.run();
  return done ? Status::ok() : done.status().with_context("linking file " + str(file_id));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// SqliteStore

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  if (path.empty()) return Status::invalid("the SQLite database path is empty");
  sqlite3* db = nullptr;
  // NOMUTEX: the store serialises use of the connection with its own mutex already.
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = sqlite::error_status(db, rc, "cannot open the database " + path);
    sqlite3_close(db);
    return st;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  const std::string context = "opening the database " + path;
  // busy_timeout first: switching to WAL needs a lock another process may hold.
  for (const char* pragma : {"PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL",
                             "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"}) {
    PIRUS_RETURN_IF_ERROR(sqlite::exec(db, pragma).with_context(context));
  }
  PIRUS_RETURN_IF_ERROR(apply_sqlite_migrations(db, sqlite_migrations()).with_context(context));
  return store;
}

SqliteStore::~SqliteStore() {
  // Lets SQLite refresh its query planner statistics, as its documentation advises
  // doing before closing a long-lived connection.
  (void)sqlite::exec(db_, "PRAGMA optimize");
  sqlite3_close_v2(db_);
}

int SqliteStore::schema_version() {
  auto v = in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<int> {
    Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    auto row = s.step();
    if (!row) return row.status();
    return *row ? static_cast<int>(s.int64(0)) : 0;
  });
  return v ? *v : 0;
}

// ----- meta -----

Result<std::string> SqliteStore::get_meta(const std::string& key) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<std::string> {
    Stmt s(db_, "SELECT value FROM meta WHERE key = ?");
    s.bind(key);
    auto row = s.step();
    if (!row) return row.status();
    if (!*row) return Status::not_found("metadata '" + key + "' is not set");
    return s.text(0);
  });
}

Status SqliteStore::set_meta(const std::string& key, const std::string& value) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Status {
    Stmt s(db_,
           "INSERT INTO meta (key, value) VALUES (?, ?) "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    s.bind(key).bind(value);
    auto done = s.run();
    return done ? Status::ok() : done.status();
  });
}

// ----- files -----

Result<File> SqliteStore::create_file(const File& file) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() { return insert_file(db_, file); });
}

Result<File> SqliteStore::get_file(Id id) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() { return load_file(db_, id); });
}

Result<Page<File>> SqliteStore::list_files(const FileQuery& query) {
  if (query.limit < 1 || query.limit > 1000) {
    return Status::invalid("limit must be between 1 and 1000");
  }
  std::optional<std::vector<std::int64_t>> after;
  if (!query.cursor.empty()) {
    after = parse_store_cursor(query.cursor, "f1:", 2);
    if (!after) return bad_store_cursor();
  }
  std::string sql = std::string("SELECT ") + kFileCols + " FROM files WHERE 1 = 1";
  if (query.status) sql += " AND status = ?";
  if (query.job_source_id) sql += " AND job_source_id = ?";
  if (after) sql += " AND (created_at, id) < (?, ?)";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?";

  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<Page<File>> {
    Stmt s(db_, sql);
    if (query.status) s.bind(to_string(*query.status));
    if (query.job_source_id) s.bind(*query.job_source_id);
    if (after) s.bind((*after)[0]).bind((*after)[1]);
    // One row more than asked says whether another page follows.
    s.bind(query.limit + 1);
    auto files = read_files(s);
    if (!files) return files.status();
    Page<File> page;
    page.items = std::move(*files);
    if (page.items.size() > static_cast<std::size_t>(query.limit)) {
      page.items.pop_back();
      const File& last = page.items.back();
      page.next_cursor = "f1:" + std::to_string(last.created_at) + ":" + str(last.id);
    }
    return page;
  });
}

Result<File> SqliteStore::update_file(const File& file) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<File> {
    auto current = load_file(db_, file.id);
    if (!current) return current.status();
    PIRUS_RETURN_IF_ERROR(check_path_free(db_, file.path, file.id));
    PIRUS_RETURN_IF_ERROR(check_companion_exists(db_, file));
    Stmt s(db_,
           "UPDATE files SET name = ?, type = ?, path = ?, size = ?, upload_offset = ?, "
           "status = ?, sha256 = ?, tags = ?, updated_at = ?, companion_of = ?, "
           "expires_at = ?, expected_sha256 = ?, error_reason = ? WHERE id = ?");
    s.bind(file.name)
        .bind(file.type)
        .bind(file.path)
        .bind(file.size)
        .bind(file.upload_offset)
        .bind(to_string(file.status))
        .bind(file.sha256)
        .bind(file.tags)
        .bind(now_ms())
        .bind(file.companion_of)
        .bind(file.expires_at)
        .bind(file.expected_sha256)
        .bind(file.error_reason)
        .bind(file.id);
    auto done = s.run();
    if (!done) return done.status().with_context("updating file " + str(file.id));
    return load_file(db_, file.id);
  });
}

Status SqliteStore::delete_file(Id id) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Status {
    auto current = load_file(db_, id);
    if (!current) return current.status();
    PIRUS_RETURN_IF_ERROR(check_not_read_by_unfinished_job(db_, id));
    Stmt unlink(db_, "DELETE FROM job_files WHERE file_id = ?");
    unlink.bind(id);
    auto unlinked = unlink.run();
    if (!unlinked) return unlinked.status();
    Stmt del(db_, "DELETE FROM files WHERE id = ?");
    del.bind(id);
    auto done = del.run();
    return done ? Status::ok() : done.status().with_context("deleting file " + str(id));
  });
}

Result<std::int64_t> SqliteStore::set_upload_offset(Id id, std::int64_t offset) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<std::int64_t> {
    Stmt s(db_,
           "UPDATE files SET upload_offset = ?, updated_at = ? "
           "WHERE id = ? AND status = 'uploading' AND ? <= size");
    s.bind(offset).bind(now_ms()).bind(id).bind(offset);
    auto done = s.run();
    if (!done) return done.status().with_context("updating upload " + str(id));
    if (*done == 0) {
      auto current = load_file(db_, id);
      if (!current) return current.status();
      return Status::conflict("file " + str(id) + " is not an unfinished upload of that size");
    }
    return offset;
  });
}

Result<std::vector<File>> SqliteStore::list_expired_uploads(TimeMs now, int limit) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<std::vector<File>> {
    Stmt s(db_, std::string("SELECT ") + kFileCols +
                    " FROM files WHERE status = 'uploading' AND expires_at > 0 AND expires_at <= ?"
                    " ORDER BY expires_at, id LIMIT ?");
    s.bind(now).bind(static_cast<std::int64_t>(limit));
    return read_files(s);
  });
}

Result<std::vector<File>> SqliteStore::list_companions(Id primary) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<std::vector<File>> {
    Stmt s(db_,
           std::string("SELECT ") + kFileCols + " FROM files WHERE companion_of = ? ORDER BY id");
    s.bind(primary);
    return read_files(s);
  });
}

Result<std::optional<File>> SqliteStore::find_complete_file_by_name(const std::string& name) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<std::optional<File>> {
    Stmt s(db_, std::string("SELECT ") + kFileCols +
                    " FROM files WHERE name = ? AND status IN ('uploaded', 'checked') "
                    "AND job_source_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 1");
    s.bind(name);
    auto files = read_files(s);
    if (!files) return files.status();
    if (files->empty()) return std::optional<File>();
    return std::optional<File>(files->front());
  });
}

// ----- pipelines -----

Result<Pipeline> SqliteStore::create_pipeline(const Pipeline& p) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<Pipeline> {
    PIRUS_RETURN_IF_ERROR(check_pipeline_refs(db_, p, 0));
    const TimeMs now = now_ms();
    Stmt s(db_,
           "INSERT INTO pipelines (name, version, type, engine, status, description, "
           "manifest_json, form_json, documents_json, path, image, error_reason, "
           "package_file_id, created_at, updated_at, installed_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(p.name)
        .bind(p.version)
        .bind(p.type)
        .bind(p.engine)
        .bind(to_string(p.status))
        .bind(p.description)
        .bind(p.manifest_json)
        .bind(p.form_json)
        .bind(documents_to_json(p.documents))
        .bind(p.path)
        .bind(p.image)
        .bind(p.error_reason)
        .bind(p.package_file_id)
        .bind(now)
        .bind(now)
        .bind(p.installed_at);
    auto done = s.run();
    if (!done) return done.status().with_context("adding pipeline " + p.name);
    return load_pipeline(db_, static_cast<Id>(sqlite3_last_insert_rowid(db_)));
  });
}

Result<Pipeline> SqliteStore::get_pipeline(Id id) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() { return load_pipeline(db_, id); });
}

Result<std::vector<Pipeline>> SqliteStore::list_pipelines() {
  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<std::vector<Pipeline>> {
    Stmt s(db_, std::string("SELECT ") + kPipelineCols + " FROM pipelines ORDER BY id");
    std::vector<Pipeline> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.status();
      if (!*row) break;
      auto p = read_pipeline_row(s);
      if (!p) return p.status();
      out.push_back(std::move(*p));
    }
    return out;
  });
}

Result<Pipeline> SqliteStore::update_pipeline(const Pipeline& p, PipelineStatus expected) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<Pipeline> {
    auto current = load_pipeline(db_, p.id);
    if (!current) return current.status();
    if (current->status != expected) {
      return Status::conflict("pipeline " + str(p.id) + " is " +
                              std::string(to_string(current->status)) + ", not " +
                              std::string(to_string(expected)));
    }
    PIRUS_RETURN_IF_ERROR(check_pipeline_refs(db_, p, p.id));
    Stmt s(db_,
           "UPDATE pipelines SET name = ?, version = ?, type = ?, engine = ?, status = ?, "
           "description = ?, manifest_json = ?, form_json = ?, documents_json = ?, path = ?, "
           "image = ?, error_reason = ?, package_file_id = ?, updated_at = ?, "
           "installed_at = ? WHERE id = ? AND status = ?");
    s.bind(p.name)
        .bind(p.version)
        .bind(p.type)
        .bind(p.engine)
        .bind(to_string(p.status))
        .bind(p.description)
        .bind(p.manifest_json)
        .bind(p.form_json)
        .bind(documents_to_json(p.documents))
        .bind(p.path)
        .bind(p.image)
        .bind(p.error_reason)
        .bind(p.package_file_id)
        .bind(now_ms())
        .bind(p.installed_at)
        .bind(p.id)
        .bind(to_string(expected));
    auto changed = s.run();
    if (!changed) return changed.status().with_context("updating pipeline " + str(p.id));
    // Cannot happen while we hold the write lock; kept so the statement stays a real CAS.
    if (*changed == 0) return Status::conflict("pipeline " + str(p.id) + " changed meanwhile");
    return load_pipeline(db_, p.id);
  });
}

Status SqliteStore::delete_pipeline(Id id) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Status {
    auto current = load_pipeline(db_, id);
    if (!current) return current.status();
    Stmt busy(db_,
              "SELECT id, status FROM jobs WHERE pipeline_id = ? "
              "AND status NOT IN ('done', 'canceled', 'error') ORDER BY id LIMIT 1");
    busy.bind(id);
    auto row = busy.step();
    if (!row) return row.status();
    if (*row) {
      return Status::conflict("pipeline " + str(id) + " has unfinished jobs (job " +
                              str(busy.int64(0)) + " is " + busy.text(1) + ")");
    }
    Stmt del(db_, "DELETE FROM pipelines WHERE id = ?");
    del.bind(id);
    auto done = del.run();
    return done ? Status::ok() : done.status().with_context("deleting pipeline " + str(id));
  });
}

// ----- jobs -----

Result<Job> SqliteStore::create_job(const Job& job) {
  PIRUS_RETURN_IF_ERROR(validate_job(job));
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<Job> {
    auto pipeline = exists(db_, "SELECT 1 FROM pipelines WHERE id = ?", job.pipeline_id);
    if (!pipeline) return pipeline.status();
    if (!*pipeline) return Status::invalid("pipeline " + str(job.pipeline_id) + " does not exist");
    for (Id input : job.inputs) {
      auto found = exists(db_, "SELECT 1 FROM files WHERE id = ?", input);
      if (!found) return found.status();
      if (!*found) return Status::invalid("input file " + str(input) + " does not exist");
    }
    const TimeMs now = now_ms();
    Stmt s(db_,
           "INSERT INTO jobs (pipeline_id, name, status, priority, parameters_json, cpus, "
           "memory_mb, pids, progress, progress_label, path, container_id, exit_code, "
           "error_reason, created_at, started_at, ended_at, updated_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(job.pipeline_id)
        .bind(job.name)
        .bind(to_string(JobStatus::kWaiting))
        .bind(job.priority)
        .bind(job.parameters_json)
        .bind(job.resources.cpus)
        .bind(job.resources.memory_mb)
        .bind(job.resources.pids)
        .bind(job.progress)
        .bind(job.progress_label)
        .bind(job.path)
        .bind(job.container_id)
        .bind(job.exit_code)
        .bind(job.error_reason)
        .bind(now)
        .bind(job.started_at)
        .bind(job.ended_at)
        .bind(now);
    auto done = s.run();
    if (!done) return done.status().with_context("adding job " + job.name);
    const Id id = static_cast<Id>(sqlite3_last_insert_rowid(db_));
    std::int64_t position = 0;
    for (Id input : job.inputs) {
      PIRUS_RETURN_IF_ERROR(link_file(db_, id, input, "input", position++));
    }
    return load_job(db_, id);
  });
}

Result<Job> SqliteStore::get_job(Id id) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() { return load_job(db_, id); });
}

Result<Page<Job>> SqliteStore::list_jobs(const JobQuery& query) {
  if (query.limit < 1 || query.limit > 10000) {
    return Status::invalid("limit must be between 1 and 10000");
  }
  const bool queue = query.order == JobOrder::kQueueOrder;
  std::optional<std::vector<std::int64_t>> after;
  if (!query.cursor.empty()) {
    after = parse_store_cursor(query.cursor, job_cursor_prefix(query.order), queue ? 3 : 2);
    if (!after) return bad_store_cursor();
  }
  // Only the number of placeholders is formatted into the SQL; every value is bound.
  std::string sql = std::string("SELECT ") + kJobCols + " FROM jobs WHERE 1 = 1";
  if (!query.statuses.empty()) {
    sql += " AND status IN (" + placeholders(query.statuses.size()) + ")";
  }
  // pipeline_id 0 stands for "its pipeline was uninstalled", stored as NULL.
  const bool orphans = query.pipeline_id && *query.pipeline_id == 0;
  if (query.pipeline_id) sql += orphans ? " AND pipeline_id IS NULL" : " AND pipeline_id = ?";
  switch (query.order) {
    case JobOrder::kNewestFirst:
      if (after) sql += " AND (created_at, id) < (?, ?)";
      sql += " ORDER BY created_at DESC, id DESC";
      break;
    case JobOrder::kOldestFirst:
      if (after) sql += " AND (created_at, id) > (?, ?)";
      sql += " ORDER BY created_at, id";
      break;
    case JobOrder::kQueueOrder:
      if (after) sql += " AND (priority < ? OR (priority = ? AND (created_at, id) > (?, ?)))";
      sql += " ORDER BY priority DESC, created_at, id";
      break;
  }
  sql += " LIMIT ?";

  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<Page<Job>> {
    Stmt s(db_, sql);
    for (JobStatus st : query.statuses) s.bind(to_string(st));
    if (query.pipeline_id && !orphans) s.bind(*query.pipeline_id);
    if (after && queue) {
      s.bind((*after)[0]).bind((*after)[0]).bind((*after)[1]).bind((*after)[2]);
    } else if (after) {
      s.bind((*after)[0]).bind((*after)[1]);
    }
    s.bind(query.limit + 1);
    auto jobs = read_jobs(db_, s);
    if (!jobs) return jobs.status();
    Page<Job> page;
    page.items = std::move(*jobs);
    if (page.items.size() > static_cast<std::size_t>(query.limit)) {
      page.items.pop_back();
      page.next_cursor = job_store_cursor(query.order, page.items.back());
    }
    return page;
  });
}

Result<std::int64_t> SqliteStore::count_jobs(const std::vector<JobStatus>& statuses) {
  std::string sql = "SELECT COUNT(*) FROM jobs";
  if (!statuses.empty()) sql += " WHERE status IN (" + placeholders(statuses.size()) + ")";
  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<std::int64_t> {
    Stmt s(db_, sql);
    for (JobStatus st : statuses) s.bind(to_string(st));
    auto row = s.step();
    if (!row) return row.status();
    return *row ? s.int64(0) : 0;
  });
}

Result<Job> SqliteStore::transition_job(Id id, JobStatus from, JobStatus to,
                                        const JobUpdate& update) {
  PIRUS_RETURN_IF_ERROR(validate_update(update));
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<Job> {
    auto current = load_job(db_, id);
    if (!current) return current.status();
    const std::string& reason = update.error_reason ? *update.error_reason : current->error_reason;
    Status legal = check_transition(from, to, reason);
    if (!legal) return about_job(legal, id);
    auto changed = cas_update(db_, id, from, to, update);
    if (!changed) return changed.status();
    if (!*changed) return job_moved(id, current->status, from);
    return load_job(db_, id);
  });
}

Result<Job> SqliteStore::patch_job(Id id, JobStatus expected, const JobUpdate& update) {
  PIRUS_RETURN_IF_ERROR(validate_update(update));
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<Job> {
    auto current = load_job(db_, id);
    if (!current) return current.status();
    auto changed = cas_update(db_, id, expected, expected, update);
    if (!changed) return changed.status();
    if (!*changed) return job_moved(id, current->status, expected);
    return load_job(db_, id);
  });
}

Status SqliteStore::record_job_usage(Id id, std::int64_t memory_bytes, double cpu_seconds) {
  if (memory_bytes < 0 || !(cpu_seconds >= 0)) {
    return Status::invalid("resource usage must not be negative");
  }
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Status {
    Stmt s(db_,
           "UPDATE jobs SET peak_memory_bytes = MAX(peak_memory_bytes, ?), "
           "cpu_seconds = MAX(cpu_seconds, ?) WHERE id = ?");
    s.bind(memory_bytes).bind(cpu_seconds).bind(id);
    auto changed = s.run();
    if (!changed) return changed.status().with_context("recording the usage of job " + str(id));
    if (*changed == 0) return Status::not_found("job " + str(id) + " does not exist");
    return Status::ok();
  });
}

Result<Job> SqliteStore::finalize_job(Id id, const std::vector<File>& outputs,
                                      const JobUpdate& update) {
  PIRUS_RETURN_IF_ERROR(validate_update(update));
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<Job> {
    auto current = load_job(db_, id);
    if (!current) return current.status();
    const std::string& reason = update.error_reason ? *update.error_reason : current->error_reason;
    Status legal = check_transition(JobStatus::kFinalizing, JobStatus::kDone, reason);
    if (!legal) return about_job(legal, id);
    // The swap comes first: when it fails nothing below runs, which is what makes a
    // second finalize (a retry, a recovery racing the worker) register nothing.
    auto changed = cas_update(db_, id, JobStatus::kFinalizing, JobStatus::kDone, update);
    if (!changed) return changed.status();
    if (!*changed) return job_moved(id, current->status, JobStatus::kFinalizing);
    std::int64_t position = 0;
    for (const File& out : outputs) {
      File f = out;
      f.status = FileStatus::kChecked;
      f.job_source_id = id;
      auto added = insert_file(db_, f);
      if (!added) return added.status().with_context("registering output " + f.name);
      PIRUS_RETURN_IF_ERROR(link_file(db_, id, added->id, "output", position++));
    }
    return load_job(db_, id);
  });
}

Result<std::vector<File>> SqliteStore::delete_job(Id id) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Result<std::vector<File>> {
    auto current = load_job(db_, id);
    if (!current) return current.status();
    if (!is_terminal(current->status)) {
      return Status::conflict("job " + str(id) + " is " + std::string(to_string(current->status)) +
                              "; only finished jobs can be deleted");
    }
    Stmt sel(db_, std::string("SELECT ") + kFileCols +
                      " FROM files WHERE job_source_id = ? OR id IN "
                      "(SELECT file_id FROM job_files WHERE job_id = ? AND role = 'output') "
                      "ORDER BY id");
    sel.bind(id).bind(id);
    auto outputs = read_files(sel);
    if (!outputs) return outputs.status();
    for (const File& f : *outputs) {
      Status st = check_not_read_by_unfinished_job(db_, f.id);
      if (!st) return st.with_context("job " + str(id) + " cannot be deleted");
    }
    // Its own links go by ON DELETE CASCADE; links of its outputs to other (finished)
    // jobs go with the files, as in delete_file.
    Stmt del_job(db_, "DELETE FROM jobs WHERE id = ?");
    del_job.bind(id);
    auto done = del_job.run();
    if (!done) return done.status().with_context("deleting job " + str(id));
    Stmt unlink(db_, "DELETE FROM job_files WHERE file_id = ?");
    Stmt del_file(db_, "DELETE FROM files WHERE id = ?");
    for (const File& f : *outputs) {
      unlink.reset();
      unlink.bind(f.id);
      auto unlinked = unlink.run();
      if (!unlinked) return unlinked.status();
      del_file.reset();
      del_file.bind(f.id);
      auto deleted = del_file.run();
      if (!deleted) return deleted.status().with_context("deleting file " + str(f.id));
    }
    return std::move(*outputs);
  });
}

// ----- job notify tokens -----

Status SqliteStore::set_job_notify_token_hash(Id id, const std::string& sha256_hex) {
  return in_tx(db_, mu_, TxKind::kWrite, [&]() -> Status {
    Stmt s(db_, "UPDATE jobs SET notify_token_sha256 = ? WHERE id = ?");
    s.bind(sha256_hex).bind(id);
    auto changed = s.run();
    if (!changed) return changed.status();
    if (*changed == 0) return Status::not_found("job " + std::to_string(id) + " does not exist");
    return Status::ok();
  });
}

Result<std::string> SqliteStore::job_notify_token_hash(Id id) {
  return in_tx(db_, mu_, TxKind::kRead, [&]() -> Result<std::string> {
    Stmt s(db_, "SELECT notify_token_sha256 FROM jobs WHERE id = ?");
    s.bind(id);
    auto row = s.step();
    if (!row) return row.status();
    if (!*row) return Status::not_found("job " + std::to_string(id) + " does not exist");
    return s.text(0);
  });
}

}  // namespace pirus
