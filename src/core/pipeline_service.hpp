#pragma once
// Installing and uninstalling pipelines.
//
// Install is two phases. The first, awaited by the caller, checks the package (safe
// extraction, manifest, form, engine) and creates the pipeline row in `installing`: a bad
// package is refused there and leaves nothing behind. The second, in the background,
// builds the image through the pipeline's container manager and ends in `ready` or `error`
// (with the reason and the build log kept at pipelines/<id>/build.log).
//
// Layout: pipelines/<id>/package/ (the unpacked package), pipelines/<id>/build.log.
// All methods run on the event loop.

#include <boost/asio/awaitable.hpp>
#include <set>
#include <string>

#include "common/status.hpp"
#include "core/core_context.hpp"
#include "packages/package.hpp"

namespace pirus {

class PipelineService {
 public:
  explicit PipelineService(CoreContext& ctx) : ctx_(ctx) {}

  // Installs the zip at `zip_path` (left in place; the caller owns it).
  boost::asio::awaitable<Result<Pipeline>> install(std::string zip_path);

  // kConflict while the pipeline has unfinished jobs. Removes the row, the image and the
  // files.
  boost::asio::awaitable<Status> uninstall(Id id);

  Result<FormSchema> form(const Pipeline& p) const;
  std::string build_log_path(Id id) const;
  std::string package_dir(Id id) const;

  // At start-up: pipelines whose build was cut short by a restart are built again; not those
  // whose build this service started (installs accepted before this is called).
  void resume_interrupted_builds();

 private:
  boost::asio::awaitable<void> build(Id id);
  void publish(const Pipeline& p);

  CoreContext& ctx_;
  std::set<Id> builds_started_;  // never built twice by one server
};

}  // namespace pirus
