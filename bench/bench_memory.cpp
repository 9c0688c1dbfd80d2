// bench_memory: the resident memory of a `pirus server` whose database holds many finished jobs.
//
// Builds a data directory whose SQLite database holds --jobs finished jobs (default 10,000),
// each with one output file: the server is started once so that it creates the schema, then
// stopped, and the rows are inserted with the sqlite3 CLI in one transaction from a generated
// SQL file. The server is then started on it (127.0.0.1, ephemeral port); the whole job list is
// read --passes times through GET /api/v1/jobs?limit=1000 (following next_cursor), the file
// list once, GET /api/v1/health a few times, and VmRSS/VmHWM are read from /proc/<pid>/status.
// Baseline: the same server, same requests, on an empty database.
//
// Not a test: run by hand (bench/README.md). The servers are stopped and the temporary
// directory removed at the end; a watchdog ends it after --timeout seconds.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/api_client.hpp"
#include "support/bench_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using pirus::cli::ApiClient;
using namespace pirus::bench;  // NOLINT(google-build-using-namespace): bench helpers

constexpr const char* kProgram = "bench_memory";

struct Options {
  int jobs = 10000;
  int passes = 3;
  int timeout_s = 600;
  bool keep = false;
};

struct Exercise {
  Memory idle;
  Memory after;
  int jobs_listed = 0;  // per pass
  int pages = 0;        // per pass
  double pass_ms = 0;   // the slowest pass
  double page_ms = 0;   // the slowest page
};

// Reads every page of `list` (a path with limit=1000); returns the item count.
int read_all(ApiClient& client, const std::string& list, int& pages, double& slowest_page_ms) {
  int items = 0;
  std::string cursor;
  do {
    std::string path = list;
    if (!cursor.empty()) path += "&cursor=" + url_encode(cursor);
    const auto t0 = Clock::now();
    auto r = client.call("GET", path);
    slowest_page_ms = std::max(slowest_page_ms, ms_between(t0, Clock::now()));
    if (!r.is_ok()) fail("GET " + path + ": " + r.status().message());
    items += static_cast<int>(r->as_object().at("items").as_array().size());
    cursor = jstr(*r, "next_cursor");
    ++pages;
  } while (!cursor.empty());
  return items;
}

Exercise exercise(const ServerProcess& server, int passes) {
  Exercise e;
  ApiClient client(server.base_url());
  sleep_ms(1000);  // let startup (engine connection, recovery) settle
  e.idle = read_memory(server.pid);
  for (int p = 0; p < passes; ++p) {
    int pages = 0;
    const auto t0 = Clock::now();
    e.jobs_listed = read_all(client, "/api/v1/jobs?limit=1000", pages, e.page_ms);
    e.pass_ms = std::max(e.pass_ms, ms_between(t0, Clock::now()));
    e.pages = pages;
  }
  int file_pages = 0;
  double ignored = 0;
  read_all(client, "/api/v1/files?limit=1000", file_pages, ignored);
  for (int i = 0; i < 5; ++i) {
    auto r = client.request("GET", "/api/v1/health");
    if (!r.is_ok() || r->status != 200) fail("GET /api/v1/health failed");
  }
  sleep_ms(200);
  e.after = read_memory(server.pid);
  return e;
}

// ------------------------------------------------------------------ the database

// One transaction, generated rows: a ready pipeline, `jobs` done jobs with realistic fields,
// one checked output file per job and its job_files link.
std::string populate_sql(int jobs, const std::string& data_dir) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t t0 = now_ms - static_cast<std::int64_t>(jobs + 1) * 1000;
  const std::string t = std::to_string(t0);
  const std::string n = std::to_string(jobs);
  const std::string series =
      "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < " + n + ")\n";
  std::string sql;
  sql += "PRAGMA foreign_keys = ON;\nBEGIN;\n";
  sql +=
      "INSERT INTO pipelines (id, name, version, type, engine, status, description, "
      "manifest_json, form_json, documents_json, path, image, created_at, updated_at, "
      "installed_at) VALUES (1, 'trivial', '1', 'job', 'docker', 'ready', 'memory benchmark', "
      "'{\"name\":\"trivial\",\"version\":\"1\"}', '{}', '{}', '" +
      data_dir + "/pipelines/1', 'pirus-bench-memory-pipeline-1:1', " + t + ", " + t + ", " + t +
      ");\n";
  sql += series +
         "INSERT INTO jobs (id, pipeline_id, name, status, priority, parameters_json, cpus, "
         "memory_mb, pids, progress, progress_label, path, container_id, exit_code, "
         "error_reason, created_at, started_at, ended_at, updated_at)\n"
         "SELECT n, 1, 'trivial run ' || n, 'done', 0, '{\"mode\":\"words\",\"min_count\":3}', "
         "1.0, 1024, 512, 1.0, '', '" +
         data_dir + "/jobs/' || n, lower(hex(randomblob(32))), 0, '', " + t + " + n * 1000, " + t +
         " + n * 1000 + 40, " + t + " + n * 1000 + 650, " + t + " + n * 1000 + 650 FROM c;\n";
  sql += series +
         "INSERT INTO files (id, name, type, path, size, upload_offset, status, sha256, "
         "job_source_id, tags, created_at, updated_at)\n"
         "SELECT n, 'result.txt', 'txt', '" +
         data_dir +
         "/jobs/' || n || '/outputs/result.txt', 1832, 1832, 'checked', "
         "lower(hex(randomblob(32))), n, '', " +
         t + " + n * 1000 + 650, " + t + " + n * 1000 + 650 FROM c;\n";
  sql += series + "INSERT INTO job_files (job_id, file_id, role, position) " +
         "SELECT n, n, 'output', 0 FROM c;\n";
  sql += "COMMIT;\n";
  return sql;
}

void populate(const fs::path& work, const fs::path& data, int jobs) {
  // The server creates the schema (and its instance id); then the rows go in directly.
  ServerProcess s = start_server(data.string(), (work / "schema-server.log").string());
  stop_server(s);
  const fs::path sql_file = work / "populate.sql";
  {
    std::ofstream out(sql_file);
    out << populate_sql(jobs, data.string());
  }
  const auto t0 = Clock::now();
  const std::string cmd =
      "sqlite3 -bail '" + (data / "pirus.db").string() + "' < '" + sql_file.string() + "'";
  if (std::system(cmd.c_str()) != 0) fail("populating the database failed: " + cmd);
  std::cerr << kProgram << ": inserted " << jobs << " jobs in "
            << fmt(ms_between(t0, Clock::now()), 0) << " ms\n";
}

// ------------------------------------------------------------------ main

[[noreturn]] void usage(int code) {
  std::cout << "usage: " << kProgram << " [--jobs N] [--passes N] [--timeout S] [--keep]\n"
            << "  --jobs N     finished jobs in the database (default 10000)\n"
            << "  --passes N   full reads of the job list (default 3)\n"
            << "  --timeout S  abort after S seconds (default 600)\n"
            << "  --keep       keep the temporary directory\n";
  std::exit(code);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    try {
      if (a == "--jobs") {
        o.jobs = std::stoi(next());
      } else if (a == "--passes") {
        o.passes = std::stoi(next());
      } else if (a == "--timeout") {
        o.timeout_s = std::stoi(next());
      } else if (a == "--keep") {
        o.keep = true;
      } else if (a == "-h" || a == "--help") {
        usage(0);
      } else {
        usage(2);
      }
    } catch (const std::exception&) {
      usage(2);
    }
  }
  if (o.jobs < 1 || o.passes < 1 || o.timeout_s < 1) usage(2);
  return o;
}

void print_memory(const char* label, const Exercise& e) {
  std::printf(
      "%s\n  idle after start: VmRSS %.1f MB (anon %.1f, file %.1f)\n"
      "  after reading:    VmRSS %.1f MB (anon %.1f, file %.1f), VmHWM %.1f MB, %d threads\n"
      "  job list: %d jobs in %d page(s) per pass; slowest pass %.0f ms, slowest page %.0f ms\n",
      label, e.idle.rss_mb, e.idle.anon_mb, e.idle.file_mb, e.after.rss_mb, e.after.anon_mb,
      e.after.file_mb, e.after.hwm_mb, e.after.threads, e.jobs_listed, e.pages, e.pass_ms,
      e.page_ms);
}

}  // namespace

int main(int argc, char** argv) {
  set_program_name(kProgram);
  const Options opt = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  start_watchdog(opt.timeout_s);
  if (std::system("sqlite3 -version > /dev/null") != 0) fail("the sqlite3 CLI is not installed");

  char tmpl[] = "/tmp/pirus-bench-mem-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail(std::string("mkdtemp: ") + std::strerror(errno));
  const fs::path work = tmpl;
  add_cleanup([work, keep = opt.keep] {
    if (keep) {
      std::cerr << kProgram << ": kept " << work << "\n";
      return;
    }
    std::error_code ec;
    fs::remove_all(work, ec);
  });

  // Baseline: an empty database.
  Exercise empty;
  {
    ServerProcess s = start_server((work / "empty").string(), (work / "empty.log").string());
    empty = exercise(s, opt.passes);
    stop_server(s);
  }
  // The same server with `jobs` finished jobs.
  populate(work, work / "full", opt.jobs);
  Exercise full;
  {
    ServerProcess s = start_server((work / "full").string(), (work / "full.log").string());
    full = exercise(s, opt.passes);
    stop_server(s);
  }
  if (full.jobs_listed != opt.jobs) {
    fail("the job list held " + std::to_string(full.jobs_listed) + " jobs, expected " +
         std::to_string(opt.jobs));
  }

  std::printf("%s: pirus %s\n", kProgram, PIRUS_BINARY);
  print_memory("Baseline: empty database", empty);
  print_memory(("Pirus: " + std::to_string(opt.jobs) + " finished jobs").c_str(), full);
  const double r = full.after.rss_mb / empty.after.rss_mb;
  const double h = full.after.hwm_mb / empty.after.hwm_mb;
  std::printf("\nVmRSS with %d jobs: %.1f MB vs %.1f MB empty (%.2fx); target < 50 MB: %s\n",
              opt.jobs, full.after.rss_mb, empty.after.rss_mb, r,
              full.after.rss_mb < 50 ? "met" : "MISSED");
  std::printf(
      "\n| metric | Pirus (%d jobs) | baseline (empty DB) | ratio | target | met? |\n"
      "|---|---|---|---|---|---|\n",
      opt.jobs);
  std::printf("| VmRSS after listing (MB) | %s | %s | %sx | < 50 MB | %s |\n",
              fmt(full.after.rss_mb).c_str(), fmt(empty.after.rss_mb).c_str(), fmt(r, 2).c_str(),
              full.after.rss_mb < 50 ? "yes" : "no");
  std::printf("| VmHWM, peak (MB) | %s | %s | %sx | < 50 MB | %s |\n",
              fmt(full.after.hwm_mb).c_str(), fmt(empty.after.hwm_mb).c_str(), fmt(h, 2).c_str(),
              full.after.hwm_mb < 50 ? "yes" : "no");
  std::printf("| VmRSS idle after start (MB) | %s | %s | %sx | - | - |\n",
              fmt(full.idle.rss_mb).c_str(), fmt(empty.idle.rss_mb).c_str(),
              fmt(full.idle.rss_mb / empty.idle.rss_mb, 2).c_str());
  std::fflush(stdout);
  run_cleanups();
  return 0;
}
