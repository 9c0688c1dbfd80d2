// The `pirus` command: `pirus server` runs the service; every other subcommand is a client
// of its REST API (src/cli).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli.hpp"
#include "config/config.hpp"
#include "server/db_commands.hpp"
#include "server/server_app.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Pirus: run containerised pipelines as a service"};
  app.set_version_flag("--version", "pirus 0.1.0");
  app.require_subcommand(1);
  int exit_code = 0;

  auto* server = app.add_subcommand("server", "Run the Pirus server");
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::vector<std::string> overrides;
  bool print_config = false;
  server->add_option("-c,--config", config_file, "INI configuration file")->envname("PIRUS_CONFIG");
  server->add_option("--listen", listen, "address:port to listen on (server.listen)");
  server->add_option("--data-dir", data_dir, "data directory (server.data_dir)");
  server->add_option("--set", overrides, "override a setting: section.key=value")->take_all();
  server->add_flag("--print-config", print_config, "print the effective configuration and exit");
  server->callback([&]() {
    std::vector<std::string> sets = overrides;
    if (!listen.empty()) sets.push_back("server.listen=" + listen);
    if (!data_dir.empty()) sets.push_back("server.data_dir=" + data_dir);
    auto config = pirus::load_config(config_file, pirus::process_environment(), sets);
    if (!config) {
      std::cerr << "error: " << config.status().message() << "\n";
      exit_code = 2;
      return;
    }
    if (print_config) {
      std::cout << pirus::describe_config(*config);
      return;
    }
    exit_code = pirus::run_server(*config);
  });

  pirus::add_db_commands(app, exit_code, std::cout, std::cerr);

  pirus::cli::ClientOptions client;
  pirus::cli::add_client_commands(app, client, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors are 2, whatever CLI11's own number
  }
  return exit_code;
}
