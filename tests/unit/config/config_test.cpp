#include "config/config.hpp"

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace pirus {
namespace {

using testing::TempDir;
using testing::write_file;

TEST(Config, DefaultsNeedNoFile) {
  auto c = load_config("", {}, {});
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->listen_address, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8080);
  EXPECT_EQ(c->data_dir, "/var/lib/pirus");
  EXPECT_EQ(c->effective_database_url(), "sqlite:///var/lib/pirus/pirus.db");
  EXPECT_EQ(c->files_dir(), "/var/lib/pirus/files");
  EXPECT_EQ(c->job_network, "none");
  EXPECT_GE(c->max_job_cpus, 1);
}

TEST(Config, FileThenEnvThenOverridesEachWin) {
  TempDir dir;
  write_file(dir / "pirus.conf",
             "# comment\n[server]\nlisten = 0.0.0.0:9000\ndata_dir = /srv/pirus\n"
             "[limits]\nmax_running_jobs = 2\nmax_upload_size = 10G\n");
  std::map<std::string, std::string> env = {{"PIRUS_LIMITS_MAX_RUNNING_JOBS", "6"},
                                            {"UNRELATED", "x"}};
  auto c = load_config(dir / "pirus.conf", env, {"server.listen=127.0.0.1:9100"});
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->listen_address, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 9100);
  EXPECT_EQ(c->data_dir, "/srv/pirus");
  EXPECT_EQ(c->max_running_jobs, 6);
  EXPECT_EQ(c->max_upload_bytes, 10LL << 30);
}

TEST(Config, UploadExpiryIsADuration) {
  auto def = load_config("", {}, {});
  ASSERT_TRUE(def.is_ok());
  EXPECT_EQ(def->upload_expiry_seconds, 24 * 3600);
  for (const auto& [text, seconds] : std::vector<std::pair<std::string, std::int64_t>>{
           {"90", 90}, {"30s", 30}, {"90m", 5400}, {"2h", 7200}, {"7d", 7 * 86400}}) {
    auto c = load_config("", {}, {"limits.upload_expiry=" + text});
    ASSERT_TRUE(c.is_ok()) << text << ": " << c.status().to_string();
    EXPECT_EQ(c->upload_expiry_seconds, seconds) << text;
  }
  for (const char* bad : {"", "0", "-5m", "1w", "h", "400d", "1.5h", "99999999999999d"}) {
    auto c = load_config("", {}, {std::string("limits.upload_expiry=") + bad});
    ASSERT_FALSE(c.is_ok()) << bad;
    EXPECT_NE(c.status().message().find("limits.upload_expiry"), std::string::npos);
  }
}

TEST(Config, UnknownKeyIsRejectedWithItsName) {
  TempDir dir;
  write_file(dir / "pirus.conf", "[server]\nlisten_port = 80\n");
  auto c = load_config(dir / "pirus.conf", {}, {});
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), Code::kInvalid);
  EXPECT_NE(c.status().message().find("server.listen_port"), std::string::npos);
}

TEST(Config, IllTypedValuesNameTheKeyAndOrigin) {
  auto c = load_config("", {{"PIRUS_LIMITS_JOB_CPUS", "lots"}}, {});
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("PIRUS_LIMITS_JOB_CPUS"), std::string::npos);
  EXPECT_NE(c.status().message().find("limits.job_cpus"), std::string::npos);

  auto d = load_config("", {}, {"jobs.network=bridge"});
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("none or host"), std::string::npos);

  auto e = load_config("", {}, {"server.listen=127.0.0.1:99999"});
  ASSERT_FALSE(e.is_ok());
}

TEST(Config, MonitoringAndLogCapKeys) {
  auto d = load_config("", {}, {});
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->job_log_bytes, 64LL << 20);
  EXPECT_DOUBLE_EQ(d->monitoring_interval, 5);
  EXPECT_EQ(d->monitoring_history, 360);
  auto c = load_config("", {{"PIRUS_LIMITS_JOB_LOG_SIZE", "1G"}},
                       {"jobs.monitoring_interval=0.5", "jobs.monitoring_history=8"});
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->job_log_bytes, 1LL << 30);
  EXPECT_DOUBLE_EQ(c->monitoring_interval, 0.5);
  EXPECT_EQ(c->monitoring_history, 8);
  EXPECT_TRUE(load_config("", {}, {"limits.job_log_size=0"}).is_ok());  // no cap
  for (const char* bad : {"jobs.monitoring_interval=0", "jobs.monitoring_interval=soon",
                          "jobs.monitoring_history=7", "limits.job_log_size=lots"}) {
    auto r = load_config("", {}, {bad});
    EXPECT_FALSE(r.is_ok()) << bad;
  }
}

TEST(Config, MissingFileIsAnError) {
  auto c = load_config("/nonexistent/pirus.conf", {}, {});
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("does not exist"), std::string::npos);
}

TEST(Config, MalformedFileGivesTheLine) {
  TempDir dir;
  write_file(dir / "bad.conf", "[server]\nlisten = 1\n[broken\n");
  auto c = load_config(dir / "bad.conf", {}, {});
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("line 3"), std::string::npos) << c.status().message();
}

TEST(Config, BadOverrideSyntaxIsRejected) {
  EXPECT_FALSE(load_config("", {}, {"listen=1"}).is_ok());
  EXPECT_FALSE(load_config("", {}, {"server.listen"}).is_ok());
}

TEST(Config, DefaultJobLimitsMustFitTheMaximums) {
  auto c = load_config("", {}, {"limits.job_memory_mb=4096", "limits.max_job_memory_mb=1024"});
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("max_job_memory_mb"), std::string::npos);
}

TEST(Config, JobUserIsAutoOrNumericPair) {
  EXPECT_TRUE(load_config("", {}, {"jobs.user=1000:1000"}).is_ok());
  EXPECT_FALSE(load_config("", {}, {"jobs.user=nobody"}).is_ok());
}

TEST(Config, RelativeDataDirBecomesAbsolute) {
  auto c = load_config("", {}, {"server.data_dir=rel/dir/"});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->data_dir.front(), '/');
  EXPECT_NE(c->data_dir.back(), '/');
}

TEST(Config, HostDataDirDefaultsToDataDir) {
  auto c = load_config("", {}, {"server.data_dir=/srv/pirus/data/"});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->host_data_dir, "/srv/pirus/data");
  EXPECT_EQ(c->docker_probe_image, "");
}

TEST(Config, HostDataDirIsAbsoluteAndNormalised) {
  auto c = load_config("", {{"PIRUS_SERVER_HOST_DATA_DIR", "/host//pirus/./data/"}},
                       {"server.data_dir=/data", "docker.probe_image=pirus/server:1"});
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->data_dir, "/data");
  EXPECT_EQ(c->host_data_dir, "/host/pirus/data");
  EXPECT_EQ(c->docker_probe_image, "pirus/server:1");
  auto rel = load_config("", {}, {"server.host_data_dir=relative/dir"});
  ASSERT_FALSE(rel.is_ok());
  EXPECT_NE(rel.status().message().find("server.host_data_dir"), std::string::npos);
  EXPECT_FALSE(load_config("", {}, {"docker.probe_image=two words"}).is_ok());
}

TEST(ParseSize, AcceptsSuffixesAndRejectsJunk) {
  EXPECT_EQ(parse_size("512"), 512);
  EXPECT_EQ(parse_size("4K"), 4096);
  EXPECT_EQ(parse_size("10G"), 10LL << 30);
  EXPECT_EQ(parse_size("10GB"), 10LL << 30);
  EXPECT_EQ(parse_size("1t"), 1LL << 40);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("G"));
  EXPECT_FALSE(parse_size("-5M"));
  EXPECT_FALSE(parse_size("1.5G"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
}

TEST(Config, DescribeListsEveryKey) {
  auto c = load_config("", {}, {});
  ASSERT_TRUE(c.is_ok());
  std::string d = describe_config(*c);
  EXPECT_NE(d.find("[server]\nlisten = 127.0.0.1:8080"), std::string::npos);
  EXPECT_NE(d.find("max_running_jobs = 4"), std::string::npos);
}

}  // namespace
}  // namespace pirus
