#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "packages/package.hpp"

namespace pirus {
namespace {

namespace json = boost::json;

Manifest parse_ok(const std::string& text) {
  auto m = parse_manifest(text);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return m.is_ok() ? m.value() : Manifest{};
}

std::string parse_error(const std::string& text) {
  auto m = parse_manifest(text);
  EXPECT_FALSE(m.is_ok());
  if (m.is_ok()) return "";
  EXPECT_EQ(m.status().code(), Code::kInvalid);
  return m.status().message();
}

// A manifest with everything valid except the keys given in `extra`, which replace or add.
std::string with(const std::string& extra) {
  return R"({"name": "wordcount", "version": "1.0.0")" + (extra.empty() ? "" : ", " + extra) + "}";
}

TEST(Manifest, FillsDefaultsForOptionalKeys) {
  Manifest m = parse_ok(with(""));
  EXPECT_EQ(m.name, "wordcount");
  EXPECT_EQ(m.version, "1.0.0");
  EXPECT_EQ(m.type, "job");
  EXPECT_EQ(m.description, "");
  EXPECT_EQ(m.engine, "docker");
  EXPECT_TRUE(m.contacts.empty());
  EXPECT_EQ(m.inputs, "/pipeline/inputs");
  EXPECT_EQ(m.outputs, "/pipeline/outputs");
  EXPECT_EQ(m.logs, "/pipeline/logs");
  EXPECT_EQ(m.databases, "/pipeline/databases");
  EXPECT_TRUE(m.command.empty());
  EXPECT_TRUE(m.read_only_rootfs);

  EXPECT_EQ(m.json.at("type"), "job");
  EXPECT_EQ(m.json.at("description"), "");
  EXPECT_EQ(m.json.at("engine"), "docker");
  EXPECT_EQ(m.json.at("contacts"), json::array());
  EXPECT_EQ(m.json.at("inputs"), "/pipeline/inputs");
  EXPECT_EQ(m.json.at("outputs"), "/pipeline/outputs");
  EXPECT_EQ(m.json.at("logs"), "/pipeline/logs");
  EXPECT_EQ(m.json.at("databases"), "/pipeline/databases");
  EXPECT_EQ(m.json.at("command"), json::array());
  EXPECT_EQ(m.json.at("read_only_rootfs"), true);
}

TEST(Manifest, KeepsGivenValuesAndUnknownKeys) {
  Manifest m = parse_ok(with(
      R"("description": "Counts words", "type": "reporter", "contacts": ["ann@example.org"],
         "regovar_db_access": false, "read_only_rootfs": false)"));
  EXPECT_EQ(m.description, "Counts words");
  EXPECT_EQ(m.type, "reporter");
  ASSERT_EQ(m.contacts.size(), 1u);
  EXPECT_EQ(m.contacts[0], "ann@example.org");
  EXPECT_FALSE(m.read_only_rootfs);
  EXPECT_EQ(m.json.at("regovar_db_access"), false);
  EXPECT_EQ(m.json.at("read_only_rootfs"), false);
}

TEST(Manifest, AcceptsEveryPipelineType) {
  for (const char* type : {"job", "importer", "exporter", "reporter"}) {
    EXPECT_EQ(parse_ok(with(std::string(R"("type": ")") + type + "\"")).type, type);
  }
}

TEST(Manifest, AcceptsPythonBooleansOutsideStrings) {
  Manifest m = parse_ok(with(R"("read_only_rootfs": False, "flag": True, "list": [True,False])"));
  EXPECT_FALSE(m.read_only_rootfs);
  EXPECT_EQ(m.json.at("flag"), true);
  EXPECT_EQ(m.json.at("list"), (json::array{true, false}));
}

TEST(Manifest, LeavesTrueAndFalseInsideStringsAlone) {
  Manifest m = parse_ok(
      with(R"("description": "True story, False alarm, \"True\" \\True", "True": "False")"));
  EXPECT_EQ(m.description, R"(True story, False alarm, "True" \True)");
  EXPECT_EQ(m.json.at("True"), "False");
}

TEST(Manifest, ReportsLineAndColumnOfMalformedJson) {
  EXPECT_EQ(parse_error("{\n  \"name\": \"x\",\n  \"version\" \"1\"\n}"),
            "manifest.json: line 3, column 13: syntax error");
}

TEST(Manifest, ReportsTrailingCommaWhereItIs) {
  EXPECT_EQ(parse_error(R"({"name": "x",})"), "manifest.json: line 1, column 14: syntax error");
}

TEST(Manifest, ReportsTruncatedDocumentAtItsEnd) {
  EXPECT_EQ(parse_error("{\"name\": \"x\"\n\n"),
            "manifest.json: line 1, column 13: incomplete JSON");
}

TEST(Manifest, CountsColumnsInCharactersNotBytes) {
  EXPECT_EQ(parse_error(R"({"d": "é", x})"), "manifest.json: line 1, column 12: syntax error");
}

TEST(Manifest, RejectsANonObjectDocument) {
  EXPECT_EQ(parse_error("[1, 2]"), "manifest.json: must be a JSON object");
}

TEST(Manifest, RequiresNameAndVersion) {
  EXPECT_EQ(parse_error("{}"), "manifest.json: name: required; version: required");
  EXPECT_EQ(parse_error(R"({"name": "x"})"), "manifest.json: version: required");
  EXPECT_EQ(parse_error(R"({"version": "1"})"), "manifest.json: name: required");
}

TEST(Manifest, RejectsEmptyOrMalformedNames) {
  for (const char* name : {"", " leading-space", "../evil", "a/b", "tab\there", "semi;colon"}) {
    std::string text = R"({"version": "1", "name": )" + json::serialize(json::value(name)) + "}";
    EXPECT_NE(parse_error(text).find("name: must be 1 to 100"), std::string::npos) << name;
  }
  EXPECT_NE(parse_error(R"({"version": "1", "name": 12})").find("name: must be a string"),
            std::string::npos);
  std::string long_name(101, 'a');
  EXPECT_NE(parse_error(R"({"version": "1", "name": ")" + long_name + "\"}").find("name:"),
            std::string::npos);
  EXPECT_EQ(parse_ok(R"({"version": "1", "name": "GATK best_practices v4.2-beta"})").name,
            "GATK best_practices v4.2-beta");
}

TEST(Manifest, RejectsMalformedVersions) {
  for (const char* v : {"", "1.0 beta", "1/2", "v1:2"}) {
    std::string text = R"({"name": "x", "version": )" + json::serialize(json::value(v)) + "}";
    EXPECT_NE(parse_error(text).find("version: must be 1 to 64"), std::string::npos) << v;
  }
  EXPECT_EQ(parse_ok(R"({"name": "x", "version": "2.1.0-rc.1+build_7"})").version,
            "2.1.0-rc.1+build_7");
  EXPECT_NE(parse_error(R"({"name": "x", "version": [1]})").find("version: must be a string"),
            std::string::npos);
}

TEST(Manifest, ConvertsNumericVersionsToStrings) {
  EXPECT_EQ(parse_ok(R"({"name": "x", "version": 2})").version, "2");
  EXPECT_EQ(parse_ok(R"({"name": "x", "version": 1.0})").version, "1.0");
  Manifest m = parse_ok(R"({"name": "x", "version": 1.5})");
  EXPECT_EQ(m.version, "1.5");
  EXPECT_EQ(m.json.at("version"), "1.5");
}

TEST(Manifest, RejectsUnknownType) {
  EXPECT_EQ(parse_error(with(R"("type": "daemon")")),
            "manifest.json: type: must be one of job, importer, exporter, reporter (got "
            "'daemon')");
}

TEST(Manifest, RejectsIllTypedOptionalKeys) {
  EXPECT_NE(parse_error(with(R"("description": 3)")).find("description: must be a string"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("contacts": "ann")")).find("contacts: must be an array"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("read_only_rootfs": "no")")).find("read_only_rootfs: must be"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("engine": "Docker!")")).find("engine:"), std::string::npos);
}

TEST(Manifest, NormalizesContainerPaths) {
  Manifest m = parse_ok(with(R"("inputs": "/data//in/./", "outputs": "/data/out")"));
  EXPECT_EQ(m.inputs, "/data/in");
  EXPECT_EQ(m.outputs, "/data/out");
  EXPECT_EQ(m.json.at("inputs"), "/data/in");
}

TEST(Manifest, RejectsRelativeContainerPaths) {
  EXPECT_EQ(parse_error(with(R"("outputs": "out")")),
            "manifest.json: outputs: must be an absolute path (got 'out')");
}

TEST(Manifest, RejectsDotDotInContainerPaths) {
  EXPECT_NE(parse_error(with(R"("logs": "/pipeline/../etc")")).find("logs: must not contain '..'"),
            std::string::npos);
}

TEST(Manifest, RejectsRootReservedAndSeparatorPaths) {
  EXPECT_NE(parse_error(with(R"("logs": "/")")).find("logs: must not be the root directory"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("logs": "/proc/x")")).find("logs: must not be in /proc"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("logs": "/tmp")")).find("logs: must not be /tmp"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("logs": "/a:b")")).find("logs: must not contain ':'"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("logs": 5)")).find("logs: must be a string"), std::string::npos);
}

TEST(Manifest, RejectsDuplicatedContainerPaths) {
  EXPECT_EQ(parse_error(with(R"("outputs": "/pipeline/inputs/")")),
            "manifest.json: outputs: must differ from inputs (both are '/pipeline/inputs')");
}

TEST(Manifest, RejectsNestedContainerPaths) {
  EXPECT_EQ(parse_error(with(R"("outputs": "/pipeline/inputs/out")")),
            "manifest.json: outputs: must not be inside inputs ('/pipeline/inputs/out' is "
            "inside '/pipeline/inputs')");
  // A shared prefix is not nesting.
  EXPECT_EQ(parse_ok(with(R"("outputs": "/pipeline/inputs2")")).outputs, "/pipeline/inputs2");
}

TEST(Manifest, RunsAStringCommandThroughTheShell) {
  Manifest m = parse_ok(with(R"("command": "wc -w /pipeline/inputs/* > out")"));
  EXPECT_EQ(m.command,
            (std::vector<std::string>{"/bin/sh", "-c", "wc -w /pipeline/inputs/* > out"}));
  EXPECT_EQ(m.json.at("command"), (json::array{"/bin/sh", "-c", "wc -w /pipeline/inputs/* > out"}));
}

TEST(Manifest, KeepsAnArrayCommand) {
  Manifest m = parse_ok(with(R"("command": ["/app/run", "--fast"])"));
  EXPECT_EQ(m.command, (std::vector<std::string>{"/app/run", "--fast"}));
}

TEST(Manifest, RejectsIllTypedCommands) {
  EXPECT_NE(parse_error(with(R"("command": ["/app/run", 3])")).find("command: must be"),
            std::string::npos);
  EXPECT_NE(parse_error(with(R"("command": {})")).find("command: must be"), std::string::npos);
  EXPECT_NE(parse_error(with(R"("command": "")")).find("command: must not be an empty"),
            std::string::npos);
}

TEST(Manifest, ReportsEveryProblemAtOnce) {
  EXPECT_EQ(parse_error(R"({"type": "x", "outputs": "rel"})"),
            "manifest.json: name: required; version: required; type: must be one of job, "
            "importer, exporter, reporter (got 'x'); outputs: must be an absolute path (got "
            "'rel')");
}

}  // namespace
}  // namespace pirus
