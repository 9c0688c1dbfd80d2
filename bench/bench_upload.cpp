// bench_upload: TUS upload throughput to local disk through a real `pirus server`, against
// `cp` of the same file.
//
// Writes a --size MB file of random bytes, then for --runs rounds measures:
//   - baselines: `cp` of the file into the server's data directory's filesystem, and `cp`
//     then `sync` of the copy (the server flushes a completed upload to the disk);
//   - tus, one PATCH: POST /api/v1/uploads, then the whole file in one PATCH (no chunk
//     checksum), until the server's 204 (which comes after the file is complete, hashed and
//     flushed);
//   - tus, CLI: what `pirus file upload` does (16 MiB chunks, each with Upload-Checksum).
// Each completed upload is deleted before the next round. Prints the median MB/s of each and
// the ratios to cp, plus the server's peak RSS (VmHWM) before and after.
//
// Not a test: run by hand (bench/README.md). Needs no container engine. The server is stopped
// and the temporary directory removed at the end; a watchdog ends it after --timeout seconds.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/api_client.hpp"
#include "cli/tus_upload.hpp"
#include "common/sha256.hpp"
#include "support/bench_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using pirus::cli::ApiClient;
using namespace pirus::bench;  // NOLINT(google-build-using-namespace): bench helpers

constexpr const char* kProgram = "bench_upload";

struct Options {
  std::int64_t size_mb = 1024;
  int runs = 3;
  int timeout_s = 900;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::int64_t id_from_location(const std::string& location) {
  return std::stoll(location.substr(location.rfind('/') + 1));
}

void delete_file(ApiClient& client, std::int64_t id) {
  auto r = client.request("DELETE", "/api/v1/files/" + std::to_string(id));
  if (!r || r->status != 204) fail("cannot delete file " + std::to_string(id));
}

// One PATCH with the whole file; returns the seconds from POST to the final 204.
double tus_single_patch(ApiClient& client, const std::string& path, std::int64_t size) {
  const auto start = Clock::now();
  auto created = client.send("POST", "/api/v1/uploads",
                             {"Tus-Resumable: 1.0.0", "Upload-Length: " + std::to_string(size),
                              "Upload-Metadata: filename " + pirus::base64_encode("bench.bin")});
  if (!created || created->status != 201) fail("POST /api/v1/uploads failed");
  const std::string location = created->headers["location"];
  ApiClient::RangeBody body{path, 0, size, "application/offset+octet-stream"};
  auto r = client.send("PATCH", location, {"Tus-Resumable: 1.0.0", "Upload-Offset: 0"}, &body);
  if (!r || r->status != 204) fail("PATCH failed: " + (r ? r->body : r.status().to_string()));
  const double s = seconds_since(start);
  delete_file(client, id_from_location(location));
  return s;
}

double tus_cli(ApiClient& client, const std::string& path) {
  const auto start = Clock::now();
  pirus::cli::TusUploadOptions options;
  auto r = pirus::cli::tus_upload(client, path, options);
  if (!r) fail("the CLI upload failed: " + r.status().to_string());
  const double s = seconds_since(start);
  delete_file(client, r->at("id").to_number<std::int64_t>());
  return s;
}

// `cp`, and with `durable` also `sync` of the copy: a completed upload is flushed to the disk
// before the server reports it, so that is the like-for-like baseline.
double copy_baseline(const std::string& from, const std::string& to, bool durable) {
  const auto start = Clock::now();
  std::string cmd = "cp '" + from + "' '" + to + "'";
  if (durable) cmd += " && sync '" + to + "'";
  if (std::system(cmd.c_str()) != 0) fail("cp failed");
  const double s = seconds_since(start);
  fs::remove(to);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  set_program_name(kProgram);
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--size-mb") {
      opt.size_mb = std::stoll(next());
    } else if (a == "--runs") {
      opt.runs = std::stoi(next());
    } else if (a == "--timeout") {
      opt.timeout_s = std::stoi(next());
    } else {
      std::cerr << "usage: " << kProgram << " [--size-mb N] [--runs N] [--timeout S]\n";
      return a == "--help" ? 0 : 2;
    }
  }
  start_watchdog(opt.timeout_s);

  char templ[] = "/tmp/pirus-bench-upload-XXXXXX";
  if (::mkdtemp(templ) == nullptr) fail("mkdtemp failed");
  const std::string dir = templ;
  add_cleanup([dir] {
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  ::setenv("XDG_STATE_HOME", (dir + "/state").c_str(), 1);
  const std::string data = dir + "/data";
  const std::string source = dir + "/source.bin";
  const std::int64_t size = opt.size_mb << 20;
  {
    std::ofstream out(source, std::ios::binary);
    std::mt19937_64 gen(42);
    std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
    for (std::int64_t done = 0; done < size; done += 1 << 20) {
      for (auto& w : block) w = gen();
      out.write(reinterpret_cast<const char*>(block.data()), 1 << 20);
    }
  }
  ServerProcess server =
      start_server(data, dir + "/server.log", {"limits.max_upload_size=1T"}, false);
  ApiClient client(server.base_url());
  const double rss_before = read_memory(server.pid).hwm_mb;

  std::vector<double> cp_s, cp_sync_s, single_s, cli_s, single_cpu, cli_cpu;
  for (int run = 0; run < opt.runs; ++run) {
    cp_s.push_back(copy_baseline(source, data + "/files/cp-baseline.bin", false));
    cp_sync_s.push_back(copy_baseline(source, data + "/files/cp-baseline.bin", true));
    double before = process_cpu_s(server.pid);
    single_s.push_back(tus_single_patch(client, source, size));
    single_cpu.push_back(process_cpu_s(server.pid) - before);
    before = process_cpu_s(server.pid);
    cli_s.push_back(tus_cli(client, source));
    cli_cpu.push_back(process_cpu_s(server.pid) - before);
    std::cerr << "run " << run + 1 << ": cp " << fmt(cp_s.back(), 2) << " s, cp+sync "
              << fmt(cp_sync_s.back(), 2) << " s, tus " << fmt(single_s.back(), 2) << " s, cli "
              << fmt(cli_s.back(), 2) << " s\n";
  }
  const double rss_after = read_memory(server.pid).hwm_mb;
  const double mb = static_cast<double>(size) / 1e6;
  const double cp_rate = mb / quantile(cp_s, 0.5);
  const double cp_sync_rate = mb / quantile(cp_sync_s, 0.5);
  const double single_rate = mb / quantile(single_s, 0.5);
  const double cli_rate = mb / quantile(cli_s, 0.5);
  std::cout << "file: " << opt.size_mb << " MiB of random bytes, " << opt.runs << " runs, medians\n"
            << "cp (baseline, page cache):     " << fmt(cp_rate) << " MB/s\n"
            << "cp + sync (baseline, on disk): " << fmt(cp_sync_rate) << " MB/s\n"
            << "TUS, one PATCH:                " << fmt(single_rate) << " MB/s  ratio "
            << fmt(single_rate / cp_rate, 2) << "x to cp, " << fmt(single_rate / cp_sync_rate, 2)
            << "x to cp + sync (target >= 0.8x)\n"
            << "TUS, CLI (16 MiB chunks+sha):  " << fmt(cli_rate) << " MB/s  ratio "
            << fmt(cli_rate / cp_rate, 2) << "x to cp, " << fmt(cli_rate / cp_sync_rate, 2)
            << "x to cp + sync\n"
            << "server CPU per GiB: one PATCH "
            << fmt(quantile(single_cpu, 0.5) * (1 << 30) / size, 2) << " s, CLI "
            << fmt(quantile(cli_cpu, 0.5) * (1 << 30) / size, 2) << " s (all threads)\n"
            << "load average at the end: " << read_text("/proc/loadavg")
            << "server VmHWM: " << fmt(rss_before) << " MB before, " << fmt(rss_after)
            << " MB after\n";
  run_cleanups();
  return 0;
}
