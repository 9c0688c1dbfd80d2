#include <boost/json.hpp>
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/parsing.hpp"

namespace pirus::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

struct Args {
  std::string name;
  std::string archive;
  std::string path;
};

std::string num_text(const json::value& v, const char* key) {
  const auto* f = v.as_object().if_contains(key);
  if (f == nullptr || !f->is_number()) return "-";
  return std::to_string(f->to_number<std::int64_t>());
}

std::int64_t num_of(const json::value& v, const char* key) {
  const auto* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_number() ? f->to_number<std::int64_t>() : -1;
}

std::string str_of(const json::value& v, const char* key) {
  const auto* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

void print_one(Session& s, const json::value& db, const std::string& verb) {
  if (s.json()) {
    s.print_json(db);
    return;
  }
  s.out() << verb << " reference database " << str_of(db, "name") << " ("
          << num_text(db, "file_count") << " files, " << human_size(num_of(db, "size")) << ")\n";
}

int add(Session& s, const Args& a) {
  if (a.archive.empty() == a.path.empty()) {
    return s.fail(Status::invalid("give either an archive to upload or --path DIR on the server"));
  }
  if (!a.path.empty()) {
    json::value body = json::object{{"name", a.name}, {"path", a.path}};
    auto r = s.client().call("POST", "/api/v1/databases/import", &body);
    if (!r) return s.fail(r.status());
    print_one(s, *r, "added");
    return kExitOk;
  }
  std::error_code ec;
  if (!fs::is_regular_file(a.archive, ec)) {
    return s.fail(Status::not_found("no such file: " + a.archive));
  }
  auto r = s.upload("/api/v1/databases?name=" + url_encode(a.name), a.archive,
                    "application/octet-stream");
  if (!r) return s.fail(r.status());
  print_one(s, *r, "added");
  return kExitOk;
}

int list(Session& s) {
  auto r = s.list("/api/v1/databases", true);
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& db : r->at("items").as_array()) {
    rows.push_back({str_of(db, "name"), human_size(num_of(db, "size")), num_text(db, "file_count"),
                    human_time(str_of(db, "created_at"))});
  }
  s.out() << render_table({"NAME", "SIZE", "FILES", "CREATED"}, rows);
  return kExitOk;
}

int show(Session& s, const std::string& name) {
  auto r = s.get("/api/v1/databases/" + url_encode(name));
  if (!r) return s.fail(r.status());
  if (s.json()) {
    s.print_json(*r);
    return kExitOk;
  }
  s.out() << render_fields({{"name", str_of(*r, "name")},
                            {"size", human_size(num_of(*r, "size"))},
                            {"files", num_text(*r, "file_count")},
                            {"created", human_time(str_of(*r, "created_at"))}});
  return kExitOk;
}

int remove(Session& s, const std::string& name) {
  auto r = s.client().call("DELETE", "/api/v1/databases/" + url_encode(name));
  if (!r) return s.fail(r.status());
  if (!s.json()) s.out() << "removed reference database " << name << '\n';
  return kExitOk;
}

}  // namespace

void add_database_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env) {
  auto* cmd = app.add_subcommand("database", "Add, list and remove reference databases");
  cmd->fallthrough();
  cmd->require_subcommand(1);
  auto args = std::make_shared<Args>();

  auto* add_cmd = cmd->add_subcommand(
      "add", "Add a reference database from an archive (uploaded) or a server directory");
  add_cmd->add_option("name", args->name, "Database name, e.g. hg38")->required();
  add_cmd->add_option("archive", args->archive, "Local .tar.gz, .tar.xz, .tar or .zip to upload");
  add_cmd->add_option("--path", args->path,
                      "Copy this directory on the server instead (inside databases.import_root)");
  on_run(add_cmd, env, [args](Session& s) { return add(s, *args); });

  auto* list_cmd = cmd->add_subcommand("list", "List reference databases");
  on_run(list_cmd, env, [](Session& s) { return list(s); });

  auto* show_cmd = cmd->add_subcommand("show", "Show a reference database");
  show_cmd->add_option("name", args->name, "Database name")->required();
  on_run(show_cmd, env, [args](Session& s) { return show(s, args->name); });

  auto* rm_cmd = cmd->add_subcommand("rm", "Remove a reference database");
  rm_cmd->add_option("name", args->name, "Database name")->required();
  on_run(rm_cmd, env, [args](Session& s) { return remove(s, args->name); });
}

}  // namespace pirus::cli
