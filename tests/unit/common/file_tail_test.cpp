#include "common/file_tail.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/temp_dir.hpp"

namespace pirus {
namespace {

class FileTail : public ::testing::Test {
 protected:
  std::string write(const std::string& content) {
    std::string path = dir_ / "log";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    content_ = content;
    return path;
  }
  // The text the window covers.
  std::string tail(std::int64_t n) {
    auto w = find_tail(dir_ / "log", n);
    EXPECT_TRUE(w.is_ok()) << w.status().to_string();
    if (!w.is_ok()) return "<error>";
    EXPECT_EQ(w->size, static_cast<std::int64_t>(content_.size()));
    return content_.substr(static_cast<std::size_t>(w->offset));
  }

  testing::TempDir dir_;
  std::string content_;
};

TEST_F(FileTail, ReturnsExactlyTheLastLines) {
  write("one\ntwo\nthree\nfour\n");
  EXPECT_EQ(tail(1), "four\n");
  EXPECT_EQ(tail(2), "three\nfour\n");
  EXPECT_EQ(tail(4), "one\ntwo\nthree\nfour\n");
}

TEST_F(FileTail, ALastLineWithoutNewlineCounts) {
  write("one\ntwo\nthree");
  EXPECT_EQ(tail(1), "three");
  EXPECT_EQ(tail(2), "two\nthree");
}

TEST_F(FileTail, MoreLinesThanTheFileHoldsGivesTheWholeFile) {
  write("a\nb\n");
  EXPECT_EQ(tail(3), "a\nb\n");
  EXPECT_EQ(tail(1000000), "a\nb\n");
}

TEST_F(FileTail, ZeroLinesAndEmptyFilesGiveNothing) {
  write("a\nb\n");
  EXPECT_EQ(tail(0), "");
  write("");
  EXPECT_EQ(tail(5), "");
}

TEST_F(FileTail, EmptyLinesAreLines) {
  write("a\n\n\nb\n");
  EXPECT_EQ(tail(2), "\nb\n");
  EXPECT_EQ(tail(3), "\n\nb\n");
  write("\n");
  EXPECT_EQ(tail(1), "\n");
  EXPECT_EQ(tail(2), "\n");
}

TEST_F(FileTail, LinesSpanningBlocksAreFoundAcrossBlockBoundaries) {
  // Lines of 1000 bytes over several 64 KiB blocks, plus one longer than a block.
  std::string content;
  for (int i = 0; i < 300; ++i) content += std::string(999, static_cast<char>('a' + i % 26)) + "\n";
  content += std::string(200000, 'z') + "\n";
  content += "last";
  write(content);
  EXPECT_EQ(tail(1), "last");
  EXPECT_EQ(tail(2), std::string(200000, 'z') + "\nlast");
  const std::string t = tail(102);
  EXPECT_EQ(t.size(), 100u * 1000 + 200001 + 4);
  EXPECT_EQ(t.substr(0, 999), std::string(999, static_cast<char>('a' + 200 % 26)));
}

TEST_F(FileTail, MissingFileIsNotFoundAndNegativeCountsAreInvalid) {
  EXPECT_EQ(find_tail(dir_ / "nope", 1).status().code(), Code::kNotFound);
  write("x\n");
  EXPECT_EQ(find_tail(dir_ / "log", -1).status().code(), Code::kInvalid);
}

}  // namespace
}  // namespace pirus
