#include "support/postgres_server.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pirus::testing {

namespace fs = std::filesystem;

namespace {

constexpr char kBinDir[] = "/usr/lib/postgresql/15/bin";

// Runs argv, its output appended to `log`; returns the exit code (-1 if it did not run).
int run(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    FILE* out = std::fopen(log.c_str(), "a");
    if (out != nullptr) {
      dup2(fileno(out), 1);
      dup2(fileno(out), 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

PostgresServer& PostgresServer::shared() {
  // Constructed on first use and destroyed at exit, which stops and deletes the cluster.
  static PostgresServer server;
  return server;
}

PostgresServer::PostgresServer() : bin_(kBinDir), as_postgres_user_(geteuid() == 0) {
  if (!fs::exists(bin_ + "/initdb") || !fs::exists(bin_ + "/pg_ctl")) {
    throw std::runtime_error(std::string("PostgreSQL 15 is not installed (no initdb/pg_ctl in ") +
                             kBinDir +
                             "): install the postgresql package (bash scripts/setup.sh does)");
  }
  // In memory when /dev/shm is there (initdb takes a third of the time it takes on disk,
  // and each test process makes its own cluster); directly under the base directory so the
  // socket path stays under the 107-byte limit.
  for (const char* base : {"/dev/shm", "/tmp"}) {
    std::string tmpl = std::string(base) + "/pirus-pg-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) {
      dir_ = tmpl;
      break;
    }
  }
  if (dir_.empty()) throw std::runtime_error("cannot create a directory for the test PostgreSQL");
  if (as_postgres_user_) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      throw std::runtime_error(
          "running as root, but there is no `postgres` user to run the test cluster as "
          "(install the postgresql package)");
    }
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot give " + dir_ + " to the postgres user");
    }
  }
  // The log stays with the server's user so that pg_ctl can append to it.
  run_pg("initdb", {bin_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "-E",
                    "UTF8", "--no-locale", "--no-sync"});
  start();
}

PostgresServer::~PostgresServer() {
  std::vector<std::string> argv;
  if (as_postgres_user_) argv = {"runuser", "-u", "postgres", "--"};
  for (const std::string& a : {bin_ + "/pg_ctl", std::string("-D"), dir_ + "/data",
                               std::string("-m"), std::string("immediate"), std::string("stop")}) {
    argv.push_back(a);
  }
  (void)run(argv, "/dev/null");
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PostgresServer::run_pg(const std::string& what, const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (as_postgres_user_) argv = {"runuser", "-u", "postgres", "--"};
  argv.insert(argv.end(), args.begin(), args.end());
  const int rc = run(argv, dir_ + "/commands.log");
  if (rc != 0) {
    throw std::runtime_error("the test PostgreSQL's " + what + " failed (exit " +
                             std::to_string(rc) + "):\n" + log_tail());
  }
}

std::string PostgresServer::log_tail() const {
  std::string out;
  for (const char* name : {"/commands.log", "/server.log"}) {
    std::ifstream in(dir_ + name);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.size() > 4000) text = text.substr(text.size() - 4000);
    out += std::string(name + 1) + ":\n" + text + "\n";
  }
  return out;
}

void PostgresServer::start() {
  // fsync off: a test cluster never needs to survive a power cut, and it is much faster.
  // synchronous_commit stays on: `stop -m immediate` must not lose committed rows.
  run_pg("start", {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t",
                   "60", "-o",
                   "-k " + dir_ +
                       " -c listen_addresses='' -c fsync=off "
                       "-c full_page_writes=off -c max_connections=200",
                   "start"});
}

void PostgresServer::stop() {
  run_pg("stop", {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"});
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://postgres@/" + database + "?host=" + dir_;
}

std::string PostgresServer::fresh_url() {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    name = "pirus_test_" + std::to_string(++next_db_);
  }
  PGconn* conn = PQconnectdb(url("postgres").c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to the test PostgreSQL: " + why + log_tail());
  }
  // The name is ours (a counter), not input: CREATE DATABASE takes no parameters.
  PGresult* res = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string why = ok ? "" : PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("CREATE DATABASE " + name + " failed: " + why);
  return url(name);
}

std::string postgres_query_value(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to " + url + ": " + why);
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  std::string value;
  if (ok && PQntuples(res) > 0) value = PQgetvalue(res, 0, 0);
  std::string why = ok ? "" : PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + " failed: " + why);
  return value;
}

}  // namespace pirus::testing
