// PostgreSQL-only behaviour: losing the server, concurrent migration, the pool. The
// contract shared with SQLite is tested by the parameterised suite.

#include <libpq-fe.h>

#include <atomic>
#include <latch>
#include <thread>

#include "store/postgres/pg_store.hpp"
#include "store_fixture.hpp"
#include "support/postgres_server.hpp"

namespace pirus {
namespace {

using testing::postgres_query_value;
using testing::PostgresServer;

// Restarts the cluster even when an expectation fails halfway, so later tests find it up.
struct StartAgain {
  ~StartAgain() {
    if (stopped) PostgresServer::shared().start();
  }
  bool stopped = false;
};

TEST(PostgresStore, CallsFailAsUnavailableWhileTheServerIsDownAndRecoverAfter) {
  const std::string url = PostgresServer::shared().fresh_url();
  auto store = must(open_store(url, {.pool_size = 2}));
  Pipeline p;
  p.name = "wordcount";
  p.version = "1";
  p.status = PipelineStatus::kReady;
  const Id id = must(store->create_pipeline(p)).id;

  StartAgain guard;
  PostgresServer::shared().stop();
  guard.stopped = true;
  auto got = store->get_pipeline(id);
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().to_string();
  File f;
  f.name = "a.txt";
  f.path = "/data/a.txt";
  f.status = FileStatus::kUploaded;
  auto created = store->create_file(f);
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), Code::kUnavailable) << created.status().to_string();
  EXPECT_EQ(store->schema_version(), 0) << "the health check reads 0 as unavailable";
  EXPECT_EQ(open_store(url).status().code(), Code::kUnavailable);

  PostgresServer::shared().start();
  guard.stopped = false;
  // The first call after the restart already works: dead pooled connections are replaced.
  EXPECT_EQ(must(store->get_pipeline(id)).name, "wordcount");
  EXPECT_EQ(store->schema_version(), 4);
  EXPECT_TRUE(must(store->list_files({})).items.empty());
  EXPECT_EQ(must(store->create_file(f)).name, "a.txt");
}

TEST(PostgresStore, ATransactionCutByTheServerGoingDownLeavesNothingBehind) {
  const std::string url = PostgresServer::shared().fresh_url();
  auto store = must(PgStore::open(url, 2));
  StartAgain guard;
  Status st = store->in_tx([&](pg_conn* c) -> Status {
    pg::Params p;
    p.add("half").add("applied");
    auto done = pg::exec(c, "INSERT INTO meta (key, value) VALUES ($1, $2)", p);
    if (!done) return done.status();
    PostgresServer::shared().stop();
    guard.stopped = true;
    return Status::ok();  // the COMMIT that follows cannot reach the server
  });
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.to_string();
  PostgresServer::shared().start();
  guard.stopped = false;
  EXPECT_EQ(store->get_meta("half").status().code(), Code::kNotFound);
}

TEST(PostgresStore, ServersStartingTogetherMigrateOnce) {
  const std::string url = PostgresServer::shared().fresh_url();
  constexpr int kServers = 6;
  std::latch start(kServers);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto s = open_store(url);
      if (!s.is_ok() || (*s)->schema_version() != 4) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(postgres_query_value(url, "SELECT COUNT(*) FROM schema_migrations"), "4");
}

TEST(PostgresStore, ASmallPoolServesManyThreads) {
  const std::string url = PostgresServer::shared().fresh_url();
  auto store = must(open_store(url, {.pool_size = 2}));
  Pipeline p;
  p.name = "p";
  p.version = "1";
  p.status = PipelineStatus::kReady;
  const Id pipeline = must(store->create_pipeline(p)).id;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 20; ++k) {
        Job j;
        j.pipeline_id = pipeline;
        j.name = std::to_string(i) + "/" + std::to_string(k);
        if (!store->create_job(j).is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(must(store->count_jobs({})), 160);
  // Never more than the pool's size of connections to this database.
  EXPECT_LE(std::stoi(postgres_query_value(url,
                                           "SELECT COUNT(*) FROM pg_stat_activity WHERE "
                                           "datname = current_database() "
                                           "AND pid <> pg_backend_pid()")),
            2);
}

TEST(PostgresStore, RefusesADatabaseFromANewerPirus) {
  const std::string url = PostgresServer::shared().fresh_url();
  must(open_store(url));
  postgres_query_value(url,
                       "INSERT INTO schema_migrations VALUES (99, 'future', 0) RETURNING version");
  auto s = open_store(url);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Code::kInvalid);
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace pirus
