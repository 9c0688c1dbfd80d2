#pragma once
// The PostgreSQL Store, on libpq. A small pool of connections serves the threads; each
// public method runs as one transaction on one pooled connection (READ COMMITTED: the
// compare-and-swaps are single UPDATEs whose WHERE clause PostgreSQL re-checks after a
// concurrent writer commits, so exactly one of several racing swaps changes the row).
// Every value travels as a bound parameter (PQexecParams); SQL text is never built from
// values. A connection that breaks is dropped from the pool and replaced on a later call,
// so the store comes back by itself when the server does.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"

struct pg_conn;
struct pg_result;

namespace pirus {

namespace pg {

// Parameters of one statement, sent as text ($1, $2... in order of add()).
class Params {
 public:
  Params& add(std::int64_t v);
  Params& add(int v) { return add(static_cast<std::int64_t>(v)); }
  Params& add(double v);
  Params& add(std::string_view v);
  Params& add(const std::string& v) { return add(std::string_view(v)); }
  Params& add(const char* v) { return add(std::string_view(v)); }
  Params& add(std::nullopt_t);
  template <typename T>
  Params& add(const std::optional<T>& v) {
    return v ? add(*v) : add(std::nullopt);
  }

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

// One row of a result, read with the same accessors as the SQLite statement.
class Row {
 public:
  Row(const pg_result* res, int row) : res_(res), row_(row) {}
  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::optional<std::int64_t> optional_int64(int col) const;

 private:
  const pg_result* res_;
  int row_;
};

// The result of a statement that succeeded.
class Rows {
 public:
  explicit Rows(pg_result* res);
  ~Rows();
  Rows(Rows&& other) noexcept;
  Rows& operator=(Rows&&) = delete;
  Rows(const Rows&) = delete;

  int size() const;
  bool empty() const { return size() == 0; }
  Row operator[](int row) const { return Row(res_, row); }
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t affected() const;

 private:
  pg_result* res_;
};

// Runs one statement with bound parameters. Errors map to Status codes: unique violations
// kConflict, other integrity violations and bad input kInvalid, a lost or refused
// connection (and a server shutting down) kUnavailable, the rest kInternal.
Result<Rows> exec(pg_conn* conn, std::string_view sql, const Params& params = {});

// Runs SQL without parameters (DDL, BEGIN...), possibly several statements. Never give it
// values.
Status exec_script(pg_conn* conn, std::string_view sql);

// A fresh connection to `url` (a libpq conninfo URI or key=value string), with a connect
// timeout unless the URL sets one. kUnavailable when the server cannot be reached.
Result<pg_conn*> connect(const std::string& url);

// The connection pool: at most `size` connections, created on demand; a caller waits for
// one when all are busy.
class Pool {
 public:
  Pool(std::string url, int size);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection that goes back to the pool when destroyed, or is closed instead when it
  // is broken or was left inside a transaction.
  class Lease {
   public:
    Lease(Pool* pool, pg_conn* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(o.conn_) { o.conn_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pg_conn* get() const { return conn_; }
    // Closes the connection now instead of returning it.
    void discard();

   private:
    Pool* pool_;
    pg_conn* conn_;
  };

  // A pooled connection; `fresh` skips idle ones (which may have died unnoticed).
  Result<Lease> acquire(bool fresh = false);

 private:
  void release(pg_conn* conn);

  const std::string url_;
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pg_conn*> idle_;
  int open_ = 0;  // idle + leased
};

}  // namespace pg

// The PostgreSQL schema history, oldest first (the same versions as SQLite's).
const std::vector<Migration>& postgres_migrations();

// Applies pending migrations on `conn`, holding a session advisory lock so that servers
// starting together do not migrate at once; each migration is one transaction with its
// schema_migrations row. Refuses a database written by a newer Pirus.
Status apply_postgres_migrations(pg_conn* conn, const std::vector<Migration>& migrations);
// The highest applied version (0 for an empty database; no table is created).
Result<int> postgres_schema_version(pg_conn* conn);

class PgStore : public Store {
 public:
  // Connects to `url`, applies pending migrations and keeps up to `pool_size` connections.
  static Result<std::unique_ptr<PgStore>> open(const std::string& url, int pool_size);
  ~PgStore() override;

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

  // Runs `fn(pg_conn*)` (returning Status or Result<T>) in one transaction on a pooled
  // connection, committing only when it succeeds.
  template <typename F>
  auto in_tx(F&& fn) -> decltype(fn(static_cast<pg_conn*>(nullptr)));

 private:
  PgStore(const std::string& url, int pool_size) : pool_(url, pool_size) {}
  // BEGIN on a pooled connection, retried once on a fresh connection when the pooled one
  // turns out to be dead (the server restarted since it was last used): nothing has run
  // yet, so the retry is safe.
  Result<pg::Pool::Lease> begin();

  pg::Pool pool_;
};

template <typename F>
auto PgStore::in_tx(F&& fn) -> decltype(fn(static_cast<pg_conn*>(nullptr))) {
  auto lease = begin();
  if (!lease) return lease.status().with_context("starting a transaction");
  auto result = fn(lease->get());
  if (!result.is_ok()) {
    // A failed ROLLBACK (the connection died) leaves it inside a transaction: the lease
    // then closes it rather than pooling it.
    (void)pg::exec_script(lease->get(), "ROLLBACK");
    return result;
  }
  Status st = pg::exec_script(lease->get(), "COMMIT");
  if (!st) return st.with_context("committing");
  return result;
}

}  // namespace pirus
