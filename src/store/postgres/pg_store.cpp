#include "store/postgres/pg_store.hpp"

#include <libpq-fe.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <utility>

#include "model/job_state_machine.hpp"
#include "store/job_messages.hpp"
#include "store/job_validation.hpp"
#include "store/row_mapping.hpp"
#include "store/store_cursor.hpp"

namespace pirus {

namespace {

using pg::Params;
using pg::Row;
using pg::Rows;

std::string str(Id id) {
  return std::to_string(id);
}

// "$first, $first+1, ..." for `n` parameters: only placeholder numbers reach the SQL.
std::string placeholders(std::size_t n, int first) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    out += "$" + std::to_string(first + static_cast<int>(i));
  }
  return out;
}

Result<bool> exists(PGconn* c, const char* sql, Id id) {
  Params p;
  p.add(id);
  auto rows = pg::exec(c, sql, p);
  if (!rows) return rows.status();
  return !rows->empty();
}

// ----- files -----

Result<std::vector<File>> query_files(PGconn* c, const std::string& sql, const Params& p) {
  auto rows = pg::exec(c, sql, p);
  if (!rows) return rows.status();
  std::vector<File> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto f = read_file_row((*rows)[i]);
    if (!f) return f.status();
    out.push_back(std::move(*f));
  }
  return out;
}

Result<File> load_file(PGconn* c, Id id) {
  Params p;
  p.add(id);
  auto files = query_files(c, std::string("SELECT ") + kFileCols + " FROM files WHERE id = $1", p);
  if (!files) return files.status();
  if (files->empty()) return Status::not_found("file " + str(id) + " not found");
  return std::move(files->front());
}

Status check_path_free(PGconn* c, const std::string& path, Id self) {
  Params p;
  p.add(path).add(self);
  auto rows = pg::exec(c, "SELECT id FROM files WHERE path = $1 AND id <> $2", p);
  if (!rows) return rows.status();
  if (!rows->empty()) {
    return Status::conflict("file " + str((*rows)[0].int64(0)) + " is already stored at that path");
  }
  return Status::ok();
}

Status check_job_exists(PGconn* c, const std::optional<Id>& id, const char* what) {
  if (!id) return Status::ok();
  auto found = exists(c, "SELECT 1 FROM jobs WHERE id = $1", *id);
  if (!found) return found.status();
  if (!*found) return Status::invalid(std::string(what) + ": job " + str(*id) + " does not exist");
  return Status::ok();
}

Status check_companion_exists(PGconn* c, const File& file) {
  if (!file.companion_of) return Status::ok();
  auto found = exists(c, "SELECT 1 FROM files WHERE id = $1", *file.companion_of);
  if (!found) return found.status();
  if (!*found)
    return Status::invalid("companion_of: file " + str(*file.companion_of) + " does not exist");
  if (*file.companion_of == file.id) return Status::invalid("a file cannot be its own companion");
  return Status::ok();
}

Result<File> insert_file(PGconn* c, const File& file) {
  PIRUS_RETURN_IF_ERROR(check_path_free(c, file.path, 0));
  PIRUS_RETURN_IF_ERROR(check_job_exists(c, file.job_source_id, "job_source_id"));
  PIRUS_RETURN_IF_ERROR(check_companion_exists(c, file));
  const TimeMs now = now_ms();
  Params p;
  p.add(file.name)
      .add(file.type)
      .add(file.path)
      .add(file.size)
      .add(file.upload_offset)
      .add(to_string(file.status))
      .add(file.sha256)
      .add(file.job_source_id)
      .add(file.tags)
      .add(now)
      .add(now)
      .add(file.companion_of)
      .add(file.expires_at)
      .add(file.expected_sha256)
      .add(file.error_reason);
  auto files = query_files(c,
                           std::string("INSERT INTO files (name, type, path, size, upload_offset, "
                                       "status, sha256, job_source_id, tags, created_at, "
                                       "updated_at, companion_of, expires_at, expected_sha256, "
                                       "error_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                                       "$9, $10, $11, $12, $13, $14, $15) RETURNING ") +
                               kFileCols,
                           p);
  if (!files) return files.status().with_context("adding a file");
  if (files->empty()) return Status::internal("adding a file returned no row");
  return std::move(files->front());
}

Status check_not_read_by_unfinished_job(PGconn* c, Id file_id) {
  Params p;
  p.add(file_id);
  auto rows = pg::exec(c,
                       "SELECT j.id, j.status FROM job_files AS l JOIN jobs AS j ON j.id = "
                       "l.job_id WHERE l.file_id = $1 AND l.role = 'input' "
                       "AND j.status NOT IN ('done', 'canceled', 'error') ORDER BY j.id LIMIT 1",
                       p);
  if (!rows) return rows.status();
  if (!rows->empty()) {
    const Row r = (*rows)[0];
    return Status::conflict("file " + str(file_id) + " is an input of job " + str(r.int64(0)) +
                            ", which is " + r.text(1));
  }
  return Status::ok();
}

// ----- pipelines -----

Result<std::vector<Pipeline>> query_pipelines(PGconn* c, const std::string& sql, const Params& p) {
  auto rows = pg::exec(c, sql, p);
  if (!rows) return rows.status();
  std::vector<Pipeline> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto pl = read_pipeline_row((*rows)[i]);
    if (!pl) return pl.status();
    out.push_back(std::move(*pl));
  }
  return out;
}

Result<Pipeline> load_pipeline(PGconn* c, Id id) {
  Params p;
  p.add(id);
  auto all = query_pipelines(
      c, std::string("SELECT ") + kPipelineCols + " FROM pipelines WHERE id = $1", p);
  if (!all) return all.status();
  if (all->empty()) return Status::not_found("pipeline " + str(id) + " not found");
  return std::move(all->front());
}

Status check_pipeline_refs(PGconn* c, const Pipeline& pl, Id self) {
  Params p;
  p.add(pl.name).add(pl.version).add(self);
  auto rows =
      pg::exec(c, "SELECT id FROM pipelines WHERE name = $1 AND version = $2 AND id <> $3", p);
  if (!rows) return rows.status();
  if (!rows->empty()) {
    return Status::conflict("pipeline " + pl.name + " " + pl.version + " already exists (id " +
                            str((*rows)[0].int64(0)) + ")");
  }
  if (pl.package_file_id) {
    auto found = exists(c, "SELECT 1 FROM files WHERE id = $1", *pl.package_file_id);
    if (!found) return found.status();
    if (!*found) {
      return Status::invalid("package file " + str(*pl.package_file_id) + " does not exist");
    }
  }
  return Status::ok();
}

// ----- jobs -----

// One query for the links of every job of a page: the ids travel as one array parameter.
Status fill_links(PGconn* c, std::vector<Job>& jobs) {
  if (jobs.empty()) return Status::ok();
  std::string ids = "{";
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (i > 0) ids += ",";
    ids += str(jobs[i].id);
  }
  ids += "}";
  Params p;
  p.add(ids);
  auto rows =
      pg::exec(c,
               "SELECT job_id, file_id, role FROM job_files WHERE job_id = ANY($1::bigint[]) "
               "ORDER BY job_id, role, position",
               p);
  if (!rows) return rows.status();
  std::map<Id, Job*> by_id;
  for (Job& j : jobs) {
    j.inputs.clear();
    j.outputs.clear();
    by_id[j.id] = &j;
  }
  for (int i = 0; i < rows->size(); ++i) {
    const Row r = (*rows)[i];
    auto it = by_id.find(r.int64(0));
    if (it == by_id.end()) continue;
    (r.text(2) == "output" ? it->second->outputs : it->second->inputs).push_back(r.int64(1));
  }
  return Status::ok();
}

Result<std::vector<Job>> query_jobs(PGconn* c, const std::string& sql, const Params& p) {
  auto rows = pg::exec(c, sql, p);
  if (!rows) return rows.status();
  std::vector<Job> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto j = read_job_row((*rows)[i]);
    if (!j) return j.status();
    out.push_back(std::move(*j));
  }
  PIRUS_RETURN_IF_ERROR(fill_links(c, out));
  return out;
}

Result<Job> load_job(PGconn* c, Id id) {
  Params p;
  p.add(id);
  auto jobs = query_jobs(c, std::string("SELECT ") + kJobCols + " FROM jobs WHERE id = $1", p);
  if (!jobs) return jobs.status();
  if (jobs->empty()) return Status::not_found("job " + str(id) + " not found");
  return std::move(jobs->front());
}

// The kConflict naming the status a racing writer left (or the error reading it).
Status moved_status(PGconn* c, Id id, JobStatus expected) {
  Params p;
  p.add(id);
  auto rows = pg::exec(c, "SELECT status FROM jobs WHERE id = $1", p);
  if (!rows) return rows.status();
  if (rows->empty()) return Status::not_found("job " + str(id) + " not found");
  auto actual = parse_job_status((*rows)[0].text(0));
  if (!actual) return Status::internal("job " + str(id) + " has an unknown status");
  return job_moved(id, *actual, expected);
}

// The compare-and-swap every status change goes through: one UPDATE guarded by the
// expected status. Under READ COMMITTED a second writer blocks on the row lock and then
// re-checks the WHERE clause against the committed row, so only one swap wins.
Result<bool> cas_update(PGconn* c, Id id, JobStatus from, JobStatus to, const JobUpdate& u) {
  Params p;
  p.add(to_string(to))
      .add(now_ms())
      .add(u.container_id)
      .add(u.path)
      .add(u.exit_code)
      .add(u.error_reason)
      .add(u.progress)
      .add(u.progress_label)
      .add(u.started_at)
      .add(u.ended_at)
      .add(id)
      .add(to_string(from));
  auto rows = pg::exec(c,
                       "UPDATE jobs SET status = $1, updated_at = $2, "
                       "container_id = COALESCE($3, container_id), path = COALESCE($4, path), "
                       "exit_code = COALESCE($5, exit_code), "
                       "error_reason = COALESCE($6, error_reason), "
                       "progress = COALESCE($7, progress), "
                       "progress_label = COALESCE($8, progress_label), "
                       "started_at = COALESCE($9, started_at), ended_at = COALESCE($10, ended_at) "
                       "WHERE id = $11 AND status = $12",
                       p);
  if (!rows) return rows.status().with_context("updating job " + str(id));
  return rows->affected() > 0;
}

Status link_file(PGconn* c, Id job_id, Id file_id, const char* role, std::int64_t position) {
  Params p;
  p.add(job_id).add(file_id).add(role).add(position);
  auto done = pg::exec(
      c, "INSERT INTO job_files (job_id, file_id, role, position) VALUES ($1, $2, $3, $4)", p);
  return done ? Status::ok() : done.status().with_context("linking file " + str(file_id));
}

Result<std::int64_t> run(PGconn* c, const char* sql, const Params& p) {
  auto rows = pg::exec(c, sql, p);
  if (!rows) return rows.status();
  return rows->affected();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// PgStore

Result<std::unique_ptr<PgStore>> PgStore::open(const std::string& url, int pool_size) {
  std::unique_ptr<PgStore> store(new PgStore(url, pool_size));
  auto lease = store->pool_.acquire();
  if (!lease) return lease.status();
  PIRUS_RETURN_IF_ERROR(apply_postgres_migrations(lease->get(), postgres_migrations())
                            .with_context("opening the PostgreSQL database"));
  return store;
}

PgStore::~PgStore() = default;

Result<pg::Pool::Lease> PgStore::begin() {
  auto lease = pool_.acquire();
  if (!lease) return lease.status();
  Status st = pg::exec_script(lease->get(), "BEGIN");
  if (st) return lease;
  if (PQstatus(lease->get()) == CONNECTION_OK) return st;
  lease->discard();
  auto fresh = pool_.acquire(true);
  if (!fresh) return fresh.status();
  PIRUS_RETURN_IF_ERROR(pg::exec_script(fresh->get(), "BEGIN"));
  return fresh;
}

int PgStore::schema_version() {
  auto v = in_tx([&](PGconn* c) { return postgres_schema_version(c); });
  return v ? *v : 0;
}

// ----- meta -----

Result<std::string> PgStore::get_meta(const std::string& key) {
  return in_tx([&](PGconn* c) -> Result<std::string> {
    Params p;
    p.add(key);
    auto rows = pg::exec(c, "SELECT value FROM meta WHERE key = $1", p);
    if (!rows) return rows.status();
    if (rows->empty()) return Status::not_found("metadata '" + key + "' is not set");
    return (*rows)[0].text(0);
  });
}

Status PgStore::set_meta(const std::string& key, const std::string& value) {
  return in_tx([&](PGconn* c) -> Status {
    Params p;
    p.add(key).add(value);
    auto done = pg::exec(c,
                         "INSERT INTO meta (key, value) VALUES ($1, $2) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         p);
    return done ? Status::ok() : done.status();
  });
}

// ----- files -----

Result<File> PgStore::create_file(const File& file) {
  return in_tx([&](PGconn* c) { return insert_file(c, file); });
}

Result<File> PgStore::get_file(Id id) {
  return in_tx([&](PGconn* c) { return load_file(c, id); });
}

Result<Page<File>> PgStore::list_files(const FileQuery& query) {
  if (query.limit < 1 || query.limit > 1000) {
    return Status::invalid("limit must be between 1 and 1000");
  }
  std::optional<std::vector<std::int64_t>> after;
  if (!query.cursor.empty()) {
    after = parse_store_cursor(query.cursor, "f1:", 2);
    if (!after) return bad_store_cursor();
  }
  Params p;
  int n = 0;
  std::string sql = std::string("SELECT ") + kFileCols + " FROM files WHERE 1 = 1";
  if (query.status) {
    sql += " AND status = $" + std::to_string(++n);
    p.add(to_string(*query.status));
  }
  if (query.job_source_id) {
    sql += " AND job_source_id = $" + std::to_string(++n);
    p.add(*query.job_source_id);
  }
  if (after) {
    sql += " AND (created_at, id) < (" + placeholders(2, n + 1) + ")";
    n += 2;
    p.add((*after)[0]).add((*after)[1]);
  }
  // One row more than asked says whether another page follows.
  sql += " ORDER BY created_at DESC, id DESC LIMIT $" + std::to_string(++n);
  p.add(query.limit + 1);

  return in_tx([&](PGconn* c) -> Result<Page<File>> {
    auto files = query_files(c, sql, p);
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

Result<File> PgStore::update_file(const File& file) {
  return in_tx([&](PGconn* c) -> Result<File> {
    auto current = load_file(c, file.id);
    if (!current) return current.status();
    PIRUS_RETURN_IF_ERROR(check_path_free(c, file.path, file.id));
    PIRUS_RETURN_IF_ERROR(check_companion_exists(c, file));
    Params p;
    p.add(file.name)
        .add(file.type)
        .add(file.path)
        .add(file.size)
        .add(file.upload_offset)
        .add(to_string(file.status))
        .add(file.sha256)
        .add(file.tags)
        .add(now_ms())
        .add(file.companion_of)
        .add(file.expires_at)
        .add(file.expected_sha256)
        .add(file.error_reason)
        .add(file.id);
    auto done = run(c,
                    "UPDATE files SET name = $1, type = $2, path = $3, size = $4, "
                    "upload_offset = $5, status = $6, sha256 = $7, tags = $8, updated_at = $9, "
                    "companion_of = $10, expires_at = $11, expected_sha256 = $12, "
                    "error_reason = $13 WHERE id = $14",
                    p);
    if (!done) return done.status().with_context("updating file " + str(file.id));
    return load_file(c, file.id);
  });
}

Status PgStore::delete_file(Id id) {
  return in_tx([&](PGconn* c) -> Status {
    auto current = load_file(c, id);
    if (!current) return current.status();
    PIRUS_RETURN_IF_ERROR(check_not_read_by_unfinished_job(c, id));
    Params p;
    p.add(id);
    auto unlinked = run(c, "DELETE FROM job_files WHERE file_id = $1", p);
    if (!unlinked) return unlinked.status();
    auto done = run(c, "DELETE FROM files WHERE id = $1", p);
    return done ? Status::ok() : done.status().with_context("deleting file " + str(id));
  });
}

Result<std::int64_t> PgStore::set_upload_offset(Id id, std::int64_t offset) {
  return in_tx([&](PGconn* c) -> Result<std::int64_t> {
    Params p;
    p.add(offset).add(now_ms()).add(id);
    auto done = run(c,
                    "UPDATE files SET upload_offset = $1, updated_at = $2 "
                    "WHERE id = $3 AND status = 'uploading' AND $1 <= size",
                    p);
    if (!done) return done.status().with_context("updating upload " + str(id));
    if (*done == 0) {
      auto current = load_file(c, id);
      if (!current) return current.status();
      return Status::conflict("file " + str(id) + " is not an unfinished upload of that size");
    }
    return offset;
  });
}

Result<std::vector<File>> PgStore::list_expired_uploads(TimeMs now, int limit) {
  return in_tx([&](PGconn* c) -> Result<std::vector<File>> {
    Params p;
    p.add(now).add(static_cast<std::int64_t>(limit));
    return query_files(c,
                       std::string("SELECT ") + kFileCols +
                           " FROM files WHERE status = 'uploading' AND expires_at > 0 AND "
                           "expires_at <= $1 ORDER BY expires_at, id LIMIT $2",
                       p);
  });
}

Result<std::vector<File>> PgStore::list_companions(Id primary) {
  return in_tx([&](PGconn* c) -> Result<std::vector<File>> {
    Params p;
    p.add(primary);
    return query_files(
        c, std::string("SELECT ") + kFileCols + " FROM files WHERE companion_of = $1 ORDER BY id",
        p);
  });
}

Result<std::optional<File>> PgStore::find_complete_file_by_name(const std::string& name) {
  return in_tx([&](PGconn* c) -> Result<std::optional<File>> {
    Params p;
    p.add(name);
    auto files = query_files(c,
                             std::string("SELECT ") + kFileCols +
                                 " FROM files WHERE name = $1 AND status IN ('uploaded', "
                                 "'checked') AND job_source_id IS NULL "
                                 "ORDER BY created_at DESC, id DESC LIMIT 1",
                             p);
    if (!files) return files.status();
    if (files->empty()) return std::optional<File>();
    return std::optional<File>(files->front());
  });
}

// ----- pipelines -----

Result<Pipeline> PgStore::create_pipeline(const Pipeline& pl) {
  return in_tx([&](PGconn* c) -> Result<Pipeline> {
    PIRUS_RETURN_IF_ERROR(check_pipeline_refs(c, pl, 0));
    const TimeMs now = now_ms();
    Params p;
    p.add(pl.name)
        .add(pl.version)
        .add(pl.type)
        .add(pl.engine)
        .add(to_string(pl.status))
        .add(pl.description)
        .add(pl.manifest_json)
        .add(pl.form_json)
        .add(documents_to_json(pl.documents))
        .add(pl.path)
        .add(pl.image)
        .add(pl.error_reason)
        .add(pl.package_file_id)
        .add(now)
        .add(now)
        .add(pl.installed_at);
    auto all = query_pipelines(
        c,
        std::string("INSERT INTO pipelines (name, version, type, engine, status, description, "
                    "manifest_json, form_json, documents_json, path, image, error_reason, "
                    "package_file_id, created_at, updated_at, installed_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                    "$16) RETURNING ") +
            kPipelineCols,
        p);
    if (!all) return all.status().with_context("adding pipeline " + pl.name);
    if (all->empty()) return Status::internal("adding a pipeline returned no row");
    return std::move(all->front());
  });
}

Result<Pipeline> PgStore::get_pipeline(Id id) {
  return in_tx([&](PGconn* c) { return load_pipeline(c, id); });
}

Result<std::vector<Pipeline>> PgStore::list_pipelines() {
  return in_tx([&](PGconn* c) {
    return query_pipelines(
        c, std::string("SELECT ") + kPipelineCols + " FROM pipelines ORDER BY id", {});
  });
}

Result<Pipeline> PgStore::update_pipeline(const Pipeline& pl, PipelineStatus expected) {
  return in_tx([&](PGconn* c) -> Result<Pipeline> {
    auto current = load_pipeline(c, pl.id);
    if (!current) return current.status();
    if (current->status != expected) {
      return Status::conflict("pipeline " + str(pl.id) + " is " +
                              std::string(to_string(current->status)) + ", not " +
                              std::string(to_string(expected)));
    }
    PIRUS_RETURN_IF_ERROR(check_pipeline_refs(c, pl, pl.id));
    Params p;
    p.add(pl.name)
        .add(pl.version)
        .add(pl.type)
        .add(pl.engine)
        .add(to_string(pl.status))
        .add(pl.description)
        .add(pl.manifest_json)
        .add(pl.form_json)
        .add(documents_to_json(pl.documents))
        .add(pl.path)
        .add(pl.image)
        .add(pl.error_reason)
        .add(pl.package_file_id)
        .add(now_ms())
        .add(pl.installed_at)
        .add(pl.id)
        .add(to_string(expected));
    auto changed = run(c,
                       "UPDATE pipelines SET name = $1, version = $2, type = $3, engine = $4, "
                       "status = $5, description = $6, manifest_json = $7, form_json = $8, "
                       "documents_json = $9, path = $10, image = $11, error_reason = $12, "
                       "package_file_id = $13, updated_at = $14, installed_at = $15 "
                       "WHERE id = $16 AND status = $17",
                       p);
    if (!changed) return changed.status().with_context("updating pipeline " + str(pl.id));
    // Another connection swapped the status between our read and this UPDATE.
    if (*changed == 0) return Status::conflict("pipeline " + str(pl.id) + " changed meanwhile");
    return load_pipeline(c, pl.id);
  });
}

Status PgStore::delete_pipeline(Id id) {
  return in_tx([&](PGconn* c) -> Status {
    Params p;
    p.add(id);
    // The row lock keeps create_job (whose foreign key check takes a share lock on the
    // pipeline) from adding a job between the check below and the delete.
    auto locked = pg::exec(c, "SELECT 1 FROM pipelines WHERE id = $1 FOR UPDATE", p);
    if (!locked) return locked.status();
    if (locked->empty()) return Status::not_found("pipeline " + str(id) + " not found");
    auto busy = pg::exec(c,
                         "SELECT id, status FROM jobs WHERE pipeline_id = $1 "
                         "AND status NOT IN ('done', 'canceled', 'error') ORDER BY id LIMIT 1",
                         p);
    if (!busy) return busy.status();
    if (!busy->empty()) {
      const Row r = (*busy)[0];
      return Status::conflict("pipeline " + str(id) + " has unfinished jobs (job " +
                              str(r.int64(0)) + " is " + r.text(1) + ")");
    }
    auto done = run(c, "DELETE FROM pipelines WHERE id = $1", p);
    return done ? Status::ok() : done.status().with_context("deleting pipeline " + str(id));
  });
}

// ----- jobs -----

Result<Job> PgStore::create_job(const Job& job) {
  PIRUS_RETURN_IF_ERROR(validate_job(job));
  return in_tx([&](PGconn* c) -> Result<Job> {
    auto pipeline = exists(c, "SELECT 1 FROM pipelines WHERE id = $1", job.pipeline_id);
    if (!pipeline) return pipeline.status();
    if (!*pipeline) return Status::invalid("pipeline " + str(job.pipeline_id) + " does not exist");
    for (Id input : job.inputs) {
      auto found = exists(c, "SELECT 1 FROM files WHERE id = $1", input);
      if (!found) return found.status();
      if (!*found) return Status::invalid("input file " + str(input) + " does not exist");
    }
    const TimeMs now = now_ms();
    Params p;
    p.add(job.pipeline_id)
        .add(job.name)
        .add(to_string(JobStatus::kWaiting))
        .add(job.priority)
        .add(job.parameters_json)
        .add(job.resources.cpus)
        .add(job.resources.memory_mb)
        .add(job.resources.pids)
        .add(job.progress)
        .add(job.progress_label)
        .add(job.path)
        .add(job.container_id)
        .add(job.exit_code)
        .add(job.error_reason)
        .add(now)
        .add(job.started_at)
        .add(job.ended_at)
        .add(now);
    auto rows = pg::exec(c,
                         "INSERT INTO jobs (pipeline_id, name, status, priority, "
                         "parameters_json, cpus, memory_mb, pids, progress, progress_label, "
                         "path, container_id, exit_code, error_reason, created_at, started_at, "
                         "ended_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                         "$10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
                         p);
    if (!rows) return rows.status().with_context("adding job " + job.name);
    if (rows->empty()) return Status::internal("adding a job returned no id");
    const Id id = (*rows)[0].int64(0);
    std::int64_t position = 0;
    for (Id input : job.inputs) {
      PIRUS_RETURN_IF_ERROR(link_file(c, id, input, "input", position++));
    }
    return load_job(c, id);
  });
}

Result<Job> PgStore::get_job(Id id) {
  return in_tx([&](PGconn* c) { return load_job(c, id); });
}

Result<Page<Job>> PgStore::list_jobs(const JobQuery& query) {
  if (query.limit < 1 || query.limit > 10000) {
    return Status::invalid("limit must be between 1 and 10000");
  }
  const bool queue = query.order == JobOrder::kQueueOrder;
  std::optional<std::vector<std::int64_t>> after;
  if (!query.cursor.empty()) {
    after = parse_store_cursor(query.cursor, job_cursor_prefix(query.order), queue ? 3 : 2);
    if (!after) return bad_store_cursor();
  }
  Params p;
  int n = 0;
  auto next = [&n]() { return "$" + std::to_string(++n); };
  std::string sql = std::string("SELECT ") + kJobCols + " FROM jobs WHERE 1 = 1";
  if (!query.statuses.empty()) {
    sql += " AND status IN (" + placeholders(query.statuses.size(), n + 1) + ")";
    n += static_cast<int>(query.statuses.size());
    for (JobStatus st : query.statuses) p.add(to_string(st));
  }
  // pipeline_id 0 stands for "its pipeline was uninstalled", stored as NULL.
  const bool orphans = query.pipeline_id && *query.pipeline_id == 0;
  if (query.pipeline_id) {
    if (orphans) {
      sql += " AND pipeline_id IS NULL";
    } else {
      sql += " AND pipeline_id = " + next();
      p.add(*query.pipeline_id);
    }
  }
  switch (query.order) {
    case JobOrder::kNewestFirst:
      if (after) {
        sql += " AND (created_at, id) < (" + next();
        sql += ", " + next() + ")";
        p.add((*after)[0]).add((*after)[1]);
      }
      sql += " ORDER BY created_at DESC, id DESC";
      break;
    case JobOrder::kOldestFirst:
      if (after) {
        sql += " AND (created_at, id) > (" + next();
        sql += ", " + next() + ")";
        p.add((*after)[0]).add((*after)[1]);
      }
      sql += " ORDER BY created_at, id";
      break;
    case JobOrder::kQueueOrder:
      if (after) {
        const std::string prio = next();
        const std::string created = next();
        const std::string id = next();
        sql += " AND (priority < " + prio + " OR (priority = " + prio +
               " AND (created_at, id) > (" + created + ", " + id + ")))";
        p.add((*after)[0]).add((*after)[1]).add((*after)[2]);
      }
      sql += " ORDER BY priority DESC, created_at, id";
      break;
  }
  sql += " LIMIT " + next();
  p.add(query.limit + 1);

  return in_tx([&](PGconn* c) -> Result<Page<Job>> {
    auto jobs = query_jobs(c, sql, p);
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

Result<std::int64_t> PgStore::count_jobs(const std::vector<JobStatus>& statuses) {
  std::string sql = "SELECT COUNT(*) FROM jobs";
  Params p;
  if (!statuses.empty()) sql += " WHERE status IN (" + placeholders(statuses.size(), 1) + ")";
  for (JobStatus st : statuses) p.add(to_string(st));
  return in_tx([&](PGconn* c) -> Result<std::int64_t> {
    auto rows = pg::exec(c, sql, p);
    if (!rows) return rows.status();
    return rows->empty() ? 0 : (*rows)[0].int64(0);
  });
}

Result<Job> PgStore::transition_job(Id id, JobStatus from, JobStatus to, const JobUpdate& update) {
  PIRUS_RETURN_IF_ERROR(validate_update(update));
  return in_tx([&](PGconn* c) -> Result<Job> {
    auto current = load_job(c, id);
    if (!current) return current.status();
    const std::string& reason = update.error_reason ? *update.error_reason : current->error_reason;
    Status legal = check_transition(from, to, reason);
    if (!legal) return about_job(legal, id);
    auto changed = cas_update(c, id, from, to, update);
    if (!changed) return changed.status();
    if (!*changed) {
      return moved_status(c, id, from);
    }
    return load_job(c, id);
  });
}

Result<Job> PgStore::patch_job(Id id, JobStatus expected, const JobUpdate& update) {
  PIRUS_RETURN_IF_ERROR(validate_update(update));
  return in_tx([&](PGconn* c) -> Result<Job> {
    auto current = load_job(c, id);
    if (!current) return current.status();
    auto changed = cas_update(c, id, expected, expected, update);
    if (!changed) return changed.status();
    if (!*changed) {
      return moved_status(c, id, expected);
    }
    return load_job(c, id);
  });
}

Status PgStore::record_job_usage(Id id, std::int64_t memory_bytes, double cpu_seconds) {
  if (memory_bytes < 0 || !(cpu_seconds >= 0)) {
    return Status::invalid("resource usage must not be negative");
  }
  return in_tx([&](PGconn* c) -> Status {
    Params p;
    p.add(memory_bytes).add(cpu_seconds).add(id);
    auto changed = run(c,
                       "UPDATE jobs SET peak_memory_bytes = GREATEST(peak_memory_bytes, $1), "
                       "cpu_seconds = GREATEST(cpu_seconds, $2) WHERE id = $3",
                       p);
    if (!changed) return changed.status().with_context("recording the usage of job " + str(id));
    if (*changed == 0) return Status::not_found("job " + str(id) + " does not exist");
    return Status::ok();
  });
}

Result<Job> PgStore::finalize_job(Id id, const std::vector<File>& outputs,
                                  const JobUpdate& update) {
  PIRUS_RETURN_IF_ERROR(validate_update(update));
  return in_tx([&](PGconn* c) -> Result<Job> {
    auto current = load_job(c, id);
    if (!current) return current.status();
    const std::string& reason = update.error_reason ? *update.error_reason : current->error_reason;
    Status legal = check_transition(JobStatus::kFinalizing, JobStatus::kDone, reason);
    if (!legal) return about_job(legal, id);
    // The swap comes first: when it fails nothing below runs, so a second finalize
    // registers nothing.
    auto changed = cas_update(c, id, JobStatus::kFinalizing, JobStatus::kDone, update);
    if (!changed) return changed.status();
    if (!*changed) {
      return moved_status(c, id, JobStatus::kFinalizing);
    }
    std::int64_t position = 0;
    for (const File& out : outputs) {
      File f = out;
      f.status = FileStatus::kChecked;
      f.job_source_id = id;
      auto added = insert_file(c, f);
      if (!added) return added.status().with_context("registering output " + f.name);
      PIRUS_RETURN_IF_ERROR(link_file(c, id, added->id, "output", position++));
    }
    return load_job(c, id);
  });
}

Result<std::vector<File>> PgStore::delete_job(Id id) {
  return in_tx([&](PGconn* c) -> Result<std::vector<File>> {
    auto current = load_job(c, id);
    if (!current) return current.status();
    if (!is_terminal(current->status)) {
      return Status::conflict("job " + str(id) + " is " + std::string(to_string(current->status)) +
                              "; only finished jobs can be deleted");
    }
    Params p;
    p.add(id);
    auto outputs = query_files(c,
                               std::string("SELECT ") + kFileCols +
                                   " FROM files WHERE job_source_id = $1 OR id IN "
                                   "(SELECT file_id FROM job_files WHERE job_id = $1 AND "
                                   "role = 'output') ORDER BY id",
                               p);
    if (!outputs) return outputs.status();
    for (const File& f : *outputs) {
      Status st = check_not_read_by_unfinished_job(c, f.id);
      if (!st) return st.with_context("job " + str(id) + " cannot be deleted");
    }
    auto done = run(c, "DELETE FROM jobs WHERE id = $1", p);
    if (!done) return done.status().with_context("deleting job " + str(id));
    for (const File& f : *outputs) {
      Params fp;
      fp.add(f.id);
      auto unlinked = run(c, "DELETE FROM job_files WHERE file_id = $1", fp);
      if (!unlinked) return unlinked.status();
      auto deleted = run(c, "DELETE FROM files WHERE id = $1", fp);
      if (!deleted) return deleted.status().with_context("deleting file " + str(f.id));
    }
    return std::move(*outputs);
  });
}

// ----- job notify tokens -----

Status PgStore::set_job_notify_token_hash(Id id, const std::string& sha256_hex) {
  return in_tx([&](PGconn* c) -> Status {
    Params p;
    p.add(sha256_hex).add(id);
    auto changed = run(c, "UPDATE jobs SET notify_token_sha256 = $1 WHERE id = $2", p);
    if (!changed) return changed.status();
    if (*changed == 0) return Status::not_found("job " + str(id) + " does not exist");
    return Status::ok();
  });
}

Result<std::string> PgStore::job_notify_token_hash(Id id) {
  return in_tx([&](PGconn* c) -> Result<std::string> {
    Params p;
    p.add(id);
    auto rows = pg::exec(c, "SELECT notify_token_sha256 FROM jobs WHERE id = $1", p);
    if (!rows) return rows.status();
    if (rows->empty()) return Status::not_found("job " + str(id) + " does not exist");
    return (*rows)[0].text(0);
  });
}

}  // namespace pirus
