#include "cli/terminal.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "cli/file_hash.hpp"
#include "support/temp_dir.hpp"

namespace pirus::cli {
namespace {

using std::chrono::milliseconds;

TEST(ProgressLine, TerminalRedrawsInPlaceAndKeepsTheLastLine) {
  std::ostringstream out;
  {
    ProgressLine line(out, /*tty=*/true, /*columns=*/0, milliseconds(0));
    line.update("[#---] 25%");
    line.update("[##--] 50%");
  }
  EXPECT_EQ(out.str(), "\r[#---] 25%\x1b[K\r[##--] 50%\x1b[K\r[##--] 50%\x1b[K\n");
}

TEST(ProgressLine, TerminalThrottlesUnlessForcedAndCanErase) {
  std::ostringstream out;
  ProgressLine line(out, true, 0, milliseconds(60000));
  line.update("a");
  line.update("b");  // within the interval: not drawn
  line.update("c", {}, /*force=*/true);
  line.finish(/*keep=*/false);
  EXPECT_EQ(out.str(), "\ra\x1b[K\rc\x1b[K\r\x1b[K");
}

TEST(ProgressLine, TerminalCutsToTheWidthWithoutSplittingCharacters) {
  std::ostringstream out;
  ProgressLine line(out, true, /*columns=*/4, milliseconds(0));
  line.update("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9");
  line.finish(false);
  EXPECT_EQ(out.str(), "\r\xC3\xA9\xC3\xA9\xC3\xA9\x1b[K\r\x1b[K");
}

TEST(ProgressLine, LogPrintsOnlyWhenTheKeyChanges) {
  std::ostringstream out;
  {
    ProgressLine line(out, /*tty=*/false);
    line.update("10% running", "running");
    line.update("20% running", "running");
    line.update("20% pause", "pause");
    line.update("same");
    line.update("same");
  }
  EXPECT_EQ(out.str(), "10% running\n20% pause\nsame\n");
}

TEST(Sha256File, KnownDigests) {
  pirus::testing::TempDir dir;
  pirus::testing::write_file(dir / "abc", "abc");
  pirus::testing::write_file(dir / "empty", "");
  EXPECT_EQ(sha256_file(dir / "abc").value(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_file(dir / "empty").value(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_file(dir / "missing").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace pirus::cli
