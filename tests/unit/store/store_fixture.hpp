#pragma once
// The Store behaviour tests run against every backend listed in store_backends.cpp
// (SQLite and PostgreSQL). Tests only use the Store interface
// and open_store, so the same expectations hold the backends to one contract.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/model.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"

namespace pirus {

inline void PrintTo(Code c, std::ostream* os) {
  *os << code_name(c);
}
inline void PrintTo(JobStatus s, std::ostream* os) {
  *os << to_string(s);
}

struct StoreBackend {
  std::string name;
  // The URL of a fresh, empty database. It may keep its files in `dir`, which outlives
  // every Store opened on the URL.
  std::function<std::string(const testing::TempDir& dir)> fresh_url;
};

inline void PrintTo(const StoreBackend& b, std::ostream* os) {
  *os << b.name;
}

std::vector<StoreBackend> store_backends();

// Unwraps a Result, throwing (which GoogleTest reports as a failure) when it holds an
// error: setup steps stay one line each and still say what went wrong.
template <typename T>
T must(Result<T> r) {
  if (!r.is_ok()) throw std::runtime_error(r.status().to_string());
  return std::move(r).value();
}

inline void must(const Status& st) {
  if (!st.is_ok()) throw std::runtime_error(st.to_string());
}

inline const std::vector<JobStatus>& all_job_statuses() {
  static const std::vector<JobStatus> kAll = {
      JobStatus::kWaiting,    JobStatus::kInitializing, JobStatus::kRunning,  JobStatus::kPause,
      JobStatus::kFinalizing, JobStatus::kDone,         JobStatus::kCanceled, JobStatus::kError,
  };
  return kAll;
}

class StoreTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    url_ = GetParam().fresh_url(dir_);
    store_ = must(open_store(url_));
  }

  Store& store() { return *store_; }
  const std::string& url() const { return url_; }
  const testing::TempDir& dir() const { return dir_; }

  // Another connection to the same database.
  std::unique_ptr<Store> open_again() { return must(open_store(url_)); }
  void close() { store_.reset(); }
  void reopen() {
    store_.reset();
    store_ = must(open_store(url_));
  }

  File file_value(const std::string& name) {
    File f;
    f.name = name;
    f.type = "txt";
    f.path = dir_ / ("files/" + name + "-" + std::to_string(++serial_));
    f.size = 10;
    f.upload_offset = 10;
    f.status = FileStatus::kUploaded;
    return f;
  }

  File add_file(const std::string& name = "sample.txt") {
    return must(store().create_file(file_value(name)));
  }

  Pipeline add_pipeline(const std::string& name = "wordcount",
                        const std::string& version = "1.0.0") {
    Pipeline p;
    p.name = name;
    p.version = version;
    p.status = PipelineStatus::kReady;
    p.manifest_json = "{}";
    p.form_json = "{}";
    return must(store().create_pipeline(p));
  }

  Job add_job(Id pipeline_id, std::vector<Id> inputs = {}, int priority = 0) {
    Job j;
    j.pipeline_id = pipeline_id;
    j.name = "job " + std::to_string(++serial_);
    j.priority = priority;
    j.parameters_json = "{}";
    j.inputs = std::move(inputs);
    return must(store().create_job(j));
  }

  // Walks a waiting job along legal transitions until it reaches `target`.
  Job drive(Id id, JobStatus target) {
    using S = JobStatus;
    std::vector<S> path;
    switch (target) {
      case S::kWaiting:
        break;
      case S::kInitializing:
        path = {S::kInitializing};
        break;
      case S::kRunning:
        path = {S::kInitializing, S::kRunning};
        break;
      case S::kPause:
        path = {S::kInitializing, S::kRunning, S::kPause};
        break;
      case S::kFinalizing:
        path = {S::kInitializing, S::kRunning, S::kFinalizing};
        break;
      case S::kDone:
        path = {S::kInitializing, S::kRunning, S::kFinalizing, S::kDone};
        break;
      case S::kCanceled:
        path = {S::kCanceled};
        break;
      case S::kError:
        path = {S::kError};
        break;
    }
    Job job = must(store().get_job(id));
    for (S next : path) {
      JobUpdate u;
      if (next == S::kError) u.error_reason = "it broke";
      job = must(store().transition_job(id, job.status, next, u));
    }
    return job;
  }

  // A job of a fresh pipeline already at `status`.
  Job job_at(JobStatus status, std::vector<Id> inputs = {}) {
    Pipeline p = add_pipeline("p" + std::to_string(++serial_));
    Job j = add_job(p.id, std::move(inputs));
    return drive(j.id, status);
  }

 private:
  testing::TempDir dir_{"pirus-store-test"};
  std::string url_;
  std::unique_ptr<Store> store_;
  int serial_ = 0;
};

}  // namespace pirus
