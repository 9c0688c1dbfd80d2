#include "server/db_commands.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <ostream>

#include "config/config.hpp"
#include "store/store.hpp"
#include "store/store_transfer.hpp"

namespace pirus {

namespace {

struct DbOptions {
  std::string config_file;
  std::string data_dir;
  std::vector<std::string> sets;
  std::string output;
  std::string input;
};

void add_config_options(CLI::App* cmd, DbOptions& o) {
  cmd->add_option("-c,--config", o.config_file, "INI configuration file")->envname("PIRUS_CONFIG");
  cmd->add_option("--data-dir", o.data_dir, "data directory (server.data_dir)");
  cmd->add_option("--set", o.sets, "override a setting, e.g. database.url=postgresql://...")
      ->take_all();
}

// The database URL the server would use with these options.
Result<std::string> database_url(const DbOptions& o) {
  std::vector<std::string> sets = o.sets;
  if (!o.data_dir.empty()) sets.push_back("server.data_dir=" + o.data_dir);
  auto config = load_config(o.config_file, process_environment(), sets);
  if (!config) return config.status();
  return config->effective_database_url();
}

int fail(std::ostream& err, const Status& st) {
  err << "error: " << st.message() << '\n';
  return 1;
}

int run_migrate(const DbOptions& o, std::ostream& out, std::ostream& err) {
  auto url = database_url(o);
  if (!url) return fail(err, url.status()) + 1;
  auto report = migrate_database(*url);
  if (!report) return fail(err, report.status());
  out << "database " << redacted_database_url(*url) << ": schema version " << report->before;
  if (report->after == report->before) {
    out << ", up to date\n";
  } else {
    out << " -> " << report->after << '\n';
  }
  return 0;
}

int run_export(const DbOptions& o, std::ostream& out, std::ostream& err) {
  auto url = database_url(o);
  if (!url) return fail(err, url.status()) + 1;
  // Written next to the target and renamed at the end: a failed export leaves no file
  // that looks complete.
  const std::string tmp = o.output + ".partial";
  std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
  if (!file) return fail(err, Status::invalid("cannot write " + tmp));
  auto report = export_database(*url, file);
  file.close();
  if (report && !file) report = Status::unavailable("writing " + tmp + " failed");
  if (!report) {
    std::remove(tmp.c_str());
    return fail(err, report.status());
  }
  if (std::rename(tmp.c_str(), o.output.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(err, Status::unavailable("cannot rename " + tmp + " to " + o.output));
  }
  out << "exported " << report->rows << " rows (schema version " << report->schema_version
      << ") from " << redacted_database_url(*url) << " to " << o.output << '\n';
  return 0;
}

int run_import(const DbOptions& o, std::ostream& out, std::ostream& err) {
  auto url = database_url(o);
  if (!url) return fail(err, url.status()) + 1;
  std::ifstream file(o.input, std::ios::binary);
  if (!file) return fail(err, Status::not_found("cannot read " + o.input));
  auto report = import_database(*url, file);
  if (!report) return fail(err, report.status().with_context("importing " + o.input));
  out << "imported " << report->rows << " rows (schema version " << report->schema_version
      << ") into " << redacted_database_url(*url) << '\n';
  return 0;
}

}  // namespace

void add_db_commands(CLI::App& app, int& exit_code, std::ostream& out, std::ostream& err) {
  auto* db = app.add_subcommand(
      "db", "Maintain the server's own database (database.url) directly, without a server");
  db->require_subcommand(1);
  auto opts = std::make_shared<DbOptions>();

  auto* migrate = db->add_subcommand("migrate", "Apply pending schema migrations");
  add_config_options(migrate, *opts);
  migrate->callback([opts, &exit_code, &out, &err] { exit_code = run_migrate(*opts, out, err); });

  auto* exp = db->add_subcommand("export", "Write all metadata to a JSON-lines file");
  add_config_options(exp, *opts);
  exp->add_option("-o,--output", opts->output, "file to write")->required();
  exp->callback([opts, &exit_code, &out, &err] { exit_code = run_export(*opts, out, err); });

  auto* imp = db->add_subcommand("import", "Load a `pirus db export` file into an empty database");
  add_config_options(imp, *opts);
  imp->add_option("file", opts->input, "the export file")->required();
  imp->callback([opts, &exit_code, &out, &err] { exit_code = run_import(*opts, out, err); });
}

}  // namespace pirus
