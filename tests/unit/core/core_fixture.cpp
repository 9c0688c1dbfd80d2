#include "core_fixture.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

namespace pirus::core_test {

namespace fs = std::filesystem;

void CoreTest::SetUp() {
  spdlog::set_level(spdlog::level::warn);
  dir_ = std::make_unique<pirus::testing::TempDir>("pirus-core");
  for (const char* d : {"files", "pipelines", "jobs", "databases", "tmp"}) {
    fs::create_directories(dir_->path() + "/" + d);
  }
  store_ = must(open_store("sqlite://" + dir_->path() + "/pirus.db"));
  io_ = std::make_unique<asio::io_context>(1);
  pool_ = std::make_unique<asio::thread_pool>(1);
  fake_ = std::make_unique<FakeManager>(io_->get_executor());
  events_.subscribe([this](const Event& e) { seen_.push_back(e); });

  Config cfg;
  cfg.data_dir = dir_->path();
  cfg.max_job_cpus = 4;  // what load_config resolves 0 ("host CPU count") to, made fixed
  job_user_ = std::to_string(::getuid()) + ":" + std::to_string(::getgid());
  ctx_ = std::make_unique<CoreContext>(CoreContext{cfg, *store_, *fake_, io_->get_executor(),
                                                   *pool_, events_, "0123456789abcdef", job_user_});
  pipelines_ = std::make_unique<PipelineService>(*ctx_);
  files_ = std::make_unique<FileService>(*ctx_);
  jobs_ = std::make_unique<JobService>(*ctx_, *pipelines_);
  Status started = run(fake_->start(jobs_.get()));
  ASSERT_TRUE(started.is_ok()) << started.to_string();
}

void CoreTest::TearDown() {
  if (!jobs_) return;
  // Quiesce: no coroutine may outlive the services it points to.
  jobs_->stop();
  fake_->set_unavailable(false);
  fake_->release_launches();
  fake_->release_builds();
  pump([&] { return jobs_->busy() == 0; }, 5s);
  idle(30ms);
  EXPECT_EQ(jobs_->busy(), 0) << "a job coroutine is still running at the end of the test";
  pool_->join();
  io_->restart();
  io_->poll();
  jobs_.reset();
  files_.reset();
  pipelines_.reset();
  ctx_.reset();
  fake_.reset();
  io_.reset();
  pool_.reset();
  store_.reset();
  dir_.reset();
}

bool CoreTest::pump(const std::function<bool()>& pred, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    if (io_->stopped()) io_->restart();
    // Returns at once when the loop has nothing to do (work is on the pool): do not spin.
    if (io_->run_for(10ms) == 0) std::this_thread::sleep_for(1ms);
  }
  return true;
}

void CoreTest::idle(Clock::duration d) {
  pump([] { return false; }, d);
}

void CoreTest::run_void(asio::awaitable<void> a, Clock::duration timeout) {
  auto done = std::make_shared<bool>(false);
  auto wrapper = [](asio::awaitable<void> inner,
                    std::shared_ptr<bool> flag) -> asio::awaitable<void> {
    co_await std::move(inner);
    *flag = true;
  };
  auto task = wrapper(std::move(a), done);
  asio::co_spawn(*io_, std::move(task), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  if (!pump([&] { return *done; }, timeout)) {
    throw std::runtime_error("timed out waiting for a coroutine");
  }
}

Pipeline CoreTest::add_pipeline(const std::string& form_json, const std::string& manifest_json,
                                PipelineStatus status, const std::string& name,
                                const std::string& version) {
  Pipeline p;
  p.name = name;
  p.version = version;
  p.engine = "fake";
  p.status = status;
  p.manifest_json = manifest_json;
  p.form_json = form_json;
  p.image = status == PipelineStatus::kReady ? "fake-image-" + name : "";
  p.path = data("pipelines/" + name + "-" + version);
  return must(store_->create_pipeline(p));
}

File CoreTest::import(const std::string& name, const std::string& content) {
  std::string tmp = data("tmp/upload-" + std::to_string(++imported_));
  pirus::testing::write_file(tmp, content);
  return must(run(files_->import_upload(tmp, name, "")));
}

Job CoreTest::create_job(Id pipeline_id, std::vector<Id> inputs, int priority, json::object params,
                         Resources resources) {
  NewJobRequest r;
  r.pipeline_id = pipeline_id;
  r.inputs = std::move(inputs);
  r.priority = priority;
  r.parameters = std::move(params);
  r.resources = resources;
  return must(jobs_->create(r));
}

Job CoreTest::store_job(Id pipeline_id, const std::vector<JobStatus>& path,
                        const std::string& container_id) {
  Job j;
  j.pipeline_id = pipeline_id;
  j.name = "recovered";
  j.parameters_json = "{}";
  j.resources = {1, 64, 64};
  Job created = must(store_->create_job(j));
  JobStatus from = JobStatus::kWaiting;
  for (JobStatus to : path) {
    JobUpdate u;
    if (to == JobStatus::kInitializing) {
      u.path = workspace(created.id);
      u.started_at = now_ms();
    }
    if (to == JobStatus::kRunning && !container_id.empty()) u.container_id = container_id;
    if (to == JobStatus::kFinalizing) u.exit_code = 0;
    if (to == JobStatus::kError) u.error_reason = "failed before the restart";
    if (is_terminal(to)) u.ended_at = now_ms();
    created = must(store_->transition_job(created.id, from, to, u));
    from = to;
  }
  return created;
}

bool CoreTest::wait_status(Id id, JobStatus s, Clock::duration timeout) {
  return pump([&] { return status_of(id) == s; }, timeout);
}

Job CoreTest::start_job(Id pipeline_id, std::vector<Id> inputs, int priority) {
  Job j = create_job(pipeline_id, std::move(inputs), priority);
  if (!wait_status(j.id, JobStatus::kRunning)) {
    throw std::runtime_error("job " + std::to_string(j.id) + " did not start; it is " +
                             std::string(to_string(status_of(j.id))));
  }
  return job(j.id);
}

std::vector<File> CoreTest::outputs_of(Id job_id) {
  FileQuery q;
  q.job_source_id = job_id;
  q.limit = 1000;
  return must(store_->list_files(q)).items;
}

std::vector<std::string> CoreTest::statuses_published(Id id) const {
  std::vector<std::string> out;
  for (const auto& e : seen_) {
    if (e.kind != "job_updated" || e.id != id) continue;
    if (const auto* s = e.data.if_contains("status"); s != nullptr && s->is_string()) {
      out.emplace_back(s->get_string());
    }
  }
  return out;
}

}  // namespace pirus::core_test
