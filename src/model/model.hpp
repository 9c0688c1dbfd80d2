#pragma once
// The persistent model: File, Pipeline, Job and the job<->file links.
// Plain values, no behaviour: the store persists them, the services change them,
// the API renders them. Times are milliseconds since the Unix epoch (UTC); 0 = unset.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pirus {

using Id = std::int64_t;
using TimeMs = std::int64_t;

TimeMs now_ms();
// ISO-8601 UTC with milliseconds, "2026-11-24T18:25:03.120Z"; empty string for 0.
std::string format_time(TimeMs t);

enum class FileStatus { kUploading, kUploaded, kChecked, kError };
enum class PipelineStatus { kInitializing, kInstalling, kReady, kError };
enum class JobStatus {
  kWaiting,
  kInitializing,
  kRunning,
  kPause,
  kFinalizing,
  kDone,
  kCanceled,
  kError,
};

// The wire names are the original's ("pause", not "paused").
std::string_view to_string(FileStatus s);
std::string_view to_string(PipelineStatus s);
std::string_view to_string(JobStatus s);
std::optional<FileStatus> parse_file_status(std::string_view s);
std::optional<PipelineStatus> parse_pipeline_status(std::string_view s);
std::optional<JobStatus> parse_job_status(std::string_view s);
bool is_terminal(JobStatus s);  // done, canceled, error

struct File {
  Id id = 0;
  std::string name;       // display and download name, as given at upload (sanitised)
  std::string type;       // lower-cased last extension without the dot ("gz"), may be empty
  std::string path;       // absolute server path; never sent to clients
  std::int64_t size = 0;  // bytes (expected total while uploading)
  std::int64_t upload_offset = 0;
  FileStatus status = FileStatus::kUploading;
  std::string sha256;               // hex, empty when unknown
  std::optional<Id> job_source_id;  // the job that produced this file
  std::string tags;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  // Resumable uploads and companions (schema version 2).
  std::optional<Id> companion_of;  // the primary this file accompanies (x.bam for x.bam.bai)
  TimeMs expires_at = 0;           // while uploading: when the unfinished upload is removed
  std::string expected_sha256;     // hex, the whole-file checksum announced at creation
  std::string error_reason;        // status error: why
};

struct Pipeline {
  Id id = 0;
  std::string name;
  std::string version;
  std::string type = "job";       // job | importer | exporter | reporter
  std::string engine = "docker";  // which ContainerManager runs it
  PipelineStatus status = PipelineStatus::kInitializing;
  std::string description;
  std::string manifest_json;  // validated manifest with defaults filled in
  std::string form_json;      // validated form.json, "{}" when the package has none
  // Document key (about, help, icon, license, readme) -> path relative to `path`.
  std::map<std::string, std::string> documents;
  std::string path;          // the unpacked package directory
  std::string image;         // engine-specific image reference, once built
  std::string error_reason;  // set when status is error
  std::optional<Id> package_file_id;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  TimeMs installed_at = 0;
};

// What a job may use. 0 means "the server default".
struct Resources {
  double cpus = 0;
  std::int64_t memory_mb = 0;
  std::int64_t pids = 0;
};

struct Job {
  Id id = 0;
  Id pipeline_id = 0;
  std::string name;
  JobStatus status = JobStatus::kWaiting;
  int priority = 0;             // higher runs first; FIFO among equals
  std::string parameters_json;  // validated against the pipeline's form, defaults filled
  Resources resources;          // effective values (defaults already applied)
  double progress = 0;          // 0..1
  std::string progress_label;
  std::string path;          // workspace directory
  std::string container_id;  // engine handle while it has one
  std::optional<int> exit_code;
  std::string error_reason;  // human-readable; required when status is error
  std::vector<Id> inputs;    // file ids, in the order given
  std::vector<Id> outputs;   // file ids registered at finalization
  // Resource usage seen by the monitor: the highest memory sample and the container's
  // cumulative CPU time at the latest sample. Updated while the job runs, final once it ends
  // (as of the last sample, taken at most one monitoring interval before the exit).
  std::int64_t peak_memory_bytes = 0;
  double cpu_seconds = 0;
  TimeMs created_at = 0;
  TimeMs started_at = 0;
  TimeMs ended_at = 0;
  TimeMs updated_at = 0;
};

}  // namespace pirus
