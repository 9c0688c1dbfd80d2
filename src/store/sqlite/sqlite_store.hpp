#pragma once
// The SQLite Store: one connection, guarded by a mutex, in WAL mode. Every public method
// runs as one transaction (BEGIN IMMEDIATE when it writes, so two writers never deadlock
// upgrading read locks); other processes sharing the file wait up to busy_timeout.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace pirus {

namespace sqlite {

// Maps a SQLite result code to a Status: uniqueness violations are kConflict, other
// constraint violations kInvalid, a locked, unreachable or full database kUnavailable, the
// rest kInternal. The message is `context: <sqlite3_errmsg>`.
Status error_status(sqlite3* db, int rc, std::string_view context);

// Runs SQL without parameters (DDL, PRAGMA, BEGIN...). Never give it values.
Status exec(sqlite3* db, const char* sql);

// A prepared statement. Parameters are bound in order by bind(); the first failure (of
// prepare or of a bind) is kept in status() and makes step() return it, so call sites
// can chain binds and check once.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  const Status& status() const { return status_; }

  Stmt& bind(std::int64_t v);
  Stmt& bind(int v) { return bind(static_cast<std::int64_t>(v)); }
  Stmt& bind(double v);
  Stmt& bind(std::string_view v);
  Stmt& bind(const std::string& v) { return bind(std::string_view(v)); }
  Stmt& bind(const char* v) { return bind(std::string_view(v)); }
  Stmt& bind(std::nullopt_t);
  template <typename T>
  Stmt& bind(const std::optional<T>& v) {
    return v ? bind(*v) : bind(std::nullopt);
  }

  // true: a row is available; false: the statement is done.
  Result<bool> step();
  // Steps a statement that returns no rows and gives the number of rows it changed.
  Result<std::int64_t> run();
  // Makes the statement ready to run again with new parameters.
  void reset();

  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::optional<std::int64_t> optional_int64(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int next_param_ = 1;
  Status status_;
};

}  // namespace sqlite

class SqliteStore : public Store {
 public:
  // Opens (creating when missing) the database file at `path`, sets the connection's
  // PRAGMAs and applies pending migrations.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  ~SqliteStore() override;

  int schema_version() override;

  Result<std::string> get_meta(const std::string& key) override;
  Status set_meta(const std::string& key, const std::string& value) override;

  Result<File> create_file(const File& file) override;
  Result<File> get_file(Id id) override;
  Result<Page<File>> list_files(const FileQuery& query) override;
  Result<File> update_file(const File& file) override;
  Status delete_file(Id id) override;
  Result<std::int64_t> set_upload_offset(Id id, std::int64_t offset) override;
  Result<std::vector<File>> list_expired_uploads(TimeMs now, int limit) override;
  Result<std::vector<File>> list_companions(Id primary) override;
  Result<std::optional<File>> find_complete_file_by_name(const std::string& name) override;

  Result<Pipeline> create_pipeline(const Pipeline& pipeline) override;
  Result<Pipeline> get_pipeline(Id id) override;
  Result<std::vector<Pipeline>> list_pipelines() override;
  Result<Pipeline> update_pipeline(const Pipeline& pipeline, PipelineStatus expected) override;
  Status delete_pipeline(Id id) override;

  Result<Job> create_job(const Job& job) override;
  Result<Job> get_job(Id id) override;
  Result<Page<Job>> list_jobs(const JobQuery& query) override;
  Result<std::int64_t> count_jobs(const std::vector<JobStatus>& statuses) override;
  Result<Job> transition_job(Id id, JobStatus from, JobStatus to,
                             const JobUpdate& update = {}) override;
  Result<Job> patch_job(Id id, JobStatus expected, const JobUpdate& update) override;
  Status record_job_usage(Id id, std::int64_t memory_bytes, double cpu_seconds) override;
  Result<Job> finalize_job(Id id, const std::vector<File>& outputs,
                           const JobUpdate& update = {}) override;
  Result<std::vector<File>> delete_job(Id id) override;
  Status set_job_notify_token_hash(Id id, const std::string& sha256_hex) override;
  Result<std::string> job_notify_token_hash(Id id) override;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::mutex mu_;
};

}  // namespace pirus
