#pragma once
// The `pirus` client commands (pipeline, file, job), which talk to a Pirus server only
// through its REST API (docs/api.md).

#include <CLI/CLI.hpp>
#include <string>

namespace pirus::cli {

struct ClientOptions {
  std::string server_url;
  bool json = false;
  bool quiet = false;     // no progress display and no informational lines on stderr
  std::string ca_cert;    // HTTPS: trust this PEM certificate (bundle) instead of the system's
  bool insecure = false;  // HTTPS: no certificate check at all (explicit only)
};

// Adds the subcommands `pipeline`, `file`, `job`, `health`... to app (with global options
// --server URL (env PIRUS_URL, default http://127.0.0.1:8080), --ca-cert FILE (env
// PIRUS_CA_CERT), --insecure and --json added by this function too).
// When a subcommand runs it stores its process exit status in exit_code: 0 success, 1 an
// API or usage error, 3 the server cannot be reached. `opts` and `exit_code` must outlive
// the parse.
void add_client_commands(CLI::App& app, ClientOptions& opts, int& exit_code);

}  // namespace pirus::cli
