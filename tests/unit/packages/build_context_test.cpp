#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "packages/package.hpp"
#include "support/temp_dir.hpp"

namespace pirus {
namespace {

namespace fs = std::filesystem;
using pirus::testing::TempDir;
using pirus::testing::write_file;

struct TarEntry {
  mode_t type = 0;
  mode_t perm = 0;
  std::string data;
  std::string link_target;
};

// Reads the tar back with libarchive, in order.
std::vector<std::pair<std::string, TarEntry>> read_tar(const std::string& path) {
  std::vector<std::pair<std::string, TarEntry>> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 10240), ARCHIVE_OK);
  archive_entry* entry = nullptr;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    TarEntry e;
    e.type = archive_entry_filetype(entry);
    e.perm = archive_entry_perm(entry);
    if (const char* t = archive_entry_symlink(entry)) e.link_target = t;
    char buf[4096];
    for (la_ssize_t n; (n = archive_read_data(a, buf, sizeof(buf))) > 0;) {
      e.data.append(buf, static_cast<std::size_t>(n));
    }
    out.emplace_back(archive_entry_pathname(entry), e);
  }
  archive_read_free(a);
  return out;
}

TEST(BuildContext, RoundTripsFilesDirectoriesAndModes) {
  TempDir pkg;
  TempDir out;
  write_file(pkg / "Dockerfile", "FROM pirus-base/busybox:1\nCOPY run.sh /app/\n");
  write_file(pkg / "run.sh", "#!/bin/sh\necho hi\n");
  fs::permissions(pkg / "run.sh", fs::perms(0755));
  write_file(pkg / "doc/about.html", "<p>about</p>");
  fs::create_directories(pkg / "empty");
  std::string big(200000, 'z');
  write_file(pkg / "data/big.txt", big);

  std::string tar = out / "context.tar";
  Status st = write_build_context(pkg.path(), tar);
  ASSERT_TRUE(st.is_ok()) << st.to_string();

  auto entries = read_tar(tar);
  std::vector<std::string> names;
  std::map<std::string, TarEntry> by_name;
  for (const auto& [name, e] : entries) {
    names.push_back(name);
    by_name[name] = e;
  }
  // Sorted, relative, directories (named with the customary trailing slash) before their
  // contents.
  EXPECT_EQ(names, (std::vector<std::string>{"Dockerfile", "data/", "data/big.txt", "doc/",
                                             "doc/about.html", "empty/", "run.sh"}));
  EXPECT_EQ(by_name["Dockerfile"].type, static_cast<mode_t>(AE_IFREG));
  EXPECT_EQ(by_name["Dockerfile"].data, "FROM pirus-base/busybox:1\nCOPY run.sh /app/\n");
  EXPECT_EQ(by_name["run.sh"].perm, 0755u);
  EXPECT_EQ(by_name["doc/"].type, static_cast<mode_t>(AE_IFDIR));
  EXPECT_EQ(by_name["empty/"].type, static_cast<mode_t>(AE_IFDIR));
  EXPECT_EQ(by_name["data/big.txt"].data, big);
}

TEST(BuildContext, StoresSymlinksAsLinksWithoutFollowingThem) {
  TempDir pkg;
  TempDir out;
  write_file(pkg / "Dockerfile", "FROM scratch\n");
  fs::create_symlink("Dockerfile", pkg / "alias");
  fs::create_symlink("/etc/passwd", pkg / "passwd");
  fs::create_directory_symlink("/etc", pkg / "etc");

  std::string tar = out / "context.tar";
  ASSERT_TRUE(write_build_context(pkg.path(), tar).is_ok());
  std::map<std::string, TarEntry> by_name;
  for (const auto& [name, e] : read_tar(tar)) by_name[name] = e;

  ASSERT_EQ(by_name.size(), 4u);
  EXPECT_EQ(by_name["alias"].type, static_cast<mode_t>(AE_IFLNK));
  EXPECT_EQ(by_name["alias"].link_target, "Dockerfile");
  EXPECT_EQ(by_name["passwd"].type, static_cast<mode_t>(AE_IFLNK));
  EXPECT_EQ(by_name["passwd"].link_target, "/etc/passwd");
  EXPECT_TRUE(by_name["passwd"].data.empty());
  EXPECT_EQ(by_name["etc"].type, static_cast<mode_t>(AE_IFLNK));
}

TEST(BuildContext, LeavesOutTheTarWhenWrittenInsideTheDirectory) {
  TempDir pkg;
  write_file(pkg / "Dockerfile", "FROM scratch\n");
  std::string tar = pkg / "context.tar";
  ASSERT_TRUE(write_build_context(pkg.path(), tar).is_ok());
  auto entries = read_tar(tar);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].first, "Dockerfile");
}

TEST(BuildContext, FailsForAMissingDirectoryWithoutLeavingATar) {
  TempDir tmp;
  Status st = write_build_context(tmp / "nope", tmp / "context.tar");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(tmp / "context.tar"));
}

TEST(BuildContext, RefusesAFifo) {
  TempDir pkg;
  TempDir out;
  write_file(pkg / "Dockerfile", "FROM scratch\n");
  ASSERT_EQ(::mkfifo((pkg / "pipe").c_str(), 0644), 0);
  Status st = write_build_context(pkg.path(), out / "context.tar");
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_FALSE(fs::exists(out / "context.tar"));
}

}  // namespace
}  // namespace pirus
