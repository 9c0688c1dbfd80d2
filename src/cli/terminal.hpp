#pragma once
// The one-line progress display the client draws on stderr.

#include <chrono>
#include <ostream>
#include <string>

namespace pirus::cli {

bool stderr_is_tty();
// Columns of the terminal on stderr, 0 when unknown (not a terminal).
int stderr_columns();

// On a terminal the line is redrawn in place ("\r" + erase to end of line), at most every
// `min_interval` unless forced, and cut to the terminal width so it never wraps (a wrapped
// line cannot be redrawn). Elsewhere (a log file, CI) a line is printed only when its `key`
// changes, so that logs stay short: callers pass the status, not the percentage, as key.
class ProgressLine {
 public:
  ProgressLine(std::ostream& out, bool tty, int columns = 0,
               std::chrono::milliseconds min_interval = std::chrono::milliseconds(100));
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // An empty key means "the line itself".
  void update(const std::string& line, const std::string& key = {}, bool force = false);
  // Leaves the last line on screen (keep) or erases it, so later output starts on a clean
  // line. Called by the destructor if not before.
  void finish(bool keep = true);

 private:
  std::ostream& out_;
  bool tty_;
  int columns_;
  std::chrono::milliseconds min_interval_;
  std::chrono::steady_clock::time_point last_draw_{};
  std::string last_key_;
  std::string pending_;  // the newest line, drawn or not
  bool drawn_ = false;
  bool have_key_ = false;
  bool finished_ = false;
};

}  // namespace pirus::cli
