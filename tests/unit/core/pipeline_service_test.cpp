// PipelineService: install (checks, then the background build on the fake engine) and
// uninstall, with real zip packages.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

namespace fs = std::filesystem;
using pirus::testing::read_file;
using pirus::testing::write_file;

// ---- a minimal zip writer (stored entries), for archives the zip CLI refuses to make

struct ZipEntry {
  std::string name;
  std::string data;
  std::uint32_t mode = 0100644;  // S_IFREG | 0644; 0120777 makes a symlink to `data`
};

std::uint32_t crc32(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put16(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}

void write_zip(const std::string& path, const std::vector<ZipEntry>& entries) {
  std::string out, central;
  for (const auto& e : entries) {
    const auto offset = static_cast<std::uint32_t>(out.size());
    const std::uint32_t crc = crc32(e.data);
    const auto size = static_cast<std::uint32_t>(e.data.size());
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0);     // flags
    put16(out, 0);     // stored
    put16(out, 0);     // time
    put16(out, 0x21);  // date: 1980-01-01
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, static_cast<std::uint32_t>(e.name.size()));
    put16(out, 0);
    out += e.name;
    out += e.data;

    put32(central, 0x02014b50);
    put16(central, (3 << 8) | 20);  // made by Unix, so the mode below counts
    put16(central, 20);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0x21);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, static_cast<std::uint32_t>(e.name.size()));
    put16(central, 0);  // extra
    put16(central, 0);  // comment
    put16(central, 0);  // disk
    put16(central, 0);  // internal attributes
    put32(central, e.mode << 16);
    put32(central, offset);
    central += e.name;
  }
  const auto cd_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(entries.size()));
  put16(out, static_cast<std::uint32_t>(entries.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, cd_offset);
  put16(out, 0);
  write_file(path, out);
}

std::string manifest(const std::string& name, const std::string& version,
                     const std::string& engine = "fake") {
  return R"({"name":")" + name + R"(","version":")" + version + R"(","type":"job","engine":")" +
         engine + R"("})";
}

class PipelineInstall : public CoreTest {
 protected:
  // A copy of examples/pipelines/seqstats whose manifest asks for `engine`, zipped with the
  // zip CLI (one top folder, which the extractor strips).
  std::string seqstats_zip(const std::string& engine = "fake", const std::string& version = "") {
    const std::string work = data("src-" + std::to_string(++zips_));
    const std::string pkg = work + "/seqstats";
    fs::create_directories(work);
    fs::copy(std::string(PIRUS_SOURCE_DIR) + "/examples/pipelines/seqstats", pkg,
             fs::copy_options::recursive);
    std::string m = read_file(pkg + "/manifest.json");
    const std::string docker = R"("type": "job",)";
    auto at = m.find(docker);
    if (at == std::string::npos) throw std::runtime_error("unexpected seqstats manifest");
    m.insert(at + docker.size(), "\n  \"engine\": \"" + engine + "\",");
    if (!version.empty()) {
      auto v = m.find(R"("1.0.0")");
      m.replace(v, 7, "\"" + version + "\"");
    }
    write_file(pkg + "/manifest.json", m);
    return zip_dir(work, "seqstats");
  }
  // Zips `dir`/`top` with the zip CLI into a new file beside it.
  std::string zip_dir(const std::string& dir, const std::string& top) {
    const std::string zip = dir + ".zip";
    const std::string cmd = "cd '" + dir + "' && zip -qr '" + zip + "' '" + top + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("zip failed: " + cmd);
    return zip;
  }
  std::string small_zip(const std::vector<ZipEntry>& entries) {
    const std::string zip = data("hand-" + std::to_string(++zips_) + ".zip");
    write_zip(zip, entries);
    return zip;
  }
  std::vector<std::string> pipelines_dir_entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(config().pipelines_dir())) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::size_t pipeline_rows() { return must(store_->list_pipelines()).size(); }
  bool wait_built(Id id) {
    return pump(
        [&] { return must(store_->get_pipeline(id)).status != PipelineStatus::kInstalling; });
  }
  Pipeline installed(const std::string& zip) {
    auto p = run(pipelines_->install(zip));
    if (!p.is_ok()) throw std::runtime_error(p.status().to_string());
    if (!wait_built(p->id)) throw std::runtime_error("the build never ended");
    return must(store_->get_pipeline(p->id));
  }

  int zips_ = 0;
};

TEST_F(PipelineInstall, ValidPackageIsReadyAfterTheBuild) {
  const std::string zip = seqstats_zip();
  auto r = run(pipelines_->install(zip));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, PipelineStatus::kInstalling);
  EXPECT_EQ(r->name, "seqstats");
  EXPECT_EQ(r->version, "1.0.0");
  EXPECT_EQ(r->engine, "fake");
  EXPECT_EQ(r->path, pipelines_->package_dir(r->id));
  ASSERT_TRUE(wait_built(r->id));

  Pipeline p = must(store_->get_pipeline(r->id));
  EXPECT_EQ(p.status, PipelineStatus::kReady) << p.error_reason;
  EXPECT_EQ(p.image, "pirus-01234567-pipeline-" + std::to_string(p.id) + ":latest");
  EXPECT_GT(p.installed_at, 0);
  EXPECT_TRUE(p.error_reason.empty());
  EXPECT_EQ(p.documents, (std::map<std::string, std::string>{{"about", "doc/about.html"},
                                                             {"help", "doc/help.html"},
                                                             {"icon", "doc/icon.png"},
                                                             {"license", "LICENSE"},
                                                             {"readme", "README.md"}}));
  EXPECT_TRUE(fs::exists(p.path + "/Dockerfile"));
  EXPECT_TRUE(fs::exists(p.path + "/doc/about.html"));
  EXPECT_NE(p.form_json.find("min_length"), std::string::npos);
  EXPECT_NE(p.manifest_json.find("seqstats"), std::string::npos);

  ASSERT_EQ(fake_->images_built().size(), 1u);
  const auto& build = fake_->images_built()[0];
  EXPECT_EQ(build.pipeline_id, p.id);
  EXPECT_TRUE(build.context_existed) << "the build context tar was written before the build";
  EXPECT_FALSE(build.allow_network);
  EXPECT_FALSE(fs::exists(build.context_tar_path)) << "the context tar is removed afterwards";
  EXPECT_NE(read_file(pipelines_->build_log_path(p.id)).find("Successfully built"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(zip)) << "the caller owns the zip";
  EXPECT_EQ(pipelines_dir_entries(), std::vector<std::string>{std::to_string(p.id)})
      << "no staging directory left";
}

TEST_F(PipelineInstall, InstalledPipelineRunsJobsWithItsForm) {
  Pipeline p = installed(seqstats_zip());
  ASSERT_EQ(p.status, PipelineStatus::kReady);
  Job j = start_job(p.id, {import("s.fa", ">a\nAC\n").id});
  EXPECT_EQ(fake_->last_launch(j.id)->image, p.image);
  json::value params = json::parse(job(j.id).parameters_json);
  EXPECT_EQ(params.at("report_title").as_string(), "Sequence statistics");
  EXPECT_EQ(params.at("delay_ms").as_int64(), 0);
}

TEST_F(PipelineInstall, DuplicateNameAndVersionIsConflictAndLeavesNothing) {
  Pipeline first = installed(seqstats_zip());
  auto again = run(pipelines_->install(seqstats_zip()));
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), Code::kConflict) << again.status().to_string();
  EXPECT_EQ(pipeline_rows(), 1u);
  EXPECT_EQ(pipelines_dir_entries(), std::vector<std::string>{std::to_string(first.id)});
  EXPECT_EQ(fake_->images_built().size(), 1u);
  // Another version of the same pipeline is a different pipeline.
  Pipeline second = installed(seqstats_zip("fake", "1.1.0"));
  EXPECT_EQ(second.status, PipelineStatus::kReady);
  EXPECT_EQ(pipeline_rows(), 2u);
}

TEST_F(PipelineInstall, PackageForAnotherEngineIsInvalid) {
  auto r = run(pipelines_->install(seqstats_zip("lxd")));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("lxd"), std::string::npos) << r.status().message();
  EXPECT_EQ(pipeline_rows(), 0u);
  EXPECT_TRUE(pipelines_dir_entries().empty());
  EXPECT_TRUE(fake_->images_built().empty());
}

TEST_F(PipelineInstall, PackageWithoutDockerfileIsInvalidForADockerfileEngine) {
  const std::string zip = small_zip({{"manifest.json", manifest("nodf", "1")}});
  auto r = run(pipelines_->install(zip));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("Dockerfile"), std::string::npos);
  EXPECT_TRUE(pipelines_dir_entries().empty());

  fake_->set_features({true, true, false, true, true});  // an engine that imports images
  auto ok = run(pipelines_->install(zip));
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  ASSERT_TRUE(wait_built(ok->id));
  EXPECT_EQ(must(store_->get_pipeline(ok->id)).status, PipelineStatus::kReady);
}

TEST_F(PipelineInstall, HostileZipIsInvalidAndLeavesNothing) {
  const ZipEntry m{"manifest.json", manifest("evil", "1")};
  const ZipEntry df{"Dockerfile", "FROM scratch\n"};
  struct Case {
    std::string what;
    std::vector<ZipEntry> entries;
  };
  const std::vector<Case> cases = {
      {"parent traversal", {m, df, {"../escape.txt", "pwned"}}},
      {"deep traversal", {m, df, {"doc/../../../escape.txt", "pwned"}}},
      {"absolute path", {m, df, {"/tmp/pirus-core-escape.txt", "pwned"}}},
      {"symlink", {m, df, {"doc/link", "/etc/passwd", 0120777}}},
      {"duplicate entry", {m, df, {"Dockerfile", "FROM busybox\n"}}},
  };
  for (const auto& c : cases) {
    auto r = run(pipelines_->install(small_zip(c.entries)));
    ASSERT_FALSE(r.is_ok()) << c.what;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << c.what << ": " << r.status().to_string();
    EXPECT_TRUE(pipelines_dir_entries().empty()) << c.what;
    EXPECT_EQ(pipeline_rows(), 0u) << c.what;
  }
  EXPECT_FALSE(fs::exists(data("escape.txt")));
  EXPECT_FALSE(fs::exists(data("pipelines/escape.txt")));
  EXPECT_FALSE(fs::exists("/tmp/pirus-core-escape.txt"));
  EXPECT_TRUE(fake_->images_built().empty());
}

TEST_F(PipelineInstall, MalformedZipIsInvalidAndLeavesNothing) {
  const std::string garbage = data("garbage.zip");
  write_file(garbage, std::string(4096, 'x'));
  const std::string good = seqstats_zip();
  const std::string truncated = data("truncated.zip");
  std::string bytes = read_file(good);
  write_file(truncated, bytes.substr(0, bytes.size() / 2));
  const std::string empty = data("empty.zip");
  write_file(empty, "");
  const std::string no_manifest = small_zip({{"Dockerfile", "FROM scratch\n"}});
  const std::string bad_manifest =
      small_zip({{"manifest.json", "{not json"}, {"Dockerfile", "FROM scratch\n"}});
  for (const auto& zip : {garbage, truncated, empty, no_manifest, bad_manifest}) {
    auto r = run(pipelines_->install(zip));
    ASSERT_FALSE(r.is_ok()) << zip;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << zip << ": " << r.status().to_string();
    EXPECT_TRUE(pipelines_dir_entries().empty()) << zip;
  }
  auto missing = run(pipelines_->install(data("no-such.zip")));
  EXPECT_EQ(missing.status().code(), Code::kInvalid);
  EXPECT_EQ(pipeline_rows(), 0u);
}

TEST_F(PipelineInstall, PackageLargerThanTheLimitIsTooLarge) {
  config().max_package_bytes = 100;
  auto r = run(pipelines_->install(seqstats_zip()));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kTooLarge);
  EXPECT_TRUE(pipelines_dir_entries().empty());
}

TEST_F(PipelineInstall, BuildFailureIsAnErrorWithReasonAndBuildLog) {
  fake_->fail_next_build(Status::invalid("The command '/bin/sh -c false' returned 1"),
                         {"Step 1/2 : FROM busybox", "Step 2/2 : RUN false",
                          "The command '/bin/sh -c false' returned a non-zero code: 1"});
  auto r = run(pipelines_->install(seqstats_zip()));
  ASSERT_TRUE(r.is_ok()) << "the package itself is fine: " << r.status().to_string();
  ASSERT_TRUE(wait_built(r->id));
  Pipeline p = must(store_->get_pipeline(r->id));
  EXPECT_EQ(p.status, PipelineStatus::kError);
  EXPECT_NE(p.error_reason.find("image build failed"), std::string::npos) << p.error_reason;
  EXPECT_NE(p.error_reason.find("returned 1"), std::string::npos) << p.error_reason;
  EXPECT_TRUE(p.image.empty());
  EXPECT_EQ(read_file(pipelines_->build_log_path(p.id)),
            "Step 1/2 : FROM busybox\nStep 2/2 : RUN false\n"
            "The command '/bin/sh -c false' returned a non-zero code: 1\n");
  // A job cannot use it; uninstalling it works and removes its files.
  NewJobRequest req;
  req.pipeline_id = p.id;
  EXPECT_EQ(create(req).status().code(), Code::kConflict);
  EXPECT_TRUE(run(pipelines_->uninstall(p.id)).is_ok());
  EXPECT_TRUE(pipelines_dir_entries().empty());
  EXPECT_TRUE(fake_->images_removed().empty()) << "no image was built";
}

TEST_F(PipelineInstall, BuildNetworkFollowsTheConfiguration) {
  config().allow_build_network = true;
  installed(seqstats_zip());
  ASSERT_EQ(fake_->images_built().size(), 1u);
  EXPECT_TRUE(fake_->images_built()[0].allow_network);
}

TEST_F(PipelineInstall, AnInstallAcceptedBeforeTheResumeIsBuiltOnce) {
  // The API listens before the engine is connected: an install can be building when the
  // start-up resume runs, and is not an interrupted build.
  auto r = run(pipelines_->install(seqstats_zip()));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  pipelines_->resume_interrupted_builds();
  ASSERT_TRUE(wait_built(r->id));
  EXPECT_EQ(must(store_->get_pipeline(r->id)).status, PipelineStatus::kReady);
  EXPECT_EQ(fake_->images_built().size(), 1u);
}

TEST_F(PipelineInstall, InterruptedBuildsAreResumedAtStartUp) {
  // A package unpacked before the restart, its pipeline still `installing`.
  const std::string pkg = data("pipelines/7/package");
  write_file(pkg + "/manifest.json", manifest("resumed", "1"));
  write_file(pkg + "/Dockerfile", "FROM scratch\n");
  Pipeline p;
  p.name = "resumed";
  p.version = "1";
  p.engine = "fake";
  p.status = PipelineStatus::kInstalling;
  p.manifest_json = manifest("resumed", "1");
  p.form_json = "{}";
  p.path = pkg;
  p = must(store_->create_pipeline(p));
  Pipeline lost = p;
  lost.name = "lost";
  lost.path = data("pipelines/8/package");  // never unpacked
  lost = must(store_->create_pipeline(lost));

  pipelines_->resume_interrupted_builds();
  ASSERT_TRUE(wait_built(p.id));
  EXPECT_EQ(must(store_->get_pipeline(p.id)).status, PipelineStatus::kReady);
  Pipeline failed = must(store_->get_pipeline(lost.id));
  EXPECT_EQ(failed.status, PipelineStatus::kError);
  EXPECT_FALSE(failed.error_reason.empty());
}

class PipelineUninstall : public PipelineInstall {};

TEST_F(PipelineUninstall, RefusedWhileAJobRunsThenAllowed) {
  Pipeline p = installed(seqstats_zip());
  Job j = start_job(p.id);
  Status refused = run(pipelines_->uninstall(p.id));
  EXPECT_EQ(refused.code(), Code::kConflict) << refused.to_string();
  EXPECT_EQ(must(store_->get_pipeline(p.id)).status, PipelineStatus::kReady);
  EXPECT_TRUE(fs::exists(p.path));
  EXPECT_TRUE(fake_->images_removed().empty());

  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  Status st = run(pipelines_->uninstall(p.id));
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(store_->get_pipeline(p.id).status().code(), Code::kNotFound);
  EXPECT_EQ(fake_->images_removed(), std::vector<std::string>{p.image});
  EXPECT_TRUE(pipelines_dir_entries().empty());
  EXPECT_EQ(job(j.id).status, JobStatus::kDone) << "finished jobs keep their rows";
  EXPECT_EQ(job(j.id).pipeline_id, 0);
  // The same name and version can be installed again.
  EXPECT_EQ(installed(seqstats_zip()).status, PipelineStatus::kReady);
}

TEST_F(PipelineUninstall, RefusedWhileAJobWaits) {
  config().max_running_jobs = 0;
  Pipeline p = add_pipeline();
  create_job(p.id);
  EXPECT_EQ(run(pipelines_->uninstall(p.id)).code(), Code::kConflict);
}

TEST_F(PipelineUninstall, DuringTheBuildLeavesNoImageBehind) {
  fake_->hold_builds();
  auto r = run(pipelines_->install(seqstats_zip()));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE(pump([&] { return fake_->held_builds() == 1; }));
  Status st = run(pipelines_->uninstall(r->id));
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_TRUE(pipelines_dir_entries().empty());
  fake_->release_builds();
  ASSERT_TRUE(pump([&] { return fake_->held_builds() == 0; }));
  idle(100ms);
  EXPECT_EQ(store_->get_pipeline(r->id).status().code(), Code::kNotFound)
      << "the finished build does not bring the pipeline back";
  EXPECT_TRUE(pipelines_dir_entries().empty());
  // Regression (fixed): PipelineService::build returns early when get_pipeline() fails
  // ("uninstalled meanwhile"), before the branch meant for exactly this case ("Uninstalled while
  // building: do not leave its image behind"), so the freshly built image is never removed.

  ASSERT_FALSE(fake_->images_removed().empty());
  EXPECT_EQ(fake_->images_removed(), std::vector<std::string>{"pirus-01234567-pipeline-" +
                                                              std::to_string(r->id) + ":latest"});
}

TEST_F(PipelineUninstall, UnknownPipelineIsNotFound) {
  EXPECT_EQ(run(pipelines_->uninstall(4242)).code(), Code::kNotFound);
}

TEST_F(PipelineUninstall, EngineFailureToRemoveTheImageDoesNotBlockTheUninstall) {
  Pipeline p = installed(seqstats_zip());
  fake_->set_unavailable(true);
  EXPECT_TRUE(run(pipelines_->uninstall(p.id)).is_ok());
  EXPECT_TRUE(pipelines_dir_entries().empty());
}

}  // namespace
}  // namespace pirus::core_test
