#pragma once
// What every service shares: configuration, the store, the container manager, the event
// loop, the worker pool and the event bus. Owned by the server; services keep a reference.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>

#include "config/config.hpp"
#include "core/event_bus.hpp"
#include "managers/container_manager.hpp"
#include "store/store.hpp"

namespace pirus {

struct CoreContext {
  Config config;
  Store& store;
  ContainerManager& manager;
  boost::asio::any_io_executor loop;
  boost::asio::thread_pool& workers;
  EventBus& events;
  std::string instance_id;  // identifies this server's containers and images in the engine
  std::string job_user;     // "uid:gid" the jobs run as (config jobs.user resolved)
  // Where jobs post progress (the HTTP channel): jobs.notify_url, or derived from the
  // address the server listens on. Set once the server listens.
  std::string notify_base_url = {};
};

}  // namespace pirus
