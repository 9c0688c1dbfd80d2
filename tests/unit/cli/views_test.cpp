#include "cli/views.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/format.hpp"

namespace pirus::cli {
namespace {

namespace json = boost::json;

TEST(Fields, TolerateMissingAndOddTypes) {
  json::value v = json::parse(R"({"a": "x", "n": 3, "d": 1.5, "z": null, "s": "7"})");
  EXPECT_EQ(str_field(v, "a"), "x");
  EXPECT_EQ(str_field(v, "n"), "3");
  EXPECT_EQ(str_field(v, "z"), "");
  EXPECT_EQ(str_field(v, "missing"), "");
  EXPECT_EQ(int_field(v, "n"), 3);
  EXPECT_FALSE(int_field(v, "s"));
  EXPECT_EQ(num_field(v, "d"), 1.5);
  EXPECT_EQ(str_field(json::value(42), "a"), "");
}

TEST(FormTable, Draft03Properties) {
  json::value form = json::parse(R"({
    "type": "object",
    "properties": {
      "mode": {"type": "string", "enum": ["words", "lines"], "default": "words", "required": true},
      "threshold": {"type": "integer", "minimum": 0, "maximum": 10},
      "ratio": {"type": "number", "minimum": 0.5},
      "reference": {"type": "string", "enum": "__GENOMES_REFS__"},
      "verbose": {"type": "boolean", "default": false}
    }})");
  EXPECT_EQ(form_parameters_table(form),
            "KEY        TYPE     REQUIRED  DEFAULT  RANGE/CHOICES\n"
            "mode       string   yes       words    words, lines\n"
            "threshold  integer  no        -        0..10\n"
            "ratio      number   no        -        >= 0.5\n"
            "reference  string   no        -        __GENOMES_REFS__\n"
            "verbose    boolean  no        false    -\n");
}

TEST(FormTable, RequiredArrayAndEmptyForm) {
  json::value form =
      json::parse(R"({"properties": {"n": {"type": "integer", "maximum": 3}}, "required": ["n"]})");
  EXPECT_EQ(form_parameters_table(form),
            "KEY  TYPE     REQUIRED  DEFAULT  RANGE/CHOICES\n"
            "n    integer  yes       -        <= 3\n");
  EXPECT_EQ(form_parameters_table(json::parse("{}")), "");
}

TEST(PipelineDetails, ShowsFieldsErrorAndParameters) {
  json::value p = json::parse(R"({"id": 1, "name": "wordcount", "version": "1.0.0",
    "type": "job", "engine": "docker", "status": "error", "description": "Counts words",
    "image": "", "error_reason": "build failed", "created_at": "", "installed_at": null,
    "documents": {"about": "/x", "help": "/y"}, "form": {}})");
  const std::string text = pipeline_details(p);
  EXPECT_NE(text.find("name         wordcount\n"), std::string::npos) << text;
  EXPECT_NE(text.find("error        build failed\n"), std::string::npos) << text;
  EXPECT_NE(text.find("documents    about, help\n"), std::string::npos) << text;
  EXPECT_NE(text.find("parameters: none"), std::string::npos) << text;
}

TEST(PipelineTable, OneRowEach) {
  json::array items = json::parse(R"([
    {"id": 1, "name": "wordcount", "version": "1.0.0", "type": "job", "engine": "docker",
     "status": "ready", "installed_at": "2026-11-24T18:25:03.120Z"},
    {"id": 12, "name": "x", "version": "2", "type": "job", "engine": "docker",
     "status": "installing", "installed_at": null}])")
                          .as_array();
  const std::string text = pipeline_table(items);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "ID  NAME       VERSION  TYPE  ENGINE  STATUS      INSTALLED");
  EXPECT_NE(text.find("\n12  x          2        job   docker  installing  -\n"), std::string::npos)
      << text;
}

TEST(JobViews, PercentDurationAndTable) {
  json::value job = json::parse(R"({"id": 7, "pipeline_id": 1, "name": "run 7",
    "status": "running", "progress": 0.42, "created_at": "2026-11-24T18:25:00.000Z",
    "started_at": "2026-11-24T18:25:03.000Z", "ended_at": null})");
  const std::int64_t now = *parse_iso_time_ms("2026-11-24T18:28:15.000Z");
  EXPECT_EQ(job_percent(job), "42%");
  EXPECT_EQ(job_run_seconds(job, now), 192);
  json::array jobs;
  jobs.push_back(job);
  const std::string table = job_table(jobs, {{1, "wordcount:1.0.0"}}, now);
  EXPECT_NE(table.find("run 7  wordcount:1.0.0  running"), std::string::npos) << table;
  EXPECT_NE(table.find("3m12s"), std::string::npos) << table;
}

TEST(JobViews, DetailsListInputsOutputsAndError) {
  json::value job = json::parse(R"({"id": 7, "pipeline_id": 1, "name": "run 7",
    "status": "error", "priority": 0, "progress": 0.5, "progress_label": "counting",
    "resources": {"cpus": 1.5, "memory_mb": 512, "pids": 256}, "parameters": {"mode": "words"},
    "exit_code": 2, "error_reason": "the process exited with 2", "inputs": [3, 4],
    "outputs": [], "created_at": "", "started_at": "", "ended_at": ""})");
  std::map<std::int64_t, json::value> files = {
      {3, json::parse(R"({"id": 3, "name": "sample.txt", "size": 1832})")}};
  const std::string text = job_details(job, "wordcount:1.0.0 (1)", files, 0);
  EXPECT_NE(text.find("progress    50% counting\n"), std::string::npos) << text;
  EXPECT_NE(text.find("resources   cpus 1.5, memory 512.0 MiB, pids 256\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("parameters  {\"mode\":\"words\"}\n"), std::string::npos) << text;
  EXPECT_NE(text.find("exit code   2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("error       the process exited with 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("inputs:\n"
                      "ID  NAME              SIZE\n"
                      " 3  sample.txt     1.8 KiB\n"
                      " 4  (unavailable)        -\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("outputs: none"), std::string::npos) << text;
}

TEST(SafeFileName, KeepsOnlyTheLastComponent) {
  EXPECT_EQ(safe_file_name("sample.txt", 3), "sample.txt");
  EXPECT_EQ(safe_file_name("../../etc/passwd", 3), "passwd");
  EXPECT_EQ(safe_file_name("a\\b.txt", 3), "b.txt");
  EXPECT_EQ(safe_file_name("..", 3), "file-3");
  EXPECT_EQ(safe_file_name("dir/", 4), "file-4");
  EXPECT_EQ(safe_file_name("", 5), "file-5");
}

TEST(MonitorDetails, CurrentValuesPeakAverageAndHistory) {
  json::value m = json::parse(R"({"job_id":7,"status":"running","interval_seconds":5,
    "limits":{"cpus":2,"memory_bytes":1073741824,"pids":64},
    "current":{"at":"2026-11-24T21:50:03.120Z","cpu_percent":150.04,"cpu_seconds":61,
               "memory_bytes":104857600,"block_read_bytes":2048,"block_write_bytes":0,
               "net_rx_bytes":0,"net_tx_bytes":0,"pids":3},
    "peak_memory_bytes":209715200,"cpu_seconds":61.4,"cpu_percent_avg":120.26,
    "history":{"samples":4,"samples_per_point":2,"capacity":8,
               "points":[{"cpu_percent":0,"memory_bytes":0},{"cpu_percent":200,"memory_bytes":1073741824}]}})");
  const std::string text = monitor_details(m);
  EXPECT_NE(text.find("7 (running)"), std::string::npos) << text;
  EXPECT_NE(text.find("150% / 200%"), std::string::npos) << text;
  EXPECT_NE(text.find("100.0 MiB / 1.0 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("read 2.0 KiB, written 0 B"), std::string::npos) << text;
  EXPECT_NE(text.find("3 / 64"), std::string::npos) << text;
  EXPECT_NE(text.find("200.0 MiB / 1.0 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("120.3%"), std::string::npos) << text;
  EXPECT_NE(text.find("61.4 s"), std::string::npos) << text;
  EXPECT_NE(text.find("4 samples (interval 5 s), 2 per point"), std::string::npos) << text;
  EXPECT_NE(text.find("▁█"), std::string::npos) << text;
}

TEST(MonitorDetails, ToleratesAJobNeverSampled) {
  json::value m = json::parse(R"({"job_id":3,"status":"waiting","current":null,
    "history":{"samples":0,"points":[]}})");
  const std::string text = monitor_details(m);
  EXPECT_NE(text.find("3 (waiting)"), std::string::npos) << text;
  EXPECT_NE(text.find("no samples yet"), std::string::npos) << text;
}

}  // namespace
}  // namespace pirus::cli
