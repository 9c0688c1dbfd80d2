#include "cli/parsing.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace pirus::cli {
namespace {

namespace json = boost::json;

TEST(ParamValue, JsonWhenItParses) {
  EXPECT_EQ(parse_param_value("42"), json::value(42));
  EXPECT_EQ(parse_param_value("true"), json::value(true));
  EXPECT_EQ(parse_param_value("1.5"), json::value(1.5));
  EXPECT_EQ(parse_param_value("\"x\""), json::value("x"));
  EXPECT_EQ(parse_param_value("null"), json::value(nullptr));
  EXPECT_EQ(parse_param_value("[1,2]"), json::parse("[1,2]"));
  EXPECT_EQ(parse_param_value("{\"a\":1}"), json::parse("{\"a\":1}"));
}

TEST(ParamValue, StringOtherwise) {
  EXPECT_EQ(parse_param_value("words"), json::value("words"));
  EXPECT_EQ(parse_param_value("hello world"), json::value("hello world"));
  EXPECT_EQ(parse_param_value("007"), json::value("007"));  // leading zeros are not JSON
  EXPECT_EQ(parse_param_value(""), json::value(""));
  EXPECT_EQ(parse_param_value("True"), json::value("True"));
  EXPECT_EQ(parse_param_value("1.5.2"), json::value("1.5.2"));
}

TEST(Param, SplitsAtTheFirstEquals) {
  auto p = parse_param("expr=a=b");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, "expr");
  EXPECT_EQ(p->second, json::value("a=b"));
  auto n = parse_param("threshold=3");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->second, json::value(3));
  auto empty = parse_param("name=");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->second, json::value(""));
}

TEST(Param, RejectsMissingKeyOrEquals) {
  EXPECT_EQ(parse_param("novalue").status().code(), Code::kInvalid);
  EXPECT_EQ(parse_param("=3").status().code(), Code::kInvalid);
}

TEST(PipelineRefParse, IdNameAndVersion) {
  auto id = parse_pipeline_ref("12");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->id, 12);
  EXPECT_TRUE(id->name.empty());

  auto name = parse_pipeline_ref("wordcount");
  ASSERT_TRUE(name);
  EXPECT_FALSE(name->id);
  EXPECT_EQ(name->name, "wordcount");
  EXPECT_EQ(name->version, "");

  auto nv = parse_pipeline_ref("wordcount:1.0.0");
  ASSERT_TRUE(nv);
  EXPECT_FALSE(nv->id);
  EXPECT_EQ(nv->name, "wordcount");
  EXPECT_EQ(nv->version, "1.0.0");
}

TEST(PipelineRefParse, Rejects) {
  EXPECT_FALSE(parse_pipeline_ref(""));
  EXPECT_FALSE(parse_pipeline_ref("0"));
  EXPECT_FALSE(parse_pipeline_ref(":1.0"));
  EXPECT_FALSE(parse_pipeline_ref("wordcount:"));
}

TEST(Versions, Order) {
  EXPECT_LT(compare_versions("1.0.0", "1.0.1"), 0);
  EXPECT_GT(compare_versions("1.10.0", "1.9.3"), 0);
  EXPECT_EQ(compare_versions("1.0", "1.0"), 0);
  EXPECT_LT(compare_versions("1.0", "1.0.1"), 0);
  EXPECT_LT(compare_versions("1.0.0-rc1", "1.0.0"), 0);
  EXPECT_GT(compare_versions("1.0.0", "1.0.0-rc1"), 0);
  EXPECT_LT(compare_versions("1.0.0-rc1", "1.0.0-rc2"), 0);
  EXPECT_LT(compare_versions("2", "10"), 0);
  EXPECT_GT(compare_versions("99999999999999999999", "1"), 0);  // no overflow
}

json::array sample_pipelines() {
  return json::parse(R"([
    {"id": 1, "name": "wordcount", "version": "1.0.0", "status": "ready"},
    {"id": 2, "name": "wordcount", "version": "1.10.0", "status": "ready"},
    {"id": 3, "name": "wordcount", "version": "1.9.0", "status": "ready"},
    {"id": 4, "name": "wordcount", "version": "2.0.0", "status": "installing"},
    {"id": 5, "name": "align", "version": "0.1", "status": "error"}
  ])")
      .as_array();
}

TEST(PipelineRefResolve, IdIsPassedThrough) {
  PipelineRef ref;
  ref.id = 42;
  EXPECT_EQ(resolve_pipeline_ref(ref, sample_pipelines()).value(), 42);
}

TEST(PipelineRefResolve, NamePicksTheHighestReadyVersion) {
  auto ref = parse_pipeline_ref("wordcount").value();
  EXPECT_EQ(resolve_pipeline_ref(ref, sample_pipelines()).value(), 2);
}

TEST(PipelineRefResolve, NameAndVersionIsExact) {
  EXPECT_EQ(resolve_pipeline_ref(parse_pipeline_ref("wordcount:1.9.0").value(), sample_pipelines())
                .value(),
            3);
  // Even when not ready: the server explains why it refuses the job.
  EXPECT_EQ(resolve_pipeline_ref(parse_pipeline_ref("wordcount:2.0.0").value(), sample_pipelines())
                .value(),
            4);
}

TEST(PipelineRefResolve, Errors) {
  auto missing = resolve_pipeline_ref(parse_pipeline_ref("nope").value(), sample_pipelines());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  auto no_version =
      resolve_pipeline_ref(parse_pipeline_ref("wordcount:3.0").value(), sample_pipelines());
  EXPECT_EQ(no_version.status().code(), Code::kNotFound);
  EXPECT_NE(no_version.status().message().find("1.10.0"), std::string::npos);
  auto not_ready = resolve_pipeline_ref(parse_pipeline_ref("align").value(), sample_pipelines());
  EXPECT_EQ(not_ready.status().code(), Code::kConflict);
  EXPECT_NE(not_ready.status().message().find("error"), std::string::npos);
}

TEST(Ids, ParseAndDigits) {
  EXPECT_EQ(parse_id("17", "job id").value(), 17);
  EXPECT_EQ(parse_id("0", "job id").status().code(), Code::kInvalid);
  EXPECT_EQ(parse_id("-3", "job id").status().code(), Code::kInvalid);
  EXPECT_EQ(parse_id("99999999999999999999", "job id").status().code(), Code::kInvalid);
  EXPECT_NE(parse_id("x", "job id").status().message().find("job id"), std::string::npos);
  EXPECT_TRUE(is_all_digits("0123"));
  EXPECT_FALSE(is_all_digits("./12"));
  EXPECT_FALSE(is_all_digits(""));
}

TEST(UrlEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(url_encode("sample-1_a.txt~"), "sample-1_a.txt~");
  EXPECT_EQ(url_encode("my file&x=1.txt"), "my%20file%26x%3D1.txt");
  EXPECT_EQ(url_encode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(url_encode("a/b"), "a%2Fb");
}

}  // namespace
}  // namespace pirus::cli
