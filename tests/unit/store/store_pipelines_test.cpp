// Pipelines: CRUD, (name, version) uniqueness, the status compare-and-swap and deletion.

#include "store_fixture.hpp"

namespace pirus {
namespace {

Pipeline full_pipeline() {
  Pipeline p;
  p.name = "wordcount";
  p.version = "1.2.0";
  p.type = "importer";
  p.engine = "fake";
  p.status = PipelineStatus::kInstalling;
  p.description = "counts words";
  p.manifest_json = R"({"name":"wordcount"})";
  p.form_json = R"({"fields":[]})";
  p.documents = {{"about", "docs/about.md"}, {"icon", "icon \"quoted\".png"}};
  p.path = "/srv/pipelines/1/package";
  p.image = "img:1";
  p.error_reason = "";
  p.installed_at = 1234;
  return p;
}

TEST_P(StoreTest, CreatePipelineRoundTripsEveryField) {
  const TimeMs before = now_ms();
  Pipeline created = must(store().create_pipeline(full_pipeline()));
  EXPECT_GT(created.id, 0);
  EXPECT_GE(created.created_at, before);
  EXPECT_EQ(created.updated_at, created.created_at);

  Pipeline got = must(store().get_pipeline(created.id));
  Pipeline want = full_pipeline();
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.engine, want.engine);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.manifest_json, want.manifest_json);
  EXPECT_EQ(got.form_json, want.form_json);
  EXPECT_EQ(got.documents, want.documents);
  EXPECT_EQ(got.path, want.path);
  EXPECT_EQ(got.image, want.image);
  EXPECT_EQ(got.installed_at, 1234);
  EXPECT_FALSE(got.package_file_id.has_value());
}

TEST_P(StoreTest, CreatePipelineWithATakenNameAndVersionIsAConflict) {
  add_pipeline("wordcount", "1.0.0");
  auto dup = store().create_pipeline([] {
    Pipeline p;
    p.name = "wordcount";
    p.version = "1.0.0";
    return p;
  }());
  ASSERT_FALSE(dup.is_ok());
  EXPECT_EQ(dup.status().code(), Code::kConflict);

  // Another version, or another name with that version, is a different pipeline.
  EXPECT_NO_THROW(add_pipeline("wordcount", "1.0.1"));
  EXPECT_NO_THROW(add_pipeline("linecount", "1.0.0"));
  EXPECT_EQ(must(store().list_pipelines()).size(), 3u);
}

TEST_P(StoreTest, CreatePipelineWithAnUnknownPackageFileIsInvalid) {
  Pipeline p = full_pipeline();
  p.package_file_id = 404;
  auto r = store().create_pipeline(p);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_TRUE(must(store().list_pipelines()).empty());
}

TEST_P(StoreTest, GetUnknownPipelineIsNotFound) {
  EXPECT_EQ(store().get_pipeline(5).status().code(), Code::kNotFound);
}

TEST_P(StoreTest, ListPipelinesReturnsThemAllInIdOrder) {
  EXPECT_TRUE(must(store().list_pipelines()).empty());
  Id a = add_pipeline("b", "1").id;
  Id b = add_pipeline("a", "1").id;
  Id c = add_pipeline("a", "2").id;
  auto all = must(store().list_pipelines());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_EQ(all[1].id, b);
  EXPECT_EQ(all[2].id, c);
}

TEST_P(StoreTest, UpdatePipelineWritesEveryFieldWhenTheStatusMatches) {
  File package = add_file("pkg.zip");
  Pipeline created = must(store().create_pipeline(full_pipeline()));
  Pipeline p = created;
  p.status = PipelineStatus::kReady;
  p.image = "img:2";
  p.description = "new";
  p.documents = {{"readme", "README.md"}};
  p.package_file_id = package.id;
  p.installed_at = 5678;
  p.created_at = 1;  // assigned by the store, not writable
  Pipeline updated = must(store().update_pipeline(p, PipelineStatus::kInstalling));

  EXPECT_EQ(updated.status, PipelineStatus::kReady);
  EXPECT_EQ(updated.image, "img:2");
  EXPECT_EQ(updated.description, "new");
  EXPECT_EQ((std::map<std::string, std::string>{{"readme", "README.md"}}), updated.documents);
  EXPECT_EQ(updated.package_file_id, package.id);
  EXPECT_EQ(updated.installed_at, 5678);
  EXPECT_EQ(updated.created_at, created.created_at);
  EXPECT_GE(updated.updated_at, created.updated_at);
  EXPECT_EQ(must(store().get_pipeline(created.id)).image, "img:2");
}

TEST_P(StoreTest, UpdatePipelineWithAStaleStatusIsAConflictAndChangesNothing) {
  Pipeline created = must(store().create_pipeline(full_pipeline()));  // installing
  Pipeline p = created;
  p.status = PipelineStatus::kError;
  p.error_reason = "late";
  auto r = store().update_pipeline(p, PipelineStatus::kReady);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  Pipeline got = must(store().get_pipeline(created.id));
  EXPECT_EQ(got.status, PipelineStatus::kInstalling);
  EXPECT_EQ(got.error_reason, "");
}

TEST_P(StoreTest, UpdateUnknownPipelineIsNotFound) {
  Pipeline p = full_pipeline();
  p.id = 31;
  EXPECT_EQ(store().update_pipeline(p, PipelineStatus::kInstalling).status().code(),
            Code::kNotFound);
}

TEST_P(StoreTest, UpdatePipelineToATakenNameAndVersionIsAConflict) {
  add_pipeline("a", "1");
  Pipeline b = add_pipeline("b", "1");
  b.name = "a";
  auto r = store().update_pipeline(b, PipelineStatus::kReady);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(must(store().get_pipeline(b.id)).name, "b");
}

TEST_P(StoreTest, DeletePipelineIsRefusedWhileItHasUnfinishedJobs) {
  for (JobStatus status : all_job_statuses()) {
    SCOPED_TRACE(std::string(to_string(status)));
    Job job = job_at(status);
    Status st = store().delete_pipeline(job.pipeline_id);
    if (is_terminal(status)) {
      EXPECT_TRUE(st.is_ok()) << st.to_string();
    } else {
      EXPECT_EQ(st.code(), Code::kConflict);
      EXPECT_TRUE(store().get_pipeline(job.pipeline_id).is_ok());
    }
  }
}

TEST_P(StoreTest, DeletePipelineKeepsFinishedJobsWithPipelineIdZero) {
  Pipeline p = add_pipeline();
  Job done = drive(add_job(p.id).id, JobStatus::kDone);
  Job failed = drive(add_job(p.id).id, JobStatus::kError);
  must(store().delete_pipeline(p.id));

  EXPECT_EQ(store().get_pipeline(p.id).status().code(), Code::kNotFound);
  EXPECT_EQ(must(store().get_job(done.id)).pipeline_id, 0);
  EXPECT_EQ(must(store().get_job(failed.id)).pipeline_id, 0);
  EXPECT_EQ(store().delete_pipeline(p.id).code(), Code::kNotFound);
}

}  // namespace
}  // namespace pirus
