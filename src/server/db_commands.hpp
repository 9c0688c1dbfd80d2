#pragma once
// `pirus db migrate|export|import`: maintenance of the server's own database
// (database.url), run directly on it without a server. Configured like `pirus server`
// (--config, --data-dir, --set).

#include <CLI/CLI.hpp>
#include <iosfwd>

namespace pirus {

// Adds the `db` command group; each command stores its exit status in `exit_code`
// (0 ok, 1 failure, 2 bad configuration). Messages go to `out` and `err`.
void add_db_commands(CLI::App& app, int& exit_code, std::ostream& out, std::ostream& err);

}  // namespace pirus
