#pragma once
// Store: everything Pirus persists, behind one interface. SQLite (store/sqlite/) is the
// embedded default; PostgreSQL (store/postgres/) slots in behind the same contract.
//
// Contract for every implementation:
// - Thread-safe: every method may be called concurrently from any thread. Each method is
//   one transaction: it either fully happens or not at all.
// - Errors are values: kNotFound for an unknown id, kConflict for a violated uniqueness
//   rule or a failed compare-and-swap, kInvalid for an illegal request (an illegal job
//   transition, a dangling reference), kUnavailable when the database cannot be reached.
// - Job status changes only through transition_job/finalize_job, each a compare-and-swap
//   on the current status checked against the transition table (model/job_state_machine).
// - Schema changes are versioned migrations applied by open(); see store/migrations.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/model.hpp"

namespace pirus {

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;  // empty when there is nothing after this page
};

struct FileQuery {
  std::optional<FileStatus> status;
  std::optional<Id> job_source_id;
  int limit = 100;     // 1..1000
  std::string cursor;  // from a previous Page::next_cursor
};

enum class JobOrder {
  kNewestFirst,  // created_at desc, id desc (the default listing)
  kOldestFirst,  // created_at asc, id asc
  kQueueOrder,   // priority desc, then created_at asc, id asc: the scheduler's order
};

struct JobQuery {
  std::vector<JobStatus> statuses;  // empty = any
  std::optional<Id> pipeline_id;
  JobOrder order = JobOrder::kNewestFirst;
  int limit = 100;  // 1..10000
  std::string cursor;
};

// Optional fields written together with a job transition (or a patch).
struct JobUpdate {
  std::optional<std::string> container_id;
  std::optional<std::string> path;
  std::optional<int> exit_code;
  std::optional<std::string> error_reason;
  std::optional<double> progress;
  std::optional<std::string> progress_label;
  std::optional<TimeMs> started_at;
  std::optional<TimeMs> ended_at;
};

class Store {
 public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Schema version currently applied (the number of the last migration).
  virtual int schema_version() = 0;

  // --- small key/value table for server metadata (instance id, ...) ---
  virtual Result<std::string> get_meta(const std::string& key) = 0;  // kNotFound if unset
  virtual Status set_meta(const std::string& key, const std::string& value) = 0;

  // --- files ---
  // Assigns id, created_at and updated_at. `path` must be unique (kConflict otherwise).
  virtual Result<File> create_file(const File& file) = 0;
  virtual Result<File> get_file(Id id) = 0;
  virtual Result<Page<File>> list_files(const FileQuery& query) = 0;
  // Writes every mutable field of `file` (name, type, path, size, upload_offset, status,
  // sha256, tags) and bumps updated_at.
  virtual Result<File> update_file(const File& file) = 0;
  // kConflict while the file is an input of a job that is not terminal. Links to
  // finished jobs are removed with the file.
  virtual Status delete_file(Id id) = 0;

  // --- resumable uploads and companions ---
  // Sets upload_offset only, if the file is still `uploading` and `offset` <= size;
  // kConflict otherwise (kNotFound for an unknown id). Returns the offset stored.
  virtual Result<std::int64_t> set_upload_offset(Id id, std::int64_t offset) = 0;
  // Files still `uploading` whose expires_at (non-zero) is <= `now`, oldest expiry first,
  // at most `limit`.
  virtual Result<std::vector<File>> list_expired_uploads(TimeMs now, int limit) = 0;
  // The files whose companion_of is `primary`, by id.
  virtual Result<std::vector<File>> list_companions(Id primary) = 0;
  // The newest complete (uploaded or checked) uploaded file (not a job output) named
  // exactly `name`; nullopt when there is none.
  virtual Result<std::optional<File>> find_complete_file_by_name(const std::string& name) = 0;

  // --- pipelines ---
  // Assigns id and times. (name, version) is unique: kConflict when taken.
  virtual Result<Pipeline> create_pipeline(const Pipeline& pipeline) = 0;
  virtual Result<Pipeline> get_pipeline(Id id) = 0;
  virtual Result<std::vector<Pipeline>> list_pipelines() = 0;
  // Writes every field of `pipeline` if its stored status equals `expected`
  // (compare-and-swap); kConflict otherwise.
  virtual Result<Pipeline> update_pipeline(const Pipeline& pipeline, PipelineStatus expected) = 0;
  // kConflict while the pipeline has jobs that are not terminal. Finished jobs keep
  // their rows with pipeline_id 0.
  virtual Status delete_pipeline(Id id) = 0;

  // --- jobs ---
  // Inserts the job (status waiting) and its input links. kInvalid when the pipeline or an
  // input file does not exist.
  virtual Result<Job> create_job(const Job& job) = 0;
  virtual Result<Job> get_job(Id id) = 0;
  virtual Result<Page<Job>> list_jobs(const JobQuery& query) = 0;
  virtual Result<std::int64_t> count_jobs(const std::vector<JobStatus>& statuses) = 0;
  // Compare-and-swap: moves the job from `from` to `to` and applies `update`, only if its
  // current status is `from` and the transition is legal. kConflict when the status
  // differs (someone else moved it), kInvalid for an illegal transition or an error
  // without a reason. Returns the updated job.
  virtual Result<Job> transition_job(Id id, JobStatus from, JobStatus to,
                                     const JobUpdate& update = {}) = 0;
  // Applies `update` without a status change, only if the status is still `expected`.
  virtual Result<Job> patch_job(Id id, JobStatus expected, const JobUpdate& update) = 0;
  // One transaction: finalizing -> done, each output inserted as a File (status checked,
  // job_source_id = id) and linked as an output. Either all of it happens or none:
  // outputs are registered exactly once.
  virtual Result<Job> finalize_job(Id id, const std::vector<File>& outputs,
                                   const JobUpdate& update = {}) = 0;
  // Records what the monitor measured: raises peak_memory_bytes to `memory_bytes` and
  // cpu_seconds to `cpu_seconds` where they are larger, never lowering either (a late or
  // reordered sample cannot undo a higher one). Any status; updated_at is left alone, since
  // this is a measurement and not a change of the job. kNotFound for an unknown job,
  // kInvalid for negative values.
  virtual Status record_job_usage(Id id, std::int64_t memory_bytes, double cpu_seconds) = 0;
  // Removes the job, its links and its output files' rows. kConflict unless terminal.
  // Returns the removed output files so the caller can delete their bytes.
  virtual Result<std::vector<File>> delete_job(Id id) = 0;

  // --- job notify tokens (the HTTP progress channel) ---
  // Stores the SHA-256 (hex) of the job's notify token, replacing any previous one; ""
  // clears it. Only the hash is ever stored: the token itself lives in the job's container.
  // kNotFound for an unknown job.
  virtual Status set_job_notify_token_hash(Id id, const std::string& sha256_hex) = 0;
  // The stored hash, "" when the job has none. kNotFound for an unknown job.
  virtual Result<std::string> job_notify_token_hash(Id id) = 0;
};

struct StoreOptions {
  int pool_size = 4;  // PostgreSQL: the most connections the store keeps open
};

// Opens the store named by `url`: "sqlite:///abs/path/pirus.db" (or a bare path), or a
// libpq URI "postgresql://user@host:port/db" / "postgres://..." (a unix socket directory
// as "?host=/dir"). Applies pending migrations.
Result<std::unique_ptr<Store>> open_store(const std::string& url, const StoreOptions& options = {});

// A database URL taken apart: which backend, and what to hand it (a SQLite file path, or
// the libpq URI with its scheme in lower case). kInvalid for an unknown scheme or no path.
struct DatabaseUrl {
  bool postgres = false;
  std::string target;
};
Result<DatabaseUrl> parse_database_url(const std::string& url);

// `url` with the password of its user-info part (scheme://user:password@host) replaced by
// "***", for logs and messages.
std::string redacted_database_url(const std::string& url);

}  // namespace pirus
