// JobService::create: everything a request is checked against before a job exists.
#include <gtest/gtest.h>

#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

class JobCreate : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    // Nothing may start during these tests: they look at waiting jobs only.
    config().max_running_jobs = 0;
  }

  NewJobRequest request(Id pipeline_id, json::object params = {}) {
    NewJobRequest r;
    r.pipeline_id = pipeline_id;
    r.parameters = std::move(params);
    return r;
  }
  std::int64_t job_count() { return must(store_->count_jobs({})); }
};

TEST_F(JobCreate, UnknownPipelineIsInvalid) {
  auto r = create(request(4242));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("4242"), std::string::npos) << r.status().message();
  EXPECT_EQ(job_count(), 0);
}

TEST_F(JobCreate, PipelineNotReadyIsConflict) {
  for (auto s : {PipelineStatus::kInstalling, PipelineStatus::kError}) {
    Pipeline p = add_pipeline("{}", kManifest, s, "p" + std::string(to_string(s)));
    auto r = create(request(p.id));
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), Code::kConflict) << to_string(s);
    EXPECT_NE(r.status().message().find("not ready"), std::string::npos);
  }
  EXPECT_EQ(job_count(), 0);
}

TEST_F(JobCreate, UnknownInputIsInvalid) {
  Pipeline p = add_pipeline();
  NewJobRequest r = request(p.id);
  r.inputs = {import("a.txt", "a").id, 999};
  auto created = create(r);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), Code::kInvalid);
  EXPECT_NE(created.status().message().find("999"), std::string::npos);
  EXPECT_EQ(job_count(), 0);
}

TEST_F(JobCreate, DuplicateInputIsInvalid) {
  Pipeline p = add_pipeline();
  File f = import("a.txt", "a");
  NewJobRequest r = request(p.id);
  r.inputs = {f.id, f.id};
  auto created = create(r);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), Code::kInvalid);
  EXPECT_NE(created.status().message().find("twice"), std::string::npos);
  EXPECT_EQ(job_count(), 0);
}

TEST_F(JobCreate, IncompleteUploadIsNotAUsableInput) {
  Pipeline p = add_pipeline();
  File partial;
  partial.name = "partial.fq";
  partial.path = data("files/partial");
  partial.size = 100;
  partial.upload_offset = 10;
  partial.status = FileStatus::kUploading;
  partial = must(store_->create_file(partial));
  NewJobRequest r = request(p.id);
  r.inputs = {partial.id};
  auto created = create(r);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), Code::kInvalid);
  EXPECT_NE(created.status().message().find("uploading"), std::string::npos);
}

TEST_F(JobCreate, ParametersAreValidatedAndDefaultsFilled) {
  Pipeline p = add_pipeline(kSeqstatsForm);
  Job j = must(create(request(p.id, {{"min_length", 50}, {"format", "fastq"}})));
  EXPECT_EQ(j.status, JobStatus::kWaiting);
  json::value stored = json::parse(job(j.id).parameters_json);
  EXPECT_EQ(stored, json::parse(R"({"min_length":50,"report_title":"Sequence statistics",)"
                                R"("format":"fastq","fail":false})"));
}

TEST_F(JobCreate, InvalidParametersAreRefusedNamingTheKey) {
  Pipeline p = add_pipeline(kSeqstatsForm);
  struct Case {
    json::object params;
    std::string key;
  };
  std::vector<Case> cases = {
      {{{"min_length", -1}}, "min_length"},
      {{{"min_length", "ten"}}, "min_length"},
      {{{"format", "bam"}}, "format"},
      {{{"no_such_key", 1}}, "no_such_key"},
  };
  for (const auto& c : cases) {
    auto r = create(request(p.id, c.params));
    ASSERT_FALSE(r.is_ok()) << json::serialize(c.params);
    EXPECT_EQ(r.status().code(), Code::kInvalid);
    EXPECT_NE(r.status().message().find(c.key), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(job_count(), 0);
}

TEST_F(JobCreate, EmptyFormAcceptsOnlyNoParameters) {
  Pipeline p = add_pipeline("{}");
  EXPECT_TRUE(create(request(p.id)).is_ok());
  EXPECT_EQ(create(request(p.id, {{"x", 1}})).status().code(), Code::kInvalid);
}

TEST_F(JobCreate, ResourcesDefaultsAreApplied) {
  Pipeline p = add_pipeline();
  config().job_cpus = 2;
  config().job_memory_mb = 512;
  config().job_pids = 100;
  Job j = must(create(request(p.id)));
  Job stored = job(j.id);
  EXPECT_DOUBLE_EQ(stored.resources.cpus, 2);
  EXPECT_EQ(stored.resources.memory_mb, 512);
  EXPECT_EQ(stored.resources.pids, 100);
}

TEST_F(JobCreate, ResourcesWithinTheLimitsAreKept) {
  Pipeline p = add_pipeline();
  NewJobRequest r = request(p.id);
  r.resources = {2.5, 256, 64};
  Job stored = job(must(create(r)).id);
  EXPECT_DOUBLE_EQ(stored.resources.cpus, 2.5);
  EXPECT_EQ(stored.resources.memory_mb, 256);
  EXPECT_EQ(stored.resources.pids, 64);
}

TEST_F(JobCreate, ResourcesBeyondTheMaximumsAreRefused) {
  Pipeline p = add_pipeline();
  config().max_job_cpus = 4;
  config().max_job_memory_mb = 4096;
  config().max_job_pids = 1000;
  struct Case {
    Resources r;
    std::string word;
  };
  std::vector<Case> cases = {
      {{4.5, 0, 0}, "cpus"},
      {{0, 4097, 0}, "memory_mb"},
      {{0, 0, 1001}, "pids"},
      {{-1, 0, 0}, "positive"},
      {{0, 5, 0}, "memory_mb"},
      {{0, 0, 7}, "pids"},
      {{std::nan(""), 0, 0}, "resources"},
  };
  for (const auto& c : cases) {
    NewJobRequest r = request(p.id);
    r.resources = c.r;
    auto created = create(r);
    ASSERT_FALSE(created.is_ok()) << c.r.cpus << " " << c.r.memory_mb << " " << c.r.pids;
    EXPECT_EQ(created.status().code(), Code::kInvalid);
    EXPECT_NE(created.status().message().find(c.word), std::string::npos)
        << created.status().message();
  }
  NewJobRequest at_max = request(p.id);
  at_max.resources = {4, 4096, 1000};
  EXPECT_TRUE(create(at_max).is_ok()) << "the maximum itself is allowed";
  EXPECT_EQ(job_count(), 1);
}

TEST_F(JobCreate, NameDefaultsToThePipelineNameAndLongNamesAreRefused) {
  Pipeline p = add_pipeline();
  Job j = must(create(request(p.id)));
  EXPECT_EQ(j.name.rfind("demo ", 0), 0u) << j.name;
  NewJobRequest r = request(p.id);
  r.name = std::string(201, 'x');
  EXPECT_EQ(create(r).status().code(), Code::kInvalid);
  r.name = "my run";
  EXPECT_EQ(must(create(r)).name, "my run");
}

TEST_F(JobCreate, CreatedJobIsWaitingWithItsInputsAndPublished) {
  Pipeline p = add_pipeline();
  File a = import("a.txt", "a");
  File b = import("b.txt", "b");
  NewJobRequest r = request(p.id);
  r.inputs = {b.id, a.id};
  r.priority = 7;
  Job j = must(create(r));
  Job stored = job(j.id);
  EXPECT_EQ(stored.status, JobStatus::kWaiting);
  EXPECT_EQ(stored.inputs, (std::vector<Id>{b.id, a.id}));
  EXPECT_EQ(stored.priority, 7);
  EXPECT_EQ(statuses_published(j.id), std::vector<std::string>{"waiting"});
  idle(50ms);
  EXPECT_EQ(status_of(j.id), JobStatus::kWaiting) << "no slot: max_running_jobs is 0";
}

}  // namespace
}  // namespace pirus::core_test
