// extract_archive with tar accepted (reference databases): the package rules hold for tars.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "packages/package.hpp"
#include "support/temp_dir.hpp"

namespace pirus {
namespace {

namespace fs = std::filesystem;
using pirus::testing::read_file;
using pirus::testing::TempDir;
using pirus::testing::write_file;

class ArchiveExtractor : public ::testing::Test {
 protected:
  std::string tar(const std::string& flags, const std::string& name, const std::string& what) {
    std::string out = tmp_ / name;
    std::string cmd = "tar -C '" + tmp_.path() + "/src' " + flags + " '" + out + "' " + what;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
  }
  std::string dest() const { return tmp_ / "dest"; }
  TempDir tmp_{"pirus-archive"};
};

TEST_F(ArchiveExtractor, ExtractsCompressedTarsAndStripsTheTopFolder) {
  write_file(tmp_ / "src/hg19/chr1.fa", ">1\nA\n");
  write_file(tmp_ / "src/hg19/idx/chr1.fai", "1\n");
  for (const char* flags : {"-czf", "-cjf", "-cJf", "-cf"}) {
    SCOPED_TRACE(flags);
    std::string a = tar(flags, std::string("a") + flags, "hg19");
    ASSERT_TRUE(extract_archive(a, dest(), {}, true).is_ok());
    EXPECT_EQ(read_file(dest() + "/chr1.fa"), ">1\nA\n");
    EXPECT_EQ(read_file(dest() + "/idx/chr1.fai"), "1\n");
    fs::remove_all(dest());
  }
}

TEST_F(ArchiveExtractor, PackagesStayZipOnly) {
  write_file(tmp_ / "src/p/manifest.json", "{}");
  std::string a = tar("-czf", "p.tar.gz", "p");
  Status st = extract_package(a, dest());
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_FALSE(fs::exists(dest()));
}

TEST_F(ArchiveExtractor, RefusesLinksTraversalAndBombsInTars) {
  write_file(tmp_ / "src/r/a.fa", "A");
  fs::create_symlink("/etc/passwd", tmp_ / "src/r/passwd");
  Status st = extract_archive(tar("-czf", "link.tgz", "r"), dest(), {}, true);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("symbolic link, which archives may not contain"), std::string::npos)
      << st.message();
  EXPECT_FALSE(fs::exists(dest()));

  fs::remove(tmp_ / "src/r/passwd");
  fs::create_hard_link(tmp_ / "src/r/a.fa", tmp_ / "src/r/b.fa");
  st = extract_archive(tar("-czf", "hard.tgz", "r"), dest(), {}, true);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("hard link"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dest()));

  // GNU tar keeps a leading "../" with -P.
  write_file(tmp_ / "x/in.txt", "x");
  std::string slip = tmp_ / "slip.tar";
  std::string cmd = "cd '" + tmp_.path() + "/src' && tar -P -cf '" + slip + "' ../x/in.txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  st = extract_archive(slip, dest(), {}, true);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("escapes"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dest()));

  fs::create_directories(tmp_ / "src/z");
  cmd = "head -c 8388608 /dev/zero > '" + tmp_.path() + "/src/z/zeros'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  st = extract_archive(tar("-czf", "bomb.tgz", "z"), dest(), {}, true);
  EXPECT_EQ(st.code(), Code::kTooLarge);
  EXPECT_NE(st.message().find("archive expands"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dest()));
  for (const auto& e : fs::directory_iterator(tmp_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".partial-"), std::string::npos);
  }
}

}  // namespace
}  // namespace pirus
