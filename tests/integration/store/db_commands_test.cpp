// `pirus db migrate|export|import` as a user runs them: a server's SQLite data moved to
// PostgreSQL and served from there, and the exit codes and messages of the failures.

#include <gtest/gtest.h>

#include <filesystem>

#include "support/postgres_server.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

namespace pirus::testing {
namespace {

struct CommandRun {
  int code;
  std::string output;  // stdout and stderr
};

CommandRun pirus_db(const std::string& args) {
  std::string out;
  const int rc = run_command(std::string(PIRUS_BINARY) + " db " + args + " 2>&1", &out);
  return {rc, out};
}

std::string url_set(const std::string& url) {
  return "--set " + shell_quote("database.url=" + url);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class DbCommandsTest : public ServerTest {};

TEST_F(DbCommandsTest, MovesAServerFromSqliteToPostgres) {
  TempDir work;
  // A server on SQLite with an upload, stopped before the move.
  std::string data_dir;
  std::int64_t file = 0;
  {
    ServerProcess& s = start_server();
    data_dir = s.data_dir();
    write_file(work / "reads.fq", "@r1\nACGT\n+\nIIII\n");
    file = upload(client(), work / "reads.fq");
    EXPECT_EQ(s.stop(), 0);
  }
  const std::string doc = work / "pirus.jsonl";
  CommandRun exported =
      pirus_db("export --data-dir " + shell_quote(data_dir) + " -o " + shell_quote(doc));
  ASSERT_EQ(exported.code, 0) << exported.output;
  EXPECT_TRUE(contains(exported.output, "exported ")) << exported.output;
  EXPECT_FALSE(std::filesystem::exists(doc + ".partial"));

  const std::string pg = PostgresServer::shared().fresh_url();
  CommandRun migrated = pirus_db("migrate " + url_set(pg));
  ASSERT_EQ(migrated.code, 0) << migrated.output;
  EXPECT_TRUE(contains(migrated.output, "schema version 0 -> 4")) << migrated.output;
  CommandRun again = pirus_db("migrate " + url_set(pg));
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_TRUE(contains(again.output, "schema version 4, up to date")) << again.output;

  CommandRun imported = pirus_db("import " + url_set(pg) + " " + shell_quote(doc));
  ASSERT_EQ(imported.code, 0) << imported.output;
  EXPECT_TRUE(contains(imported.output, "imported ")) << imported.output;
  CommandRun twice = pirus_db("import " + url_set(pg) + " " + shell_quote(doc));
  EXPECT_EQ(twice.code, 1) << twice.output;
  EXPECT_TRUE(contains(twice.output, "error: ")) << twice.output;
  EXPECT_TRUE(contains(twice.output, "not empty")) << twice.output;

  // The same data directory, now with its metadata on PostgreSQL.
  start_server({.sets = {"database.url=" + pg}, .data_dir = data_dir});
  json::object files = api_object(client(), "/api/v1/files");
  ASSERT_EQ(files.at("items").as_array().size(), 1u) << json::serialize(files);
  EXPECT_EQ(id_of(files.at("items").as_array()[0]), file);
  auto content = api_request(client(), "GET", "/api/v1/files/" + std::to_string(file) + "/content");
  EXPECT_EQ(content.status, 200);
  EXPECT_EQ(content.body, "@r1\nACGT\n+\nIIII\n");
  EXPECT_GT(upload(client(), work / "reads.fq", "second.fq"), file);
}

TEST_F(DbCommandsTest, FailuresSayWhatIsWrongWithExitCodes) {
  TempDir work;
  const std::string sqlite = "sqlite://" + work / "pirus.db";
  const std::string doc = work / "pirus.jsonl";
  ASSERT_EQ(pirus_db("export " + url_set(sqlite) + " -o " + shell_quote(doc)).code, 0);

  CommandRun scheme = pirus_db("migrate " + url_set("mysql://db/pirus"));
  EXPECT_EQ(scheme.code, 1);
  EXPECT_TRUE(contains(scheme.output, "error: database URL scheme 'mysql' is not supported"))
      << scheme.output;

  const std::string unreachable = "postgresql://pirus:s3cret@/pirus?host=/nonexistent/dir";
  CommandRun down = pirus_db("import " + url_set(unreachable) + " " + shell_quote(doc));
  EXPECT_EQ(down.code, 1);
  EXPECT_TRUE(contains(down.output, "cannot connect to PostgreSQL")) << down.output;
  EXPECT_FALSE(contains(down.output, "s3cret")) << down.output;

  CommandRun setting = pirus_db("migrate --set database.nonsense=1");
  EXPECT_EQ(setting.code, 2) << setting.output;
  CommandRun usage = pirus_db("export");
  EXPECT_EQ(usage.code, 2) << usage.output;

  const std::string pg = PostgresServer::shared().fresh_url();
  write_file(work / "corrupt.jsonl",
             "{\"format\":\"pirus-db-export\",\"format_version\":1,"
             "\"schema_version\":4}\n{\"table\":\"files\",\"row\":[1,2]}\n");
  CommandRun corrupt =
      pirus_db("import " + url_set(pg) + " " + shell_quote(work / "corrupt.jsonl"));
  EXPECT_EQ(corrupt.code, 1);
  EXPECT_TRUE(contains(corrupt.output, "line 2")) << corrupt.output;
  write_file(work / "notes.txt", "dear diary\n");
  CommandRun foreign = pirus_db("import " + url_set(pg) + " " + shell_quote(work / "notes.txt"));
  EXPECT_EQ(foreign.code, 1);
  EXPECT_TRUE(contains(foreign.output, "not a Pirus database export")) << foreign.output;
  CommandRun missing =
      pirus_db("import " + url_set(pg) + " " + shell_quote(work / "missing.jsonl"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.output, "cannot read")) << missing.output;
  CommandRun unwritable = pirus_db("export " + url_set(sqlite) + " -o /nonexistent/dir/x.jsonl");
  EXPECT_EQ(unwritable.code, 1);
  EXPECT_TRUE(contains(unwritable.output, "cannot write")) << unwritable.output;

  // After all that the target is still empty and takes a good document.
  CommandRun good = pirus_db("import " + url_set(pg) + " " + shell_quote(doc));
  EXPECT_EQ(good.code, 0) << good.output;
}

}  // namespace
}  // namespace pirus::testing
