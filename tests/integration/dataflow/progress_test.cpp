// The two progress channels of a real job (docs/pipeline-packages.md, "Progress"): the file
// channel (network none) and the HTTP channel (a server given jobs.network=host, so the job
// itself posts with busybox wget), the notify token's secrecy and every refusal of the
// notify endpoint.

#include <sys/stat.h>

#include "dataflow_fixture.hpp"

namespace pirus::testing {
namespace {

using ProgressTest = DataflowTest;

bool has_progress(const json::object& j, double p, const std::string& label) {
  return std::abs(j.at("progress").to_number<double>() - p) < 1e-9 &&
         str_of(j, "progress_label") == label;
}

TEST_F(ProgressTest, FileChannelMovesARealJobsProgress) {
  start_server();
  std::int64_t pipeline = install_script(
      "fileprogress", std::string("echo '{\"progress\": 0.3, \"label\": \"step one\"}' >> "
                                  "\"$PIRUS_PROGRESS_FILE\"\n") +
                          kWaitForGo +
                          "echo '{\"progress\": 0.7, \"label\": \"step two\"}' >> "
                          "\"$PIRUS_PROGRESS_FILE\"\n" +
                          "sleep 1\n");
  std::int64_t id = id_of(start_job(pipeline));
  json::object j = wait_job(client(), id, [](const json::object& j) {
    return has_progress(j, 0.3, "step one") || str_of(j, "status") == "error";
  });
  EXPECT_EQ(str_of(j, "status"), "running");
  release(id);
  j = wait_job(client(), id, [](const json::object& j) {
    return has_progress(j, 0.7, "step two") || str_of(j, "status") != "running";
  });
  EXPECT_TRUE(has_progress(j, 0.7, "step two")) << json::serialize(j);
  j = wait_job(client(), id, {"done"});
  EXPECT_DOUBLE_EQ(j.at("progress").to_number<double>(), 1.0);
}

TEST_F(ProgressTest, HttpChannelFromInsideAJobWithHostNetwork) {
  // dockerd runs with --bridge=none: a job reaches the server only with the host network.
  ServerOptions options;
  options.sets = {"jobs.network=host"};
  start_server(options);
  std::int64_t pipeline = install_script(
      "httpprogress",
      "wget -q -O /dev/null --header \"Authorization: Bearer $PIRUS_NOTIFY_TOKEN\" "
      "--header 'Content-Type: application/json' "
      "--post-data '{\"progress\": 0.6, \"label\": \"aligning\"}' \"$PIRUS_NOTIFY_URL\"\n" +
          std::string(kWaitForGo));
  std::int64_t id = id_of(start_job(pipeline));
  json::object j = wait_job(client(), id, [](const json::object& j) {
    const std::string s = str_of(j, "status");
    return has_progress(j, 0.6, "aligning") || s == "done" || s == "error" || s == "canceled";
  });
  EXPECT_TRUE(has_progress(j, 0.6, "aligning")) << json::serialize(j);
  EXPECT_EQ(str_of(j, "status"), "running");
  // The URL the job used names its own job on this server.
  EXPECT_EQ(notify_url_of(id), server().url() + "/api/v1/jobs/" + std::to_string(id) + "/notify");
  // `pirus job wait` shows the label (one line per change when not on a terminal).
  std::string out;
  int rc = run_command(std::string(PIRUS_BINARY) + " --server " + server().url() + " job wait " +
                           std::to_string(id) + " --timeout 1 2>&1",
                       &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("aligning"), std::string::npos) << out;
  EXPECT_NE(out.find("60%"), std::string::npos) << out;
  release(id);
  wait_job(client(), id, {"done"});
}

TEST_F(ProgressTest, NotifyEndpointChecksTokenFieldsRateAndStatus) {
  start_server();
  std::int64_t pipeline = install_script("notified", kWaitForGo);
  std::int64_t a = id_of(start_job(pipeline));
  std::int64_t b = id_of(start_job(pipeline));
  wait_job(client(), a, {"running"});
  wait_job(client(), b, {"running"});
  const std::string token_a = token_of(a);
  const std::string token_b = token_of(b);
  ASSERT_EQ(token_a.size(), 64u);
  ASSERT_NE(token_a, token_b);

  // The token file is readable by the job's group only, not by everyone.
  struct stat st;
  ASSERT_EQ(::stat((job_dir(a) + "/inputs/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_gid, 65534u);
  // The job's environment carries the same token.
  auto inspected = docker_inspect(server().container_name(a));
  ASSERT_TRUE(inspected);
  std::string env = json::serialize(inspected->at("Config").at("Env"));
  EXPECT_NE(env.find("PIRUS_NOTIFY_TOKEN=" + token_a), std::string::npos);

  // Missing, malformed, wrong and another job's token: refused, nothing changes.
  expect_problem(notify(a, "", R"({"progress": 0.5})"), 401);
  expect_problem(notify(a, "Basic " + token_a, R"({"progress": 0.5})"), 401);
  expect_problem(notify(a, "Bearer " + std::string(64, '0'), R"({"progress": 0.5})"), 403);
  expect_problem(notify(a, "Bearer " + token_b, R"({"progress": 0.5})"), 403);
  expect_problem(notify(a, "Bearer " + token_a.substr(0, 63), R"({"progress": 0.5})"), 403);
  EXPECT_DOUBLE_EQ(job(a).at("progress").to_number<double>(), 0.0);

  // Only progress, label and status, and only the three statuses.
  const std::string auth = "Bearer " + token_a;
  for (const char* body : {R"({"progress": 0.5, "status": "done"})", R"({"error_reason": "x"})",
                           R"({"progress": 0.5, "exit_code": 0})", R"({"status": "finalized"})",
                           R"({"progress": "half"})", R"({"label": 7})", R"({})", R"([1])",
                           "not json", R"({"status": "canceled"})"}) {
    SCOPED_TRACE(body);
    expect_problem(notify(a, auth, body), 400);
  }
  expect_problem(notify(a, auth, R"({"label": ")" + std::string(201, 'x') + R"("})"), 400);
  json::object unchanged = job(a);
  EXPECT_EQ(str_of(unchanged, "status"), "running");
  EXPECT_DOUBLE_EQ(unchanged.at("progress").to_number<double>(), 0.0);

  // Accepted: clamped progress, label, the finalizing hint.
  RawReply ok = notify(a, auth, R"({"progress": 7, "label": "almost"})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(has_progress(job(a), 1.0, "almost"));
  ok = notify(a, auth, R"({"progress": -1, "status": "finalizing"})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(has_progress(job(a), 0.0, "finalizing"));
  EXPECT_EQ(str_of(job(a), "status"), "running");  // a hint only

  // The rate limit: a burst far beyond 20 requests gets 429 with Retry-After.
  int limited = 0;
  for (int i = 0; i < 40; ++i) {
    RawReply r = notify(b, "Bearer " + token_b, R"({"progress": 0.1})");
    if (r.status == 429) {
      ++limited;
      EXPECT_FALSE(r.headers["retry-after"].empty());
      EXPECT_GE(std::stoi(r.headers["retry-after"]), 1);
    } else {
      EXPECT_EQ(r.status, 200) << r.body;
    }
  }
  EXPECT_GE(limited, 10);
  // Job a has its own bucket.
  EXPECT_EQ(notify(a, auth, R"({"progress": 0.2})").status, 200);

  // status error: the job ends in error with the label as its reason, its container goes.
  ok = notify(b, "Bearer " + token_b, R"({"status": "error", "label": "reference missing"})");
  if (ok.status == 429) {
    std::this_thread::sleep_for(std::chrono::seconds(std::stoi(ok.headers["retry-after"])));
    ok = notify(b, "Bearer " + token_b, R"({"status": "error", "label": "reference missing"})");
  }
  EXPECT_EQ(ok.status, 200) << ok.body;
  json::object failed = wait_job(client(), b, {"error"});
  EXPECT_NE(str_of(failed, "error_reason").find("reference missing"), std::string::npos);
  EXPECT_TRUE(poll_until([&] { return !docker_inspect(server().container_name(b)); }, 20s));

  // Not running any more: 409, with the right token.
  expect_problem(notify(b, "Bearer " + token_b, R"({"progress": 0.9})"), 409);
  release(a);
  wait_job(client(), a, {"done"});
  expect_problem(notify(a, auth, R"({"progress": 0.9})"), 409);
  // An unknown job.
  expect_problem(notify(999, auth, R"({"progress": 0.9})"), 404);

  // The tokens never appear in an API answer nor in the server's log.
  for (const char* path : {"/api/v1/jobs", "/api/v1/jobs?status=error"}) {
    seen_bodies_ += api_request(client(), "GET", path).body;
  }
  seen_bodies_ += api_request(client(), "GET", "/api/v1/jobs/" + std::to_string(a)).body;
  EXPECT_EQ(seen_bodies_.find(token_a), std::string::npos);
  EXPECT_EQ(seen_bodies_.find(token_b), std::string::npos);
  const std::string log = server().log();
  EXPECT_EQ(log.find(token_a), std::string::npos);
  EXPECT_EQ(log.find(token_b), std::string::npos);
}

TEST_F(ProgressTest, NotifyCommandPostsWithTheJobsEnvironment) {
  start_server();
  std::int64_t pipeline = install_script("clinotify", kWaitForGo);
  std::int64_t id = id_of(start_job(pipeline));
  wait_job(client(), id, {"running"});
  const std::string env = "PIRUS_NOTIFY_URL=" + shell_quote(notify_url_of(id)) +
                          " PIRUS_NOTIFY_TOKEN=" + shell_quote(token_of(id)) + " ";
  std::string out;
  int rc = run_command(env + PIRUS_BINARY " notify --progress 0.5 --label aligning 2>&1", &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(has_progress(job(id), 0.5, "aligning"));

  // A wrong token (the flag wins over the environment): a clear error, exit 1.
  rc = run_command(
      env + PIRUS_BINARY " notify --token " + std::string(64, 'f') + " --progress 0.9 2>&1", &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("error: this is not the notify token of job"), std::string::npos) << out;
  // Nothing to send, no URL, a bad status: usage errors.
  rc = run_command(env + PIRUS_BINARY " notify 2>&1", &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("at least one of"), std::string::npos) << out;
  rc = run_command("env -u PIRUS_NOTIFY_URL " PIRUS_BINARY " notify --progress 1 2>&1", &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("no notify URL"), std::string::npos) << out;
  rc = run_command(env + PIRUS_BINARY " notify --status done 2>&1", &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_TRUE(has_progress(job(id), 0.5, "aligning"));
  release(id);
  wait_job(client(), id, {"done"});
}

}  // namespace
}  // namespace pirus::testing
