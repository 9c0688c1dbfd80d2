#pragma once
// `pirus server`: wires the store, the container manager, the services and the HTTP API
// onto one event loop, recovers unfinished work, and shuts down gracefully on SIGTERM or
// SIGINT (in-flight requests and store writes finish; job containers keep running and are
// picked up again at the next start).

#include "config/config.hpp"

namespace pirus {

// Runs until a signal stops it. Returns the process exit status.
int run_server(const Config& config);

}  // namespace pirus
