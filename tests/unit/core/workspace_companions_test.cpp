// Companion files in a job's inputs/: names follow the primary's, clashes get the id
// prefix, and the index-suffix rules that group them at upload.

#include <gtest/gtest.h>

#include "core/upload_service.hpp"
#include "core/workspace.hpp"

namespace pirus {
namespace {

File file(Id id, const std::string& name) {
  File f;
  f.id = id;
  f.name = name;
  return f;
}

std::vector<std::string> names(const std::vector<WorkspaceInput>& plan) {
  std::vector<std::string> out;
  for (const auto& in : plan) out.push_back(in.name);
  return out;
}

TEST(WorkspaceCompanions, CompanionFollowsItsPrimarysName) {
  std::map<Id, std::vector<File>> companions = {
      {1, {file(10, "x.bam.bai"), file(11, "x.bai"), file(12, "notes.txt")}},
      {2, {file(20, "x.bai")}},
  };
  auto plan = plan_inputs({file(1, "x.bam"), file(2, "x.bam")}, companions);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"x.bam", "x.bam.bai", "11_x.bam.bai",
                                                   "notes.txt", "2_x.bam", "2_x.bam.bai"}));
  ASSERT_TRUE(plan[1].companion_of.has_value());
  EXPECT_EQ(*plan[1].companion_of, 1);
  EXPECT_FALSE(plan[0].companion_of.has_value());
  EXPECT_EQ(*plan[5].companion_of, 2);
}

TEST(WorkspaceCompanions, ACompanionListedAsAnInputIsPlacedOnce) {
  std::map<Id, std::vector<File>> companions = {{1, {file(10, "x.vcf.gz.tbi")}}};
  auto plan = plan_inputs({file(1, "x.vcf.gz"), file(10, "x.vcf.gz.tbi")}, companions);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"x.vcf.gz", "x.vcf.gz.tbi"}));
  EXPECT_FALSE(plan[1].companion_of.has_value());
}

TEST(WorkspaceCompanions, WithoutCompanionsThePlanIsUnchanged) {
  auto plain = plan_inputs({file(1, "a.fa"), file(2, "a.fa")});
  auto with = plan_inputs({file(1, "a.fa"), file(2, "a.fa")}, {});
  EXPECT_EQ(names(plain), names(with));
  EXPECT_EQ(names(with), (std::vector<std::string>{"a.fa", "2_a.fa"}));
}

TEST(WorkspaceCompanions, IndexSuffixesNameTheirPrimary) {
  EXPECT_EQ(companion_primary_names("x.bam.bai"), (std::vector<std::string>{"x.bam"}));
  EXPECT_EQ(companion_primary_names("x.bai"), (std::vector<std::string>{"x.bam", "x"}));
  EXPECT_EQ(companion_primary_names("x.cram.crai"), (std::vector<std::string>{"x.cram"}));
  EXPECT_EQ(companion_primary_names("x.crai"), (std::vector<std::string>{"x.cram", "x"}));
  EXPECT_EQ(companion_primary_names("x.vcf.gz.tbi"), (std::vector<std::string>{"x.vcf.gz"}));
  EXPECT_EQ(companion_primary_names("x.vcf.gz.csi"), (std::vector<std::string>{"x.vcf.gz"}));
  EXPECT_EQ(companion_primary_names("ref.fa.fai"), (std::vector<std::string>{"ref.fa"}));
  EXPECT_TRUE(companion_primary_names("reads.fq").empty());
  EXPECT_TRUE(companion_primary_names(".bai").empty());
}

}  // namespace
}  // namespace pirus
