// FileService: uploads imported into files/<id>/<name>, checksums, removal.
#include "core/file_service.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/sha256.hpp"
#include "core_fixture.hpp"

namespace pirus::core_test {
namespace {

namespace fs = std::filesystem;
using pirus::testing::read_file;
using pirus::testing::write_file;

class FileServiceTest : public CoreTest {
 protected:
  std::string upload(const std::string& content) {
    std::string tmp = data("tmp/u" + std::to_string(++n_));
    write_file(tmp, content);
    return tmp;
  }
  int n_ = 0;
};

TEST_F(FileServiceTest, UploadIsStoredUnderItsIdWithItsHash) {
  std::string tmp = upload("ACGT\n");
  File f = must(run(files_->import_upload(tmp, "Reads.FASTQ", "")));
  EXPECT_EQ(f.status, FileStatus::kUploaded);
  EXPECT_EQ(f.name, "Reads.FASTQ");
  EXPECT_EQ(f.type, "fastq");
  EXPECT_EQ(f.size, 5);
  EXPECT_EQ(f.upload_offset, 5);
  EXPECT_EQ(f.sha256, sha256_hex("ACGT\n"));
  EXPECT_EQ(f.path, config().files_dir() + "/" + std::to_string(f.id) + "/Reads.FASTQ");
  EXPECT_EQ(read_file(f.path), "ACGT\n");
  EXPECT_FALSE(fs::exists(tmp)) << "the upload is moved, not copied";
  struct stat st {};
  ASSERT_EQ(::stat(f.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ASSERT_FALSE(seen_.empty());
  EXPECT_EQ(seen_.back().kind, "file_updated");
}

TEST_F(FileServiceTest, MatchingChecksumMakesItChecked) {
  File f = must(run(files_->import_upload(upload("x"), "x.txt", sha256_hex("x"))));
  EXPECT_EQ(f.status, FileStatus::kChecked);
  std::string upper = sha256_hex("y");
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(must(run(files_->import_upload(upload("y"), "y.txt", upper))).status,
            FileStatus::kChecked);
}

TEST_F(FileServiceTest, ChecksumMismatchKeepsNothing) {
  auto r = run(files_->import_upload(upload("x"), "x.txt", sha256_hex("other")));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("mismatch"), std::string::npos);
  EXPECT_TRUE(must(store_->list_files(FileQuery{})).items.empty());
  EXPECT_EQ(run(files_->import_upload(upload("x"), "x.txt", "abc")).status().code(),
            Code::kInvalid);
}

TEST_F(FileServiceTest, UnsafeNamesAreSanitised) {
  File f = must(run(files_->import_upload(upload("x"), "../../etc/passwd", "")));
  EXPECT_EQ(f.name.find('/'), std::string::npos) << f.name;
  EXPECT_EQ(fs::path(f.path).parent_path().string(),
            config().files_dir() + "/" + std::to_string(f.id));
}

TEST_F(FileServiceTest, RemoveDeletesTheRowAndTheBytes) {
  File f = import("a.txt", "a");
  ASSERT_TRUE(run(files_->remove(f.id)).is_ok());
  EXPECT_EQ(store_->get_file(f.id).status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(f.path));
  EXPECT_FALSE(fs::exists(config().files_dir() + "/" + std::to_string(f.id)));
  EXPECT_EQ(run(files_->remove(f.id)).code(), Code::kNotFound);
}

TEST_F(FileServiceTest, InputOfAnUnfinishedJobCannotBeRemoved) {
  Pipeline p = add_pipeline();
  File f = import("a.txt", "a");
  Job j = start_job(p.id, {f.id});
  EXPECT_EQ(run(files_->remove(f.id)).code(), Code::kConflict);
  EXPECT_TRUE(fs::exists(f.path));
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  EXPECT_TRUE(run(files_->remove(f.id)).is_ok());
  EXPECT_EQ(pirus::testing::read_file(workspace(j.id) + "/inputs/a.txt"), "a")
      << "the job's hard link keeps its copy";
}

TEST_F(FileServiceTest, RemovingAnOutputLeavesTheRestOfTheWorkspace) {
  Pipeline p = add_pipeline();
  Job j = start_job(p.id);
  fake_->set_outputs(j.id, {{"a.txt", "a"}, {"b.txt", "b"}});
  ASSERT_TRUE(fake_->exit(j.id, ExitInfo{0, false, ""}));
  ASSERT_TRUE(wait_status(j.id, JobStatus::kDone));
  auto outs = outputs_of(j.id);
  ASSERT_EQ(outs.size(), 2u);
  ASSERT_TRUE(run(files_->remove(outs[0].id)).is_ok());
  EXPECT_FALSE(fs::exists(outs[0].path));
  EXPECT_TRUE(fs::exists(outs[1].path));
  EXPECT_EQ(outputs_of(j.id).size(), 1u);
}

TEST(FileType, IsTheLowerCasedLastExtension) {
  EXPECT_EQ(file_type_of("reads.FASTQ.GZ"), "gz");
  EXPECT_EQ(file_type_of("a.txt"), "txt");
  EXPECT_EQ(file_type_of("noext"), "");
  EXPECT_EQ(file_type_of(".bashrc"), "");
  EXPECT_EQ(file_type_of("trailing."), "");
  EXPECT_EQ(file_type_of("x." + std::string(17, 'a')), "");
}

}  // namespace
}  // namespace pirus::core_test
