#include "cli/format.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace pirus::cli {

std::string human_size(std::int64_t bytes) {
  if (bytes < 0) return "-";
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr std::array<const char*, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  // Promote while the *printed* value would reach 1024, so 1048575 B is "1.0 MiB", not
  // "1024.0 KiB".
  while (value >= 1023.95 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

std::string human_duration(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  const long long d = seconds / 86400;
  const long long h = (seconds % 86400) / 3600;
  const long long m = (seconds % 3600) / 60;
  const long long s = seconds % 60;
  char buf[64];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh%02lldm", d, h, m);
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", h, m, s);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", m, s);
  }
  return buf;
}

namespace {

// Reads exactly `n` digits at `pos`, advancing it.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += n;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_iso_time_ms(std::string_view iso) {
  std::size_t pos = 0;
  int y, mo, d, h, mi, s;
  if (!read_digits(iso, pos, 4, y) || !expect(iso, pos, '-') || !read_digits(iso, pos, 2, mo) ||
      !expect(iso, pos, '-') || !read_digits(iso, pos, 2, d)) {
    return std::nullopt;
  }
  if (pos >= iso.size() || (iso[pos] != 'T' && iso[pos] != 't' && iso[pos] != ' ')) {
    return std::nullopt;
  }
  ++pos;
  if (!read_digits(iso, pos, 2, h) || !expect(iso, pos, ':') || !read_digits(iso, pos, 2, mi) ||
      !expect(iso, pos, ':') || !read_digits(iso, pos, 2, s)) {
    return std::nullopt;
  }
  int ms = 0;
  if (pos < iso.size() && iso[pos] == '.') {
    ++pos;
    int scale = 100;
    std::size_t digits = 0;
    while (pos < iso.size() && iso[pos] >= '0' && iso[pos] <= '9') {
      ms += (iso[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
  }
  std::string_view zone = iso.substr(pos);
  if (!zone.empty() && zone != "Z" && zone != "z" && zone != "+00:00") return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

std::string human_time(std::string_view iso, bool local) {
  if (iso.empty()) return "-";
  auto ms = parse_iso_time_ms(iso);
  if (!ms) return std::string(iso);
  // Floor division so that times before 1970 do not round towards the epoch.
  std::time_t t = static_cast<std::time_t>(*ms >= 0 ? *ms / 1000 : (*ms - 999) / 1000);
  std::tm tm{};
  if ((local ? localtime_r(&t, &tm) : gmtime_r(&t, &tm)) == nullptr) return std::string(iso);
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0) return std::string(iso);
  return buf;
}

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<Align>& align) {
  const std::size_t cols = headers.size();
  std::vector<std::size_t> widths(cols, 0);
  auto cell = [&](const std::vector<std::string>& row, std::size_t i) -> std::string_view {
    return i < row.size() ? std::string_view(row[i]) : std::string_view();
  };
  for (std::size_t i = 0; i < cols; ++i) widths[i] = display_width(headers[i]);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < cols; ++i) {
      widths[i] = std::max(widths[i], display_width(cell(row, i)));
    }
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < cols; ++i) {
      std::string_view text = cell(row, i);
      const std::size_t pad = widths[i] - display_width(text);
      const bool right = i < align.size() && align[i] == Align::kRight;
      if (i > 0) line += "  ";
      if (right) line.append(pad, ' ');
      line += text;
      if (!right) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(headers);
  for (const auto& row : rows) emit(row);
  return out;
}

std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [key, value] : fields) width = std::max(width, display_width(key));
  std::string out;
  for (const auto& [key, value] : fields) {
    std::string line = key;
    line.append(width - display_width(key) + 2, ' ');
    const std::string shown = value.empty() ? "-" : value;
    // Continuation lines of a multi-line value stay in the value column.
    for (char c : shown) {
      line += c;
      if (c == '\n') line.append(width + 2, ' ');
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\n')) line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string render_progress_bar(double fraction, int width) {
  if (!(fraction >= 0)) fraction = 0;  // also catches NaN
  if (fraction > 1) fraction = 1;
  if (width < 1) width = 1;
  const int cells = static_cast<int>(std::lround(fraction * width));
  // The epsilon keeps 0.29 (28.999... after scaling) at 29%.
  const int percent = static_cast<int>(std::floor(fraction * 100.0 + 1e-9));
  std::string out = "[";
  out.append(static_cast<std::size_t>(cells), '#');
  out.append(static_cast<std::size_t>(width - cells), '-');
  out += "] ";
  out += std::to_string(percent);
  out += '%';
  return out;
}

std::string render_job_progress(double fraction, std::string_view label, std::string_view status,
                                std::int64_t elapsed_seconds) {
  std::string out = render_progress_bar(fraction);
  if (!label.empty()) {
    out += ' ';
    out += label;
  }
  out += "  ";
  out += status;
  out += ' ';
  out += human_duration(elapsed_seconds);
  return out;
}

std::string render_transfer_progress(std::int64_t done, std::int64_t total,
                                     std::string_view label) {
  std::string out;
  if (total > 0) {
    out = render_progress_bar(static_cast<double>(done) / static_cast<double>(total));
    out += "  " + human_size(done) + " / " + human_size(total);
  } else {
    out = render_progress_bar(0) + "  " + human_size(done);
  }
  if (!label.empty()) {
    out += "  ";
    out += label;
  }
  return out;
}

std::string last_lines(std::string_view text, std::size_t n) {
  if (n == 0 || text.empty()) return "";
  std::string_view body = text;
  if (body.back() == '\n') body.remove_suffix(1);
  std::size_t start = 0;
  std::size_t seen = 0;
  for (std::size_t i = body.size(); i > 0; --i) {
    if (body[i - 1] == '\n' && ++seen == n) {
      start = i;
      break;
    }
  }
  std::string out(body.substr(start));
  out += '\n';
  return out;
}

std::string sparkline(const std::vector<double>& values, double max, std::size_t width) {
  static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const std::size_t first = values.size() > width ? values.size() - width : 0;
  if (max <= 0) {
    for (std::size_t i = first; i < values.size(); ++i) max = std::max(max, values[i]);
  }
  std::string out;
  for (std::size_t i = first; i < values.size(); ++i) {
    double f = max > 0 ? values[i] / max : 0;
    f = std::clamp(f, 0.0, 1.0);
    out += kBlocks[static_cast<int>(std::lround(f * 7))];
  }
  return out;
}

}  // namespace pirus::cli
