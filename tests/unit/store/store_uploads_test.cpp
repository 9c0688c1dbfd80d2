// Resumable uploads and companions (schema version 2): the new File fields, offsets,
// expiry listing, companion lookups.

#include "store_fixture.hpp"

namespace pirus {
namespace {

TEST_P(StoreTest, UploadFieldsRoundTrip) {
  File primary = add_file("x.bam");
  File f = file_value("x.bam.bai");
  f.status = FileStatus::kUploading;
  f.size = 100;
  f.expires_at = 12345;
  f.expected_sha256 = std::string(64, 'a');
  f.companion_of = primary.id;
  File created = must(store().create_file(f));
  File got = must(store().get_file(created.id));
  EXPECT_EQ(got.expires_at, 12345);
  EXPECT_EQ(got.expected_sha256, std::string(64, 'a'));
  ASSERT_TRUE(got.companion_of.has_value());
  EXPECT_EQ(*got.companion_of, primary.id);
  EXPECT_EQ(got.error_reason, "");

  got.status = FileStatus::kError;
  got.error_reason = "checksum mismatch";
  got.companion_of.reset();
  File updated = must(store().update_file(got));
  EXPECT_EQ(updated.error_reason, "checksum mismatch");
  EXPECT_FALSE(updated.companion_of.has_value());
}

TEST_P(StoreTest, CompanionMustExist) {
  File f = file_value("lonely.bai");
  f.companion_of = 999;
  auto r = store().create_file(f);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
}

TEST_P(StoreTest, SetUploadOffsetOnlyWhileUploadingAndWithinSize) {
  File f = file_value("big.bin");
  f.status = FileStatus::kUploading;
  f.size = 10;
  File created = must(store().create_file(f));
  EXPECT_EQ(must(store().set_upload_offset(created.id, 7)), 7);
  EXPECT_EQ(must(store().get_file(created.id)).upload_offset, 7);
  auto past = store().set_upload_offset(created.id, 11);
  ASSERT_FALSE(past.is_ok());
  EXPECT_EQ(past.status().code(), Code::kConflict);
  auto unknown = store().set_upload_offset(created.id + 100, 1);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  File done = add_file("done.bin");  // status uploaded
  auto finished = store().set_upload_offset(done.id, 0);
  ASSERT_FALSE(finished.is_ok());
  EXPECT_EQ(finished.status().code(), Code::kConflict);
}

TEST_P(StoreTest, ExpiredUploadsAreListedOldestFirst) {
  auto upload = [&](const std::string& name, TimeMs expires) {
    File f = file_value(name);
    f.status = FileStatus::kUploading;
    f.expires_at = expires;
    return must(store().create_file(f));
  };
  File later = upload("later", 2000);
  File sooner = upload("sooner", 1000);
  upload("future", 5000);
  upload("never", 0);
  File complete = file_value("complete");
  complete.expires_at = 500;  // complete files never expire
  must(store().create_file(complete));
  auto expired = must(store().list_expired_uploads(3000, 100));
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].id, sooner.id);
  EXPECT_EQ(expired[1].id, later.id);
  EXPECT_EQ(must(store().list_expired_uploads(3000, 1)).size(), 1u);
  EXPECT_TRUE(must(store().list_expired_uploads(999, 100)).empty());
}

TEST_P(StoreTest, CompanionsAndPrimaryLookupByName) {
  File old_bam = add_file("x.bam");
  File new_bam = add_file("x.bam");
  File unfinished = file_value("x.bam");
  unfinished.status = FileStatus::kUploading;
  must(store().create_file(unfinished));
  auto found = must(store().find_complete_file_by_name("x.bam"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, new_bam.id);  // the newest complete one
  EXPECT_FALSE(must(store().find_complete_file_by_name("y.bam")).has_value());

  File bai = file_value("x.bam.bai");
  bai.companion_of = new_bam.id;
  File bai_row = must(store().create_file(bai));
  File csi = file_value("x.bam.csi");
  csi.companion_of = new_bam.id;
  File csi_row = must(store().create_file(csi));
  auto companions = must(store().list_companions(new_bam.id));
  ASSERT_EQ(companions.size(), 2u);
  EXPECT_EQ(companions[0].id, bai_row.id);
  EXPECT_EQ(companions[1].id, csi_row.id);
  EXPECT_TRUE(must(store().list_companions(old_bam.id)).empty());

  // Deleting the primary leaves its companions as plain files.
  must(store().delete_file(new_bam.id));
  EXPECT_FALSE(must(store().get_file(bai_row.id)).companion_of.has_value());
}

}  // namespace
}  // namespace pirus
