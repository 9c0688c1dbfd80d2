// Jobs: creation, every transition compare-and-swap path, patches, finalization and
// deletion.

#include "model/job_state_machine.hpp"
#include "store_fixture.hpp"

namespace pirus {
namespace {

using S = JobStatus;

TEST_P(StoreTest, CreateJobStartsWaitingWithItsInputsInOrder) {
  Pipeline p = add_pipeline();
  File a = add_file("a");
  File b = add_file("b");
  Job j;
  j.pipeline_id = p.id;
  j.name = "count";
  j.status = S::kRunning;  // ignored: every job starts waiting
  j.priority = 7;
  j.parameters_json = R"({"mode":"words"})";
  j.resources = {1.5, 512, 64};
  j.inputs = {b.id, a.id, b.id};
  j.outputs = {a.id};  // ignored: outputs only come from finalize_job
  const TimeMs before = now_ms();
  Job created = must(store().create_job(j));

  EXPECT_GT(created.id, 0);
  Job got = must(store().get_job(created.id));
  EXPECT_EQ(got.status, S::kWaiting);
  EXPECT_EQ(got.pipeline_id, p.id);
  EXPECT_EQ(got.name, "count");
  EXPECT_EQ(got.priority, 7);
  EXPECT_EQ(got.parameters_json, R"({"mode":"words"})");
  EXPECT_DOUBLE_EQ(got.resources.cpus, 1.5);
  EXPECT_EQ(got.resources.memory_mb, 512);
  EXPECT_EQ(got.resources.pids, 64);
  EXPECT_EQ(got.inputs, (std::vector<Id>{b.id, a.id, b.id}));
  EXPECT_TRUE(got.outputs.empty());
  EXPECT_FALSE(got.exit_code.has_value());
  EXPECT_GE(got.created_at, before);
  EXPECT_EQ(got.updated_at, got.created_at);
}

TEST_P(StoreTest, CreateJobWithAnUnknownPipelineIsInvalid) {
  Job j;
  j.pipeline_id = 12;
  j.name = "x";
  auto r = store().create_job(j);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("pipeline 12"), std::string::npos);
}

TEST_P(StoreTest, CreateJobWithAnUnknownInputIsInvalidAndAddsNothing) {
  Pipeline p = add_pipeline();
  File a = add_file();
  Job j;
  j.pipeline_id = p.id;
  j.name = "x";
  j.inputs = {a.id, 9999};
  auto r = store().create_job(j);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("9999"), std::string::npos);
  EXPECT_EQ(must(store().count_jobs({})), 0);
}

TEST_P(StoreTest, CreateJobWithOutOfRangeValuesIsInvalid) {
  Pipeline p = add_pipeline();
  Job j;
  j.pipeline_id = p.id;
  j.progress = 1.5;
  EXPECT_EQ(store().create_job(j).status().code(), Code::kInvalid);
  j.progress = 0;
  j.resources.cpus = -1;
  EXPECT_EQ(store().create_job(j).status().code(), Code::kInvalid);
}

TEST_P(StoreTest, GetUnknownJobIsNotFound) {
  EXPECT_EQ(store().get_job(3).status().code(), Code::kNotFound);
}

TEST_P(StoreTest, TransitionFollowsEveryLegalEdgeAndRefusesEveryOther) {
  for (S from : all_job_statuses()) {
    for (S to : all_job_statuses()) {
      SCOPED_TRACE(std::string(to_string(from)) + " -> " + std::string(to_string(to)));
      Job job = job_at(from);
      JobUpdate u;
      u.error_reason = "needed for error";
      auto r = store().transition_job(job.id, from, to, u);
      Job after = must(store().get_job(job.id));
      if (is_legal_transition(from, to)) {
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        EXPECT_EQ(r->status, to);
        EXPECT_EQ(after.status, to);
        EXPECT_GE(after.updated_at, job.updated_at);
      } else {
        ASSERT_FALSE(r.is_ok());
        EXPECT_EQ(r.status().code(), Code::kConflict);
        EXPECT_NE(r.status().message().find("job " + std::to_string(job.id)), std::string::npos)
            << r.status().message();
        EXPECT_EQ(after.status, from);
      }
    }
  }
}

TEST_P(StoreTest, TransitionFromAStaleStatusIsAConflict) {
  Job job = job_at(S::kDone);
  auto r = store().transition_job(job.id, S::kRunning, S::kPause);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(r.status().message(), "job " + std::to_string(job.id) + " is done, not running");
  EXPECT_EQ(must(store().get_job(job.id)).status, S::kDone);
}

TEST_P(StoreTest, TransitionOfAnUnknownJobIsNotFound) {
  auto r = store().transition_job(8, S::kWaiting, S::kInitializing);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_P(StoreTest, TransitionToErrorNeedsAReason) {
  Job job = job_at(S::kRunning);
  auto r = store().transition_job(job.id, S::kRunning, S::kError);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);

  JobUpdate empty;
  empty.error_reason = "";
  EXPECT_EQ(store().transition_job(job.id, S::kRunning, S::kError, empty).status().code(),
            Code::kInvalid);
  EXPECT_EQ(must(store().get_job(job.id)).status, S::kRunning);

  JobUpdate u;
  u.error_reason = "out of memory";
  u.exit_code = 137;
  Job failed = must(store().transition_job(job.id, S::kRunning, S::kError, u));
  EXPECT_EQ(failed.status, S::kError);
  EXPECT_EQ(failed.error_reason, "out of memory");
  EXPECT_EQ(failed.exit_code, 137);
}

TEST_P(StoreTest, TransitionToErrorMayUseAReasonRecordedEarlier) {
  Job job = job_at(S::kRunning);
  JobUpdate note;
  note.error_reason = "container vanished";
  must(store().patch_job(job.id, S::kRunning, note));
  Job failed = must(store().transition_job(job.id, S::kRunning, S::kError));
  EXPECT_EQ(failed.error_reason, "container vanished");
}

TEST_P(StoreTest, TransitionWritesTheGivenFieldsAndKeepsTheOthers) {
  Job job = job_at(S::kInitializing);
  JobUpdate u;
  u.container_id = "c0ffee";
  u.path = "/srv/jobs/1";
  u.progress = 0.25;
  u.progress_label = "starting";
  u.started_at = 1111;
  Job running = must(store().transition_job(job.id, S::kInitializing, S::kRunning, u));
  EXPECT_EQ(running.container_id, "c0ffee");
  EXPECT_EQ(running.path, "/srv/jobs/1");
  EXPECT_DOUBLE_EQ(running.progress, 0.25);
  EXPECT_EQ(running.progress_label, "starting");
  EXPECT_EQ(running.started_at, 1111);
  EXPECT_EQ(running.ended_at, 0);
  EXPECT_FALSE(running.exit_code.has_value());

  JobUpdate end;
  end.exit_code = 0;
  end.ended_at = 2222;
  Job finalizing = must(store().transition_job(job.id, S::kRunning, S::kFinalizing, end));
  EXPECT_EQ(finalizing.container_id, "c0ffee");
  EXPECT_EQ(finalizing.progress_label, "starting");
  EXPECT_EQ(finalizing.started_at, 1111);
  EXPECT_EQ(finalizing.ended_at, 2222);
  EXPECT_EQ(finalizing.exit_code, 0);
  EXPECT_EQ(finalizing.inputs, job.inputs);
}

TEST_P(StoreTest, TransitionWithAnOutOfRangeProgressIsInvalid) {
  Job job = job_at(S::kInitializing);
  JobUpdate u;
  u.progress = -0.5;
  EXPECT_EQ(store().transition_job(job.id, S::kInitializing, S::kRunning, u).status().code(),
            Code::kInvalid);
  EXPECT_EQ(must(store().get_job(job.id)).status, S::kInitializing);
}

TEST_P(StoreTest, TransitionReturnsTheJobWithItsLinks) {
  File in = add_file();
  Job job = job_at(S::kWaiting, {in.id});
  Job moved = must(store().transition_job(job.id, S::kWaiting, S::kInitializing));
  EXPECT_EQ(moved.inputs, std::vector<Id>{in.id});
  EXPECT_EQ(moved.id, job.id);
}

TEST_P(StoreTest, PatchJobChangesFieldsButNotTheStatus) {
  Job job = job_at(S::kRunning);
  JobUpdate u;
  u.progress = 0.5;
  u.progress_label = "half way";
  Job patched = must(store().patch_job(job.id, S::kRunning, u));
  EXPECT_EQ(patched.status, S::kRunning);
  EXPECT_DOUBLE_EQ(patched.progress, 0.5);
  EXPECT_EQ(patched.progress_label, "half way");
  EXPECT_GE(patched.updated_at, job.updated_at);
}

TEST_P(StoreTest, PatchJobWithAStaleStatusIsAConflict) {
  Job job = job_at(S::kCanceled);
  JobUpdate u;
  u.progress = 1;
  auto r = store().patch_job(job.id, S::kRunning, u);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_DOUBLE_EQ(must(store().get_job(job.id)).progress, 0);
  EXPECT_EQ(store().patch_job(999, S::kRunning, u).status().code(), Code::kNotFound);
}

class Outputs {
 public:
  explicit Outputs(const testing::TempDir& dir) : dir_(dir) {}
  std::vector<File> make(const std::vector<std::string>& names, const std::string& tag = "") {
    std::vector<File> out;
    for (const auto& n : names) {
      File f;
      f.name = n;
      f.type = "txt";
      f.path = dir_ / ("outputs/" + tag + n);
      f.size = 3;
      f.status = FileStatus::kUploading;  // whatever is given, outputs are stored checked
      f.sha256 = "abc";
      out.push_back(f);
    }
    return out;
  }

 private:
  const testing::TempDir& dir_;
};

TEST_P(StoreTest, FinalizeRegistersOutputsExactlyOnce) {
  File in = add_file();
  Job job = job_at(S::kFinalizing, {in.id});
  auto outputs = Outputs(dir()).make({"counts.tsv", "summary.txt"});
  JobUpdate u;
  u.progress = 1;
  Job done = must(store().finalize_job(job.id, outputs, u));

  EXPECT_EQ(done.status, S::kDone);
  EXPECT_DOUBLE_EQ(done.progress, 1);
  EXPECT_EQ(done.inputs, std::vector<Id>{in.id});
  ASSERT_EQ(done.outputs.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    File f = must(store().get_file(done.outputs[i]));
    EXPECT_EQ(f.name, outputs[i].name);
    EXPECT_EQ(f.path, outputs[i].path);
    EXPECT_EQ(f.status, FileStatus::kChecked);
    EXPECT_EQ(f.job_source_id, job.id);
  }

  // A retry, or recovery racing the worker, must not register the outputs again.
  auto again = store().finalize_job(job.id, outputs, u);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), Code::kConflict);
  FileQuery q;
  q.job_source_id = job.id;
  EXPECT_EQ(must(store().list_files(q)).items.size(), 2u);
  EXPECT_EQ(must(store().get_job(job.id)).outputs, done.outputs);
}

TEST_P(StoreTest, FinalizeWithoutOutputsIsFine) {
  Job job = job_at(S::kFinalizing);
  Job done = must(store().finalize_job(job.id, {}));
  EXPECT_EQ(done.status, S::kDone);
  EXPECT_TRUE(done.outputs.empty());
}

TEST_P(StoreTest, FinalizeOfAJobNotFinalizingIsAConflictAndRegistersNothing) {
  for (S status : all_job_statuses()) {
    if (status == S::kFinalizing) continue;
    SCOPED_TRACE(std::string(to_string(status)));
    Job job = job_at(status);
    auto r = store().finalize_job(job.id, Outputs(dir()).make({"x"}, std::to_string(job.id)));
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), Code::kConflict);
    EXPECT_EQ(must(store().get_job(job.id)).status, status);
  }
  EXPECT_TRUE(must(store().list_files({})).items.empty());
}

TEST_P(StoreTest, FinalizeThatFailsHalfWayChangesNothing) {
  File existing = add_file();
  Job job = job_at(S::kFinalizing);
  auto outputs = Outputs(dir()).make({"fine.txt", "clash.txt"});
  outputs[1].path = existing.path;  // the second insert violates UNIQUE(path)
  auto r = store().finalize_job(job.id, outputs);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);

  Job after = must(store().get_job(job.id));
  EXPECT_EQ(after.status, S::kFinalizing);
  EXPECT_TRUE(after.outputs.empty());
  EXPECT_EQ(must(store().list_files({})).items.size(), 1u);

  // And the job can still be finalized properly afterwards.
  outputs[1].path = dir() / "outputs/other.txt";
  EXPECT_EQ(must(store().finalize_job(job.id, outputs)).outputs.size(), 2u);
}

TEST_P(StoreTest, FinalizeOfAnUnknownJobIsNotFound) {
  EXPECT_EQ(store().finalize_job(5, {}).status().code(), Code::kNotFound);
}

TEST_P(StoreTest, DeleteJobIsRefusedUnlessItIsFinished) {
  for (S status : all_job_statuses()) {
    SCOPED_TRACE(std::string(to_string(status)));
    Job job = job_at(status);
    auto r = store().delete_job(job.id);
    if (is_terminal(status)) {
      EXPECT_TRUE(r.is_ok()) << r.status().to_string();
      EXPECT_EQ(store().get_job(job.id).status().code(), Code::kNotFound);
    } else {
      EXPECT_EQ(r.status().code(), Code::kConflict);
      EXPECT_TRUE(store().get_job(job.id).is_ok());
    }
  }
}

TEST_P(StoreTest, DeleteJobRemovesItsOutputsAndReturnsThem) {
  File in = add_file("in");
  Job job = job_at(S::kFinalizing, {in.id});
  Job done = must(store().finalize_job(job.id, Outputs(dir()).make({"o1", "o2"})));
  auto removed = must(store().delete_job(job.id));

  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].id, done.outputs[0]);
  EXPECT_EQ(removed[1].id, done.outputs[1]);
  EXPECT_EQ(removed[0].path, dir() / "outputs/o1");  // so the caller can delete the bytes
  for (const File& f : removed) {
    EXPECT_EQ(store().get_file(f.id).status().code(), Code::kNotFound);
  }
  EXPECT_TRUE(store().get_file(in.id).is_ok());  // inputs are not the job's to delete
  EXPECT_EQ(store().get_job(job.id).status().code(), Code::kNotFound);
  EXPECT_EQ(store().delete_job(job.id).status().code(), Code::kNotFound);
}

TEST_P(StoreTest, DeleteJobIsRefusedWhileAnOutputFeedsAnUnfinishedJob) {
  Job first = job_at(S::kFinalizing);
  Job done = must(store().finalize_job(first.id, Outputs(dir()).make({"o"})));
  Job second = job_at(S::kRunning, {done.outputs[0]});

  auto r = store().delete_job(first.id);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_TRUE(store().get_job(first.id).is_ok());
  EXPECT_TRUE(store().get_file(done.outputs[0]).is_ok());

  // Once the reader has finished, the output goes, and with it the reader's link.
  must(store().transition_job(second.id, S::kRunning, S::kCanceled));
  EXPECT_EQ(must(store().delete_job(first.id)).size(), 1u);
  EXPECT_TRUE(must(store().get_job(second.id)).inputs.empty());
}

TEST_P(StoreTest, CountJobsCountsByStatus) {
  EXPECT_EQ(must(store().count_jobs({})), 0);
  job_at(S::kWaiting);
  job_at(S::kWaiting);
  job_at(S::kRunning);
  job_at(S::kDone);
  EXPECT_EQ(must(store().count_jobs({})), 4);
  EXPECT_EQ(must(store().count_jobs({S::kWaiting})), 2);
  EXPECT_EQ(must(store().count_jobs({S::kWaiting, S::kRunning})), 3);
  EXPECT_EQ(must(store().count_jobs({S::kError})), 0);
}

}  // namespace
}  // namespace pirus
