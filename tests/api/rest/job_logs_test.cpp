// Reading job logs over real HTTP (docs/api.md): tail=N, offset/length and Range, with every
// bad value a 400 problem and every impossible range a 416.

#include <gtest/gtest.h>

#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

// stdout: five lines, the last without a newline (14 bytes); stderr: three complete lines.
constexpr char kOut[] = "l1\nl2\nl3\nl4\nl5";
constexpr char kErr[] = "a\nb\nc\n";

class JobLogsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    client_ = new cli::ApiClient(server_->url());
    TempDir dir("pirus-logs");
    const std::string zip = dir / "printer.zip";
    json::object manifest{
        {"name", "printer"},
        {"version", "1"},
        {"command", json::array{"/bin/sh", "-c",
                                "printf 'l1\\nl2\\nl3\\nl4\\nl5'; printf 'a\\nb\\nc\\n' >&2"}}};
    write_zip(zip, {{"manifest.json", json::serialize(manifest)},
                    {"Dockerfile", "FROM pirus-base/busybox:1\n"}});
    const std::int64_t pipeline = install_pipeline(*client_, zip);
    job_ = id_of(create_job(*client_, {{"pipeline_id", pipeline}}));
    wait_job(*client_, job_, {"done"}, 60s);
  }
  static void TearDownTestSuite() {
    delete client_;
    delete server_;
  }

  static std::string url(const std::string& stream, const std::string& query = "") {
    return server_->url() + "/api/v1/jobs/" + std::to_string(job_) + "/logs/" + stream + query;
  }
  static RawReply get(const std::string& stream, const std::string& query,
                      const std::vector<std::string>& headers = {}) {
    return raw_request("GET", url(stream, query), headers);
  }
  static void expect_bad(const std::string& query) {
    RawReply r = get("stdout", query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json") << query;
  }

  static ServerProcess* server_;
  static cli::ApiClient* client_;
  static std::int64_t job_;
};

ServerProcess* JobLogsTest::server_ = nullptr;
cli::ApiClient* JobLogsTest::client_ = nullptr;
std::int64_t JobLogsTest::job_ = 0;

TEST_F(JobLogsTest, WholeLogs) {
  EXPECT_EQ(get("stdout", "").body, kOut);
  EXPECT_EQ(get("stderr", "").body, kErr);
}

TEST_F(JobLogsTest, TailGivesExactlyTheLastLines) {
  EXPECT_EQ(get("stdout", "?tail=1").body, "l5");
  EXPECT_EQ(get("stdout", "?tail=2").body, "l4\nl5");
  EXPECT_EQ(get("stdout", "?tail=5").body, kOut);
  EXPECT_EQ(get("stdout", "?tail=1000").body, kOut);
  EXPECT_EQ(get("stderr", "?tail=1").body, "c\n");
  EXPECT_EQ(get("stderr", "?tail=2").body, "b\nc\n");
  EXPECT_EQ(get("stderr", "?tail=10000000").body, kErr);
  RawReply none = get("stdout", "?tail=0");
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.body, "");
  RawReply two = get("stdout", "?tail=2");
  EXPECT_EQ(two.status, 200);
  EXPECT_EQ(two.headers["x-log-offset"], "9");
}

TEST_F(JobLogsTest, OffsetAndLengthGiveAPartialAnswer) {
  RawReply r = get("stdout", "?offset=3&length=4");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "l2\nl");
  EXPECT_EQ(r.headers["content-range"], "bytes 3-6/14");
  RawReply rest = get("stdout", "?offset=12");
  EXPECT_EQ(rest.status, 206);
  EXPECT_EQ(rest.body, "l5");
  EXPECT_EQ(rest.headers["content-range"], "bytes 12-13/14");
  RawReply clipped = get("stdout", "?offset=10&length=1000");
  EXPECT_EQ(clipped.status, 206);
  EXPECT_EQ(clipped.body, "4\nl5");
  RawReply zero = get("stdout", "?offset=0");
  EXPECT_EQ(zero.status, 206);
  EXPECT_EQ(zero.body, kOut);
}

TEST_F(JobLogsTest, AnOffsetAtOrPastTheEndIs416) {
  for (const char* q : {"?offset=14", "?offset=15&length=1", "?offset=9223372036854775807"}) {
    RawReply r = get("stdout", q);
    EXPECT_EQ(r.status, 416) << q;
    EXPECT_EQ(r.headers["content-range"], "bytes */14") << q;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json") << q;
  }
}

TEST_F(JobLogsTest, RangeHeaderWorksToo) {
  RawReply r = get("stdout", "", {"Range: bytes=0-1"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "l1");
  EXPECT_EQ(r.headers["content-range"], "bytes 0-1/14");
  RawReply last = get("stderr", "", {"Range: bytes=-2"});
  EXPECT_EQ(last.status, 206);
  EXPECT_EQ(last.body, "c\n");
  RawReply beyond = get("stdout", "", {"Range: bytes=100-"});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.headers["content-range"], "bytes */14");
}

TEST_F(JobLogsTest, BadValuesAre400) {
  for (const char* q : {"?tail=-1", "?tail=abc", "?tail=1.5", "?tail=", "?tail=10000001",
                        "?tail=99999999999999999999", "?offset=-1", "?offset=x",
                        "?length=0&offset=0", "?length=-3&offset=0", "?length=5",
                        "?tail=1&offset=0", "?tail=1&offset=0&length=2", "?offset=1%00"}) {
    expect_bad(q);
  }
}

TEST_F(JobLogsTest, CliTailPrintsTheLastLines) {
  std::string out;
  const std::string cli = std::string(PIRUS_BINARY) + " --server " + server_->url() + " job logs " +
                          std::to_string(job_);
  ASSERT_EQ(run_command(cli + " --tail 2", &out), 0) << out;
  EXPECT_EQ(out, "l4\nl5");
  ASSERT_EQ(run_command(cli + " --stderr --tail 1", &out), 0) << out;
  EXPECT_EQ(out, "c\n");
}

}  // namespace
}  // namespace pirus::testing
