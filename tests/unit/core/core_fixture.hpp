#pragma once
// The core services (PipelineService, FileService, JobService) wired as the server wires
// them, but on a FakeManager: a fresh data directory, a real SQLite store in it, one event
// loop that the test turns itself (in small slices, always bounded by a timeout), one worker
// thread for the blocking file work.

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/core_context.hpp"
#include "core/event_bus.hpp"
#include "core/file_service.hpp"
#include "core/job_service.hpp"
#include "core/pipeline_service.hpp"
#include "managers/fake/fake_manager.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"

namespace pirus {

inline void PrintTo(Code c, std::ostream* os) {
  *os << code_name(c);
}
inline void PrintTo(JobStatus s, std::ostream* os) {
  *os << to_string(s);
}
inline void PrintTo(PipelineStatus s, std::ostream* os) {
  *os << to_string(s);
}

namespace core_test {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Unwraps a Result, throwing (reported by GoogleTest as a failure) when it holds an error.
template <typename T>
T must(Result<T> r) {
  if (!r.is_ok()) throw std::runtime_error(r.status().to_string());
  return std::move(r).value();
}
inline void must(const Status& st) {
  if (!st.is_ok()) throw std::runtime_error(st.to_string());
}

// A manifest for the fake engine (no command: the image's own).
inline constexpr const char* kManifest =
    R"({"name":"demo","version":"1.0","type":"job","engine":"fake",)"
    R"("inputs":"/pipeline/inputs","outputs":"/pipeline/outputs",)"
    R"("logs":"/pipeline/logs","databases":"/pipeline/databases"})";

// The seqstats form: integers with bounds, a string, an enum, a boolean, all with defaults.
inline constexpr const char* kSeqstatsForm = R"({
  "type": "object",
  "properties": {
    "min_length": {"type": "integer", "default": 0, "minimum": 0, "maximum": 1000000},
    "report_title": {"type": "string", "default": "Sequence statistics"},
    "format": {"type": "enum", "enum": ["auto", "fasta", "fastq"], "default": "auto"},
    "fail": {"type": "boolean", "default": false}
  }
})";

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // ---- the event loop
  // Turns the loop until pred() holds; false after `timeout` (a bug fails, never hangs).
  bool pump(const std::function<bool()>& pred, Clock::duration timeout = 5s);
  // Turns the loop for `d`: for "and nothing else happens" checks.
  void idle(Clock::duration d = 100ms);
  // Runs one coroutine to completion on the loop.
  template <typename T>
  T run(asio::awaitable<T> a, Clock::duration timeout = 10s) {
    auto out = std::make_shared<std::optional<T>>();
    auto wrapper = [](asio::awaitable<T> inner,
                      std::shared_ptr<std::optional<T>> dest) -> asio::awaitable<void> {
      dest->emplace(co_await std::move(inner));
    };
    auto task = wrapper(std::move(a), out);
    asio::co_spawn(*io_, std::move(task), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    if (!pump([&] { return out->has_value(); }, timeout)) {
      throw std::runtime_error("timed out waiting for a coroutine");
    }
    return std::move(**out);
  }
  void run_void(asio::awaitable<void> a, Clock::duration timeout = 10s);

  // ---- setup helpers
  // A pipeline row inserted directly in the store (no package, no build).
  Pipeline add_pipeline(const std::string& form_json = "{}",
                        const std::string& manifest_json = kManifest,
                        PipelineStatus status = PipelineStatus::kReady,
                        const std::string& name = "demo", const std::string& version = "1.0");
  // An upload imported through FileService (written to tmp/ first).
  File import(const std::string& name, const std::string& content);
  Result<Job> create(const NewJobRequest& r) { return jobs_->create(r); }
  Job create_job(Id pipeline_id, std::vector<Id> inputs = {}, int priority = 0,
                 json::object params = {}, Resources resources = {});
  // A job inserted in the store and moved through `path` by store transitions alone
  // (the services do not see it until recover()).
  Job store_job(Id pipeline_id, const std::vector<JobStatus>& path,
                const std::string& container_id = "");

  Job job(Id id) { return must(store_->get_job(id)); }
  JobStatus status_of(Id id) { return job(id).status; }
  bool wait_status(Id id, JobStatus s, Clock::duration timeout = 5s);
  // Creates a job and waits until it runs in a fake container.
  Job start_job(Id pipeline_id, std::vector<Id> inputs = {}, int priority = 0);
  std::vector<File> outputs_of(Id job_id);
  // Every status job_updated events reported for `id`, in order.
  std::vector<std::string> statuses_published(Id id) const;

  std::string data(const std::string& rel) const { return dir_->path() + "/" + rel; }
  std::string workspace(Id job_id) const {
    return config().jobs_dir() + "/" + std::to_string(job_id);
  }
  Config& config() const { return ctx_->config; }

  std::unique_ptr<pirus::testing::TempDir> dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<asio::thread_pool> pool_;
  EventBus events_;
  std::vector<Event> seen_;
  std::unique_ptr<FakeManager> fake_;
  std::unique_ptr<CoreContext> ctx_;
  std::unique_ptr<PipelineService> pipelines_;
  std::unique_ptr<FileService> files_;
  std::unique_ptr<JobService> jobs_;
  std::string job_user_;
  int imported_ = 0;
};

}  // namespace core_test
}  // namespace pirus
