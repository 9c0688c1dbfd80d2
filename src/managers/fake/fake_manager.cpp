#include "managers/fake/fake_manager.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace pirus {

namespace fs = std::filesystem;

namespace {

Status unavailable() {
  return Status::unavailable("the fake engine is unavailable");
}

void append_file(const std::string& path, const std::string& text) {
  if (path.empty() || text.empty()) return;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
}

// The host directory mounted where the job writes its outputs: the mount at
// PIRUS_OUTPUTS_DIR, else the first writable mount whose container path ends in /outputs.
std::string outputs_mount(const JobLaunch& l) {
  std::string target;
  for (const auto& [k, v] : l.env) {
    if (k == "PIRUS_OUTPUTS_DIR") target = v;
  }
  for (const auto& m : l.mounts) {
    if (!target.empty() && m.container_path == target) return m.host_path;
  }
  for (const auto& m : l.mounts) {
    const std::string& p = m.container_path;
    if (!m.read_only && p.size() >= 8 && p.compare(p.size() - 8, 8, "/outputs") == 0) {
      return m.host_path;
    }
  }
  return "";
}

}  // namespace

FakeManager::FakeManager(asio::any_io_executor ex, FakeManagerOptions options)
    : ex_(std::move(ex)), options_(std::move(options)) {}

// Held launches are not resumed: their frames go with the event loop that holds them.
FakeManager::~FakeManager() {
  *alive_ = false;
}

asio::awaitable<Status> FakeManager::start(JobObserver* observer) {
  calls_.push_back("start");
  if (unavailable_) co_return unavailable();
  observer_ = observer;
  shut_down_ = false;
  co_return Status::ok();
}

asio::awaitable<Status> FakeManager::ping() {
  if (unavailable_) co_return Status::unavailable("the fake engine is unavailable");
  co_return Status::ok();
}

void FakeManager::shutdown() {
  calls_.push_back("shutdown");
  shut_down_ = true;
}

asio::awaitable<Result<std::string>> FakeManager::build_image(BuildRequest request) {
  BuildCall call;
  call.pipeline_id = request.pipeline_id;
  call.context_tar_path = request.context_tar_path;
  std::error_code ec;
  call.context_existed = fs::exists(request.context_tar_path, ec);
  call.image_name = request.image_name;
  call.allow_network = request.allow_network;
  images_built_.push_back(call);
  calls_.push_back("build_image " + std::to_string(request.pipeline_id));
  if (hold_builds_) {
    auto gate = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
    build_gates_.push_back(gate);
    ++held_builds_n_;
    boost::system::error_code ec;
    co_await gate->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    --held_builds_n_;
  }
  if (unavailable_) co_return unavailable();
  if (next_build_failure_) {
    Status st = *next_build_failure_;
    next_build_failure_.reset();
    std::vector<std::string> lines = std::move(next_build_log_);
    next_build_log_.clear();
    if (request.on_log) {
      for (const auto& line : lines) request.on_log(line);
    }
    co_return st;
  }
  if (request.on_log) {
    for (const auto& line : build_log_) request.on_log(line);
  }
  std::string image = request.image_name.empty()
                          ? options_.image_prefix + std::to_string(request.pipeline_id)
                          : request.image_name;
  co_return image;
}

asio::awaitable<Status> FakeManager::remove_image(std::string image) {
  calls_.push_back("remove_image " + image);
  if (unavailable_) co_return unavailable();
  images_removed_.push_back(image);
  co_return Status::ok();
}

void FakeManager::release_launches() {
  hold_launches_ = false;
  for (auto& g : gates_) g->cancel();
  gates_.clear();
}

void FakeManager::release_builds() {
  hold_builds_ = false;
  for (auto& g : build_gates_) g->cancel();
  build_gates_.clear();
}

asio::awaitable<Result<std::string>> FakeManager::launch(JobLaunch launch) {
  const JobLaunch l = launch;  // never touch the by-value parameter (GCC 12)
  launches_.push_back(l);
  calls_.push_back("launch " + std::to_string(l.job_id));
  if (hold_launches_) {
    auto gate = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
    gates_.push_back(gate);
    ++held_;
    boost::system::error_code ec;
    co_await gate->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    --held_;
  }
  if (unavailable_) co_return unavailable();
  if (next_launch_failure_) {
    Status st = *next_launch_failure_;
    next_launch_failure_.reset();
    co_return st;
  }
  Container c;
  c.job_id = l.job_id;
  c.id = "fake-" + std::to_string(next_id_++);
  c.state = ContainerState::kRunning;
  c.watched = true;
  c.stdout_path = l.stdout_path;
  c.stderr_path = l.stderr_path;
  c.outputs_dir = outputs_mount(l);
  std::string id = c.id;
  containers_[id] = c;
  auto early = exit_during_launch_.find(l.job_id);
  if (early != exit_during_launch_.end()) {
    ExitInfo e = early->second;
    exit_during_launch_.erase(early);
    stop(containers_[id], e);
    // Let the posted callback reach the observer (and its handler run) before returning.
    for (int i = 0; i < 4; ++i) co_await asio::post(ex_, asio::use_awaitable);
  }
  co_return id;
}

asio::awaitable<Status> FakeManager::pause(std::string container_id) {
  calls_.push_back("pause " + container_id);
  if (unavailable_) co_return unavailable();
  paused_.push_back(container_id);
  Container* c = find(container_id);
  if (c == nullptr) co_return Status::not_found("no container " + container_id);
  if (c->state != ContainerState::kRunning) {
    co_return Status::invalid("container " + container_id + " is not running");
  }
  c->state = ContainerState::kPaused;
  co_return Status::ok();
}

asio::awaitable<Status> FakeManager::resume(std::string container_id) {
  calls_.push_back("resume " + container_id);
  if (unavailable_) co_return unavailable();
  resumed_.push_back(container_id);
  Container* c = find(container_id);
  if (c == nullptr) co_return Status::not_found("no container " + container_id);
  if (c->state != ContainerState::kPaused) {
    co_return Status::invalid("container " + container_id + " is not paused");
  }
  c->state = ContainerState::kRunning;
  co_return Status::ok();
}

asio::awaitable<Status> FakeManager::kill_and_remove(std::string container_id) {
  calls_.push_back("kill_and_remove " + container_id);
  if (unavailable_) co_return unavailable();
  killed_.push_back(container_id);
  containers_.erase(container_id);  // already gone: still a success
  co_return Status::ok();
}

asio::awaitable<Status> FakeManager::remove(std::string container_id) {
  calls_.push_back("remove " + container_id);
  if (unavailable_) co_return unavailable();
  removed_.push_back(container_id);
  containers_.erase(container_id);
  co_return Status::ok();
}

asio::awaitable<Result<JobStats>> FakeManager::stats(std::string container_id) {
  calls_.push_back("stats " + container_id);
  if (unavailable_) co_return unavailable();
  const Container* c = find(container_id);
  if (c == nullptr) co_return Status::not_found("no container " + container_id);
  JobStats s;
  s.cpu_percent = c->state == ContainerState::kRunning ? 50 : 0;
  s.memory_bytes = 10 << 20;
  s.memory_limit_bytes = 1LL << 30;
  s.pids = 1;
  s.sampled_at = now_ms();
  co_return s;
}

asio::awaitable<Result<std::vector<JobContainer>>> FakeManager::list_jobs() {
  calls_.push_back("list_jobs");
  if (unavailable_) co_return unavailable();
  std::vector<JobContainer> out;
  for (const auto& [id, c] : containers_) {
    JobContainer jc;
    jc.job_id = c.job_id;
    jc.container_id = c.id;
    jc.state = c.state;
    jc.exit = c.exit;
    out.push_back(std::move(jc));
  }
  co_return out;
}

asio::awaitable<Status> FakeManager::watch(Id job_id, std::string container_id,
                                           std::string stdout_path, std::string stderr_path) {
  WatchCall call{job_id, container_id, stdout_path, stderr_path};
  watches_.push_back(call);
  calls_.push_back("watch " + std::to_string(job_id) + " " + container_id);
  if (unavailable_) co_return unavailable();
  if (next_watch_failure_) {
    Status st = *next_watch_failure_;
    next_watch_failure_.reset();
    co_return st;
  }
  Container* c = find(container_id);
  if (c == nullptr) co_return Status::not_found("no container " + container_id);
  c->watched = true;
  c->stdout_path = stdout_path;
  c->stderr_path = stderr_path;
  if (c->state == ContainerState::kExited) post_exit(c->job_id, c->exit);
  co_return Status::ok();
}

void FakeManager::preset(const JobContainer& jc, const std::string& outputs_dir) {
  Container c;
  c.job_id = jc.job_id;
  c.id = jc.container_id;
  c.state = jc.state;
  c.exit = jc.exit;
  c.watched = false;
  c.outputs_dir = outputs_dir;
  containers_[c.id] = c;
}

bool FakeManager::exit(Id job_id, const ExitInfo& e) {
  Container* c = find_job(job_id);
  return c != nullptr && stop(*c, e);
}

bool FakeManager::exit(const std::string& container_id, const ExitInfo& e) {
  Container* c = find(container_id);
  return c != nullptr && stop(*c, e);
}

void FakeManager::deliver_exit(Id job_id, const ExitInfo& e) {
  post_exit(job_id, e);
}

bool FakeManager::stop(Container& c, const ExitInfo& e) {
  if (c.state == ContainerState::kExited) return false;  // an engine reports a death once
  c.state = ContainerState::kExited;
  c.exit = e;
  write_exit_files(c);
  if (c.watched) post_exit(c.job_id, e);
  return true;
}

void FakeManager::write_exit_files(const Container& c) {
  auto logs = logs_.find(c.job_id);
  if (logs != logs_.end()) {
    append_file(c.stdout_path, logs->second.first);
    append_file(c.stderr_path, logs->second.second);
  }
  auto outs = outputs_.find(c.job_id);
  if (outs != outputs_.end() && !c.outputs_dir.empty()) {
    for (const auto& [rel, content] : outs->second) {
      std::string path = c.outputs_dir + "/" + rel;
      std::error_code ec;
      fs::create_directories(fs::path(path).parent_path(), ec);
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << content;
    }
  }
}

void FakeManager::post_exit(Id job_id, const ExitInfo& e) {
  asio::post(ex_, [this, alive = alive_, job_id, e]() {
    if (!*alive || observer_ == nullptr || shut_down_) return;
    ++exits_delivered_;
    observer_->on_job_exited(job_id, e);
  });
}

FakeManager::Container* FakeManager::find(const std::string& container_id) {
  auto it = containers_.find(container_id);
  return it == containers_.end() ? nullptr : &it->second;
}

FakeManager::Container* FakeManager::find_job(Id job_id) {
  Container* best = nullptr;
  int best_n = -1;
  for (auto& [id, c] : containers_) {
    if (c.job_id != job_id) continue;
    // "fake-<n>": the most recent launch wins; preset ids (any form) rank first.
    int n = 0;
    if (id.rfind("fake-", 0) == 0) n = std::atoi(id.c_str() + 5);
    if (n > best_n) {
      best = &c;
      best_n = n;
    }
  }
  return best;
}

const FakeManager::Container* FakeManager::container(const std::string& container_id) const {
  auto it = containers_.find(container_id);
  return it == containers_.end() ? nullptr : &it->second;
}

const FakeManager::Container* FakeManager::container_of(Id job_id) const {
  return const_cast<FakeManager*>(this)->find_job(job_id);
}

int FakeManager::launch_count(Id job_id) const {
  int n = 0;
  for (const auto& l : launches_) n += l.job_id == job_id ? 1 : 0;
  return n;
}

const JobLaunch* FakeManager::last_launch(Id job_id) const {
  for (auto it = launches_.rbegin(); it != launches_.rend(); ++it) {
    if (it->job_id == job_id) return &*it;
  }
  return nullptr;
}

}  // namespace pirus
