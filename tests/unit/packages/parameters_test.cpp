#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "packages/package.hpp"

namespace pirus {
namespace {

namespace json = boost::json;

FormSchema form_of(const std::string& text) {
  auto f = parse_form(text);
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  return f.is_ok() ? f.value() : FormSchema{};
}

const char* kForm = R"({"type": "object", "properties": {
  "threshold": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
  "name": {"type": "string", "required": true},
  "ratio": {"type": "number", "minimum": 0, "maximum": 1},
  "fast": {"type": "boolean", "default": false},
  "mode": {"type": "enum", "enum": ["fast", "slow"]},
  "level": {"enum": [1, 2, 3]}
}})";

json::object params(const std::string& text) {
  return json::parse(text).as_object();
}

json::object validate_ok(const FormSchema& form, const std::string& text,
                         const FormContext& ctx = {}) {
  auto r = validate_parameters(form, params(text), ctx);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : json::object{};
}

std::string validate_error(const FormSchema& form, const std::string& text,
                           const FormContext& ctx = {}) {
  auto r = validate_parameters(form, params(text), ctx);
  EXPECT_FALSE(r.is_ok()) << text;
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  return r.status().message();
}

TEST(Parameters, FillsDefaultsForMissingFields) {
  json::object out = validate_ok(form_of(kForm), R"({"name": "run"})");
  EXPECT_EQ(out, params(R"({"threshold": 5, "name": "run", "fast": false})"));
}

TEST(Parameters, ReturnsFieldsInFormOrder) {
  json::object out = validate_ok(form_of(kForm), R"({"fast": true, "name": "a", "threshold": 2})");
  std::vector<std::string> keys;
  for (const auto& kv : out) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"threshold", "name", "fast"}));
}

TEST(Parameters, RequiresRequiredFields) {
  EXPECT_EQ(validate_error(form_of(kForm), "{}"), "name: required");
}

TEST(Parameters, TreatsNullAsMissing) {
  EXPECT_EQ(validate_error(form_of(kForm), R"({"name": null})"), "name: required");
  EXPECT_EQ(validate_ok(form_of(kForm), R"({"name": "a", "threshold": null})").at("threshold"), 5);
}

TEST(Parameters, RequiresIntegralIntegers) {
  FormSchema f = form_of(kForm);
  EXPECT_EQ(validate_error(f, R"({"name": "a", "threshold": 2.5})"),
            "threshold: must be an integer");
  EXPECT_EQ(validate_error(f, R"({"name": "a", "threshold": "3"})"),
            "threshold: must be an integer");
  json::object out = validate_ok(f, R"({"name": "a", "threshold": 3.0})");
  EXPECT_TRUE(out.at("threshold").is_int64());
  EXPECT_EQ(out.at("threshold"), 3);
}

TEST(Parameters, AcceptsIntegersForNumbers) {
  FormSchema f = form_of(kForm);
  EXPECT_EQ(validate_ok(f, R"({"name": "a", "ratio": 1})").at("ratio"), 1);
  EXPECT_EQ(validate_ok(f, R"({"name": "a", "ratio": 0.25})").at("ratio"), 0.25);
  EXPECT_EQ(validate_error(f, R"({"name": "a", "ratio": "0.5"})"), "ratio: must be a number");
}

TEST(Parameters, ChecksStringsAndBooleans) {
  FormSchema f = form_of(kForm);
  EXPECT_EQ(validate_error(f, R"({"name": 7})"), "name: must be a string");
  EXPECT_EQ(validate_error(f, R"({"name": "a", "fast": "true"})"), "fast: must be true or false");
  EXPECT_EQ(validate_error(f, R"({"name": "a", "fast": 1})"), "fast: must be true or false");
}

TEST(Parameters, EnforcesBounds) {
  FormSchema f = form_of(kForm);
  EXPECT_EQ(validate_error(f, R"({"name": "a", "threshold": 11})"), "threshold: must be <= 10");
  EXPECT_EQ(validate_error(f, R"({"name": "a", "threshold": 0})"), "threshold: must be >= 1");
  EXPECT_EQ(validate_error(f, R"({"name": "a", "ratio": -0.5})"), "ratio: must be >= 0");
  EXPECT_EQ(validate_ok(f, R"({"name": "a", "threshold": 10})").at("threshold"), 10);
  EXPECT_EQ(validate_ok(f, R"({"name": "a", "threshold": 1})").at("threshold"), 1);
}

TEST(Parameters, RequiresEnumMembership) {
  FormSchema f = form_of(kForm);
  EXPECT_EQ(validate_ok(f, R"({"name": "a", "mode": "slow"})").at("mode"), "slow");
  EXPECT_EQ(validate_error(f, R"({"name": "a", "mode": "medium"})"),
            R"(mode: must be one of "fast", "slow" (got "medium"))");
  // Numeric choices compare by value.
  EXPECT_EQ(validate_ok(f, R"({"name": "a", "level": 2.0})").at("level"), 2.0);
  EXPECT_NE(validate_error(f, R"({"name": "a", "level": "2"})").find("level: must be one of"),
            std::string::npos);
}

TEST(Parameters, ChecksPlaceholdersAgainstTheJobContext) {
  FormSchema f = form_of(R"({"properties": {
    "input": {"type": "enum", "enum": "__INPUTS_FILES__", "required": true},
    "ref": {"type": "enum", "enum": "__GENOMES_REFS__", "default": "hg19"}
  }})");
  FormContext ctx;
  ctx.input_names = {"sample.vcf", "sample.bam"};
  ctx.genome_refs = {"hg19", "hg38"};
  EXPECT_EQ(validate_ok(f, R"({"input": "sample.bam", "ref": "hg38"})", ctx),
            params(R"({"input": "sample.bam", "ref": "hg38"})"));
  EXPECT_EQ(validate_ok(f, R"({"input": "sample.vcf"})", ctx).at("ref"), "hg19");
  EXPECT_EQ(validate_error(f, R"({"input": "other.vcf", "ref": "mm10"})", ctx),
            "input: must be the name of one of the job's input files; ref: must be one of the "
            "reference genomes installed on the server");
  EXPECT_NE(validate_error(f, R"({"input": 3})", ctx).find("input: must be the name"),
            std::string::npos);
}

TEST(Parameters, APlaceholderDefaultIsCheckedAgainstTheRealList) {
  FormSchema f = form_of(R"({"properties": {
    "ref": {"type": "enum", "enum": "__GENOMES_REFS__", "default": "hg19"}
  }})");
  FormContext ctx;
  ctx.genome_refs = {"hg38"};
  EXPECT_EQ(validate_error(f, "{}", ctx),
            R"(ref: the default "hg19" must be one of the reference genomes installed on the )"
            "server");
  EXPECT_EQ(validate_ok(f, R"({"ref": "hg38"})", ctx).at("ref"), "hg38");
  ctx.genome_refs = {"hg19"};
  EXPECT_EQ(validate_ok(f, "{}", ctx).at("ref"), "hg19");
}

TEST(Parameters, RejectsUnknownKeys) {
  EXPECT_EQ(validate_error(form_of(kForm), R"({"name": "a", "colour": "red"})"),
            "colour: unknown parameter");
}

TEST(Parameters, EmptyFormAcceptsOnlyAnEmptyObject) {
  FormSchema empty = form_of("{}");
  EXPECT_TRUE(validate_ok(empty, "{}").empty());
  EXPECT_EQ(validate_error(empty, R"({"x": 1})"), "x: unknown parameter");
}

TEST(Parameters, ReportsEveryProblemInOneMessage) {
  EXPECT_EQ(validate_error(form_of(kForm), R"({"threshold": 12, "extra": 1, "fast": 0})"),
            "threshold: must be <= 10; name: required; fast: must be true or false; extra: "
            "unknown parameter");
}

}  // namespace
}  // namespace pirus
