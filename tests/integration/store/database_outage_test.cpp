// A real `pirus server` on PostgreSQL losing its database: while PostgreSQL is down the
// health check says 503 and API calls answer 503 problems, the process stays up, and once
// PostgreSQL is back everything works again without restarting the server.

#include <gtest/gtest.h>

#include "support/postgres_server.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

namespace pirus::testing {
namespace {

class DatabaseOutageTest : public ServerTest {
 protected:
  void TearDown() override {
    if (postgres_stopped_) PostgresServer::shared().start();
    ServerTest::TearDown();
  }

  long health() { return raw_request("GET", server().url() + "/api/v1/health").status; }

  bool postgres_stopped_ = false;
};

TEST_F(DatabaseOutageTest, HealthAndApiFollowPostgresAndTheServerSurvives) {
  PostgresServer& pg = PostgresServer::shared();
  start_server({.sets = {"database.url=" + pg.fresh_url(), "database.pool_size=2"}});
  TempDir local;
  write_file(local / "reads.txt", "ACGT\n");
  const std::int64_t file = upload(client(), local / "reads.txt");
  json::object h = api_object(client(), "/api/v1/health");
  EXPECT_EQ(str_of(h, "database"), "ok");

  pg.stop();
  postgres_stopped_ = true;
  EXPECT_TRUE(poll_until([&] { return health() == 503; }, 10s)) << "health " << health();
  RawReply down = raw_request("GET", server().url() + "/api/v1/health");
  EXPECT_EQ(str_of(json::parse(down.body), "database"), "unavailable") << down.body;
  for (const char* path : {"/api/v1/files", "/api/v1/pipelines", "/api/v1/jobs"}) {
    RawReply r = raw_request("GET", server().url() + path);
    EXPECT_EQ(r.status, 503) << path << ": " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json") << path;
    json::value body = json::parse(r.body);
    EXPECT_EQ(body.at("status").to_number<int>(), 503) << r.body;
    EXPECT_FALSE(str_of(body, "detail").empty()) << r.body;
  }
  auto created = api_request(client(), "POST", "/api/v1/jobs",
                             R"({"pipeline_id": 1, "inputs": [1], "parameters": {}})");
  EXPECT_EQ(created.status, 503) << describe(created);
  EXPECT_TRUE(server().running()) << server().log();

  pg.start();
  postgres_stopped_ = false;
  EXPECT_TRUE(poll_until([&] { return health() == 200; }, 20s)) << "health " << health();
  json::object files = api_object(client(), "/api/v1/files");
  ASSERT_EQ(files.at("items").as_array().size(), 1u) << json::serialize(files);
  EXPECT_EQ(id_of(files.at("items").as_array()[0]), file);
  EXPECT_TRUE(api_object(client(), "/api/v1/pipelines").at("items").as_array().empty());
  // Ids keep growing (PostgreSQL may skip some after a crash, never reuse one).
  EXPECT_GT(upload(client(), local / "reads.txt", "again.txt"), file);
  EXPECT_TRUE(server().running());
}

}  // namespace
}  // namespace pirus::testing
