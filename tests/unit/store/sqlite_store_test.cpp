// What only the SQLite backend has: its URL forms, connection settings, the schema as
// migrations build it, the migration runner and the mapping of SQLite errors.

#include "store/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "store/migrations.hpp"
#include "store_fixture.hpp"

namespace pirus {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A raw connection for looking at the database from outside the Store.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  sqlite3* get() { return db_; }

  // The first column of every row of `sql`, as text.
  std::vector<std::string> column(const std::string& sql) {
    sqlite::Stmt s(db_, sql);
    std::vector<std::string> out;
    for (;;) {
      auto row = must(s.step());
      if (!row) break;
      out.push_back(s.text(0));
    }
    return out;
  }

  std::string scalar(const std::string& sql) {
    auto c = column(sql);
    return c.empty() ? "" : c.front();
  }

  int exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
};

// ----- open_store -----

TEST(OpenStore, AcceptsAnAbsoluteSqliteUrl) {
  TempDir dir;
  auto s = open_store("sqlite://" + dir / "a.db");
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_TRUE(fs::exists(dir / "a.db"));
}

TEST(OpenStore, AcceptsARelativeSqliteUrl) {
  TempDir dir;
  const std::string rel = fs::relative(dir / "rel.db", fs::current_path()).string();
  ASSERT_NE(rel.front(), '/');
  auto s = open_store("sqlite://" + rel);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_TRUE(fs::exists(dir / "rel.db"));
}

TEST(OpenStore, AcceptsABarePath) {
  TempDir dir;
  auto s = open_store(dir / "bare.db");
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_TRUE(fs::exists(dir / "bare.db"));
}

TEST(OpenStore, AnUnreachablePostgresIsUnavailableWithoutEchoingThePassword) {
  for (const char* url : {"postgres://pirus:s3cret@/pirus?host=/nonexistent/socket/dir",
                          "postgresql://pirus:s3cret@/x?host=/nonexistent/socket/dir",
                          "POSTGRES://pirus:s3cret@/x?host=/nonexistent/socket/dir"}) {
    auto s = open_store(url);
    ASSERT_FALSE(s.is_ok());
    EXPECT_EQ(s.status().code(), Code::kUnavailable) << s.status().to_string();
    EXPECT_EQ(s.status().message().find("s3cret"), std::string::npos);
  }
}

TEST(OpenStore, RedactsThePasswordOfADatabaseUrl) {
  EXPECT_EQ(redacted_database_url("postgresql://pirus:s3cret@db:5432/x?sslmode=require"),
            "postgresql://pirus:***@db:5432/x?sslmode=require");
  EXPECT_EQ(redacted_database_url("postgresql://pirus@/x?host=/run/pg"),
            "postgresql://pirus@/x?host=/run/pg");
  EXPECT_EQ(redacted_database_url("sqlite:///var/lib/pirus/pirus.db"),
            "sqlite:///var/lib/pirus/pirus.db");
  EXPECT_EQ(redacted_database_url("/var/lib/pirus/pirus.db"), "/var/lib/pirus/pirus.db");
}

TEST(OpenStore, AMalformedPostgresUrlIsInvalid) {
  auto s = open_store("postgresql://pirus:s3cret@/x?host=/tmp&port=notaport&bogus_option=1");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Code::kInvalid) << s.status().to_string();
  EXPECT_EQ(s.status().message().find("s3cret"), std::string::npos);
}

TEST(OpenStore, RefusesUnknownSchemesAndEmptyPaths) {
  for (const char* url : {"mysql://db/x", "sqlite://", ""}) {
    auto s = open_store(url);
    ASSERT_FALSE(s.is_ok()) << url;
    EXPECT_EQ(s.status().code(), Code::kInvalid) << url;
  }
}

TEST(OpenStore, AnUnreachableDirectoryIsUnavailable) {
  TempDir dir;
  auto s = open_store("sqlite://" + dir / "missing/dir/pirus.db");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_NE(s.status().message().find("missing/dir/pirus.db"), std::string::npos);
}

TEST(OpenStore, AFileThatIsNotADatabaseIsAnErrorNotACrash) {
  TempDir dir;
  testing::write_file(dir / "junk.db", std::string(4096, 'x'));
  auto s = open_store(dir / "junk.db");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Code::kInternal);
}

// ----- connection and schema -----

TEST(SqliteStore, UsesWriteAheadLogging) {
  TempDir dir;
  auto s = must(open_store(dir / "p.db"));
  RawDb raw(dir / "p.db");
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStore, LeavesNoDanglingReferencesBehind) {
  // SQLite ignores foreign keys unless each connection turns them on; then the SET NULL
  // and CASCADE actions would not run and these deletions would leave dangling ids.
  TempDir dir;
  auto store = must(open_store(dir / "p.db"));
  File package;
  package.name = "pkg.zip";
  package.path = dir / "pkg.zip";
  package = must(store->create_file(package));
  Pipeline p;
  p.name = "p";
  p.version = "1";
  p.package_file_id = package.id;
  p = must(store->create_pipeline(p));
  Pipeline kept = p;
  kept.version = "2";
  kept = must(store->create_pipeline(kept));
  Job j;
  j.pipeline_id = p.id;
  j.inputs = {package.id};
  j = must(store->create_job(j));
  must(store->transition_job(j.id, JobStatus::kWaiting, JobStatus::kCanceled));
  must(store->delete_pipeline(p.id));
  must(store->delete_file(package.id));

  RawDb raw(dir / "p.db");
  EXPECT_TRUE(raw.column("SELECT \"table\" FROM pragma_foreign_key_check").empty());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM jobs WHERE pipeline_id IS NOT NULL"), "0");
  EXPECT_FALSE(must(store->get_pipeline(kept.id)).package_file_id.has_value());
}

TEST(SqliteSchema, HasTheIndexesTheQueriesNeed) {
  TempDir dir;
  auto s = must(open_store(dir / "p.db"));
  RawDb raw(dir / "p.db");
  auto names = raw.column("SELECT name FROM sqlite_master WHERE type = 'index'");
  std::set<std::string> have(names.begin(), names.end());
  for (const char* want : {"jobs_status", "jobs_queue", "jobs_created", "jobs_pipeline",
                           "files_job_source", "files_created", "job_files_file"}) {
    EXPECT_TRUE(have.count(want)) << want;
  }
  // The queue index is declared priority DESC, matching the scheduler's ORDER BY.
  auto desc = raw.column("SELECT desc FROM pragma_index_xinfo('jobs_queue') WHERE cid >= 0");
  EXPECT_EQ(desc, (std::vector<std::string>{"1", "0", "0"}));
}

TEST(SqliteSchema, DeclaresTheForeignKeyDeleteRules) {
  TempDir dir;
  auto s = must(open_store(dir / "p.db"));
  RawDb raw(dir / "p.db");
  auto rules = [&](const std::string& table) {
    return raw.column(
        "SELECT \"from\" || '->' || \"table\" || ':' || on_delete FROM "
        "pragma_foreign_key_list('" +
        table + "') ORDER BY \"from\"");
  };
  EXPECT_EQ(rules("job_files"),
            (std::vector<std::string>{"file_id->files:NO ACTION", "job_id->jobs:CASCADE"}));
  EXPECT_EQ(rules("files"), (std::vector<std::string>{"companion_of->files:SET NULL",
                                                      "job_source_id->jobs:SET NULL"}));
  EXPECT_EQ(rules("jobs"), (std::vector<std::string>{"pipeline_id->pipelines:SET NULL"}));
  EXPECT_EQ(rules("pipelines"), (std::vector<std::string>{"package_file_id->files:SET NULL"}));
}

TEST(SqliteSchema, RejectsStatusesOutsideTheModel) {
  TempDir dir;
  auto s = must(open_store(dir / "p.db"));
  RawDb raw(dir / "p.db");
  EXPECT_EQ(raw.exec("INSERT INTO files (name, path, status, created_at, updated_at) "
                     "VALUES ('a', '/a', 'paused', 0, 0)") &
                0xff,
            SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.exec("INSERT INTO pipelines (name, version, type, engine, status, "
                     "created_at, updated_at) VALUES ('a', '1', 'job', 'docker', 'done', 0, 0)") &
                0xff,
            SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.exec("INSERT INTO jobs (name, status, created_at, updated_at) "
                     "VALUES ('a', 'paused', 0, 0)") &
                0xff,
            SQLITE_CONSTRAINT);
  // An error without a reason is refused by the table as well as by the state machine.
  EXPECT_EQ(raw.exec("INSERT INTO jobs (name, status, created_at, updated_at) "
                     "VALUES ('a', 'error', 0, 0)") &
                0xff,
            SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.exec("INSERT INTO jobs (name, status, created_at, updated_at) "
                     "VALUES ('a', 'pause', 0, 0)"),
            SQLITE_OK);
}

TEST(SqliteStore, ABusyDatabaseIsUnavailable) {
  TempDir dir;
  auto store = must(open_store(dir / "p.db"));
  RawDb raw(dir / "p.db");
  ASSERT_EQ(raw.exec("BEGIN IMMEDIATE"), SQLITE_OK);  // another process holding the write lock
  const auto start = std::chrono::steady_clock::now();
  Status st = store->set_meta("k", "v");
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.to_string();
  EXPECT_GE(waited, std::chrono::milliseconds(4000));  // busy_timeout was honoured
  // Readers are not blocked by a writer in WAL mode.
  EXPECT_EQ(store->get_meta("k").status().code(), Code::kNotFound);
  raw.exec("ROLLBACK");
  EXPECT_TRUE(store->set_meta("k", "v").is_ok());
}

// ----- migrations -----

TEST(SqliteMigrations, AreNumberedFromOneWithoutGaps) {
  const auto& all = sqlite_migrations();
  ASSERT_FALSE(all.empty());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(all[i].name.empty());
  }
}

TEST(SqliteMigrations, OpeningRecordsEveryVersionOnce) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) {
    auto s = must(open_store(dir / "p.db"));
    EXPECT_EQ(s->schema_version(), static_cast<int>(sqlite_migrations().size()));
  }
  RawDb raw(dir / "p.db");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM schema_migrations"),
            std::to_string(sqlite_migrations().size()));
}

TEST(SqliteMigrations, ApplyingTwiceIsANoOp) {
  TempDir dir;
  RawDb raw(dir / "m.db");
  must(apply_sqlite_migrations(raw.get(), sqlite_migrations()));
  const std::string schema = raw.scalar("SELECT group_concat(sql, ';') FROM sqlite_master");
  must(apply_sqlite_migrations(raw.get(), sqlite_migrations()));
  EXPECT_EQ(raw.scalar("SELECT group_concat(sql, ';') FROM sqlite_master"), schema);
  EXPECT_EQ(must(sqlite_schema_version(raw.get())), static_cast<int>(sqlite_migrations().size()));
}

TEST(SqliteMigrations, PendingOnesAreAppliedOnTopOfAnOlderDatabase) {
  TempDir dir;
  RawDb raw(dir / "m.db");
  std::vector<Migration> list = sqlite_migrations();
  must(apply_sqlite_migrations(raw.get(), list));
  const int base = static_cast<int>(list.size());
  list.push_back({base + 1, "extra table", "CREATE TABLE extra (x INTEGER);"});
  list.push_back({base + 2, "extra index", "CREATE INDEX extra_x ON extra (x);"});
  must(apply_sqlite_migrations(raw.get(), list));
  EXPECT_EQ(must(sqlite_schema_version(raw.get())), base + 2);
  EXPECT_EQ(raw.scalar("SELECT name FROM sqlite_master WHERE name = 'extra_x'"), "extra_x");
}

TEST(SqliteMigrations, AFailingOneLeavesThePreviousVersionIntact) {
  TempDir dir;
  RawDb raw(dir / "m.db");
  std::vector<Migration> list = sqlite_migrations();
  const int base = static_cast<int>(list.size());
  list.push_back({base + 1, "half broken",
                  "CREATE TABLE partial (x INTEGER); INSERT INTO nowhere VALUES (1);"});
  Status st = apply_sqlite_migrations(raw.get(), list);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("half broken"), std::string::npos) << st.message();
  // The good migrations before it are kept; the broken one left nothing behind.
  EXPECT_EQ(must(sqlite_schema_version(raw.get())), base);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'partial'"), "0");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs'"), "1");
}

TEST(SqliteMigrations, ADatabaseFromANewerReleaseIsRefused) {
  TempDir dir;
  {
    RawDb raw(dir / "m.db");
    std::vector<Migration> list = sqlite_migrations();
    list.push_back({static_cast<int>(list.size()) + 1, "from the future", "SELECT 1;"});
    must(apply_sqlite_migrations(raw.get(), list));
  }
  auto s = open_store(dir / "m.db");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Code::kInvalid);
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().message();
}

TEST(SqliteMigrations, AGapInTheListIsABug) {
  TempDir dir;
  RawDb raw(dir / "m.db");
  std::vector<Migration> list = {{1, "one", "SELECT 1;"}, {3, "three", "SELECT 1;"}};
  EXPECT_EQ(apply_sqlite_migrations(raw.get(), list).code(), Code::kInternal);
  EXPECT_EQ(must(sqlite_schema_version(raw.get())), 0);
}

// ----- the statement helper -----

TEST(SqliteStmt, ReportsBadSqlAndBindsWithoutCrashing) {
  TempDir dir;
  RawDb raw(dir / "s.db");
  sqlite::Stmt bad(raw.get(), "SELEKT 1");
  EXPECT_FALSE(bad.status().is_ok());
  EXPECT_FALSE(bad.bind(1).step().is_ok());

  sqlite::Stmt too_many(raw.get(), "SELECT ?");
  too_many.bind(1).bind(2);
  EXPECT_EQ(too_many.step().status().code(), Code::kInvalid);

  // Text with an embedded NUL and an empty view round-trip as text, not NULL.
  sqlite::Stmt echo(raw.get(), "SELECT ?, ?, typeof(?)");
  const std::string with_nul("a\0b", 3);
  echo.bind(with_nul).bind(std::string_view()).bind(std::string_view());
  ASSERT_TRUE(must(echo.step()));
  EXPECT_EQ(echo.text(0), with_nul);
  EXPECT_FALSE(echo.is_null(1));
  EXPECT_EQ(echo.text(2), "text");
}

}  // namespace
}  // namespace pirus
