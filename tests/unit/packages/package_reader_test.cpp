#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "packages/package.hpp"
#include "support/temp_dir.hpp"

namespace pirus {
namespace {

namespace fs = std::filesystem;
using pirus::testing::TempDir;
using pirus::testing::write_file;

constexpr const char* kManifest = R"({"name": "wordcount", "version": "1.0.0"})";

TEST(PackageReader, ReadsManifestFormDocumentsAndDockerfile) {
  TempDir pkg;
  write_file(pkg / "manifest.json", kManifest);
  write_file(pkg / "form.json", R"({"properties": {"n": {"type": "integer", "default": 3}}})");
  write_file(pkg / "Dockerfile", "FROM pirus-base/busybox:1\n");
  write_file(pkg / "doc/about.html", "<p>about</p>");
  write_file(pkg / "doc/help.html", "<p>help</p>");
  write_file(pkg / "doc/icon.jpg", "jpg");
  write_file(pkg / "LICENSE", "MIT");
  write_file(pkg / "README.md", "# wc");

  auto info = read_package(pkg.path());
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->manifest.name, "wordcount");
  ASSERT_EQ(info->form.fields.size(), 1u);
  EXPECT_EQ(info->form.fields[0].key, "n");
  EXPECT_EQ(info->form_text, R"({"properties": {"n": {"type": "integer", "default": 3}}})");
  EXPECT_TRUE(info->has_dockerfile);
  EXPECT_EQ(info->documents, (std::map<std::string, std::string>{{"about", "doc/about.html"},
                                                                 {"help", "doc/help.html"},
                                                                 {"icon", "doc/icon.jpg"},
                                                                 {"license", "LICENSE"},
                                                                 {"readme", "README.md"}}));
}

TEST(PackageReader, PrefersPngIconAndPlainReadme) {
  TempDir pkg;
  write_file(pkg / "manifest.json", kManifest);
  write_file(pkg / "doc/icon.png", "png");
  write_file(pkg / "doc/icon.jpg", "jpg");
  write_file(pkg / "README", "plain");
  write_file(pkg / "README.md", "md");
  auto info = read_package(pkg.path());
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->documents.at("icon"), "doc/icon.png");
  EXPECT_EQ(info->documents.at("readme"), "README");
}

TEST(PackageReader, UsesAnEmptyFormWhenThereIsNone) {
  TempDir pkg;
  write_file(pkg / "manifest.json", kManifest);
  auto info = read_package(pkg.path());
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->form_text, "{}");
  EXPECT_TRUE(info->form.fields.empty());
  EXPECT_TRUE(info->documents.empty());
  EXPECT_FALSE(info->has_dockerfile);
}

TEST(PackageReader, RequiresAManifest) {
  TempDir pkg;
  write_file(pkg / "Dockerfile", "FROM scratch\n");
  auto info = read_package(pkg.path());
  ASSERT_FALSE(info.is_ok());
  EXPECT_EQ(info.status().code(), Code::kInvalid);
  EXPECT_EQ(info.status().message(), "the package has no manifest.json at its top level");
}

TEST(PackageReader, PassesOnManifestAndFormErrors) {
  TempDir pkg;
  write_file(pkg / "manifest.json", R"({"name": "x"})");
  EXPECT_EQ(read_package(pkg.path()).status().message(), "manifest.json: version: required");
  write_file(pkg / "manifest.json", kManifest);
  write_file(pkg / "form.json", R"({"properties": {"n": {"type": "date"}}})");
  EXPECT_NE(read_package(pkg.path()).status().message().find("form.json: n: type:"),
            std::string::npos);
}

TEST(PackageReader, IgnoresDocumentsThatAreSymlinks) {
  TempDir pkg;
  write_file(pkg / "manifest.json", kManifest);
  fs::create_directories(pkg / "doc");
  fs::create_symlink("/etc/passwd", pkg / "doc/about.html");
  fs::create_symlink("/etc/passwd", pkg / "LICENSE");
  auto info = read_package(pkg.path());
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_TRUE(info->documents.empty());
}

TEST(PackageReader, RefusesAManifestThatIsASymlink) {
  TempDir pkg;
  TempDir elsewhere;
  write_file(elsewhere / "manifest.json", kManifest);
  fs::create_symlink(elsewhere / "manifest.json", pkg / "manifest.json");
  EXPECT_EQ(read_package(pkg.path()).status().code(), Code::kInvalid);
}

TEST(PackageReader, RefusesAHugeManifest) {
  TempDir pkg;
  write_file(pkg / "manifest.json", std::string(2 << 20, ' '));
  EXPECT_EQ(read_package(pkg.path()).status().code(), Code::kTooLarge);
}

// The example package shipped with the sources must always be valid.
TEST(PackageReader, AcceptsTheSeqstatsExample) {
  auto info = read_package(std::string(PIRUS_SOURCE_DIR) + "/examples/pipelines/seqstats");
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->manifest.name, "seqstats");
  EXPECT_TRUE(info->has_dockerfile);
  EXPECT_FALSE(info->form.fields.empty());
  EXPECT_TRUE(info->documents.contains("about"));
  auto params = validate_parameters(info->form, {}, {});
  EXPECT_TRUE(params.is_ok()) << params.status().to_string();
}

TEST(PackageReader, ReportsAMissingDirectory) {
  TempDir tmp;
  EXPECT_EQ(read_package(tmp / "nope").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace pirus
