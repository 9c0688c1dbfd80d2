#pragma once
// A throw-away PostgreSQL 15 cluster for tests: initdb into a temporary directory, started
// on a unix socket in that directory only (no TCP), run as the `postgres` system user when
// the tests run as root (initdb refuses root). One cluster per test process, stopped and
// deleted at exit. Missing binaries are an error, not a skip: CI installs them
// (scripts/setup.sh).

#include <mutex>
#include <string>
#include <vector>

namespace pirus::testing {

class PostgresServer {
 public:
  // The process's cluster, created and started on first use. Throws std::runtime_error
  // saying what is missing or what failed (with the server log).
  static PostgresServer& shared();

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // A new, empty database (pirus_test_N) and its libpq URL.
  std::string fresh_url();
  // The URL of an existing database on this cluster.
  std::string url(const std::string& database) const;

  // Stops the server at once (`pg_ctl stop -m immediate`: clients lose their connections
  // as in a crash) and starts it again on the same socket and data.
  void stop();
  void start();

  const std::string& socket_dir() const { return dir_; }

 private:
  PostgresServer();
  void run_pg(const std::string& what, const std::vector<std::string>& args);
  std::string log_tail() const;

  std::string dir_;        // the socket lives here; data/ below it
  std::string bin_;        // /usr/lib/postgresql/15/bin
  bool as_postgres_user_;  // running as root: drop to the postgres user
  std::mutex mu_;
  int next_db_ = 0;
};

// The first column of the first row of `sql` on the database at `url` ("" when no row).
// Throws std::runtime_error when the query fails.
std::string postgres_query_value(const std::string& url, const std::string& sql);

}  // namespace pirus::testing
