#pragma once

// Backend-independent mapping between the model types and table rows, shared by the SQLite and
// PostgreSQL stores so that a column added to a table is decoded in one place. The decoders are
// templates over the row type because sqlite::Stmt and pg::Row offer the same accessors
// (int64, text, optional_int64) without a common base class.

#include <map>
#include <string>
#include <utility>

#include "common/status.hpp"
#include "model/model.hpp"

namespace pirus {

// ----- files -----

inline constexpr char kFileCols[] =
    "id, name, type, path, size, upload_offset, status, sha256, job_source_id, tags, "
    "created_at, updated_at, companion_of, expires_at, expected_sha256, error_reason";

template <typename Row>
Result<File> read_file_row(const Row& s) {
  File f;
  f.id = s.int64(0);
  f.name = s.text(1);
  f.type = s.text(2);
  f.path = s.text(3);
  f.size = s.int64(4);
  f.upload_offset = s.int64(5);
  auto status = parse_file_status(s.text(6));
  if (!status) return Status::internal("file " + std::to_string(f.id) + " has an unknown status");
  f.status = *status;
  f.sha256 = s.text(7);
  f.job_source_id = s.optional_int64(8);
  f.tags = s.text(9);
  f.created_at = s.int64(10);
  f.updated_at = s.int64(11);
  f.companion_of = s.optional_int64(12);
  f.expires_at = s.int64(13);
  f.expected_sha256 = s.text(14);
  f.error_reason = s.text(15);
  return f;
}

// ----- pipelines -----

inline constexpr char kPipelineCols[] =
    "id, name, version, type, engine, status, description, manifest_json, form_json, "
    "documents_json, path, image, error_reason, package_file_id, created_at, updated_at, "
    "installed_at";

// The documents column holds {"key": "path"} as JSON text in both backends.
std::string documents_to_json(const std::map<std::string, std::string>& docs);
Result<std::map<std::string, std::string>> documents_from_json(const std::string& text, Id id);

template <typename Row>
Result<Pipeline> read_pipeline_row(const Row& s) {
  Pipeline p;
  p.id = s.int64(0);
  p.name = s.text(1);
  p.version = s.text(2);
  p.type = s.text(3);
  p.engine = s.text(4);
  auto status = parse_pipeline_status(s.text(5));
  if (!status)
    return Status::internal("pipeline " + std::to_string(p.id) + " has an unknown status");
  p.status = *status;
  p.description = s.text(6);
  p.manifest_json = s.text(7);
  p.form_json = s.text(8);
  auto docs = documents_from_json(s.text(9), p.id);
  if (!docs) return docs.status();
  p.documents = std::move(*docs);
  p.path = s.text(10);
  p.image = s.text(11);
  p.error_reason = s.text(12);
  p.package_file_id = s.optional_int64(13);
  p.created_at = s.int64(14);
  p.updated_at = s.int64(15);
  p.installed_at = s.int64(16);
  return p;
}

// ----- jobs -----

inline constexpr char kJobCols[] =
    "id, pipeline_id, name, status, priority, parameters_json, cpus, memory_mb, pids, "
    "progress, progress_label, path, container_id, exit_code, error_reason, created_at, "
    "started_at, ended_at, updated_at, peak_memory_bytes, cpu_seconds";

template <typename Row>
Result<Job> read_job_row(const Row& s) {
  Job j;
  j.id = s.int64(0);
  j.pipeline_id = s.optional_int64(1).value_or(0);
  j.name = s.text(2);
  auto status = parse_job_status(s.text(3));
  if (!status) return Status::internal("job " + std::to_string(j.id) + " has an unknown status");
  j.status = *status;
  j.priority = static_cast<int>(s.int64(4));
  j.parameters_json = s.text(5);
  j.resources.cpus = s.real(6);
  j.resources.memory_mb = s.int64(7);
  j.resources.pids = s.int64(8);
  j.progress = s.real(9);
  j.progress_label = s.text(10);
  j.path = s.text(11);
  j.container_id = s.text(12);
  if (!s.is_null(13)) j.exit_code = static_cast<int>(s.int64(13));
  j.error_reason = s.text(14);
  j.created_at = s.int64(15);
  j.started_at = s.int64(16);
  j.ended_at = s.int64(17);
  j.updated_at = s.int64(18);
  j.peak_memory_bytes = s.int64(19);
  j.cpu_seconds = s.real(20);
  return j;
}

}  // namespace pirus
