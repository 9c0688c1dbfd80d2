// server.log_file: the server's log also goes to a file, rotated by size, so that a server
// that runs for months (the compose stack keeps it on a host directory) stays bounded.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "server/listen_banner.hpp"
#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ServerLogFileTest : public ServerTest {};

TEST_F(ServerLogFileTest, TheLogIsWrittenToTheFileAndRotatedBySize) {
  TempDir dir("pirus-log-file");
  const fs::path log = fs::path(dir.path()) / "logs" / "pirus.log";
  fs::create_directories(log.parent_path());
  const std::vector<std::string> sets = {"server.log_file=" + log.string(),
                                         "server.log_file_size=4K", "server.log_file_count=1"};
  std::string data_dir;
  // Each start and stop writes about 400 bytes: enough starts to rotate twice.
  for (int i = 0; i < 24; ++i) {
    ServerProcess& s = start_server({.sets = sets, .data_dir = data_dir, .wait_for_engine = false});
    data_dir = s.data_dir();
    ASSERT_EQ(s.stop(), 0);
  }
  ASSERT_TRUE(fs::exists(log));
  EXPECT_NE(read_all(log).find(kListeningBanner), std::string::npos) << read_all(log);
  EXPECT_TRUE(fs::exists(log.parent_path() / "pirus.1.log"));
  // One rotated file kept: the oldest lines are gone.
  EXPECT_FALSE(fs::exists(log.parent_path() / "pirus.2.log"));
  for (const auto& entry : fs::directory_iterator(log.parent_path())) {
    // A file is rotated before the line that would take it past the size.
    EXPECT_LE(fs::file_size(entry.path()), 4096u) << entry.path();
  }
}

TEST_F(ServerLogFileTest, AnUnwritableLogFileStopsTheStartWithAClearMessage) {
  TempDir dir("pirus-log-file");
  const std::string log = dir / "no-such-dir-file/x/pirus.log";
  // The parent is a regular file: no directory can be made there.
  std::ofstream(dir / "no-such-dir-file") << "a file\n";
  std::string out;
  const int rc =
      run_command(std::string(PIRUS_BINARY) + " server --data-dir " + shell_quote(dir / "data") +
                      " --set server.log_file=" + shell_quote(log) + " 2>&1",
                  &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("server.log_file"), std::string::npos) << out;
  EXPECT_NE(out.find(log), std::string::npos) << out;
}

TEST_F(ServerLogFileTest, ARelativeLogFileIsRefused) {
  TempDir dir("pirus-log-file");
  std::string out;
  const int rc =
      run_command(std::string(PIRUS_BINARY) + " server --data-dir " + shell_quote(dir / "data") +
                      " --set server.log_file=logs/pirus.log 2>&1",
                  &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("absolute"), std::string::npos) << out;
}

}  // namespace
}  // namespace pirus::testing
