#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "packages/package.hpp"

namespace pirus {
namespace {

namespace json = boost::json;

// A form with the one property `spec` under the key "p".
std::string one(const std::string& spec) {
  return R"({"type": "object", "properties": {"p": )" + spec + "}}";
}

FormSchema parse_ok(const std::string& text) {
  auto f = parse_form(text);
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  return f.is_ok() ? f.value() : FormSchema{};
}

std::string parse_error(const std::string& text) {
  auto f = parse_form(text);
  EXPECT_FALSE(f.is_ok()) << text;
  if (f.is_ok()) return "";
  EXPECT_EQ(f.status().code(), Code::kInvalid);
  return f.status().message();
}

TEST(FormSchema, EmptyTextOrEmptyObjectGivesAnEmptyForm) {
  for (const char* text : {"", "  \n", "{}", " { } "}) {
    FormSchema f = parse_ok(text);
    EXPECT_TRUE(f.fields.empty()) << text;
    EXPECT_TRUE(f.json.empty()) << text;
  }
}

TEST(FormSchema, ParsesEveryTypeInFileOrder) {
  FormSchema f = parse_ok(R"({
    "$schema": "http://json-schema.org/draft-03/schema#",
    "type": "object",
    "properties": {
      "zeta": {"title": "Threshold", "description": "Minimum depth", "type": "integer",
               "required": true, "default": 5, "minimum": 1, "maximum": 10},
      "alpha": {"type": "number", "default": 0.5, "minimum": 0, "maximum": 1},
      "label": {"type": "string", "default": "run"},
      "fast": {"type": "boolean", "default": false},
      "mode": {"type": "enum", "enum": ["fast", "slow"], "default": "slow"}
    }
  })");
  ASSERT_EQ(f.fields.size(), 5u);
  const FormField& z = f.fields[0];
  EXPECT_EQ(z.key, "zeta");
  EXPECT_EQ(z.title, "Threshold");
  EXPECT_EQ(z.description, "Minimum depth");
  EXPECT_EQ(z.type, FieldType::kInteger);
  EXPECT_TRUE(z.required);
  EXPECT_EQ(z.default_value, json::value(5));
  EXPECT_EQ(z.minimum, 1.0);
  EXPECT_EQ(z.maximum, 10.0);

  EXPECT_EQ(f.fields[1].key, "alpha");
  EXPECT_EQ(f.fields[1].type, FieldType::kNumber);
  EXPECT_EQ(f.fields[1].title, "alpha");  // the key when there is no title
  EXPECT_FALSE(f.fields[1].required);
  EXPECT_EQ(f.fields[2].type, FieldType::kString);
  EXPECT_EQ(f.fields[3].type, FieldType::kBoolean);
  EXPECT_EQ(f.fields[3].default_value, json::value(false));
  EXPECT_EQ(f.fields[4].type, FieldType::kEnum);
  EXPECT_EQ(f.fields[4].enum_values, (std::vector<json::value>{"fast", "slow"}));
  EXPECT_TRUE(f.fields[4].enum_placeholder.empty());

  EXPECT_EQ(f.json.at("$schema"), "http://json-schema.org/draft-03/schema#");
  EXPECT_EQ(f.json.at("type"), "object");
  const json::object& props = f.json.at("properties").as_object();
  ASSERT_EQ(props.size(), 5u);
  EXPECT_EQ(props.begin()->key(), "zeta");
  EXPECT_EQ(props.at("zeta").at("title"), "Threshold");
  EXPECT_EQ(props.at("zeta").at("maximum"), 10);
  EXPECT_EQ(props.at("alpha").at("title"), "alpha");
  EXPECT_EQ(props.at("alpha").at("required"), false);
  EXPECT_EQ(props.at("mode").at("enum"), (json::array{"fast", "slow"}));
}

TEST(FormSchema, TreatsAStringWithChoicesAsAnEnum) {
  FormSchema f = parse_ok(one(R"({"type": "string", "enum": ["hg19", "hg38"]})"));
  ASSERT_EQ(f.fields.size(), 1u);
  EXPECT_EQ(f.fields[0].type, FieldType::kEnum);
  EXPECT_EQ(f.json.at("properties").at("p").at("type"), "enum");
  EXPECT_NE(parse_error(one(R"({"type": "string", "enum": ["a", 1]})")).find("must be strings"),
            std::string::npos);
}

TEST(FormSchema, InfersEnumFromChoicesWithoutType) {
  FormSchema f = parse_ok(one(R"({"enum": [1, 2, 3]})"));
  EXPECT_EQ(f.fields[0].type, FieldType::kEnum);
}

TEST(FormSchema, NormalizesAnIntegralDefaultOfAnIntegerField) {
  FormSchema f = parse_ok(one(R"({"type": "integer", "default": 4.0})"));
  EXPECT_TRUE(f.fields[0].default_value->is_int64());
  EXPECT_EQ(f.json.at("properties").at("p").at("default"), 4);
}

TEST(FormSchema, KeepsUnknownPropertyKeysForClients) {
  FormSchema f = parse_ok(one(R"({"type": "string", "ui:widget": "textarea"})"));
  EXPECT_EQ(f.json.at("properties").at("p").at("ui:widget"), "textarea");
}

TEST(FormSchema, AcceptsPlaceholderEnums) {
  FormSchema f = parse_ok(R"({"properties": {
    "input": {"type": "enum", "enum": "__INPUTS_FILES__"},
    "ref": {"type": "enum", "enum": ["__GENOMES_REFS__"], "default": "hg19"},
    "old": {"type": "string", "enum": "__PIRUS_INPUT_FILES__"},
    "olddb": {"enum": "__PIRUS_DB_REFS__"}
  }})");
  ASSERT_EQ(f.fields.size(), 4u);
  EXPECT_EQ(f.fields[0].type, FieldType::kEnum);
  EXPECT_EQ(f.fields[0].enum_placeholder, "__INPUTS_FILES__");
  EXPECT_TRUE(f.fields[0].enum_values.empty());
  EXPECT_EQ(f.fields[1].enum_placeholder, "__GENOMES_REFS__");
  // The default cannot be checked until run time, so it is kept as given.
  EXPECT_EQ(f.fields[1].default_value, json::value("hg19"));
  EXPECT_EQ(f.fields[2].enum_placeholder, "__INPUTS_FILES__");
  EXPECT_EQ(f.fields[3].enum_placeholder, "__GENOMES_REFS__");
  EXPECT_EQ(f.json.at("properties").at("ref").at("enum"), "__GENOMES_REFS__");
  EXPECT_EQ(f.json.at("properties").at("old").at("enum"), "__INPUTS_FILES__");
}

TEST(FormSchema, RejectsUnknownPlaceholders) {
  EXPECT_EQ(parse_error(one(R"({"type": "enum", "enum": "__PIRUS_DB_ALL__"})")),
            "form.json: p: enum: unknown placeholder '__PIRUS_DB_ALL__' (__INPUTS_FILES__ or "
            "__GENOMES_REFS__)");
  EXPECT_NE(parse_error(one(R"({"type": "enum", "enum": "hg19"})"))
                .find("p: enum: must be an array of choices or a placeholder"),
            std::string::npos);
  EXPECT_NE(parse_error(one(R"({"type": "enum", "enum": ["__INPUTS_FILES__", "x"]})"))
                .find("p: enum: a placeholder must be the only choice"),
            std::string::npos);
}

TEST(FormSchema, RejectsDefaultsOfTheWrongType) {
  EXPECT_EQ(parse_error(one(R"({"type": "integer", "default": 2.5})")),
            "form.json: p: default 2.5 must be an integer");
  EXPECT_NE(parse_error(one(R"({"type": "integer", "default": "3"})")).find("must be an integer"),
            std::string::npos);
  EXPECT_NE(parse_error(one(R"({"type": "number", "default": "1"})")).find("must be a number"),
            std::string::npos);
  EXPECT_NE(parse_error(one(R"({"type": "string", "default": 3})")).find("must be a string"),
            std::string::npos);
  EXPECT_NE(
      parse_error(one(R"({"type": "boolean", "default": "true"})")).find("must be true or false"),
      std::string::npos);
  EXPECT_EQ(parse_error(one(R"({"type": "enum", "enum": ["a", "b"], "default": "c"})")),
            "form.json: p: default \"c\" must be one of the enum choices");
}

TEST(FormSchema, RejectsDefaultsOutsideTheBounds) {
  EXPECT_EQ(parse_error(one(R"({"type": "integer", "minimum": 1, "maximum": 10, "default": 11})")),
            "form.json: p: default 11 must be <= 10");
  EXPECT_EQ(parse_error(one(R"({"type": "number", "minimum": 0.5, "default": 0})")),
            "form.json: p: default 0 must be >= 0.5");
}

TEST(FormSchema, AcceptsANullDefaultAsNoDefault) {
  FormSchema f = parse_ok(one(R"({"type": "integer", "default": null})"));
  EXPECT_FALSE(f.fields[0].default_value.has_value());
}

TEST(FormSchema, RejectsMinimumGreaterThanMaximum) {
  EXPECT_EQ(parse_error(one(R"({"type": "number", "minimum": 5, "maximum": 1})")),
            "form.json: p: minimum (5) is greater than maximum (1)");
}

TEST(FormSchema, RejectsBoundsOnNonNumericFields) {
  EXPECT_EQ(parse_error(one(R"({"type": "string", "minimum": 1})")),
            "form.json: p: minimum: only allowed with type integer or number");
  EXPECT_NE(parse_error(one(R"({"type": "integer", "maximum": "9"})")).find("must be a number"),
            std::string::npos);
}

TEST(FormSchema, RejectsUnknownOrMissingTypes) {
  EXPECT_EQ(parse_error(one(R"({"type": "date"})")),
            "form.json: p: type: unknown type 'date' (integer, number, string, boolean or enum)");
  EXPECT_NE(parse_error(one(R"({"title": "x"})")).find("p: type: required"), std::string::npos);
}

TEST(FormSchema, RejectsEnumsWithoutChoices) {
  EXPECT_NE(parse_error(one(R"({"type": "enum"})")).find("p: enum: required"), std::string::npos);
  EXPECT_NE(parse_error(one(R"({"type": "enum", "enum": []})")).find("at least one choice"),
            std::string::npos);
  EXPECT_NE(parse_error(one(R"({"type": "enum", "enum": ["a", "a"]})")).find("listed twice"),
            std::string::npos);
  EXPECT_NE(parse_error(one(R"({"type": "integer", "enum": [1, 2]})"))
                .find("enum: only allowed with type enum or string"),
            std::string::npos);
}

TEST(FormSchema, RejectsIllTypedPropertyKeys) {
  EXPECT_NE(parse_error(one(R"({"type": "string", "required": "yes"})")).find("p: required:"),
            std::string::npos);
  EXPECT_NE(parse_error(one(R"({"type": "string", "title": 1})")).find("p: title:"),
            std::string::npos);
  EXPECT_NE(parse_error(one(R"("string")")).find("p: must be an object"), std::string::npos);
}

TEST(FormSchema, RejectsANonObjectSchema) {
  EXPECT_EQ(parse_error("[]"), "form.json: must be a JSON object");
  EXPECT_NE(parse_error(R"({"type": "array", "properties": {}})").find("type: must be"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"properties": []})").find("properties: must be an object"),
            std::string::npos);
}

TEST(FormSchema, ReportsLineAndColumnOfMalformedJson) {
  EXPECT_EQ(parse_error("{\n  \"properties\": {\n    \"a\": {\"type\": \"string\",}\n  }\n}"),
            "form.json: line 3, column 28: syntax error");
}

TEST(FormSchema, AcceptsATopLevelRequiredList) {
  FormSchema f = parse_ok(R"({"required": ["b"], "properties": {
    "a": {"type": "string"}, "b": {"type": "string"}}})");
  EXPECT_FALSE(f.fields[0].required);
  EXPECT_TRUE(f.fields[1].required);
  EXPECT_NE(parse_error(R"({"required": ["zz"], "properties": {"a": {"type": "string"}}})")
                .find("required: 'zz' is not a property"),
            std::string::npos);
}

TEST(FormSchema, ReportsEveryBadPropertyAtOnce) {
  EXPECT_EQ(parse_error(R"({"properties": {"a": {"type": "x"}, "b": {"type": "integer",
            "minimum": 3, "maximum": 2}}})"),
            "form.json: a: type: unknown type 'x' (integer, number, string, boolean or enum); "
            "b: minimum (3) is greater than maximum (2)");
}

}  // namespace
}  // namespace pirus
