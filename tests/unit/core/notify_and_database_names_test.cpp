// The pure rules of the HTTP progress channel's body and of reference database names.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "core/database_service.hpp"
#include "core/job_service.hpp"
#include "support/temp_dir.hpp"

namespace pirus {
namespace {

namespace json = boost::json;

Result<NotifyRequest> parse(const char* text) {
  return parse_notify_request(json::parse(text).as_object());
}

TEST(NotifyRequest, AcceptsProgressLabelAndTheThreeStatuses) {
  auto r = parse(R"({"progress": 0.25, "label": "aligning", "status": "running"})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_DOUBLE_EQ(*r->progress, 0.25);
  EXPECT_EQ(*r->label, "aligning");
  EXPECT_EQ(*r->status, "running");
  for (const char* s : {"finalizing", "error"}) {
    auto ok = parse_notify_request(json::object{{"status", s}});
    ASSERT_TRUE(ok.is_ok()) << s;
    EXPECT_EQ(*ok->status, s);
  }
}

TEST(NotifyRequest, ClampsProgressAndCleansTheLabel) {
  EXPECT_DOUBLE_EQ(*parse(R"({"progress": 3})")->progress, 1.0);
  EXPECT_DOUBLE_EQ(*parse(R"({"progress": -0.5})")->progress, 0.0);
  EXPECT_EQ(*parse(R"({"label": "a\nb\tc"})")->label, "a b c");
  EXPECT_TRUE(parse_notify_request(json::object{{"label", std::string(200, 'x')}}).is_ok());
}

TEST(NotifyRequest, RefusesEverythingElse) {
  for (const char* body :
       {R"({})", R"({"status": "done"})", R"({"status": "canceled"})", R"({"status": 1})",
        R"({"progress": "0.5"})", R"({"progress": null})", R"({"label": ["x"]})",
        R"({"progress": 0.5, "error_reason": "x"})", R"({"exit_code": 0})", R"({"outputs": []})"}) {
    SCOPED_TRACE(body);
    auto r = parse(body);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), Code::kInvalid);
  }
  auto r = parse_notify_request(json::object{{"label", std::string(201, 'x')}});
  EXPECT_FALSE(r.is_ok());
  r = parse(R"({"progress": 0.5, "status": "done", "colour": 1})");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("status: must be running, finalizing or error"),
            std::string::npos);
  EXPECT_NE(r.status().message().find("colour: not accepted"), std::string::npos);
}

TEST(DatabaseNames, FollowTheRule) {
  for (const char* ok : {"hg19", "hg38", "grch38.p14", "mm10_ucsc", "0-x", "a"}) {
    EXPECT_TRUE(validate_database_name(ok).is_ok()) << ok;
  }
  EXPECT_TRUE(validate_database_name(std::string(64, 'a')).is_ok());
  for (const char* bad : {"", "HG19", ".x", "-x", "_x", "a/b", "a b", "..", "é"}) {
    EXPECT_EQ(validate_database_name(bad).code(), Code::kInvalid) << bad;
  }
  EXPECT_FALSE(validate_database_name(std::string(65, 'a')).is_ok());
}

TEST(DatabaseNames, ListingSkipsHiddenEntriesFilesAndLinks) {
  testing::TempDir dir("pirus-dbnames");
  namespace fs = std::filesystem;
  fs::create_directories(dir / "hg38");
  fs::create_directories(dir / "hg19");
  fs::create_directories(dir / ".hg20.partial-abc");
  fs::create_directories(dir / ".deleting-mm9-123");
  testing::write_file(dir / "README", "x");
  fs::create_directory_symlink(dir / "hg19", dir / "alias");
  EXPECT_EQ(list_database_names(dir.path()), (std::vector<std::string>{"hg19", "hg38"}));
  EXPECT_TRUE(list_database_names(dir / "missing").empty());
}

}  // namespace
}  // namespace pirus
