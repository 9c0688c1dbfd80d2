#include "core/workspace.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/fs_util.hpp"
#include "common/sha256.hpp"
#include "core/upload_service.hpp"

namespace pirus {

namespace fs = std::filesystem;

WorkspacePaths workspace_paths(const std::string& jobs_dir, Id job_id) {
  WorkspacePaths p;
  p.root = jobs_dir + "/" + std::to_string(job_id);
  p.inputs = p.root + "/inputs";
  p.outputs = p.root + "/outputs";
  p.logs = p.root + "/logs";
  p.config = p.inputs + "/config.json";
  p.stdout_log = p.logs + "/stdout.log";
  p.stderr_log = p.logs + "/stderr.log";
  p.progress = p.logs + "/progress.jsonl";
  return p;
}

std::vector<WorkspaceInput> plan_inputs(const std::vector<File>& files) {
  std::vector<WorkspaceInput> out;
  std::set<std::string> taken = {"config.json"};
  for (const auto& f : files) {
    std::string name = safe_file_name(f.name);
    if (taken.count(name) != 0) name = std::to_string(f.id) + "_" + name;
    taken.insert(name);
    out.push_back({f, name});
  }
  return out;
}

std::vector<WorkspaceInput> plan_inputs(const std::vector<File>& files,
                                        const std::map<Id, std::vector<File>>& companions) {
  std::vector<WorkspaceInput> out;
  std::set<std::string> taken = {"config.json"};
  std::set<Id> listed;
  for (const auto& f : files) listed.insert(f.id);
  auto place = [&taken](const std::string& wanted, Id id) {
    std::string name = wanted;
    if (taken.count(name) != 0) name = std::to_string(id) + "_" + name;
    taken.insert(name);
    return name;
  };
  for (const auto& f : files) {
    const std::string name = place(safe_file_name(f.name), f.id);
    out.push_back({f, name, std::nullopt});
    auto it = companions.find(f.id);
    if (it == companions.end()) continue;
    const std::string primary = safe_file_name(f.name);
    for (const auto& c : it->second) {
      if (listed.count(c.id) != 0) continue;
      const std::string own = safe_file_name(c.name);
      std::string wanted = own;
      if (own.size() > primary.size() && own.compare(0, primary.size(), primary) == 0) {
        wanted = name + own.substr(primary.size());
      } else if (!companion_primary_names(own).empty()) {
        // "x.bai" for "x.bam": only the index suffix is kept.
        wanted = name + own.substr(own.find_last_of('.'));
      }
      listed.insert(c.id);
      out.push_back({c, place(wanted, c.id), f.id});
    }
  }
  return out;
}

namespace {

Status link_or_copy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return Status::ok();
  if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
    return Status::internal("cannot link " + from + " into the workspace: " + std::strerror(errno));
  }
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::none, ec);
  if (ec) return Status::internal("cannot copy " + from + " into the workspace: " + ec.message());
  return Status::ok();
}

Status make_dir(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0) {
    return Status::internal("cannot create " + dir + ": " + std::strerror(errno));
  }
  ::chmod(dir.c_str(), mode);  // mkdir honours the umask; we want exactly `mode`
  return Status::ok();
}

}  // namespace

Status prepare_workspace(const WorkspacePaths& ws, const std::vector<WorkspaceInput>& inputs,
                         const std::string& config_json, uid_t job_uid, gid_t job_gid) {
  PIRUS_RETURN_IF_ERROR(remove_tree(ws.root));
  PIRUS_RETURN_IF_ERROR(make_dir(ws.root, 0755));
  PIRUS_RETURN_IF_ERROR(make_dir(ws.inputs, 0755));
  PIRUS_RETURN_IF_ERROR(make_dir(ws.outputs, 0755));
  PIRUS_RETURN_IF_ERROR(make_dir(ws.logs, 0755));
  for (const auto& in : inputs) {
    PIRUS_RETURN_IF_ERROR(link_or_copy(in.file.path, ws.inputs + "/" + in.name));
  }
  // config.json holds the job's notify token: readable by the job's group, not by everyone.
  PIRUS_RETURN_IF_ERROR(write_file_atomic(ws.config, config_json, 0640));
  if (::chown(ws.config.c_str(), static_cast<uid_t>(-1), job_gid) != 0) {
    // Not root: the job runs as the server's own user (jobs.user auto) and reads it as owner,
    // unless an admin chose another user; then it must be readable (data_dir is 0750).
    if (errno != EPERM) {
      return Status::internal("cannot give config.json to the job group: " +
                              std::string(std::strerror(errno)));
    }
    if (job_uid != ::geteuid()) {
      ::chmod(ws.config.c_str(), 0644);
    }
  }
  // The job user owns what it writes to; Pirus owns (and the job only reads) its inputs.
  for (const auto& dir : {ws.outputs, ws.logs}) {
    if (::chown(dir.c_str(), job_uid, job_gid) != 0 && errno != EPERM) {
      return Status::internal("cannot give " + dir + " to the job user: " + std::strerror(errno));
    }
  }
  return Status::ok();
}

Result<std::vector<OutputFile>> collect_outputs(const std::string& outputs_dir) {
  std::vector<OutputFile> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(outputs_dir, fs::directory_options::none, ec);
  if (ec) return Status::internal("cannot read " + outputs_dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status::internal("cannot read " + outputs_dir + ": " + ec.message());
    auto st = it->symlink_status(ec);
    if (ec) continue;
    if (!fs::is_regular_file(st)) continue;  // directories are walked, links are not
    OutputFile f;
    f.path = it->path().string();
    f.relative_path = fs::relative(it->path(), outputs_dir).string();
    f.size = static_cast<std::int64_t>(it->file_size(ec));
    auto sum = sha256_file(f.path);
    if (!sum) return sum.status();
    f.sha256 = *sum;
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const OutputFile& a, const OutputFile& b) {
    return a.relative_path < b.relative_path;
  });
  return out;
}

Status remove_tree(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Status::internal("cannot remove " + dir + ": " + ec.message());
  return Status::ok();
}

}  // namespace pirus
