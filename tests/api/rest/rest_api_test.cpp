// The REST API over real HTTP against a real `pirus server` (docs/api.md): every bad input
// is a 4xx problem+json, and the positive paths (health, OpenAPI, pagination, Range,
// filters) behave as documented.
//
// One server for the whole suite, with limits.max_running_jobs=1 and, after
// SetUpTestSuite: seqstats installed, two inputs uploaded, one job done, one running (for
// 10 minutes) and one waiting behind it. Tests only add to that state.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

// Checks a problem response: status, Content-Type and an RFC 9457 body whose detail
// contains `detail_part`.
void expect_problem(const cli::HttpResult& r, long status, const std::string& detail_part = "") {
  EXPECT_EQ(r.status, status) << r.body;
  auto ct = r.headers.find("content-type");
  ASSERT_NE(ct, r.headers.end()) << "no Content-Type; status " << r.status;
  EXPECT_EQ(ct->second, "application/problem+json");
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << "not JSON: " << r.body;
  ASSERT_TRUE(v.is_object()) << r.body;
  ASSERT_TRUE(v.as_object().contains("status")) << r.body;
  EXPECT_EQ(v.at("status").to_number<long>(), r.status);
  EXPECT_FALSE(str_of(v, "title").empty()) << r.body;
  EXPECT_FALSE(str_of(v, "detail").empty()) << r.body;
  if (!detail_part.empty()) {
    EXPECT_NE(str_of(v, "detail").find(detail_part), std::string::npos)
        << "detail should mention '" << detail_part << "': " << r.body;
  }
}

void expect_client_error(const cli::HttpResult& r, std::set<long> statuses,
                         const std::string& detail_part = "") {
  EXPECT_TRUE(statuses.count(r.status)) << r.status << " " << r.body;
  expect_problem(r, r.status, detail_part);
}

class RestApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      server_ = new ServerProcess({.sets = {"limits.max_running_jobs=1"}});
      client_ = new cli::ApiClient(server_->url());
      cli::ApiClient& c = *client_;
      pipeline_ = install_pipeline(c, seqstats_zip());
      f1_ = upload(c, seqstats_test_data("sample1.fa"));
      f2_ = upload(c, seqstats_test_data("sample2.fq"));
      done_job_ = id_of(create_job(c, {{"pipeline_id", pipeline_}, {"inputs", {f1_, f2_}}}));
      wait_job(c, done_job_, {"done"}, 60s);
      running_job_ = id_of(create_job(
          c,
          {{"pipeline_id", pipeline_}, {"inputs", {f1_}}, {"parameters", {{"delay_ms", 600000}}}}));
      wait_job(c, running_job_, {"running"}, 30s);
      waiting_job_ = id_of(create_job(c, {{"pipeline_id", pipeline_}, {"inputs", {f2_}}}));
    } catch (const std::exception& e) {
      setup_error_ = e.what();
      if (server_ != nullptr) setup_error_ += "\nserver log:\n" + server_->log();
    }
  }

  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
    delete server_;  // stops it and removes its containers and image
    server_ = nullptr;
  }

  void SetUp() override {
    if (!setup_error_.empty()) GTEST_FAIL() << "suite setup failed: " << setup_error_;
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::string log = server_->log();
      if (log.size() > 8000) log = "...\n" + log.substr(log.size() - 8000);
      std::cerr << "---- server log (tail) ----\n" << log << "---- end ----\n";
    }
  }

  static cli::ApiClient& c() { return *client_; }
  static cli::HttpResult req(const std::string& method, const std::string& path,
                             const std::string& body = "",
                             const std::string& type = "application/json") {
    return api_request(*client_, method, path, body, type);
  }
  static cli::HttpResult post_job(const json::object& body) {
    return req("POST", "/api/v1/jobs", json::serialize(body));
  }
  static std::string job_path(std::int64_t id) { return "/api/v1/jobs/" + std::to_string(id); }

  static inline ServerProcess* server_ = nullptr;
  static inline cli::ApiClient* client_ = nullptr;
  static inline std::string setup_error_;
  static inline std::int64_t pipeline_ = 0, f1_ = 0, f2_ = 0;
  static inline std::int64_t done_job_ = 0, running_job_ = 0, waiting_job_ = 0;
};

// ------------------------------------------------------------------ job creation input

TEST_F(RestApiTest, MalformedJsonNamesTheLineAndColumn) {
  auto r = req("POST", "/api/v1/jobs", "{\"pipeline_id\": 1,\n  \"name\": }");
  expect_problem(r, 400, "line 2");
  EXPECT_NE(r.body.find("column"), std::string::npos) << r.body;
  expect_problem(req("POST", "/api/v1/jobs", "{\"pipeline_id\": 1"), 400);
  expect_problem(req("POST", "/api/v1/jobs", ""), 400);
}

TEST_F(RestApiTest, BodyMustBeAJsonObject) {
  for (const char* body : {"[1, 2]", "\"job\"", "42", "null", "true"}) {
    SCOPED_TRACE(body);
    expect_problem(req("POST", "/api/v1/jobs", body), 400, "object");
  }
}

TEST_F(RestApiTest, UnknownFieldIsRejected) {
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"colour", "red"}}), 400, "colour");
}

TEST_F(RestApiTest, PipelineIdIsRequiredAndAnInteger) {
  expect_problem(post_job({{"inputs", {f1_}}}), 400, "pipeline_id");
  expect_problem(post_job({{"pipeline_id", "one"}}), 400, "pipeline_id");
  expect_problem(post_job({{"pipeline_id", 1.5}}), 400, "pipeline_id");
}

TEST_F(RestApiTest, UnknownPipelineIsRejected) {
  expect_client_error(post_job({{"pipeline_id", 999999}}), {400, 404}, "999999");
}

TEST_F(RestApiTest, InputsMustBeExistingFileIds) {
  expect_client_error(post_job({{"pipeline_id", pipeline_}, {"inputs", {999999}}}), {400, 404},
                      "999999");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"inputs", "sample1.fa"}}), 400, "inputs");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"inputs", {-3}}}), 400, "inputs");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"inputs", {"x"}}}), 400, "inputs");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"inputs", {f1_, f1_}}}), 400, "twice");
}

TEST_F(RestApiTest, ParametersAreValidatedAgainstTheForm) {
  auto with = [&](json::object params) {
    return post_job({{"pipeline_id", pipeline_}, {"inputs", {f1_}}, {"parameters", params}});
  };
  expect_problem(with({{"min_length", -1}}), 400, "min_length");
  expect_problem(with({{"delay_ms", 600001}}), 400, "delay_ms");
  expect_problem(with({{"min_length", "ten"}}), 400, "min_length");
  expect_problem(with({{"min_length", 2.5}}), 400, "min_length");
  expect_problem(with({{"format", "xml"}}), 400, "format");
  expect_problem(with({{"fail", "yes"}}), 400, "fail");
  expect_problem(with({{"colour", 1}}), 400, "colour");
  // Every problem at once.
  auto r = with({{"min_length", -1}, {"format", "xml"}, {"colour", 1}});
  expect_problem(r, 400);
  for (const char* key : {"min_length", "format", "colour"}) {
    EXPECT_NE(r.body.find(key), std::string::npos) << key << " not listed: " << r.body;
  }
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"parameters", {1, 2}}}), 400, "parameters");
}

TEST_F(RestApiTest, ResourcesAboveTheMaximumAreRejected) {
  auto with = [&](json::object res) {
    return post_job({{"pipeline_id", pipeline_}, {"inputs", {f1_}}, {"resources", res}});
  };
  expect_problem(with({{"memory_mb", 65537}}), 400, "memory_mb");
  expect_problem(with({{"pids", 4097}}), 400, "pids");
  expect_problem(with({{"cpus", 100000}}), 400, "cpus");
  expect_problem(with({{"memory_mb", 1}}), 400, "memory_mb");
  expect_problem(with({{"cpus", -1}}), 400);
  expect_problem(with({{"gpus", 1}}), 400, "gpus");
  expect_problem(with({{"memory_mb", "lots"}}), 400, "memory_mb");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"resources", 5}}), 400, "resources");
}

TEST_F(RestApiTest, ValidJobGetsDefaults) {
  auto r = post_job({{"pipeline_id", pipeline_}, {"inputs", {f1_}}, {"priority", -5}});
  ASSERT_EQ(r.status, 201) << r.body;
  json::object job = json::parse(r.body).as_object();
  EXPECT_EQ(r.headers["location"], job_path(id_of(job)));
  EXPECT_EQ(str_of(job, "status"), "waiting");
  EXPECT_FALSE(str_of(job, "name").empty());
  EXPECT_EQ(job.at("priority").as_int64(), -5);
  const json::object& params = job.at("parameters").as_object();
  EXPECT_EQ(params.at("min_length").to_number<std::int64_t>(), 0);
  EXPECT_EQ(str_of(params, "format"), "auto");
  EXPECT_EQ(params.at("fail").as_bool(), false);
  const json::object& res = job.at("resources").as_object();
  EXPECT_EQ(res.at("cpus").to_number<double>(), 1.0);
  EXPECT_EQ(res.at("memory_mb").to_number<std::int64_t>(), 1024);
  EXPECT_EQ(res.at("pids").to_number<std::int64_t>(), 512);
  EXPECT_TRUE(job.at("started_at").is_null());
}

// ------------------------------------------------------------------ ids, routes, methods

TEST_F(RestApiTest, UnknownIdsAre404) {
  for (const char* path :
       {"/api/v1/jobs/999999", "/api/v1/files/999999", "/api/v1/pipelines/999999",
        "/api/v1/files/999999/content", "/api/v1/jobs/999999/logs/stdout",
        "/api/v1/jobs/999999/monitoring", "/api/v1/pipelines/999999/form",
        "/api/v1/pipelines/999999/build-log", "/api/v1/pipelines/999999/documents/about"}) {
    SCOPED_TRACE(path);
    expect_problem(req("GET", path), 404);
  }
  for (const char* path :
       {"/api/v1/jobs/999999", "/api/v1/files/999999", "/api/v1/pipelines/999999"}) {
    SCOPED_TRACE(path);
    expect_problem(req("DELETE", path), 404);
  }
  for (const char* verb : {"pause", "resume", "cancel"}) {
    SCOPED_TRACE(verb);
    expect_problem(req("POST", std::string("/api/v1/jobs/999999/") + verb), 404);
  }
  expect_problem(req("GET", "/api/v1/pipelines/" + std::to_string(pipeline_) + "/documents/nope"),
                 404);
  expect_problem(req("GET", job_path(done_job_) + "/logs/stdin"), 404);
}

TEST_F(RestApiTest, NonNumericIdsAre400) {
  for (const char* path :
       {"/api/v1/jobs/abc", "/api/v1/files/abc", "/api/v1/pipelines/abc", "/api/v1/jobs/0",
        "/api/v1/jobs/-1", "/api/v1/jobs/1x", "/api/v1/jobs/99999999999999999999999"}) {
    SCOPED_TRACE(path);
    expect_problem(req("GET", path), 400);
  }
  expect_problem(req("DELETE", "/api/v1/files/abc"), 400);
  expect_problem(req("POST", "/api/v1/jobs/abc/cancel"), 400);
}

TEST_F(RestApiTest, WrongMethodIs405WithAllow) {
  auto r = req("PUT", "/api/v1/jobs", "{}");
  expect_problem(r, 405);
  std::string allow = r.headers["allow"];
  EXPECT_NE(allow.find("GET"), std::string::npos) << allow;
  EXPECT_NE(allow.find("POST"), std::string::npos) << allow;

  r = req("DELETE", "/api/v1/health");
  expect_problem(r, 405);
  EXPECT_NE(r.headers["allow"].find("GET"), std::string::npos) << r.headers["allow"];

  r = req("PATCH", job_path(done_job_));
  expect_problem(r, 405);
  allow = r.headers["allow"];
  EXPECT_NE(allow.find("GET"), std::string::npos) << allow;
  EXPECT_NE(allow.find("DELETE"), std::string::npos) << allow;

  r = req("GET", job_path(done_job_) + "/cancel");
  expect_problem(r, 405);
  EXPECT_NE(r.headers["allow"].find("POST"), std::string::npos);
}

TEST_F(RestApiTest, UnknownRouteIs404) {
  // "/" is the web dashboard's (tests/api/web); every unknown /api path stays the API's 404.
  for (const char* path : {"/api/v1/nope", "/api/v2/jobs", "/api/v1/jobs/1/unknown", "/api",
                           "/api/v1/files/1/content/more"}) {
    SCOPED_TRACE(path);
    expect_problem(req("GET", path), 404);
  }
}

// ------------------------------------------------------------------ state conflicts

TEST_F(RestApiTest, ActionsThatTheJobStateForbidsAre409) {
  ASSERT_EQ(str_of(get_job(c(), waiting_job_), "status"), "waiting");
  ASSERT_EQ(str_of(get_job(c(), running_job_), "status"), "running");
  expect_problem(req("POST", job_path(waiting_job_) + "/pause"), 409);
  expect_problem(req("POST", job_path(done_job_) + "/pause"), 409);
  expect_problem(req("POST", job_path(running_job_) + "/resume"), 409);
  expect_problem(req("POST", job_path(waiting_job_) + "/resume"), 409);
  expect_problem(req("POST", job_path(done_job_) + "/cancel"), 409, "final");
  expect_problem(req("DELETE", job_path(running_job_)), 409);
  expect_problem(req("DELETE", job_path(waiting_job_)), 409);
  // An input of a job that is not final cannot be deleted; nor can the pipeline.
  expect_problem(req("DELETE", "/api/v1/files/" + std::to_string(f1_)), 409);
  expect_problem(req("DELETE", "/api/v1/pipelines/" + std::to_string(pipeline_)), 409);
  // Nothing changed.
  EXPECT_EQ(str_of(get_job(c(), waiting_job_), "status"), "waiting");
  EXPECT_EQ(str_of(get_job(c(), running_job_), "status"), "running");
  EXPECT_EQ(str_of(get_job(c(), done_job_), "status"), "done");
}

// ------------------------------------------------------------------ body limits

TEST_F(RestApiTest, JsonBodyOverOneMebibyteIs413) {
  std::string body = R"({"pipeline_id":1,"name":")" + std::string((1 << 20) + 10, 'x') + "\"}";
  expect_problem(req("POST", "/api/v1/jobs", body), 413);
  // The connection that was refused does not poison the next request.
  EXPECT_EQ(req("GET", "/api/v1/health").status, 200);
}

TEST_F(RestApiTest, ChecksumMismatchIs400AndKeepsNothing) {
  TempDir dir("pirus-api");
  const std::string path = dir / "data.txt";
  write_file(path, "some bytes\n");
  auto r = c().upload("/api/v1/files?name=mismatch.txt&sha256=" + std::string(64, '0'), path,
                      "application/octet-stream");
  ASSERT_TRUE(r) << r.status().to_string();
  expect_problem(*r, 400, "checksum");
  r = c().upload("/api/v1/files?name=malformed.txt&sha256=xyz", path, "application/octet-stream");
  ASSERT_TRUE(r);
  expect_problem(*r, 400, "sha256");
  json::object files = api_object(c(), "/api/v1/files?limit=1000");
  for (const auto& f : files.at("items").as_array()) {
    EXPECT_NE(str_of(f, "name"), "mismatch.txt");
    EXPECT_NE(str_of(f, "name"), "malformed.txt");
  }
  // The same upload with the right checksum is accepted and "checked".
  r = c().upload("/api/v1/files?name=good.txt&sha256=" + sha256_of("some bytes\n"), path,
                 "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(str_of(json::parse(r->body), "status"), "checked");
  // No name: 400.
  r = c().upload("/api/v1/files", path, "application/octet-stream");
  ASSERT_TRUE(r);
  expect_problem(*r, 400, "name");
}

// ------------------------------------------------------------------ pipelines

TEST_F(RestApiTest, NotAZipIs400) {
  TempDir dir("pirus-api");
  write_file(dir / "x.zip", "this is not a zip archive\n");
  auto r = c().upload("/api/v1/pipelines?filename=x.zip", dir / "x.zip", "application/zip");
  ASSERT_TRUE(r);
  expect_problem(*r, 400);
  expect_problem(req("POST", "/api/v1/pipelines", "", "application/zip"), 400);
  // A zip without a manifest.
  write_zip(dir / "empty.zip", {{"README.md", "nothing here\n"}});
  r = c().upload("/api/v1/pipelines?filename=empty.zip", dir / "empty.zip", "application/zip");
  ASSERT_TRUE(r);
  expect_problem(*r, 400, "manifest");
  json::object list = api_object(c(), "/api/v1/pipelines");
  EXPECT_EQ(list.at("items").as_array().size(), 1u) << json::serialize(list);
}

TEST_F(RestApiTest, SameNameAndVersionTwiceIs409) {
  auto r = c().upload("/api/v1/pipelines?filename=seqstats.zip", seqstats_zip(), "application/zip");
  ASSERT_TRUE(r);
  expect_problem(*r, 409, "seqstats");
  json::object list = api_object(c(), "/api/v1/pipelines");
  EXPECT_EQ(list.at("items").as_array().size(), 1u) << json::serialize(list);
}

TEST_F(RestApiTest, InstallFromPathNeedsAnAbsoluteExistingPath) {
  auto install = [&](const json::object& body) {
    return req("POST", "/api/v1/pipelines/install", json::serialize(body));
  };
  expect_problem(install({{"path", "pkgs/seqstats.zip"}}), 400, "absolute");
  expect_problem(install({{"path", ""}}), 400);
  expect_problem(install({{"path", "/nonexistent/pirus-test/pkg.zip"}}), 400);
  expect_problem(install({}), 400);
  expect_problem(install({{"path", 7}}), 400);
  expect_client_error(install({{"file_id", 999999}}), {400, 404}, "999999");
  expect_problem(req("POST", "/api/v1/pipelines/install", "[]"), 400);
  // The same package by path is still a duplicate.
  expect_problem(install({{"path", seqstats_zip()}}), 409);
}

TEST_F(RestApiTest, PipelineDetailFormDocumentsAndBuildLog) {
  const std::string base = "/api/v1/pipelines/" + std::to_string(pipeline_);
  json::object p = api_object(c(), base);
  EXPECT_EQ(str_of(p, "name"), "seqstats");
  EXPECT_EQ(str_of(p, "version"), "1.0.0");
  EXPECT_EQ(str_of(p, "status"), "ready");
  EXPECT_TRUE(p.at("manifest").is_object());
  EXPECT_TRUE(p.at("form").as_object().contains("properties"));
  json::object form = api_object(c(), base + "/form");
  EXPECT_TRUE(form.at("properties").as_object().contains("delay_ms"));
  auto about = req("GET", base + "/documents/about");
  EXPECT_EQ(about.status, 200);
  EXPECT_NE(about.headers["content-type"].find("text/html"), std::string::npos);
  auto log = req("GET", base + "/build-log");
  EXPECT_EQ(log.status, 200);
  EXPECT_FALSE(log.body.empty());
  json::object list = api_object(c(), "/api/v1/pipelines");
  ASSERT_EQ(list.at("items").as_array().size(), 1u);
  EXPECT_FALSE(list.at("items").as_array()[0].as_object().contains("manifest"));
}

// ------------------------------------------------------------------ service

TEST_F(RestApiTest, HealthIsOk) {
  auto r = req("GET", "/api/v1/health");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.headers["content-type"].find("application/json"), std::string::npos);
  json::object h = json::parse(r.body).as_object();
  EXPECT_EQ(str_of(h, "status"), "ok");
  EXPECT_EQ(str_of(h, "version"), "0.1.0");
  EXPECT_EQ(str_of(h, "database"), "ok");
  EXPECT_EQ(h.at("jobs").at("running").to_number<int>(), 1);
  EXPECT_GE(h.at("jobs").at("waiting").to_number<int>(), 1);
}

TEST_F(RestApiTest, HealthReportsTheEngineAsDocumented) {
  json::object h = api_object(c(), "/api/v1/health");
  const auto* engines = h.if_contains("engines");
  // Regression (fixed): docs/api.md documents {"engines":{"docker":"ok"}} (and a 503 when a
  // dependency is down); the server answers {"engine":"docker"} and never checks dockerd.
  ASSERT_FALSE(engines == nullptr);
  EXPECT_EQ(str_of(*engines, "docker"), "ok");
}

TEST_F(RestApiTest, EveryOpenApiPathIsRouted) {
  auto r = req("GET", "/api/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("application/json"), std::string::npos);
  boost::system::error_code ec;
  json::value doc = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(str_of(doc, "openapi").rfind("3.", 0) == 0);
  const json::object& paths = doc.at("paths").as_object();
  EXPECT_GE(paths.size(), 15u);
  std::set<std::string> documented;
  for (const auto& [path, item] : paths) {
    documented.insert(std::string(path));
    std::string concrete(path);
    for (auto [from, to] : {std::pair<std::string, std::string>{"{id}", "999999"},
                            {"{stream}", "stdout"},
                            {"{name}", "about"}}) {
      for (auto pos = concrete.find(from); pos != std::string::npos; pos = concrete.find(from)) {
        concrete.replace(pos, from.size(), to);
      }
    }
    for (const auto& [method, op] : item.as_object()) {
      if (method == "parameters") continue;
      std::string verb(method);
      std::transform(verb.begin(), verb.end(), verb.begin(), ::toupper);
      SCOPED_TRACE(verb + " " + concrete);
      // No body, ids that name nothing: nothing is created or changed.
      auto res = req(verb, concrete);
      EXPECT_NE(res.status, 405) << res.body;
      EXPECT_NE(res.status, 0);
      if (res.status == 404) {
        EXPECT_EQ(res.body.find("no route"), std::string::npos) << res.body;
      }
    }
  }
  // The documented routes of docs/api.md are all in the document.
  for (const char* p :
       {"/api/v1/health", "/api/v1/pipelines", "/api/v1/pipelines/install",
        "/api/v1/pipelines/{id}", "/api/v1/pipelines/{id}/form",
        "/api/v1/pipelines/{id}/documents/{name}", "/api/v1/pipelines/{id}/build-log",
        "/api/v1/files", "/api/v1/files/{id}", "/api/v1/files/{id}/content", "/api/v1/jobs",
        "/api/v1/jobs/{id}", "/api/v1/jobs/{id}/pause", "/api/v1/jobs/{id}/resume",
        "/api/v1/jobs/{id}/cancel", "/api/v1/jobs/{id}/logs/{stream}",
        "/api/v1/jobs/{id}/monitoring"}) {
    EXPECT_TRUE(documented.count(p)) << p << " missing from openapi.json";
  }
}

// ------------------------------------------------------------------ lists and downloads

TEST_F(RestApiTest, JobPaginationVisitsEveryJobOnce) {
  std::set<std::int64_t> created;
  for (int i = 0; i < 5; ++i) {
    created.insert(id_of(create_job(c(), {{"pipeline_id", pipeline_}, {"inputs", {f1_}}})));
  }
  for (const char* order : {"newest", "oldest", "queue"}) {
    SCOPED_TRACE(order);
    std::vector<std::int64_t> seen;
    std::string cursor;
    int pages = 0;
    do {
      std::string path = std::string("/api/v1/jobs?limit=2&order=") + order;
      if (!cursor.empty()) path += "&cursor=" + cursor;
      json::object page = api_object(c(), path);
      const json::array& items = page.at("items").as_array();
      EXPECT_LE(items.size(), 2u);
      for (const auto& j : items) seen.push_back(id_of(j));
      cursor = str_of(page, "next_cursor");
      ASSERT_LT(++pages, 100) << "pagination does not end";
    } while (!cursor.empty());
    std::set<std::int64_t> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size()) << "duplicates across pages";
    for (auto id : created) EXPECT_TRUE(unique.count(id)) << "job " << id << " missing";
    for (auto id : {done_job_, running_job_, waiting_job_}) EXPECT_TRUE(unique.count(id)) << id;
    json::object all = api_object(c(), "/api/v1/jobs?limit=1000");
    EXPECT_EQ(all.at("items").as_array().size(), seen.size());
    if (std::string(order) == "newest") {
      EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend())) << "newest first";
    }
    if (std::string(order) == "oldest") {
      EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    }
  }
  expect_problem(req("GET", "/api/v1/jobs?limit=0"), 400, "limit");
  expect_problem(req("GET", "/api/v1/jobs?limit=1001"), 400, "limit");
  expect_problem(req("GET", "/api/v1/jobs?limit=two"), 400, "limit");
  expect_problem(req("GET", "/api/v1/jobs?order=sideways"), 400, "order");
}

TEST_F(RestApiTest, JobListFiltersByStatusAndPipeline) {
  auto ids_for = [&](const std::string& query) {
    std::set<std::int64_t> ids;
    std::set<std::string> statuses;
    json::object page = api_object(c(), "/api/v1/jobs?limit=1000&" + query);
    for (const auto& j : page.at("items").as_array()) {
      ids.insert(id_of(j));
      statuses.insert(str_of(j, "status"));
    }
    return std::pair{ids, statuses};
  };
  auto [done, done_statuses] = ids_for("status=done");
  EXPECT_TRUE(done.count(done_job_));
  EXPECT_EQ(done_statuses, std::set<std::string>{"done"});
  auto [running, running_statuses] = ids_for("status=running");
  EXPECT_EQ(running, std::set<std::int64_t>{running_job_});
  auto [waiting, waiting_statuses] = ids_for("status=waiting");
  EXPECT_TRUE(waiting.count(waiting_job_));
  EXPECT_EQ(waiting_statuses, std::set<std::string>{"waiting"});
  auto [both, both_statuses] = ids_for("status=done,running");
  EXPECT_TRUE(both.count(done_job_) && both.count(running_job_));
  EXPECT_FALSE(both.count(waiting_job_));
  auto [by_pipeline, ignored] = ids_for("pipeline_id=" + std::to_string(pipeline_));
  EXPECT_TRUE(by_pipeline.count(done_job_) && by_pipeline.count(waiting_job_));
  EXPECT_TRUE(ids_for("pipeline_id=999999").first.empty());
  expect_problem(req("GET", "/api/v1/jobs?status=bogus"), 400, "bogus");
  expect_problem(req("GET", "/api/v1/jobs?pipeline_id=x"), 400);
}

TEST_F(RestApiTest, FileListFiltersAndPaginates) {
  json::object inputs = api_object(c(), "/api/v1/files?limit=1000&status=uploaded");
  std::set<std::int64_t> uploaded;
  for (const auto& f : inputs.at("items").as_array()) uploaded.insert(id_of(f));
  EXPECT_TRUE(uploaded.count(f1_) && uploaded.count(f2_));
  json::object outputs =
      api_object(c(), "/api/v1/files?job_source_id=" + std::to_string(done_job_));
  EXPECT_EQ(outputs.at("items").as_array().size(), 4u);
  std::set<std::int64_t> seen;
  std::string cursor;
  std::size_t count = 0;
  int pages = 0;
  do {
    json::object page =
        api_object(c(), "/api/v1/files?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& f : page.at("items").as_array()) {
      seen.insert(id_of(f));
      ++count;
    }
    cursor = str_of(page, "next_cursor");
    ASSERT_LT(++pages, 100);
  } while (!cursor.empty());
  EXPECT_EQ(seen.size(), count);
  EXPECT_GE(count, 6u);
  expect_problem(req("GET", "/api/v1/files?status=bogus"), 400);
  expect_problem(req("GET", "/api/v1/files?job_source_id=abc"), 400);
}

TEST_F(RestApiTest, DownloadSupportsRanges) {
  TempDir dir("pirus-api");
  std::string content;
  for (int i = 0; i < 100; ++i) content += "0123456789";
  write_file(dir / "digits.txt", content);
  std::int64_t id = upload(c(), dir / "digits.txt");
  const std::string url = server_->url() + "/api/v1/files/" + std::to_string(id) + "/content";

  RawReply full = raw_request("GET", url);
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(full.body, content);
  EXPECT_NE(full.headers["content-disposition"].find("digits.txt"), std::string::npos);

  RawReply part = raw_request("GET", url, {"Range: bytes=10-19"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, content.substr(10, 10));
  EXPECT_EQ(part.headers["content-range"], "bytes 10-19/1000");

  RawReply tail = raw_request("GET", url, {"Range: bytes=-5"});
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, content.substr(995));

  RawReply open = raw_request("GET", url, {"Range: bytes=990-"});
  EXPECT_EQ(open.status, 206);
  EXPECT_EQ(open.body, content.substr(990));

  RawReply beyond = raw_request("GET", url, {"Range: bytes=5000-"});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.headers["content-range"], "bytes */1000");
  EXPECT_EQ(beyond.headers["content-type"], "application/problem+json");
}

TEST_F(RestApiTest, JobLogsAndMonitoring) {
  auto out = req("GET", job_path(done_job_) + "/logs/stdout");
  ASSERT_EQ(out.status, 200);
  EXPECT_NE(out.body.find("seqstats 1.0.0: 2 input files"), std::string::npos);
  auto last = req("GET", job_path(done_job_) + "/logs/stdout?tail=1");
  ASSERT_EQ(last.status, 200);
  EXPECT_NE(last.body.find("seqstats: wrote report.txt"), std::string::npos) << last.body;
  EXPECT_EQ(last.body.find("input files"), std::string::npos) << last.body;
  expect_problem(req("GET", job_path(done_job_) + "/logs/stdout?tail=-1"), 400, "tail");

  json::object idle = api_object(c(), job_path(done_job_) + "/monitoring");
  EXPECT_EQ(str_of(idle, "status"), "done");
  EXPECT_TRUE(idle.at("history").at("points").is_array());
  // The monitor samples every 5 s by default: the running job has a sample soon.
  json::object live;
  ASSERT_TRUE(poll_until(
      [&] {
        live = api_object(c(), job_path(running_job_) + "/monitoring");
        return live.at("current").is_object();
      },
      20s, 250ms))
      << json::serialize(live);
  EXPECT_EQ(str_of(live, "status"), "running");
  EXPECT_GT(live.at("limits").at("memory_bytes").to_number<std::int64_t>(), 0);
  EXPECT_GT(live.at("current").at("memory_bytes").to_number<std::int64_t>(), 0);
}

TEST_F(RestApiTest, UploadNamesAreSanitized) {
  TempDir dir("pirus-api");
  write_file(dir / "x.txt", "x\n");
  auto r = c().upload("/api/v1/files?name=..%2F..%2Fescape-" + server_->instance_prefix() + ".txt",
                      dir / "x.txt", "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  json::value f = json::parse(r->body);
  EXPECT_EQ(str_of(f, "name"), "escape-" + server_->instance_prefix() + ".txt");
  EXPECT_FALSE(std::filesystem::exists(server_->root_dir() + "/escape-" +
                                       server_->instance_prefix() + ".txt"));
  EXPECT_FALSE(std::filesystem::exists(server_->data_dir() + "/escape-" +
                                       server_->instance_prefix() + ".txt"));
  // An empty file is a file too.
  write_file(dir / "empty.txt", "");
  r = c().upload("/api/v1/files?name=empty.txt", dir / "empty.txt", "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  f = json::parse(r->body);
  EXPECT_EQ(f.at("size").as_int64(), 0);
  EXPECT_EQ(str_of(f, "sha256"), sha256_of(""));
  auto content = req("GET", "/api/v1/files/" + std::to_string(id_of(f)) + "/content");
  EXPECT_EQ(content.status, 200);
  EXPECT_EQ(content.body, "");
}

TEST_F(RestApiTest, JobNameAndPriorityAreBounded) {
  expect_problem(
      post_job({{"pipeline_id", pipeline_}, {"inputs", {f1_}}, {"name", std::string(201, 'n')}}),
      400, "name");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"name", 5}}), 400, "name");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"priority", 1000001}}), 400, "priority");
  expect_problem(post_job({{"pipeline_id", pipeline_}, {"priority", "high"}}), 400, "priority");
}

TEST_F(RestApiTest, CursorsStayValidWhileJobsAreAdded) {
  json::object first = api_object(c(), "/api/v1/jobs?limit=2&order=oldest");
  std::vector<std::int64_t> seen;
  for (const auto& j : first.at("items").as_array()) seen.push_back(id_of(j));
  std::string cursor = str_of(first, "next_cursor");
  ASSERT_FALSE(cursor.empty());
  const std::int64_t added =
      id_of(create_job(c(), {{"pipeline_id", pipeline_}, {"inputs", {f2_}}}));
  int pages = 0;
  while (!cursor.empty()) {
    json::object page = api_object(c(), "/api/v1/jobs?limit=2&order=oldest&cursor=" + cursor);
    for (const auto& j : page.at("items").as_array()) seen.push_back(id_of(j));
    cursor = str_of(page, "next_cursor");
    ASSERT_LT(++pages, 1000);
  }
  std::set<std::int64_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), added) << "the new job comes last in oldest-first order";
}

TEST_F(RestApiTest, MalformedCursorIs400) {
  for (const char* cursor : {"garbage", "%00%01", "9999999999999999999999999", "-1"}) {
    SCOPED_TRACE(cursor);
    auto r = req("GET", std::string("/api/v1/jobs?limit=2&cursor=") + cursor);
    EXPECT_LT(r.status, 500) << r.body;
    if (r.status != 200) expect_problem(r, 400);
    r = req("GET", std::string("/api/v1/files?limit=2&cursor=") + cursor);
    EXPECT_LT(r.status, 500) << r.body;
    if (r.status != 200) expect_problem(r, 400);
  }
}

TEST_F(RestApiTest, ChunkedAndExpectContinueBodies) {
  const std::string url = server_->url() + "/api/v1/jobs";
  json::object body{{"pipeline_id", pipeline_}, {"inputs", {f1_}}};
  RawReply chunked =
      raw_request("POST", url, {"Content-Type: application/json", "Transfer-Encoding: chunked"},
                  json::serialize(body));
  EXPECT_EQ(chunked.status, 201) << chunked.body;
  // A chunked body over the limit is cut off with a 413 too.
  std::string big = R"({"pipeline_id":1,"name":")" + std::string((1 << 20) + 10, 'x') + "\"}";
  RawReply too_big = raw_request(
      "POST", url, {"Content-Type: application/json", "Transfer-Encoding: chunked"}, big);
  EXPECT_EQ(too_big.status, 413) << too_big.body.substr(0, 300);
  // Expect: 100-continue is honoured for uploads.
  RawReply expect = raw_request("POST", server_->url() + "/api/v1/files?name=continue.txt",
                                {"Expect: 100-continue", "Content-Type: application/octet-stream"},
                                std::string(200000, 'c'));
  EXPECT_EQ(expect.status, 201) << expect.body;
  // A body sent to a route that takes none.
  auto r = req("POST", job_path(done_job_) + "/cancel", "{}");
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);
  EXPECT_EQ(req("GET", "/api/v1/health").status, 200);
}

TEST_F(RestApiTest, DocumentNamesCannotEscapeThePackage) {
  const std::string base = "/api/v1/pipelines/" + std::to_string(pipeline_) + "/documents/";
  for (const char* name :
       {"..%2Fmanifest.json", "..%2F..%2F..%2Fpirus.db", "%2Fetc%2Fpasswd", "about%00"}) {
    SCOPED_TRACE(name);
    auto r = req("GET", base + name);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << r.status << " " << r.body.substr(0, 200);
  }
}

}  // namespace
}  // namespace pirus::testing
