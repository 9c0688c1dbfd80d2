#pragma once
// Internals shared by the client's command files (pipeline_commands.cpp, file_commands.cpp,
// job_commands.cpp), and the seam the tests use to run commands against a fake server.

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "cli/api_client.hpp"
#include "cli/cli.hpp"
#include "common/status.hpp"

namespace pirus::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUnreachable = 3;

// Where commands write and how fast they poll. Tests swap in string streams and a short
// interval; the real CLI uses the process's streams.
struct Console {
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
  bool err_is_tty = false;
  int err_columns = 0;
  std::chrono::milliseconds poll_interval{500};

  static Console standard();  // std::cout/std::cerr, TTY detection on stderr
};

// add_client_commands() with an explicit console.
void add_client_commands(CLI::App& app, ClientOptions& opts, int& exit_code,
                         const Console& console);

// What every command callback needs; shared by the callbacks of one App.
struct CommandEnv {
  ClientOptions* opts;
  int* exit_code;
  Console console;
};

// One command run.
class Session {
 public:
  Session(const ClientOptions& opts, const Console& console);

  ApiClient& client() { return client_; }
  std::ostream& out() { return *console_.out; }
  std::ostream& err() { return *console_.err; }
  const Console& console() const { return console_; }
  bool json() const { return opts_.json; }
  bool quiet() const { return opts_.quiet; }
  // Progress bars are drawn on a terminal only, and never when quiet.
  bool show_progress() const { return console_.err_is_tty && !opts_.quiet; }

  // Prints "error: <message>" on stderr; returns 3 when the server was unreachable, else 1.
  int fail(const Status& status);
  // A line on stderr for people (suppressed by quiet).
  void note(const std::string& line);
  void print_json(const boost::json::value& v);
  void sleep();

  // GET on a list route. With `all`, follows next_cursor and returns every item in one
  // {"items", "next_cursor": ""}; otherwise returns the first page as the server sent it.
  Result<boost::json::object> list(const std::string& path, bool all);
  // GET one resource as JSON.
  Result<boost::json::value> get(const std::string& path);
  // Streams a local file to `route` with a progress bar, returns the created resource.
  Result<boost::json::value> upload(const std::string& route, const std::string& local_file,
                                    const std::string& content_type);
  // GET /api/v1/files/{id} for every id, skipping those that fail (deleted, say).
  std::map<std::int64_t, boost::json::value> files_by_id(const boost::json::array& ids);

 private:
  const ClientOptions& opts_;
  Console console_;
  ApiClient client_;
};

// Registers `cmd`'s callback: runs `body` in a fresh Session and stores its exit status;
// an exception (a server answer of an unexpected shape) becomes exit 1 with a message.
void on_run(CLI::App* cmd, const std::shared_ptr<CommandEnv>& env,
            std::function<int(Session&)> body);

void add_pipeline_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env);
void add_file_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env);
void add_job_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env);
void add_database_commands(CLI::App& app, const std::shared_ptr<CommandEnv>& env);
void add_notify_command(CLI::App& app, const std::shared_ptr<CommandEnv>& env);
void add_health_command(CLI::App& app, const std::shared_ptr<CommandEnv>& env);

// Argument checks whose messages people can read (CLI11's own print the range of a double).
CLI::Validator id_arg();            // a positive integer
CLI::Validator positive_arg();      // a number > 0
CLI::Validator non_negative_arg();  // a number >= 0

std::int64_t now_ms();
std::string basename_of(const std::string& path);

}  // namespace pirus::cli
