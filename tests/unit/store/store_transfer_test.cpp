// `pirus db export/import` underneath: a database filled through the Store API moves
// between SQLite and PostgreSQL with every field, id and link intact.

#include "store/store_transfer.hpp"

#include <sstream>

#include "store_fixture.hpp"
#include "support/postgres_server.hpp"

namespace pirus {
namespace {

using testing::PostgresServer;
using testing::TempDir;
using S = JobStatus;

// The ids a fill produced, for the checks that follow an import.
struct Filled {
  Id deleted_file = 0;  // the highest file id ever handed out, deleted before the export
  Id deleted_job = 0;
};

File file(const std::string& name, FileStatus status) {
  File f;
  f.name = name;
  f.type = "txt";
  f.path = "/data/files/" + name;
  f.size = 10;
  f.upload_offset = status == FileStatus::kUploading ? 0 : 10;
  f.status = status;
  return f;
}

Job walk(Store& s, Job j, std::initializer_list<S> path, JobUpdate last = {}) {
  for (S next : path) {
    JobUpdate u = next == *(path.end() - 1) ? last : JobUpdate{};
    j = must(s.transition_job(j.id, j.status, next, u));
  }
  return j;
}

Filled fill(Store& s) {
  Filled out;
  must(s.set_meta("instance_id", "0123456789abcdef"));
  must(s.set_meta("note", "ünïcødé \"quoted\"\nnew line"));

  File reads = file("reads.fq", FileStatus::kUploaded);
  reads.sha256 = std::string(64, 'a');
  reads.tags = "sample=1,run=2";
  reads = must(s.create_file(reads));
  File upload = file("partial.bam", FileStatus::kUploading);
  upload.size = 1000;
  upload.expires_at = 1900000000000;
  upload.expected_sha256 = std::string(64, 'b');
  upload = must(s.create_file(upload));
  must(s.set_upload_offset(upload.id, 400));
  File index = file("reads.fq.fai", FileStatus::kChecked);
  index.companion_of = reads.id;
  index = must(s.create_file(index));
  File broken = file("broken.txt", FileStatus::kError);
  broken.error_reason = "checksum mismatch";
  must(s.create_file(broken));

  Pipeline ready;
  ready.name = "seqstats";
  ready.version = "1.0.0";
  ready.status = PipelineStatus::kReady;
  ready.description = "counts";
  ready.manifest_json = R"({"name":"seqstats"})";
  ready.form_json = R"({"fields":[]})";
  ready.documents = {{"readme", "README.md"}, {"icon", "icon.png"}};
  ready.path = "/data/pipelines/1";
  ready.image = "pirus/seqstats:1.0.0";
  ready.package_file_id = reads.id;
  ready.installed_at = 1700000000123;
  ready = must(s.create_pipeline(ready));
  Pipeline failed;
  failed.name = "broken";
  failed.version = "0.1";
  failed.status = PipelineStatus::kError;
  failed.error_reason = "build failed";
  must(s.create_pipeline(failed));
  Pipeline gone;
  gone.name = "gone";
  gone.version = "1";
  gone.status = PipelineStatus::kReady;
  gone = must(s.create_pipeline(gone));

  Job waiting;
  waiting.pipeline_id = ready.id;
  waiting.name = "waiting";
  waiting.priority = 5;
  waiting.parameters_json = R"({"min_length":3})";
  waiting.resources = {1.5, 512, 64};
  waiting.inputs = {reads.id, index.id};
  must(s.create_job(waiting));

  Job running = waiting;
  running.name = "running";
  running.priority = -2;
  running.inputs = {reads.id};
  running = must(s.create_job(running));
  JobUpdate start;
  start.container_id = "c0ffee";
  start.path = "/data/jobs/2";
  start.started_at = 1700000001000;
  start.progress = 0.25;
  start.progress_label = "step 1/4";
  walk(s, running, {S::kInitializing, S::kRunning}, start);
  must(s.record_job_usage(running.id, 123456789, 12.345678901234));
  must(s.set_job_notify_token_hash(running.id, std::string(64, 'c')));

  Job done = waiting;
  done.name = "done";
  done.inputs = {reads.id};
  done = walk(s, must(s.create_job(done)), {S::kInitializing, S::kRunning, S::kFinalizing});
  File report = file("report.txt", FileStatus::kUploaded);
  File log = file("run.log", FileStatus::kUploaded);
  JobUpdate finish;
  finish.exit_code = 0;
  finish.ended_at = 1700000002000;
  finish.progress = 1;
  must(s.finalize_job(done.id, {report, log}, finish));

  Job error = waiting;
  error.name = "error";
  JobUpdate why;
  why.error_reason = "exit code 3";
  why.exit_code = 3;
  walk(s, must(s.create_job(error)), {S::kInitializing, S::kError}, why);

  Job orphan = waiting;
  orphan.pipeline_id = gone.id;
  orphan.name = "orphan";
  orphan.inputs = {};
  walk(s, must(s.create_job(orphan)), {S::kCanceled});
  must(s.delete_pipeline(gone.id));  // its job keeps pipeline_id 0

  Job doomed = orphan;
  doomed.pipeline_id = ready.id;
  doomed = walk(s, must(s.create_job(doomed)), {S::kCanceled});
  out.deleted_job = doomed.id;
  must(s.delete_job(doomed.id));
  out.deleted_file = must(s.create_file(file("temp.txt", FileStatus::kUploaded))).id;
  must(s.delete_file(out.deleted_file));
  return out;
}

void expect_same(const File& a, const File& b) {
  SCOPED_TRACE("file " + std::to_string(a.id));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.upload_offset, b.upload_offset);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.job_source_id, b.job_source_id);
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.companion_of, b.companion_of);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.expected_sha256, b.expected_sha256);
  EXPECT_EQ(a.error_reason, b.error_reason);
}

void expect_same(const Pipeline& a, const Pipeline& b) {
  SCOPED_TRACE("pipeline " + std::to_string(a.id));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.engine, b.engine);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.manifest_json, b.manifest_json);
  EXPECT_EQ(a.form_json, b.form_json);
  EXPECT_EQ(a.documents, b.documents);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.image, b.image);
  EXPECT_EQ(a.error_reason, b.error_reason);
  EXPECT_EQ(a.package_file_id, b.package_file_id);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.installed_at, b.installed_at);
}

void expect_same(const Job& a, const Job& b) {
  SCOPED_TRACE("job " + std::to_string(a.id));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.pipeline_id, b.pipeline_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.parameters_json, b.parameters_json);
  EXPECT_EQ(a.resources.cpus, b.resources.cpus);
  EXPECT_EQ(a.resources.memory_mb, b.resources.memory_mb);
  EXPECT_EQ(a.resources.pids, b.resources.pids);
  EXPECT_EQ(a.progress, b.progress);
  EXPECT_EQ(a.progress_label, b.progress_label);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.container_id, b.container_id);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.error_reason, b.error_reason);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.outputs, b.outputs);
  EXPECT_EQ(a.peak_memory_bytes, b.peak_memory_bytes);
  EXPECT_EQ(a.cpu_seconds, b.cpu_seconds);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.ended_at, b.ended_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

void expect_same_database(Store& a, Store& b) {
  EXPECT_EQ(a.schema_version(), b.schema_version());
  for (const char* key : {"instance_id", "note"})
    EXPECT_EQ(must(a.get_meta(key)), must(b.get_meta(key)));

  FileQuery fq;
  fq.limit = 1000;
  auto files_a = must(a.list_files(fq)).items;
  auto files_b = must(b.list_files(fq)).items;
  ASSERT_EQ(files_a.size(), files_b.size());
  ASSERT_EQ(files_a.size(), 6u);
  for (std::size_t i = 0; i < files_a.size(); ++i) {
    expect_same(files_a[i], files_b[i]);
    expect_same(files_a[i], must(b.get_file(files_a[i].id)));
    auto comp_a = must(a.list_companions(files_a[i].id));
    auto comp_b = must(b.list_companions(files_a[i].id));
    ASSERT_EQ(comp_a.size(), comp_b.size());
    for (std::size_t k = 0; k < comp_a.size(); ++k) expect_same(comp_a[k], comp_b[k]);
  }
  auto expired_a = must(a.list_expired_uploads(2000000000000, 10));
  auto expired_b = must(b.list_expired_uploads(2000000000000, 10));
  ASSERT_EQ(expired_a.size(), 1u);
  ASSERT_EQ(expired_b.size(), 1u);
  expect_same(expired_a[0], expired_b[0]);

  auto pipes_a = must(a.list_pipelines());
  auto pipes_b = must(b.list_pipelines());
  ASSERT_EQ(pipes_a.size(), pipes_b.size());
  ASSERT_EQ(pipes_a.size(), 2u);
  for (std::size_t i = 0; i < pipes_a.size(); ++i) expect_same(pipes_a[i], pipes_b[i]);

  for (JobOrder order : {JobOrder::kNewestFirst, JobOrder::kQueueOrder}) {
    JobQuery q;
    q.order = order;
    q.limit = 10000;
    auto jobs_a = must(a.list_jobs(q)).items;
    auto jobs_b = must(b.list_jobs(q)).items;
    ASSERT_EQ(jobs_a.size(), jobs_b.size());
    ASSERT_EQ(jobs_a.size(), 5u);
    for (std::size_t i = 0; i < jobs_a.size(); ++i) {
      expect_same(jobs_a[i], jobs_b[i]);
      expect_same(jobs_a[i], must(b.get_job(jobs_a[i].id)));
      EXPECT_EQ(must(a.job_notify_token_hash(jobs_a[i].id)),
                must(b.job_notify_token_hash(jobs_a[i].id)));
    }
  }
  for (S st : all_job_statuses()) EXPECT_EQ(must(a.count_jobs({st})), must(b.count_jobs({st})));
}

// Exports `from`, imports into `to`, and checks the copy, then that ids go on growing.
void transfer_and_check(const std::string& from, const std::string& to) {
  auto source = must(open_store(from));
  Filled filled = fill(*source);
  std::stringstream doc;
  auto exported = export_database(from, doc);
  ASSERT_TRUE(exported.is_ok()) << exported.status().to_string();
  EXPECT_EQ(exported->schema_version, 4);
  std::stringstream again(doc.str());
  auto imported = import_database(to, again);
  ASSERT_TRUE(imported.is_ok()) << imported.status().to_string();
  EXPECT_EQ(imported->rows, exported->rows);

  auto target = must(open_store(to));
  expect_same_database(*source, *target);
  // No id is handed out twice, even those of rows deleted before the export.
  EXPECT_GT(must(target->create_file(file("new.txt", FileStatus::kUploaded))).id,
            filled.deleted_file);
  Job j;
  j.pipeline_id = must(target->list_pipelines()).front().id;
  j.name = "new";
  EXPECT_GT(must(target->create_job(j)).id, filled.deleted_job);
  Pipeline p;
  p.name = "new";
  p.version = "1";
  EXPECT_GT(must(target->create_pipeline(p)).id, 3);

  // A second import finds the target in use and changes nothing.
  std::stringstream third(doc.str());
  auto refused = import_database(to, third);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), Code::kConflict);
  EXPECT_NE(refused.status().message().find("not empty"), std::string::npos);
}

TEST(StoreTransfer, SqliteToPostgresKeepsEveryField) {
  TempDir dir;
  transfer_and_check("sqlite://" + dir / "pirus.db", PostgresServer::shared().fresh_url());
}

TEST(StoreTransfer, PostgresToSqliteKeepsEveryField) {
  TempDir dir;
  transfer_and_check(PostgresServer::shared().fresh_url(), "sqlite://" + dir / "pirus.db");
}

TEST(StoreTransfer, ExportsAreDeterministic) {
  TempDir dir;
  const std::string url = "sqlite://" + dir / "pirus.db";
  fill(*must(open_store(url)));
  std::stringstream a;
  std::stringstream b;
  ASSERT_TRUE(export_database(url, a).is_ok());
  ASSERT_TRUE(export_database(url, b).is_ok());
  auto without_time = [](std::string s) { return s.substr(s.find('\n')); };
  EXPECT_EQ(without_time(a.str()), without_time(b.str()));
}

TEST(StoreTransfer, ABadDocumentImportsNothing) {
  TempDir dir;
  const std::string from = "sqlite://" + dir / "from.db";
  fill(*must(open_store(from)));
  std::stringstream doc;
  ASSERT_TRUE(export_database(from, doc).is_ok());
  const std::string good = doc.str();
  const std::string header = good.substr(0, good.find('\n') + 1);

  const std::string truncated = good.substr(0, good.rfind("{\"end\""));
  std::string dangling = good;  // a job input that does not exist
  const std::string input = "\"job_id\":1,\"file_id\":1";
  ASSERT_NE(dangling.find(input), std::string::npos);
  dangling.replace(dangling.find(input), input.size(), "\"job_id\":1,\"file_id\":999");
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"size\":10"), 9, "\"size\":\"10\"");
  const struct {
    const char* what;
    std::string text;
    const char* message;
  } cases[] = {
      {"empty", "", "empty"},
      {"not json", "hello\n", "not a Pirus database export"},
      {"truncated", truncated, "truncated"},
      {"dangling reference", dangling, "job_files"},
      {"wrong type", wrong_type, "must be an integer"},
      {"other schema",
       "{\"format\":\"pirus-db-export\",\"format_version\":1,\"schema_version\":3}\n",
       "schema version 3"},
      {"other format",
       "{\"format\":\"pirus-db-export\",\"format_version\":2,\"schema_version\":4}\n",
       "format version"},
      {"unknown table", header + "{\"table\":\"users\",\"row\":{}}\n", "unknown table"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    for (const std::string& to : {"sqlite://" + dir / (std::string("to-") + c.what + ".db"),
                                  PostgresServer::shared().fresh_url()}) {
      std::stringstream in(c.text);
      auto r = import_database(to, in);
      ASSERT_FALSE(r.is_ok()) << to;
      EXPECT_EQ(r.status().code(), Code::kInvalid) << r.status().to_string();
      EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
      auto target = must(open_store(to));
      EXPECT_TRUE(must(target->list_pipelines()).empty()) << "nothing half-imported";
      EXPECT_TRUE(must(target->list_files({})).items.empty());
      EXPECT_EQ(target->get_meta("instance_id").status().code(), Code::kNotFound);
    }
  }
}

}  // namespace
}  // namespace pirus
