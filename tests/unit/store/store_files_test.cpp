// Metadata and files: CRUD, the path uniqueness rule and the deletion rules.

#include "store_fixture.hpp"

namespace pirus {
namespace {

TEST_P(StoreTest, MetaIsNotFoundUntilSet) {
  auto missing = store().get_meta("instance_id");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);

  must(store().set_meta("instance_id", "abc"));
  EXPECT_EQ(must(store().get_meta("instance_id")), "abc");
}

TEST_P(StoreTest, SetMetaOverwritesTheValue) {
  must(store().set_meta("k", "one"));
  must(store().set_meta("k", "two"));
  must(store().set_meta("other", ""));
  EXPECT_EQ(must(store().get_meta("k")), "two");
  EXPECT_EQ(must(store().get_meta("other")), "");
}

TEST_P(StoreTest, CreateFileAssignsIdAndTimesAndKeepsEveryField) {
  File f = file_value("reads.fastq.gz");
  f.type = "gz";
  f.size = 1234;
  f.upload_offset = 12;
  f.status = FileStatus::kUploading;
  f.sha256 = "ab12";
  f.tags = "sample,raw";
  const TimeMs before = now_ms();
  File created = must(store().create_file(f));

  EXPECT_GT(created.id, 0);
  EXPECT_GE(created.created_at, before);
  EXPECT_EQ(created.updated_at, created.created_at);
  File got = must(store().get_file(created.id));
  EXPECT_EQ(got.id, created.id);
  EXPECT_EQ(got.name, "reads.fastq.gz");
  EXPECT_EQ(got.type, "gz");
  EXPECT_EQ(got.path, f.path);
  EXPECT_EQ(got.size, 1234);
  EXPECT_EQ(got.upload_offset, 12);
  EXPECT_EQ(got.status, FileStatus::kUploading);
  EXPECT_EQ(got.sha256, "ab12");
  EXPECT_EQ(got.tags, "sample,raw");
  EXPECT_FALSE(got.job_source_id.has_value());
  EXPECT_EQ(got.created_at, created.created_at);

  EXPECT_NE(add_file().id, created.id);
}

TEST_P(StoreTest, GetUnknownFileIsNotFound) {
  auto r = store().get_file(42);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_P(StoreTest, CreateFileWithATakenPathIsAConflict) {
  File first = add_file();
  File dup = file_value("other");
  dup.path = first.path;
  auto r = store().create_file(dup);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  // The path is a server detail and the message may reach a client.
  EXPECT_EQ(r.status().message().find(first.path), std::string::npos);
}

TEST_P(StoreTest, CreateFileWithAnUnknownSourceJobIsInvalid) {
  File f = file_value("out.txt");
  f.job_source_id = 999;
  auto r = store().create_file(f);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
}

TEST_P(StoreTest, CreateFileWithANegativeSizeIsInvalid) {
  File f = file_value("bad");
  f.size = -1;
  auto r = store().create_file(f);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
}

TEST_P(StoreTest, UpdateFileWritesEveryMutableField) {
  Job producer = job_at(JobStatus::kDone);
  File f = file_value("a.txt");
  f.job_source_id = producer.id;
  File created = must(store().create_file(f));

  File changed = created;
  changed.name = "b.csv";
  changed.type = "csv";
  changed.path = dir() / "elsewhere/b.csv";
  changed.size = 99;
  changed.upload_offset = 99;
  changed.status = FileStatus::kChecked;
  changed.sha256 = "ff00";
  changed.tags = "t";
  changed.job_source_id = std::nullopt;  // not a mutable field: must be ignored
  changed.created_at = 1;                // neither is this
  File updated = must(store().update_file(changed));

  EXPECT_EQ(updated.name, "b.csv");
  EXPECT_EQ(updated.type, "csv");
  EXPECT_EQ(updated.path, changed.path);
  EXPECT_EQ(updated.size, 99);
  EXPECT_EQ(updated.upload_offset, 99);
  EXPECT_EQ(updated.status, FileStatus::kChecked);
  EXPECT_EQ(updated.sha256, "ff00");
  EXPECT_EQ(updated.tags, "t");
  EXPECT_EQ(updated.job_source_id, producer.id);
  EXPECT_EQ(updated.created_at, created.created_at);
  EXPECT_GE(updated.updated_at, created.updated_at);
  EXPECT_EQ(must(store().get_file(created.id)).path, changed.path);
}

TEST_P(StoreTest, UpdateUnknownFileIsNotFound) {
  File f = file_value("ghost");
  f.id = 77;
  auto r = store().update_file(f);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_P(StoreTest, UpdateFileToATakenPathIsAConflict) {
  File a = add_file("a");
  File b = add_file("b");
  b.path = a.path;
  auto r = store().update_file(b);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_NE(must(store().get_file(b.id)).path, a.path);

  // Writing a file's own path back is no conflict.
  EXPECT_TRUE(store().update_file(a).is_ok());
}

TEST_P(StoreTest, DeleteFileRemovesTheRow) {
  File f = add_file();
  must(store().delete_file(f.id));
  EXPECT_EQ(store().get_file(f.id).status().code(), Code::kNotFound);
  EXPECT_EQ(store().delete_file(f.id).code(), Code::kNotFound);
}

TEST_P(StoreTest, DeleteFileIsRefusedWhileAnUnfinishedJobReadsIt) {
  for (JobStatus status : all_job_statuses()) {
    SCOPED_TRACE(std::string(to_string(status)));
    File input = add_file("in");
    Job job = job_at(status, {input.id});
    Status st = store().delete_file(input.id);
    if (is_terminal(status)) {
      EXPECT_TRUE(st.is_ok()) << st.to_string();
      EXPECT_TRUE(must(store().get_job(job.id)).inputs.empty());
    } else {
      EXPECT_EQ(st.code(), Code::kConflict);
      EXPECT_NE(st.message().find("job " + std::to_string(job.id)), std::string::npos)
          << st.message();
      EXPECT_TRUE(store().get_file(input.id).is_ok());
      EXPECT_EQ(must(store().get_job(job.id)).inputs, std::vector<Id>{input.id});
    }
  }
}

TEST_P(StoreTest, DeleteFileUnlinksItFromFinishedJobsOnly) {
  File shared = add_file("shared");
  File other = add_file("other");
  Job done = job_at(JobStatus::kDone, {shared.id, other.id});
  must(store().delete_file(shared.id));
  EXPECT_EQ(must(store().get_job(done.id)).inputs, std::vector<Id>{other.id});
}

TEST_P(StoreTest, DeleteFileClearsThePipelinesPackageReference) {
  File package = add_file("pkg.zip");
  Pipeline p;
  p.name = "pkg";
  p.version = "1";
  p.package_file_id = package.id;
  Pipeline created = must(store().create_pipeline(p));
  ASSERT_EQ(created.package_file_id, package.id);

  must(store().delete_file(package.id));
  EXPECT_FALSE(must(store().get_pipeline(created.id)).package_file_id.has_value());
}

}  // namespace
}  // namespace pirus
