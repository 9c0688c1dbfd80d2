#pragma once
// Reference databases (hg19, hg38, ...): directories under <data_dir>/databases/, mounted
// read-only into every job at the manifest's `databases` path.
//
// The directory is the registry: a database is a visible (not dot-prefixed) subdirectory,
// so what jobs see and what the API lists can never disagree, and an admin may still drop a
// directory in by hand. A database is built in a hidden temporary directory next to its
// final place and renamed in (RENAME_NOREPLACE), so a half-made one is never listed nor
// usable. Size and file count are measured when listed; the creation time is the
// directory's modification time, set when it is moved into place and never touched again.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "core/core_context.hpp"
#include "core/pipeline_service.hpp"

namespace pirus {

struct ReferenceDatabase {
  std::string name;
  std::int64_t size_bytes = 0;
  std::int64_t file_count = 0;
  TimeMs created_at = 0;
};

// `[a-z0-9][a-z0-9._-]{0,63}`; kInvalid naming the rule otherwise.
Status validate_database_name(const std::string& name);

// The installed databases' names, sorted. One directory read; safe on any thread.
std::vector<std::string> list_database_names(const std::string& databases_dir);

class DatabaseService {
 public:
  DatabaseService(CoreContext& ctx, PipelineService& pipelines);

  boost::asio::awaitable<Result<std::vector<ReferenceDatabase>>> list();
  boost::asio::awaitable<Result<ReferenceDatabase>> get(std::string name);
  // Extracts a zip or tar(.gz|.bz2|.xz) with the package extractor's rules (no absolute
  // paths, "..", links or special files; size, entry and ratio limits). A single top folder
  // is stripped. kConflict when the name is taken; nothing is left behind on any error.
  boost::asio::awaitable<Result<ReferenceDatabase>> add_archive(std::string name,
                                                                std::string archive_path);
  // Copies a server directory (regular files and directories only; a symbolic link or a
  // special file is refused). The source must be inside databases.import_root.
  boost::asio::awaitable<Result<ReferenceDatabase>> add_directory(std::string name,
                                                                  std::string source_dir);
  // kConflict while a job that has not ended names the database in a __GENOMES_REFS__
  // parameter. The directory is renamed out of databases/ first (atomic), then deleted.
  boost::asio::awaitable<Status> remove(std::string name);

 private:
  Status check_not_in_use(const std::string& name);

  CoreContext& ctx_;
  PipelineService& pipelines_;
  std::set<std::string> adding_;  // names being added now (event loop only)
};

}  // namespace pirus
