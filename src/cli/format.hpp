#pragma once
// Pure text formatting for the `pirus` client: sizes, durations, times, tables and progress
// bars. Nothing here touches a terminal or the network, so every rule is unit-tested.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pirus::cli {

// Binary units with one decimal above bytes: 512 -> "512 B", 1832 -> "1.8 KiB",
// 5 << 20 -> "5.0 MiB". Negative sizes (unknown) render as "-".
std::string human_size(std::int64_t bytes);

// Always at least minutes so that a ticking value keeps its shape: 12 -> "0m12s",
// 192 -> "3m12s", 3723 -> "1h02m03s", 2 days 3 h 4 min -> "2d03h04m". Negative -> "0m00s".
std::string human_duration(std::int64_t seconds);

// "2026-11-24T18:25:03.120Z" -> milliseconds since the epoch; nullopt when malformed.
// Accepts a missing fraction and a missing or "+00:00" zone (the API always sends UTC).
std::optional<std::int64_t> parse_iso_time_ms(std::string_view iso);

// An API time for people: "2026-11-24 19:25:03" in the local time zone (or UTC when
// `local` is false). An empty string (an unset time) gives "-"; a malformed one is echoed.
std::string human_time(std::string_view iso, bool local = true);

enum class Align { kLeft, kRight };

// Columns separated by two spaces, padded to the widest cell (counted in UTF-8 code points),
// one line per row ending in '\n', no trailing blanks. `align` may be shorter than the
// headers: missing entries are kLeft. Rows shorter than the headers are padded with "".
std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<Align>& align = {});

// "key  value" lines with the keys padded to the longest one; pairs with an empty value
// are kept (shown as "-") so that the layout of `show` commands never shifts.
std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields);

// "[####------] 42%": `fraction` is clamped to 0..1, the bar has `width` cells filled to
// the nearest cell, and the percentage is rounded down so that 100% means finished.
std::string render_progress_bar(double fraction, int width = 10);

// The `job wait` line: "[####------] 42% counting  running 0m12s". The label part is
// left out when empty.
std::string render_job_progress(double fraction, std::string_view label, std::string_view status,
                                std::int64_t elapsed_seconds);

// The upload line: "[####------] 42%  1.8 MiB / 4.2 MiB  sample.txt". A total of 0 or
// less (unknown) shows an empty bar and only the bytes sent.
std::string render_transfer_progress(std::int64_t done, std::int64_t total, std::string_view label);

// A one-line chart of `values` with the eight block characters "▁▂▃▄▅▆▇█", scaled to
// 0..`max` (values outside are clamped; max <= 0 scales to the largest value). At most
// `width` cells: when there are more values, the last `width` are shown.
std::string sparkline(const std::vector<double>& values, double max, std::size_t width = 60);

// Number of code points in UTF-8 text (continuation bytes are not counted).
std::size_t display_width(std::string_view text);

// The last `n` lines of `text` (a trailing newline does not count as an extra empty line).
std::string last_lines(std::string_view text, std::size_t n);

}  // namespace pirus::cli
