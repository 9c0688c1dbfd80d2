// A job's run on the fake engine: scheduling, workspace, launch request, completion and
// outputs, failures.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/sha256.hpp"
#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

namespace fs = std::filesystem;
using pirus::testing::read_file;

std::string env_of(const JobLaunch& l, const std::string& key) {
  for (const auto& [k, v] : l.env) {
    if (k == key) return v;
  }
  return "<unset>";
}

const Mount* mount_at(const JobLaunch& l, const std::string& container_path) {
  for (const auto& m : l.mounts) {
    if (m.container_path == container_path) return &m;
  }
  return nullptr;
}

class JobRun : public CoreTest {};

TEST_F(JobRun, CreatedJobIsScheduledPreparedAndLaunched) {
  Pipeline p = add_pipeline(kSeqstatsForm);
  File reads = import("reads.fa", ">r1\nACGT\n");
  File more = import("more.fq", "@r\nAC\n+\nII\n");
  Job created =
      create_job(p.id, {reads.id, more.id}, 0, {{"min_length", 3}}, Resources{2, 256, 100});
  ASSERT_TRUE(wait_status(created.id, JobStatus::kRunning));
  Job j = job(created.id);
  EXPECT_EQ(j.container_id, "fake-1");
  EXPECT_EQ(j.path, workspace(j.id));
  EXPECT_GT(j.started_at, 0);
  EXPECT_EQ(statuses_published(j.id),
            (std::vector<std::string>{"waiting", "initializing", "running"}));

  // Workspace: inputs are hard links of the stored files, outputs/ and logs/ exist.
  const std::string ws = workspace(j.id);
  struct stat stored {
  }, linked{};
  ASSERT_EQ(::stat(reads.path.c_str(), &stored), 0);
  ASSERT_EQ(::stat((ws + "/inputs/reads.fa").c_str(), &linked), 0);
  EXPECT_EQ(stored.st_ino, linked.st_ino);
  EXPECT_EQ(stored.st_dev, linked.st_dev);
  EXPECT_EQ(read_file(ws + "/inputs/more.fq"), "@r\nAC\n+\nII\n");
  EXPECT_TRUE(fs::is_directory(ws + "/outputs"));
  EXPECT_TRUE(fs::is_directory(ws + "/logs"));
  struct stat out_dir {};
  ASSERT_EQ(::stat((ws + "/outputs").c_str(), &out_dir), 0);
  EXPECT_EQ(std::to_string(out_dir.st_uid) + ":" + std::to_string(out_dir.st_gid), job_user_);

  // config.json: the job, its parameters (defaults filled) and its inputs.
  json::value cfg = json::parse(read_file(ws + "/inputs/config.json"));
  EXPECT_EQ(cfg.at("job").at("id").as_int64(), j.id);
  EXPECT_EQ(cfg.at("parameters").at("min_length").as_int64(), 3);
  EXPECT_EQ(cfg.at("parameters").at("format").as_string(), "auto");
  const auto& ins = cfg.at("inputs").as_array();
  ASSERT_EQ(ins.size(), 2u);
  EXPECT_EQ(ins[0].at("id").as_int64(), reads.id);
  EXPECT_EQ(ins[0].at("name").as_string(), "reads.fa");
  EXPECT_EQ(ins[0].at("path").as_string(), "/pipeline/inputs/reads.fa");
  EXPECT_EQ(ins[1].at("name").as_string(), "more.fq");
  EXPECT_EQ(cfg.at("paths").at("outputs").as_string(), "/pipeline/outputs");

  // The launch request.
  ASSERT_EQ(fake_->launches().size(), 1u);
  const JobLaunch& l = fake_->launches()[0];
  EXPECT_EQ(l.job_id, j.id);
  EXPECT_EQ(l.image, p.image);
  EXPECT_TRUE(l.command.empty());
  EXPECT_EQ(l.user, job_user_);
  EXPECT_EQ(l.network, "none");
  EXPECT_DOUBLE_EQ(l.cpus, 2);
  EXPECT_EQ(l.memory_bytes, 256LL * 1024 * 1024);
  EXPECT_EQ(l.pids, 100);
  EXPECT_TRUE(l.read_only_rootfs);
  EXPECT_EQ(l.stdout_path, ws + "/logs/stdout.log");
  EXPECT_EQ(l.stderr_path, ws + "/logs/stderr.log");
  ASSERT_EQ(l.mounts.size(), 4u);
  const Mount* in = mount_at(l, "/pipeline/inputs");
  const Mount* out = mount_at(l, "/pipeline/outputs");
  const Mount* logs = mount_at(l, "/pipeline/logs");
  const Mount* dbs = mount_at(l, "/pipeline/databases");
  ASSERT_TRUE(in && out && logs && dbs);
  EXPECT_EQ(in->host_path, ws + "/inputs");
  EXPECT_TRUE(in->read_only);
  EXPECT_EQ(out->host_path, ws + "/outputs");
  EXPECT_FALSE(out->read_only);
  EXPECT_EQ(logs->host_path, ws + "/logs");
  EXPECT_FALSE(logs->read_only);
  EXPECT_EQ(dbs->host_path, config().databases_dir());
  EXPECT_TRUE(dbs->read_only);
  EXPECT_EQ(env_of(l, "PIRUS_JOB_ID"), std::to_string(j.id));
  EXPECT_EQ(env_of(l, "PIRUS_CONFIG_FILE"), "/pipeline/inputs/config.json");
  EXPECT_EQ(env_of(l, "PIRUS_PROGRESS_FILE"), "/pipeline/logs/progress.jsonl");
  EXPECT_EQ(env_of(l, "PIRUS_INPUTS_DIR"), "/pipeline/inputs");
  EXPECT_EQ(env_of(l, "PIRUS_OUTPUTS_DIR"), "/pipeline/outputs");
  EXPECT_EQ(env_of(l, "PIRUS_LOGS_DIR"), "/pipeline/logs");
  EXPECT_EQ(env_of(l, "PIRUS_DATABASES_DIR"), "/pipeline/databases");
}

TEST_F(JobRun, ManifestPathsCommandAndWritableRootfsAreHonoured) {
  Pipeline p =
      add_pipeline("{}", R"({"name":"demo","version":"1.0","engine":"fake","inputs":"/data/in",)"
                         R"("outputs":"/data/out","logs":"/data/logs","databases":"/refs",)"
                         R"("command":["/bin/run","--fast"],"read_only_rootfs":false})");
  config().job_network = "pirus-jobs";
  Job j = start_job(p.id);
  const JobLaunch* l = fake_->last_launch(j.id);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->command, (std::vector<std::string>{"/bin/run", "--fast"}));
  EXPECT_FALSE(l->read_only_rootfs);
  EXPECT_EQ(l->network, "pirus-jobs");
  ASSERT_NE(mount_at(*l, "/data/in"), nullptr);
  ASSERT_NE(mount_at(*l, "/data/out"), nullptr);
  ASSERT_NE(mount_at(*l, "/refs"), nullptr);
  EXPECT_EQ(env_of(*l, "PIRUS_CONFIG_FILE"), "/data/in/config.json");
  EXPECT_EQ(env_of(*l, "PIRUS_OUTPUTS_DIR"), "/data/out");
  json::value cfg = json::parse(read_file(workspace(j.id) + "/inputs/config.json"));
  EXPECT_EQ(cfg.at("progress_file").as_string(), "/data/logs/progress.jsonl");
}

TEST_F(JobRun, InputsWithTheSameNameGetDistinctNames) {
  Pipeline p = add_pipeline();
  File a = import("sample.txt", "first");
  File b = import("sample.txt", "second");
  File c = import("config.json", "{}");
  Job j = start_job(p.id, {a.id, b.id, c.id});
  const std::string in = workspace(j.id) + "/inputs/";
  EXPECT_EQ(read_file(in + "sample.txt"), "first");
  EXPECT_EQ(read_file(in + std::to_string(b.id) + "_sample.txt"), "second");
  EXPECT_EQ(read_file(in + std::to_string(c.id) + "_config.json"), "{}");
  json::value cfg = json::parse(read_file(in + "config.json"));
  EXPECT_EQ(cfg.at("inputs").as_array().size(), 3u);
}

TEST_F(JobRun, ExitZeroFinalizesAndRegistersOutputsRecursively) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fake_->set_outputs(j.id, {{"report.txt", "hello"}, {"sub/a.txt", "x"}, {"sub/deeper/b", ""}});
  fake_->set_logs(j.id, "all good\n", "");
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  Job done = job(j.id);
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_DOUBLE_EQ(done.progress, 1.0);
  EXPECT_GT(done.ended_at, 0);
  EXPECT_TRUE(done.error_reason.empty());

  std::vector<File> outs = outputs_of(j.id);
  ASSERT_EQ(outs.size(), 3u);
  std::sort(outs.begin(), outs.end(), [](const File& a, const File& b) { return a.name < b.name; });
  EXPECT_EQ(outs[0].name, "report.txt");
  EXPECT_EQ(outs[0].size, 5);
  EXPECT_EQ(outs[0].sha256, sha256_hex("hello"));
  EXPECT_EQ(outs[0].type, "txt");
  EXPECT_EQ(outs[0].path, workspace(j.id) + "/outputs/report.txt");
  EXPECT_EQ(outs[1].name, "sub/a.txt");
  EXPECT_EQ(outs[1].size, 1);
  EXPECT_EQ(outs[1].sha256, sha256_hex("x"));
  EXPECT_EQ(outs[2].name, "sub/deeper/b");
  EXPECT_EQ(outs[2].size, 0);
  EXPECT_EQ(outs[2].sha256, sha256_hex(""));
  for (const auto& f : outs) {
    EXPECT_EQ(f.job_source_id, j.id);
    EXPECT_EQ(f.status, FileStatus::kChecked);
    EXPECT_NE(std::find(done.outputs.begin(), done.outputs.end(), f.id), done.outputs.end());
  }
  EXPECT_EQ(done.outputs.size(), 3u);

  pump([&] { return !fake_->removed().empty(); });
  EXPECT_EQ(fake_->removed(), std::vector<std::string>{"fake-1"});
  EXPECT_EQ(fake_->container_count(), 0u);
  EXPECT_TRUE(fake_->killed().empty());
  EXPECT_EQ(statuses_published(j.id),
            (std::vector<std::string>{"waiting", "initializing", "running", "finalizing", "done"}));
}

TEST_F(JobRun, SymlinksInOutputsAreNotRegistered) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fake_->set_outputs(j.id, {{"real.txt", "r"}});
  fs::create_symlink("/etc/passwd", workspace(j.id) + "/outputs/passwd");
  fs::create_directory_symlink("/etc", workspace(j.id) + "/outputs/etc");
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  std::vector<File> outs = outputs_of(j.id);
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].name, "real.txt");
}

TEST_F(JobRun, UnreadableOutputsAreAnError) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fs::remove_all(workspace(j.id) + "/outputs");
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kError));
  EXPECT_NE(job(j.id).error_reason.find("could not register the outputs"), std::string::npos)
      << job(j.id).error_reason;
  EXPECT_TRUE(outputs_of(j.id).empty());
}

TEST_F(JobRun, DuplicateExitCallbackRegistersOutputsOnce) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fake_->set_outputs(j.id, {{"report.txt", "hello"}, {"sub/a.txt", "x"}});
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  fake_->deliver_exit(j.id, ExitInfo{0, false, ""});  // the engine reports it twice
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  fake_->deliver_exit(j.id, ExitInfo{0, false, ""});  // and once more, late
  idle(100ms);
  EXPECT_EQ(fake_->exits_delivered(), 3);
  EXPECT_EQ(status_of(j.id), JobStatus::kDone);
  EXPECT_EQ(outputs_of(j.id).size(), 2u);
  EXPECT_EQ(job(j.id).outputs.size(), 2u);
  auto all = must(store_->list_files(FileQuery{}));
  EXPECT_EQ(all.items.size(), 2u);
  EXPECT_EQ(fake_->removed().size(), 1u) << "the container is removed once";
}

TEST_F(JobRun, NonZeroExitIsAnErrorWithTheStderrTail) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fake_->set_logs(j.id, "working\n", "reading input\nfatal: bad record at line 12\n");
  fake_->set_outputs(j.id, {{"partial.txt", "half"}});
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{3, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kError));
  Job failed = job(j.id);
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_NE(failed.error_reason.find("exited with code 3"), std::string::npos)
      << failed.error_reason;
  EXPECT_NE(failed.error_reason.find("fatal: bad record at line 12"), std::string::npos)
      << failed.error_reason;
  EXPECT_EQ(failed.error_reason.find("working"), std::string::npos) << "stdout is not stderr";
  EXPECT_GT(failed.ended_at, 0);
  EXPECT_TRUE(outputs_of(j.id).empty()) << "a failed job registers no outputs";
  pump([&] { return !fake_->removed().empty(); });
  EXPECT_EQ(fake_->removed(), std::vector<std::string>{"fake-1"});
}

TEST_F(JobRun, OutOfMemoryReasonMentionsMemory) {
  Pipeline p = add_pipeline();
  Job j = create_job(p.id, {}, 0, {}, Resources{1, 64, 0});
  ASSERT_TRUE(wait_status(j.id, JobStatus::kRunning));
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{137, true, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kError));
  Job failed = job(j.id);
  EXPECT_EQ(failed.exit_code, 137);
  EXPECT_NE(failed.error_reason.find("memory"), std::string::npos) << failed.error_reason;
  EXPECT_NE(failed.error_reason.find("64 MB"), std::string::npos) << failed.error_reason;
}

TEST_F(JobRun, EngineFailureIsAnErrorEvenWithExitZero) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, "mount failed"}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kError));
  EXPECT_NE(job(j.id).error_reason.find("mount failed"), std::string::npos);
}

TEST_F(JobRun, ExitBeforeTheLaunchReturnsIsHandledOnceRunningIsRecorded) {
  Pipeline p = add_pipeline();
  // The next job id is 1: the container dies before launch() hands back its id.
  fake_->exit_during_launch(1, ExitInfo{0, false, ""});
  fake_->set_outputs(1, {{"r.txt", "r"}});
  Job j = create_job(p.id);
  ASSERT_EQ(j.id, 1);
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  EXPECT_EQ(outputs_of(j.id).size(), 1u);
  EXPECT_EQ(statuses_published(j.id),
            (std::vector<std::string>{"waiting", "initializing", "running", "finalizing", "done"}));
}

TEST_F(JobRun, FailedExitBeforeTheLaunchReturnsIsAnError) {
  Pipeline p = add_pipeline();
  fake_->exit_during_launch(1, ExitInfo{1, false, ""});
  Job j = create_job(p.id);
  ASSERT_TRUE(wait_status(j.id, JobStatus::kError));
  EXPECT_EQ(job(j.id).exit_code, 1);
}

TEST_F(JobRun, LaunchFailureIsAnErrorAndTheSchedulerMovesOn) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  fake_->fail_next_launch(Status::invalid("image fake-image-demo not found"));
  Job a = create_job(p.id);
  Job b = create_job(p.id);
  ASSERT_TRUE(wait_status(a.id, JobStatus::kError));
  Job failed = job(a.id);
  EXPECT_NE(failed.error_reason.find("could not start the container"), std::string::npos);
  EXPECT_NE(failed.error_reason.find("image fake-image-demo not found"), std::string::npos)
      << failed.error_reason;
  EXPECT_FALSE(failed.exit_code.has_value());
  ASSERT_TRUE(wait_status(b.id, JobStatus::kRunning));
}

TEST_F(JobRun, EngineDownAtLaunchIsAnError) {
  Pipeline p = add_pipeline();
  fake_->set_unavailable(true);
  Job j = create_job(p.id);
  ASSERT_TRUE(wait_status(j.id, JobStatus::kError));
  EXPECT_NE(job(j.id).error_reason.find("unavailable"), std::string::npos)
      << job(j.id).error_reason;
}

TEST_F(JobRun, PipelineRemovedBeforeTheStartFailsTheJob) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = create_job(p.id);
  Pipeline broken = must(store_->get_pipeline(p.id));
  broken.status = PipelineStatus::kError;
  broken.error_reason = "image lost";
  must(store_->update_pipeline(broken, PipelineStatus::kReady));
  ASSERT_TRUE(fake_->exit(a.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(b.id, JobStatus::kError));
  EXPECT_NE(job(b.id).error_reason.find("no longer installed"), std::string::npos);
  EXPECT_EQ(fake_->launch_count(b.id), 0);
}

TEST_F(JobRun, StatsComeFromTheEngineWhileRunning) {
  config().max_running_jobs = 1;
  Pipeline p = add_pipeline();
  Job a = start_job(p.id);
  Job b = create_job(p.id);
  auto st = run(jobs_->stats(a.id));
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_GT(st->memory_bytes, 0);
  EXPECT_EQ(run(jobs_->stats(b.id)).status().code(), Code::kConflict);
  EXPECT_EQ(run(jobs_->stats(999)).status().code(), Code::kNotFound);
  fake_->set_features({true, false, true, true, true});
  EXPECT_EQ(run(jobs_->stats(a.id)).status().code(), Code::kConflict);
}

}  // namespace
}  // namespace pirus::core_test
