#include "model/model.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace pirus {

TimeMs now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_time(TimeMs t) {
  if (t == 0) return "";
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 96> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(t % 1000));
  return buf.data();
}

namespace {

template <typename E, std::size_t N>
std::optional<E> parse_enum(std::string_view s, const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 4> kFileNames = {"uploading", "uploaded", "checked",
                                                        "error"};
constexpr std::array<std::string_view, 4> kPipelineNames = {"initializing", "installing", "ready",
                                                            "error"};
constexpr std::array<std::string_view, 8> kJobNames = {
    "waiting", "initializing", "running", "pause", "finalizing", "done", "canceled", "error"};

}  // namespace

std::string_view to_string(FileStatus s) {
  return kFileNames[static_cast<std::size_t>(s)];
}
std::string_view to_string(PipelineStatus s) {
  return kPipelineNames[static_cast<std::size_t>(s)];
}
std::string_view to_string(JobStatus s) {
  return kJobNames[static_cast<std::size_t>(s)];
}

std::optional<FileStatus> parse_file_status(std::string_view s) {
  return parse_enum<FileStatus>(s, kFileNames);
}
std::optional<PipelineStatus> parse_pipeline_status(std::string_view s) {
  return parse_enum<PipelineStatus>(s, kPipelineNames);
}
std::optional<JobStatus> parse_job_status(std::string_view s) {
  return parse_enum<JobStatus>(s, kJobNames);
}

bool is_terminal(JobStatus s) {
  return s == JobStatus::kDone || s == JobStatus::kCanceled || s == JobStatus::kError;
}

}  // namespace pirus
