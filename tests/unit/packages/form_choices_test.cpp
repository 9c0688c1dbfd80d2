#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "packages/package.hpp"

namespace pirus {
namespace {

namespace json = boost::json;

json::object served_form() {
  auto f = parse_form(R"({"properties": {
      "ref": {"type": "enum", "enum": "__GENOMES_REFS__"},
      "sample": {"enum": ["__INPUTS_FILES__"]},
      "mode": {"type": "enum", "enum": ["a", "b"]},
      "n": {"type": "integer"}}})");
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  return f.is_ok() ? f->json : json::object{};
}

TEST(FormChoices, GenomeRefsAreListedAndInputsOnlyWhenAsked) {
  FormContext ctx;
  ctx.genome_refs = {"hg19", "hg38"};
  ctx.input_names = {"a.fa", "2_a.fa"};
  json::object out = resolve_form_choices(served_form(), ctx, false);
  const auto& p = out.at("properties").as_object();
  EXPECT_EQ(json::serialize(p.at("ref").at("enum")), R"(["hg19","hg38"])");
  EXPECT_EQ(p.at("ref").at("enum_placeholder").as_string(), "__GENOMES_REFS__");
  EXPECT_EQ(p.at("sample").at("enum").as_string(), "__INPUTS_FILES__");
  EXPECT_EQ(p.at("sample").as_object().if_contains("enum_placeholder"), nullptr);
  EXPECT_EQ(json::serialize(p.at("mode").at("enum")), R"(["a","b"])");
  EXPECT_EQ(p.at("n").as_object().if_contains("enum"), nullptr);

  out = resolve_form_choices(served_form(), ctx, true);
  EXPECT_EQ(json::serialize(out.at("properties").at("sample").at("enum")), R"(["a.fa","2_a.fa"])");
  EXPECT_EQ(out.at("properties").at("sample").at("enum_placeholder").as_string(),
            "__INPUTS_FILES__");
}

TEST(FormChoices, NoDatabasesGivesAnEmptyList) {
  json::object out = resolve_form_choices(served_form(), {}, true);
  EXPECT_EQ(json::serialize(out.at("properties").at("ref").at("enum")), "[]");
  EXPECT_TRUE(resolve_form_choices(json::object{}, {}, true).empty());
}

}  // namespace
}  // namespace pirus
