#include "cli/format.hpp"

#include <gtest/gtest.h>

namespace pirus::cli {
namespace {

TEST(HumanSize, BytesStayExact) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(512), "512 B");
  EXPECT_EQ(human_size(1023), "1023 B");
}

TEST(HumanSize, BinaryUnitsWithOneDecimal) {
  EXPECT_EQ(human_size(1024), "1.0 KiB");
  EXPECT_EQ(human_size(1832), "1.8 KiB");
  EXPECT_EQ(human_size(5LL << 20), "5.0 MiB");
  EXPECT_EQ(human_size(3LL << 30), "3.0 GiB");
  EXPECT_EQ(human_size(1536LL << 30), "1.5 TiB");
}

TEST(HumanSize, RoundingPromotesToTheNextUnit) {
  EXPECT_EQ(human_size((1LL << 20) - 1), "1.0 MiB");
  EXPECT_EQ(human_size(-1), "-");
}

TEST(HumanDuration, AlwaysShowsMinutes) {
  EXPECT_EQ(human_duration(0), "0m00s");
  EXPECT_EQ(human_duration(12), "0m12s");
  EXPECT_EQ(human_duration(192), "3m12s");
  EXPECT_EQ(human_duration(3599), "59m59s");
}

TEST(HumanDuration, HoursAndDays) {
  EXPECT_EQ(human_duration(3723), "1h02m03s");
  EXPECT_EQ(human_duration(2 * 86400 + 3 * 3600 + 4 * 60 + 5), "2d03h04m");
  EXPECT_EQ(human_duration(-5), "0m00s");
}

TEST(IsoTime, ParsesTheApiFormat) {
  EXPECT_EQ(parse_iso_time_ms("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(parse_iso_time_ms("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T18:25:03.120Z"), 1795544703120LL);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T18:25:03Z"), 1795544703000LL);
}

TEST(IsoTime, RejectsMalformed) {
  EXPECT_FALSE(parse_iso_time_ms(""));
  EXPECT_FALSE(parse_iso_time_ms("yesterday"));
  EXPECT_FALSE(parse_iso_time_ms("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_iso_time_ms("2026-11-24T18:25:03+02:00"));
  EXPECT_FALSE(parse_iso_time_ms("2026-11-24T18:25:03."));
}

TEST(HumanTime, FormatsUtcAndPlaceholders) {
  EXPECT_EQ(human_time("2026-11-24T18:25:03.120Z", /*local=*/false), "2026-11-24 18:25:03");
  EXPECT_EQ(human_time(""), "-");
  EXPECT_EQ(human_time("garbage"), "garbage");
}

TEST(RenderTable, AlignsColumnsOnTheWidestCell) {
  const std::string table =
      render_table({"ID", "NAME", "SIZE"}, {{"1", "sample.txt", "1.8 KiB"}, {"12", "b", "512 B"}},
                   {Align::kRight, Align::kLeft, Align::kRight});
  EXPECT_EQ(table,
            "ID  NAME           SIZE\n"
            " 1  sample.txt  1.8 KiB\n"
            "12  b             512 B\n");
}

TEST(RenderTable, NoTrailingBlanksAndShortRowsPadded) {
  const std::string table = render_table({"A", "LONGER"}, {{"xyz"}, {"q", ""}});
  EXPECT_EQ(table,
            "A    LONGER\n"
            "xyz\n"
            "q\n");
}

TEST(RenderTable, CountsUtf8CodePoints) {
  const std::string table =
      render_table({"NAME", "X"}, {{"\xC3\xA9t\xC3\xA9", "1"}, {"abcd", "2"}});
  EXPECT_EQ(table,
            "NAME  X\n"
            "\xC3\xA9t\xC3\xA9   1\n"
            "abcd  2\n");
}

TEST(RenderFields, PadsKeysAndShowsEmptyAsDash) {
  EXPECT_EQ(render_fields({{"id", "3"}, {"status", ""}, {"note", "a\nb"}}),
            "id      3\n"
            "status  -\n"
            "note    a\n"
            "        b\n");
}

TEST(ProgressBar, ZeroFortyTwoAndHundred) {
  EXPECT_EQ(render_progress_bar(0), "[----------] 0%");
  EXPECT_EQ(render_progress_bar(0.42), "[####------] 42%");
  EXPECT_EQ(render_progress_bar(1), "[##########] 100%");
}

TEST(ProgressBar, ClampsAndNeverShowsHundredEarly) {
  EXPECT_EQ(render_progress_bar(-1), "[----------] 0%");
  EXPECT_EQ(render_progress_bar(7), "[##########] 100%");
  EXPECT_EQ(render_progress_bar(0.999), "[##########] 99%");
  EXPECT_EQ(render_progress_bar(0.29), "[###-------] 29%");
  EXPECT_EQ(render_progress_bar(0.5, 4), "[##--] 50%");
}

TEST(ProgressBar, JobLine) {
  EXPECT_EQ(render_job_progress(0.42, "counting", "running", 12),
            "[####------] 42% counting  running 0m12s");
  EXPECT_EQ(render_job_progress(0, "", "waiting", 3), "[----------] 0%  waiting 0m03s");
}

TEST(ProgressBar, TransferLine) {
  EXPECT_EQ(render_transfer_progress(1832, 4096, "a.txt"),
            "[####------] 44%  1.8 KiB / 4.0 KiB  a.txt");
  EXPECT_EQ(render_transfer_progress(10, 0, "b"), "[----------] 0%  10 B  b");
}

TEST(LastLines, KeepsTheTail) {
  EXPECT_EQ(last_lines("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(last_lines("a\nb\nc", 2), "b\nc\n");
  EXPECT_EQ(last_lines("a\nb\n", 5), "a\nb\n");
  EXPECT_EQ(last_lines("", 3), "");
}

TEST(Sparkline, ScalesToTheMaximumGiven) {
  EXPECT_EQ(sparkline({0, 50, 100}, 100), "▁▅█");
  EXPECT_EQ(sparkline({200, -5}, 100), "█▁");  // clamped
  EXPECT_EQ(sparkline({1, 2, 4}, 0), "▃▅█");   // 0: scaled to the largest value
  EXPECT_EQ(sparkline({}, 100), "");
}

TEST(Sparkline, ShowsOnlyTheLastWidthValues) {
  EXPECT_EQ(sparkline({100, 0, 0, 100}, 100, 2), "▁█");
}

}  // namespace
}  // namespace pirus::cli
