#pragma once
// Shared by the data-flow tests: small pipelines written by the test (FROM
// pirus-base/busybox:1), a handshake file that lets a job wait for the test, and helpers to
// read a job's notify token the way the job sees it.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/server_process.hpp"

namespace pirus::testing {

class DataflowTest : public ServerTest {
 protected:
  // Installs a pipeline whose command is `script` (run with /bin/sh) and whose form is
  // `form_json`. Returns the pipeline id.
  std::int64_t install_script(const std::string& name, const std::string& script,
                              const std::string& form_json = "{}") {
    const std::string zip = dir_ / (name + ".zip");
    write_zip(zip, {{"manifest.json", R"({"name": ")" + name +
                                          R"(", "version": "1.0", "command": ["/app/run.sh"]})"},
                    {"Dockerfile", "FROM pirus-base/busybox:1\nCOPY run.sh /app/run.sh\n"},
                    {"form.json", form_json},
                    {"run.sh", "#!/bin/sh\nset -eu\n" + script, 0100755}});
    return install_pipeline(client(), zip);
  }

  json::object start_job(std::int64_t pipeline, const json::object& parameters = {},
                         const json::array& inputs = {}) {
    return create_job(client(),
                      {{"pipeline_id", pipeline}, {"inputs", inputs}, {"parameters", parameters}});
  }

  std::string job_dir(std::int64_t id) const {
    return servers_.back()->data_dir() + "/jobs/" + std::to_string(id);
  }

  // Lets a job blocked in `wait_for_go` (see kWaitForGo) continue.
  void release(std::int64_t id) const { write_file(job_dir(id) + "/logs/go", "go\n"); }

  // The token as the job received it, read from its config.json on the host.
  std::string token_of(std::int64_t id) const {
    json::value cfg = json::parse(read_file(job_dir(id) + "/inputs/config.json"));
    return std::string(cfg.at("notify").at("token").as_string());
  }
  std::string notify_url_of(std::int64_t id) const {
    json::value cfg = json::parse(read_file(job_dir(id) + "/inputs/config.json"));
    return std::string(cfg.at("notify").at("url").as_string());
  }

  // POST /notify with a raw Authorization header ("" sends none).
  RawReply notify(std::int64_t id, const std::string& authorization, const std::string& body) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!authorization.empty()) headers.push_back("Authorization: " + authorization);
    RawReply r = raw_request(
        "POST", server().url() + "/api/v1/jobs/" + std::to_string(id) + "/notify", headers, body);
    seen_bodies_ += r.body + "\n";
    return r;
  }

  json::object job(std::int64_t id) {
    auto r = api_request(client(), "GET", "/api/v1/jobs/" + std::to_string(id));
    seen_bodies_ += r.body + "\n";
    return json::parse(r.body).as_object();
  }

  // The shell snippet that blocks a job until the test calls release().
  static constexpr const char* kWaitForGo =
      "i=0; while [ ! -f \"$PIRUS_LOGS_DIR/go\" ] && [ $i -lt 600 ]; do sleep 0.1; "
      "i=$((i+1)); done\n";

  TempDir dir_{"pirus-dataflow"};
  std::string seen_bodies_;  // every API answer, to check that no token ever leaks
};

inline void expect_problem(const RawReply& r, long status) {
  EXPECT_EQ(r.status, status) << r.body;
  auto ct = r.headers.find("content-type");
  ASSERT_NE(ct, r.headers.end());
  EXPECT_EQ(ct->second, "application/problem+json");
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  EXPECT_EQ(v.at("status").to_number<long>(), status);
}

}  // namespace pirus::testing
