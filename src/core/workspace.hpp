#pragma once
// A job's workspace on disk:
//   jobs/<id>/inputs/   read-only in the container: input files (hard links) + config.json
//   jobs/<id>/outputs/  writable by the job user; registered as files when the job succeeds
//   jobs/<id>/logs/     stdout.log, stderr.log (written by Pirus), progress.jsonl (by the job)
// Blocking file work: call these from the worker pool.

#include <sys/types.h>

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/model.hpp"

namespace pirus {

struct WorkspaceInput {
  File file;
  std::string name;                // the name it gets in inputs/ (clashes resolved)
  std::optional<Id> companion_of;  // set for a companion placed next to its primary
};

struct WorkspacePaths {
  std::string root, inputs, outputs, logs, config, stdout_log, stderr_log, progress;
};

WorkspacePaths workspace_paths(const std::string& jobs_dir, Id job_id);

// Gives each input a unique name in inputs/: the first keeps its own name, a later one
// with the same name becomes "<file id>_<name>"; "config.json" is reserved.
std::vector<WorkspaceInput> plan_inputs(const std::vector<File>& files);

// The same, with each input's companion files (by primary id) placed right after it: a
// companion is named after its primary's name in inputs/ plus its index suffix
// ("12_x.bam" brings "12_x.bam.bai"; "x.bai" becomes "x.bam.bai"), a companion without a
// known suffix keeps its own name, and a name already taken gets the "<file id>_" prefix.
// A companion that is also listed as an input is placed once, as that input.
std::vector<WorkspaceInput> plan_inputs(const std::vector<File>& files,
                                        const std::map<Id, std::vector<File>>& companions);

// Creates the directories (removing a partial one left by a crash), links each input in
// (hard link; a copy when the store is on another filesystem; the stored original is never
// moved or chmod-ed), writes config.json, and gives outputs/ and logs/ to the job user.
Status prepare_workspace(const WorkspacePaths& ws, const std::vector<WorkspaceInput>& inputs,
                         const std::string& config_json, uid_t job_uid, gid_t job_gid);

struct OutputFile {
  std::string relative_path;  // "per_file/a.txt"
  std::string path;           // absolute
  std::int64_t size = 0;
  std::string sha256;
};

// Every regular file under outputs/, recursively, hashed. Symlinks, devices and other
// special files are skipped (never followed): a job cannot register files outside its
// workspace.
Result<std::vector<OutputFile>> collect_outputs(const std::string& outputs_dir);

Status remove_tree(const std::string& dir);

}  // namespace pirus
