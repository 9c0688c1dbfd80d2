#include "cli/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace pirus::cli {

bool stderr_is_tty() {
  return isatty(STDERR_FILENO) == 1;
}

int stderr_columns() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

namespace {

// Cuts UTF-8 text to `max` code points without splitting a multi-byte character.
std::string fit(const std::string& line, int max) {
  if (max <= 0) return line;
  int count = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80 && ++count > max) {
      return line.substr(0, i);
    }
  }
  return line;
}

}  // namespace

ProgressLine::ProgressLine(std::ostream& out, bool tty, int columns,
                           std::chrono::milliseconds min_interval)
    : out_(out), tty_(tty), columns_(columns), min_interval_(min_interval) {}

ProgressLine::~ProgressLine() {
  finish();
}

void ProgressLine::update(const std::string& line, const std::string& key, bool force) {
  finished_ = false;
  if (!tty_) {
    const std::string& k = key.empty() ? line : key;
    if (have_key_ && k == last_key_) return;
    have_key_ = true;
    last_key_ = k;
    out_ << line << '\n' << std::flush;
    return;
  }
  pending_ = line;
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < min_interval_) return;
  last_draw_ = now;
  drawn_ = true;
  // The last column stays free: writing into it makes some terminals wrap early.
  out_ << '\r' << fit(line, columns_ > 1 ? columns_ - 1 : 0) << "\x1b[K" << std::flush;
}

void ProgressLine::finish(bool keep) {
  if (finished_) return;
  finished_ = true;
  if (!tty_ || !drawn_) return;
  if (keep) {
    out_ << '\r' << fit(pending_, columns_ > 1 ? columns_ - 1 : 0) << "\x1b[K\n";
  } else {
    out_ << "\r\x1b[K";
  }
  out_ << std::flush;
  drawn_ = false;
}

}  // namespace pirus::cli
