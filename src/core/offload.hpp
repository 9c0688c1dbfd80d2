#pragma once
// Runs blocking work (hashing, copying, extracting archives) on the worker pool and
// resumes the calling coroutine on its own executor, so the event loop never blocks.
//
// GCC 12 destroys temporaries inside a co_await full-expression twice when they own
// resources (a lambda capturing a std::string, for one). So: name the lambda first, then
// `co_await offload(pool, std::move(work))`; offload itself follows the same rule.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace pirus {

template <typename F>
boost::asio::awaitable<std::invoke_result_t<F>> offload(boost::asio::thread_pool& pool, F fn) {
  using R = std::invoke_result_t<F>;
  auto task = [fn = std::move(fn)]() mutable -> boost::asio::awaitable<R> { co_return fn(); };
  auto op = boost::asio::co_spawn(pool.get_executor(), std::move(task), boost::asio::use_awaitable);
  R result = co_await std::move(op);
  co_return result;
}

}  // namespace pirus
