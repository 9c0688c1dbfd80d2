#include <boost/json.hpp>
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/file_hash.hpp"
#include "cli/format.hpp"
#include "cli/parsing.hpp"
#include "cli/terminal.hpp"
#include "cli/tus_upload.hpp"
#include "cli/views.hpp"

namespace pirus::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string file_path(std::int64_t id) {
  return "/api/v1/files/" + std::to_string(id);
}

struct Args {
  std::vector<std::string> paths;
  bool sha256 = false;
  std::string status;
  int limit = 0;
  bool all = false;
  std::int64_t id = 0;
  std::string output;
  bool force = false;
  std::int64_t companion_of = 0;
  std::int64_t chunk_mib = 16;
};

int upload(Session& s, const Args& args) {
  std::vector<std::vector<std::string>> rows;
  int code = kExitOk;
  for (const auto& path : args.paths) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      code = s.fail(Status::not_found("no such file: " + path));
      continue;
    }
    const std::string label = basename_of(path);
    TusUploadOptions options;
    options.chunk_bytes = args.chunk_mib << 20;
    options.whole_sha256 = args.sha256;
    if (args.companion_of > 0) options.companion_of = args.companion_of;
    // A bar on a terminal; elsewhere a plain line every 10 %, so logs stay short.
    std::unique_ptr<ProgressLine> line;
    if (!s.quiet() && !s.json()) {
      const bool tty = s.show_progress();
      line = std::make_unique<ProgressLine>(s.err(), tty, s.console().err_columns);
      options.progress = [&line, &label, tty](std::int64_t sent, std::int64_t total) {
        const std::string text = render_transfer_progress(sent, total, label);
        const std::string key =
            tty ? std::string() : std::to_string(total > 0 ? sent * 10 / total : 10);
        line->update(text, key, sent == total);
      };
      options.resumed = [&s, &label](std::int64_t offset) {
        s.note("resuming the upload of " + label + " at " + human_size(offset));
      };
    }
    auto r = tus_upload(s.client(), path, options);
    if (line) line->finish(r.is_ok());
    if (!r) {
      code = s.fail(r.status().with_context(path));
      // Every later upload would fail the same way.
      if (code == kExitUnreachable) break;
      continue;
    }
    if (s.json()) {
      s.print_json(*r);  // one object per line, whatever the number of files
    } else {
      auto id = int_field(*r, "id");
      auto size = int_field(*r, "size");
      rows.push_back({id ? std::to_string(*id) : "-", str_field(*r, "name"),
                      size ? human_size(*size) : "-", str_field(*r, "status")});
    }
  }
  if (!s.json() && !rows.empty()) {
    s.out() << render_table({"ID", "NAME", "SIZE", "STATUS"}, rows,
                            {Align::kRight, Align::kLeft, Align::kRight});
  }
  return code;
}

int list(Session& s, const Args& args) {
  std::string query;
  if (!args.status.empty()) query += "&status=" + url_encode(args.status);
  if (args.limit > 0) query += "&limit=" + std::to_string(args.limit);
  if (!query.empty()) query[0] = '?';
  auto r = s.list("/api/v1/files" + query, args.all);
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
    return kExitOk;
  }
  if (const auto* items = r->if_contains("items"); items && items->is_array()) {
    s.out() << file_table(items->get_array());
  }
  if (const auto* next = r->if_contains("next_cursor");
      next && next->is_string() && !next->get_string().empty()) {
    s.note("(more files: use --all to list them all)");
  }
  return kExitOk;
}

int show(Session& s, std::int64_t id) {
  auto r = s.get(file_path(id));
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
  } else {
    s.out() << file_details(*r);
  }
  return kExitOk;
}

int download(Session& s, const Args& args) {
  auto meta = s.get(file_path(args.id));
  if (!meta) return s.fail(meta.status());
  const std::string name = safe_file_name(str_field(*meta, "name"), args.id);
  fs::path dest = args.output.empty() ? fs::path(name) : fs::path(args.output);
  std::error_code ec;
  if (!args.output.empty() && fs::is_directory(dest, ec)) dest /= name;
  if (fs::exists(dest, ec) && !args.force) {
    return s.fail(Status::conflict(dest.string() + " already exists (use --force to overwrite)"));
  }
  auto r = s.client().download(file_path(args.id) + "/content", dest.string());
  if (!r) return s.fail(r.status());
  if (!r->ok()) return s.fail(status_from_http(*r));
  if (s.json()) {
    s.print_json(*meta);
  } else {
    const auto size = fs::file_size(dest, ec);
    s.out() << "saved " << dest.string() << " ("
            << human_size(ec ? -1 : static_cast<std::int64_t>(size)) << ")\n";
  }
  return kExitOk;
}

int remove(Session& s, std::int64_t id) {
  auto r = s.client().call("DELETE", file_path(id));
  if (!r) return s.fail(r.status());
  if (!s.json()) s.out() << "deleted file " << id << '\n';
  return kExitOk;
}

}  // namespace

void add_file_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env) {
  auto* cmd = app.add_subcommand("file", "Upload, list, download and remove files");
  cmd->fallthrough();
  cmd->require_subcommand(1);
  auto args = std::make_shared<Args>();

  auto* upload_cmd = cmd->add_subcommand(
      "upload", "Upload local files (resumable: run it again to continue an interrupted upload)");
  upload_cmd->add_option("paths", args->paths, "Local files")->required();
  upload_cmd->add_flag("--sha256", args->sha256,
                       "Compute the SHA-256 locally and have the server verify it");
  upload_cmd
      ->add_option("--companion-of", args->companion_of,
                   "File id this file accompanies (an index: x.bam.bai for x.bam)")
      ->check(id_arg());
  upload_cmd
      ->add_option("--chunk-size", args->chunk_mib,
                   "MiB per request (1..1024); an interrupted upload resumes from the last one")
      ->check(CLI::Range(1, 1024));
  on_run(upload_cmd, env, [args](Session& s) { return upload(s, *args); });

  auto* list_cmd = cmd->add_subcommand("list", "List files");
  list_cmd->add_option("--status", args->status,
                       "Only files in this status (uploaded, checked...)");
  list_cmd->add_option("--limit", args->limit, "Page size (1..1000)")->check(CLI::Range(1, 1000));
  list_cmd->add_flag("--all", args->all, "Follow the pages to list every file");
  on_run(list_cmd, env, [args](Session& s) { return list(s, *args); });

  auto* show_cmd = cmd->add_subcommand("show", "Show a file");
  show_cmd->add_option("id", args->id, "File id")->required()->check(id_arg());
  on_run(show_cmd, env, [args](Session& s) { return show(s, args->id); });

  auto* download_cmd = cmd->add_subcommand("download", "Download a file");
  download_cmd->add_option("id", args->id, "File id")->required()->check(id_arg());
  download_cmd->add_option("-o,--output", args->output,
                           "Destination file or directory (default: the file's name here)");
  download_cmd->add_flag("--force", args->force, "Overwrite an existing file");
  on_run(download_cmd, env, [args](Session& s) { return download(s, *args); });

  auto* rm_cmd = cmd->add_subcommand("rm", "Delete a file");
  rm_cmd->add_option("id", args->id, "File id")->required()->check(id_arg());
  on_run(rm_cmd, env, [args](Session& s) { return remove(s, args->id); });
}

}  // namespace pirus::cli
