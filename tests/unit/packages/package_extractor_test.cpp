// Every hostile zip here is made by the test itself with libarchive's writer (and, where the
// writer refuses to produce the entry type, by patching its central directory), so the
// tests need no fixture files and show exactly what each attack looks like.

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "packages/package.hpp"
#include "support/temp_dir.hpp"

namespace pirus {
namespace {

namespace fs = std::filesystem;
using pirus::testing::read_file;
using pirus::testing::TempDir;
using pirus::testing::write_file;

struct ZipEntry {
  std::string name;
  std::string data;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string link_target;  // for AE_IFLNK
  std::int64_t zeros = 0;   // when > 0, this many zero bytes instead of `data`
};

ZipEntry file(std::string name, std::string data = "x", mode_t perm = 0644) {
  return {std::move(name), std::move(data), AE_IFREG, perm, "", 0};
}
ZipEntry dir(std::string name) {
  return {std::move(name), "", AE_IFDIR, 0755, "", 0};
}
ZipEntry symlink_entry(std::string name, std::string target) {
  return {std::move(name), "", AE_IFLNK, 0777, std::move(target), 0};
}

// `options` are libarchive writer options, e.g. "zip:compression=store".
void write_zip(const std::string& path, const std::vector<ZipEntry>& entries,
               const char* options = nullptr) {
  archive* a = archive_write_new();
  ASSERT_EQ(archive_write_set_format_zip(a), ARCHIVE_OK);
  if (options) {
    ASSERT_EQ(archive_write_set_options(a, options), ARCHIVE_OK);
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  std::vector<char> zeros(1 << 20, 0);
  for (const ZipEntry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.perm);
    archive_entry_set_mtime(entry, 1700000000, 0);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.link_target.c_str());
    std::int64_t size = e.type == AE_IFREG ? (e.zeros > 0 ? e.zeros : e.data.size()) : 0;
    archive_entry_set_size(entry, size);
    ASSERT_GE(archive_write_header(a, entry), ARCHIVE_WARN) << archive_error_string(a);
    if (e.zeros > 0) {
      for (std::int64_t left = e.zeros; left > 0;) {
        std::size_t n = static_cast<std::size_t>(
            std::min<std::int64_t>(left, static_cast<std::int64_t>(zeros.size())));
        ASSERT_EQ(archive_write_data(a, zeros.data(), n), static_cast<la_ssize_t>(n));
        left -= static_cast<std::int64_t>(n);
      }
    } else if (!e.data.empty()) {
      ASSERT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(entry);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

// libarchive's zip writer refuses devices and fifos, but a zip made elsewhere can carry any
// Unix mode in the "external attributes" of its central directory: set it there.
void set_unix_mode_in_central_directory(const std::string& zip_path, const std::string& name,
                                        std::uint16_t mode) {
  std::string bytes = read_file(zip_path);
  const std::string signature("PK\x01\x02", 4);
  bool patched = false;
  for (std::size_t pos = bytes.find(signature); pos != std::string::npos;
       pos = bytes.find(signature, pos + 4)) {
    auto u16 = [&](std::size_t off) {
      return static_cast<std::size_t>(static_cast<unsigned char>(bytes[pos + off])) |
             static_cast<std::size_t>(static_cast<unsigned char>(bytes[pos + off + 1])) << 8;
    };
    std::size_t name_len = u16(28);
    if (bytes.compare(pos + 46, name_len, name) != 0) continue;
    bytes[pos + 5] = 3;  // "made by" Unix, so readers honour the mode
    bytes[pos + 40] = static_cast<char>(mode & 0xff);
    bytes[pos + 41] = static_cast<char>(mode >> 8);
    patched = true;
  }
  ASSERT_TRUE(patched) << "no central directory entry named " << name;
  write_file(zip_path, bytes);
}

// Overwrites the 4-byte little-endian field at `offset` of every local header (PK\3\4) and
// central directory record (PK\1\2): a zip that lies about its entries' sizes.
void set_declared_uncompressed_size(const std::string& zip_path, std::uint32_t size) {
  std::string bytes = read_file(zip_path);
  for (const auto& [signature, offset] :
       {std::pair<std::string, std::size_t>{std::string("PK\x03\x04", 4), 22},
        std::pair<std::string, std::size_t>{std::string("PK\x01\x02", 4), 24}}) {
    for (std::size_t pos = bytes.find(signature); pos != std::string::npos;
         pos = bytes.find(signature, pos + 4)) {
      for (int i = 0; i < 4; ++i) bytes[pos + offset + i] = static_cast<char>(size >> (8 * i));
    }
  }
  write_file(zip_path, bytes);
}

// Every path under `root`, relative to it.
std::set<std::string> tree(const std::string& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    out.insert(fs::relative(e.path(), root).string());
  }
  return out;
}

mode_t perm_of(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class PackageExtractor : public ::testing::Test {
 protected:
  std::string zip() const { return tmp_ / "pkg.zip"; }
  std::string dest() const { return tmp_ / "out"; }

  // Extracts entries that must be refused; checks the code, that the message contains
  // `expected`, and that nothing at all was left next to the zip.
  void expect_rejected(const std::vector<ZipEntry>& entries, Code code, const std::string& expected,
                       const ExtractLimits& limits = {}) {
    write_zip(zip(), entries);
    expect_rejected_zip(code, expected, limits);
  }

  void expect_rejected_zip(Code code, const std::string& expected,
                           const ExtractLimits& limits = {}) {
    Status st = extract_package(zip(), dest(), limits);
    EXPECT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), code) << st.to_string();
    EXPECT_NE(st.message().find(expected), std::string::npos)
        << "message: " << st.message() << "\nexpected to contain: " << expected;
    EXPECT_FALSE(fs::exists(fs::symlink_status(dest())));
    EXPECT_EQ(tree(tmp_.path()), std::set<std::string>{"pkg.zip"});
  }

  TempDir tmp_{"pirus-extract"};
};

TEST_F(PackageExtractor, ExtractsAPackageAndStripsItsSingleTopFolder) {
  write_zip(zip(), {dir("wordcount/"), file("wordcount/manifest.json", R"({"name":"wc"})"),
                    file("wordcount/Dockerfile", "FROM pirus-base/busybox:1\n"),
                    file("wordcount/scripts/run.sh", "#!/bin/sh\necho hi\n", 0755),
                    file("wordcount/doc/about.html", "<p>about</p>"), dir("wordcount/empty/"),
                    file("__MACOSX/wordcount/._manifest.json", "junk"),
                    file("__MACOSX/._wordcount", "junk")});
  Status st = extract_package(zip(), dest());
  ASSERT_TRUE(st.is_ok()) << st.to_string();

  EXPECT_EQ(
      tree(tmp_.path()),
      (std::set<std::string>{"pkg.zip", "out", "out/manifest.json", "out/Dockerfile", "out/scripts",
                             "out/scripts/run.sh", "out/doc", "out/doc/about.html", "out/empty"}));
  EXPECT_EQ(read_file(dest() + "/manifest.json"), R"({"name":"wc"})");
  EXPECT_EQ(read_file(dest() + "/scripts/run.sh"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(perm_of(dest() + "/scripts/run.sh"), 0755u);
  EXPECT_EQ(perm_of(dest() + "/doc/about.html"), 0644u);
  EXPECT_EQ(perm_of(dest() + "/manifest.json"), 0644u);
  EXPECT_EQ(perm_of(dest() + "/doc"), 0755u);
  EXPECT_EQ(perm_of(dest()), 0755u);
}

TEST_F(PackageExtractor, StripsATopFolderThatHasNoEntryOfItsOwn) {
  write_zip(zip(), {file("pkg/manifest.json"), file("pkg/a/b/c.txt", "deep")});
  ASSERT_TRUE(extract_package(zip(), dest()).is_ok());
  EXPECT_EQ(read_file(dest() + "/a/b/c.txt"), "deep");
  EXPECT_TRUE(fs::exists(dest() + "/manifest.json"));
}

TEST_F(PackageExtractor, KeepsTheLayoutWhenEntriesAreAtTheTop) {
  write_zip(zip(), {file("manifest.json"), file("Dockerfile"), file("doc/help.html")});
  Status st = extract_package(zip(), dest());
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(tree(dest()),
            (std::set<std::string>{"manifest.json", "Dockerfile", "doc", "doc/help.html"}));
  EXPECT_EQ(perm_of(dest()), 0755u);
}

TEST_F(PackageExtractor, DoesNotStripWhenAFileSitsBesideTheTopFolder) {
  write_zip(zip(), {file("pkg/manifest.json"), file("README")});
  ASSERT_TRUE(extract_package(zip(), dest()).is_ok());
  EXPECT_EQ(tree(dest()), (std::set<std::string>{"pkg", "pkg/manifest.json", "README"}));
}

TEST_F(PackageExtractor, DoesNotStripASingleTopLevelFile) {
  write_zip(zip(), {file("manifest.json", "{}")});
  ASSERT_TRUE(extract_package(zip(), dest()).is_ok());
  EXPECT_EQ(read_file(dest() + "/manifest.json"), "{}");
}

TEST_F(PackageExtractor, ExtractsNonAsciiNames) {
  write_zip(zip(), {file("données/résumé.txt", "ok"), file("données/manifest.json")});
  Status st = extract_package(zip(), dest());
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(read_file(dest() + "/résumé.txt"), "ok");
}

TEST_F(PackageExtractor, NormalizesDotAndEmptyComponents) {
  write_zip(zip(), {file("./manifest.json", "m"), file("doc//./about.html", "a")});
  ASSERT_TRUE(extract_package(zip(), dest()).is_ok());
  EXPECT_EQ(read_file(dest() + "/doc/about.html"), "a");
}

TEST_F(PackageExtractor, RejectsZipSlipEntry) {
  expect_rejected({file("manifest.json"), file("../evil", "pwned")}, Code::kInvalid,
                  "entry '../evil' escapes the package directory");
}

TEST_F(PackageExtractor, RejectsZipSlipHiddenInsideAPath) {
  fs::create_directories(tmp_ / "a/b");
  Status st = [&] {
    write_zip(zip(), {file("doc/../../../x", "pwned")});
    return extract_package(zip(), tmp_ / "a/b/out");
  }();
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.message(), "entry 'doc/../../../x' escapes the package directory");
  EXPECT_EQ(tree(tmp_.path()), (std::set<std::string>{"pkg.zip", "a", "a/b"}));
}

TEST_F(PackageExtractor, RejectsAbsolutePathEntry) {
  expect_rejected({file("manifest.json"), file(tmp_ / "abs-target", "pwned")}, Code::kInvalid,
                  "entry '" + tmp_ / "abs-target" + "' has an absolute path");
}

TEST_F(PackageExtractor, RejectsAbsoluteEtcPathEntry) {
  expect_rejected({file("/etc/pirus-extract-test", "pwned")}, Code::kInvalid,
                  "entry '/etc/pirus-extract-test' has an absolute path");
  EXPECT_FALSE(fs::exists("/etc/pirus-extract-test"));
}

TEST_F(PackageExtractor, RejectsSymlinkPointingOutside) {
  // The classic two-step: a link to a directory outside, then a file "through" it.
  fs::create_directories(tmp_ / "a");
  write_zip(zip(), {symlink_entry("link", tmp_ / "a"), file("link/planted", "pwned")});
  Status st = extract_package(zip(), dest());
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.message(), "entry 'link' is a symbolic link, which packages may not contain");
  EXPECT_EQ(tree(tmp_.path()), (std::set<std::string>{"pkg.zip", "a"}));
}

TEST_F(PackageExtractor, RejectsAnySymlinkEntry) {
  expect_rejected({file("pkg/manifest.json"), symlink_entry("pkg/readme", "manifest.json")},
                  Code::kInvalid,
                  "entry 'pkg/readme' is a symbolic link, which packages may not contain");
}

TEST_F(PackageExtractor, RejectsDeviceAndSocketEntries) {
  const std::pair<std::uint16_t, std::string> cases[] = {{S_IFCHR | 0644, "a character device"},
                                                         {S_IFBLK | 0644, "a block device"},
                                                         {S_IFSOCK | 0644, "a socket"}};
  for (const auto& [mode, what] : cases) {
    write_zip(zip(), {file("manifest.json"), file("node", "")});
    set_unix_mode_in_central_directory(zip(), "node", mode);
    expect_rejected_zip(Code::kInvalid,
                        "entry 'node' is " + what + ", which packages may not contain");
  }
}

TEST_F(PackageExtractor, NeverCreatesAFifo) {
  // libarchive reads a fifo entry as a regular file (Info-ZIP records piped input that way),
  // so the entry arrives as an empty plain file: nothing special is ever created.
  write_zip(zip(), {file("manifest.json"), file("pipe", "")});
  set_unix_mode_in_central_directory(zip(), "pipe", S_IFIFO | 0644);
  ASSERT_TRUE(extract_package(zip(), dest()).is_ok());
  struct stat st;
  ASSERT_EQ(::lstat((dest() + "/pipe").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(PackageExtractor, RejectsZipBombByCompressionRatio) {
  // 200 MB of zeros deflate to about 200 KB: a ratio near 1000.
  ZipEntry bomb = file("pkg/data.bin", "");
  bomb.zeros = 200LL << 20;
  expect_rejected({file("pkg/manifest.json"), bomb}, Code::kTooLarge, "zip bomb");
}

TEST_F(PackageExtractor, RejectsPackagesBeyondTheTotalSizeLimit) {
  ExtractLimits limits;
  limits.max_total_bytes = 1000;
  expect_rejected({file("a.txt", std::string(600, 'a')), file("b.txt", std::string(600, 'b'))},
                  Code::kTooLarge, "the package is larger than 1000 bytes uncompressed", limits);
}

TEST_F(PackageExtractor, RejectsEntriesBeyondThePerEntryLimit) {
  ExtractLimits limits;
  limits.max_entry_bytes = 500;
  expect_rejected({file("small.txt", "ok"), file("big.txt", std::string(501, 'b'))},
                  Code::kTooLarge, "entry 'big.txt' is larger than 500 bytes uncompressed", limits);
}

TEST_F(PackageExtractor, CountsRealBytesNotTheSizesTheZipDeclares) {
  ExtractLimits limits;
  limits.max_entry_bytes = 100000;
  write_zip(zip(), {file("big.txt", std::string(500000, 'a'))});
  set_declared_uncompressed_size(zip(), 10);
  expect_rejected_zip(Code::kTooLarge, "entry 'big.txt' is larger than 100000 bytes uncompressed",
                      limits);
}

TEST_F(PackageExtractor, RejectsAnEntryLongerThanItDeclares) {
  write_zip(zip(), {file("manifest.json", std::string(5000, 'a'))});
  set_declared_uncompressed_size(zip(), 10);
  expect_rejected_zip(Code::kInvalid, "entry 'manifest.json' cannot be read");
}

TEST_F(PackageExtractor, RejectsACorruptedEntry) {
  write_zip(zip(), {file("manifest.json", "HELLO-PIRUS-CONTENT")}, "zip:compression=store");
  std::string bytes = read_file(zip());
  std::size_t pos = bytes.find("HELLO-PIRUS-CONTENT");
  ASSERT_NE(pos, std::string::npos);
  bytes[pos] = 'J';
  write_file(zip(), bytes);
  expect_rejected_zip(Code::kInvalid, "entry 'manifest.json' cannot be read");
}

TEST_F(PackageExtractor, RejectsTooManyEntries) {
  ExtractLimits limits;
  limits.max_entries = 3;
  expect_rejected({file("a"), file("b"), file("c"), file("d")}, Code::kTooLarge,
                  "the package has more than 3 entries", limits);
}

TEST_F(PackageExtractor, AcceptsExactlyTheEntryLimit) {
  ExtractLimits limits;
  limits.max_entries = 3;
  write_zip(zip(), {file("a"), file("b"), file("c")});
  EXPECT_TRUE(extract_package(zip(), dest(), limits).is_ok());
}

TEST_F(PackageExtractor, RejectsDuplicateEntries) {
  expect_rejected({file("manifest.json", "one"), file("manifest.json", "two")}, Code::kInvalid,
                  "entry 'manifest.json' appears more than once in the zip");
}

TEST_F(PackageExtractor, RejectsDuplicatesSpelledDifferently) {
  expect_rejected({file("doc/about.html"), file("doc/./about.html")}, Code::kInvalid,
                  "entry 'doc/./about.html' appears more than once in the zip");
}

TEST_F(PackageExtractor, RejectsAFileUsedAsADirectory) {
  expect_rejected({file("doc", "a file"), file("doc/about.html")}, Code::kInvalid,
                  "entry 'doc/about.html' conflicts with an earlier file entry");
}

TEST_F(PackageExtractor, RejectsWindowsStyleZipSlip) {
  // libarchive turns the backslashes of a DOS-made name into slashes, so this is "../../evil".
  expect_rejected({file("..\\..\\evil")}, Code::kInvalid, "escapes the package directory");
}

TEST_F(PackageExtractor, RejectsBackslashesInNames) {
  expect_rejected({file("doc/..\\..\\evil")}, Code::kInvalid,
                  "entry 'doc/..\\..\\evil' has a backslash in its name");
}

TEST_F(PackageExtractor, RejectsAFileThatIsNotAZip) {
  write_file(zip(), "this is not a zip");
  expect_rejected_zip(Code::kInvalid, "zip");
}

TEST_F(PackageExtractor, RefusesAnExistingDestinationAndLeavesItAlone) {
  write_zip(zip(), {file("manifest.json")});
  write_file(dest() + "/keep.txt", "mine");
  Status st = extract_package(zip(), dest());
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_EQ(read_file(dest() + "/keep.txt"), "mine");
  EXPECT_EQ(tree(tmp_.path()), (std::set<std::string>{"pkg.zip", "out", "out/keep.txt"}));
}

TEST_F(PackageExtractor, ReportsAMissingZip) {
  Status st = extract_package(tmp_ / "missing.zip", dest());
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_TRUE(tree(tmp_.path()).empty());
}

}  // namespace
}  // namespace pirus
