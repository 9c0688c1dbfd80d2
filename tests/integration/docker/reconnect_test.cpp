// The manager's behaviour when its connections to dockerd break, as when dockerd restarts.
// dockerd itself is shared by everything on the machine and is never restarted by a test:
// instead the manager talks to dockerd through a proxy socket that the test can cut.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "managers/docker/docker_client.hpp"
#include "managers/docker/docker_manager.hpp"
#include "support/temp_dir.hpp"

namespace pirus {
namespace {

namespace local = asio::local;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::read_file;
using testing::TempDir;
using Socket = local::stream_protocol::socket;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// Forwards every connection to dockerd's socket. drop_all() cuts the open ones (the manager
// sees dockerd vanish mid-stream); while refusing, new connections are closed at once.
class FlakyProxy {
 public:
  FlakyProxy(asio::io_context& ioc, const std::string& path, std::string upstream)
      : ioc_(ioc),
        acceptor_(ioc, local::stream_protocol::endpoint(path)),
        upstream_(std::move(upstream)) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
  }
  ~FlakyProxy() { stop(); }

  void drop_all() {
    for (auto& weak : conns_) {
      if (auto s = weak.lock()) {
        boost::system::error_code ec;
        s->close(ec);
      }
    }
    conns_.clear();
  }
  void set_refusing(bool r) { refusing_ = r; }
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    drop_all();
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, client] = co_await acceptor_.async_accept(kAwait);
      if (ec) co_return;
      auto down = std::make_shared<Socket>(std::move(client));
      if (refusing_) {
        down->close(ec);
        continue;
      }
      auto up = std::make_shared<Socket>(ioc_);
      local::stream_protocol::endpoint ep(upstream_);
      auto [cec] = co_await up->async_connect(ep, kAwait);
      if (cec) {
        down->close(ec);
        continue;
      }
      conns_.push_back(down);
      conns_.push_back(up);
      asio::co_spawn(ioc_, pipe(down, up), asio::detached);
      asio::co_spawn(ioc_, pipe(up, down), asio::detached);
    }
  }

  static asio::awaitable<void> pipe(std::shared_ptr<Socket> from, std::shared_ptr<Socket> to) {
    std::vector<char> buf(16 * 1024);
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), kAwait);
      if (ec) break;
      auto [wec, wn] = co_await asio::async_write(*to, asio::buffer(buf.data(), n), kAwait);
      if (wec) break;
    }
    boost::system::error_code ignored;
    from->close(ignored);
    to->close(ignored);
  }

  asio::io_context& ioc_;
  local::stream_protocol::acceptor acceptor_;
  std::string upstream_;
  bool refusing_ = false;
  std::vector<std::weak_ptr<Socket>> conns_;
};

class RecordingObserver : public JobObserver {
 public:
  void on_job_exited(Id job_id, const ExitInfo& exit) override { exits.emplace_back(job_id, exit); }
  std::vector<std::pair<Id, ExitInfo>> exits;
};

template <typename T>
asio::awaitable<void> store_into(asio::awaitable<T> a, std::shared_ptr<std::optional<T>> out) {
  T value = co_await std::move(a);
  out->emplace(std::move(value));
}

class DockerReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    instance_ = std::to_string(rd()) + std::to_string(rd());
    proxy_ = std::make_unique<FlakyProxy>(ioc_, dir_ / "proxy.sock", "/var/run/docker.sock");
    DockerConfig cfg;
    cfg.socket_path = dir_ / "proxy.sock";
    cfg.instance_id = instance_;
    mgr_ = std::make_unique<DockerManager>(ioc_.get_executor(), cfg);
    Status st = run(mgr_->start(&observer_));
    ASSERT_TRUE(st.is_ok()) << st.to_string();
  }

  void TearDown() override {
    mgr_->shutdown();
    proxy_->set_refusing(false);
    // Cleanup through a manager talking to dockerd directly.
    DockerConfig cfg;
    cfg.instance_id = instance_;
    DockerManager cleaner(ioc_.get_executor(), cfg);
    auto jobs = run(cleaner.list_jobs());
    if (jobs.is_ok()) {
      for (const auto& j : *jobs) (void)run(cleaner.kill_and_remove(j.container_id));
    }
    proxy_->stop();
  }

  bool pump(const std::function<bool()>& pred, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      if (ioc_.stopped()) ioc_.restart();
      ioc_.run_for(20ms);
    }
    return true;
  }

  template <typename T>
  T run(asio::awaitable<T> a, Clock::duration timeout = 60s) {
    auto out = std::make_shared<std::optional<T>>();
    asio::co_spawn(ioc_, store_into(std::move(a), out), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    if (!pump([&] { return out->has_value(); }, timeout)) throw std::runtime_error("timed out");
    return std::move(**out);
  }

  JobLaunch job(Id id, std::string script) {
    JobLaunch l;
    l.job_id = id;
    l.image = "pirus-base/busybox:1";
    l.command = {"sh", "-c", std::move(script)};
    l.user = "65534:65534";
    l.stdout_path = dir_ / ("out" + std::to_string(id) + ".log");
    l.stderr_path = dir_ / ("err" + std::to_string(id) + ".log");
    return l;
  }

  asio::io_context ioc_;
  TempDir dir_{"pirus-docker-reconnect"};
  std::string instance_;
  std::unique_ptr<FlakyProxy> proxy_;
  std::unique_ptr<DockerManager> mgr_;
  RecordingObserver observer_;
};

TEST_F(DockerReconnectTest, DieDuringAnOutageIsStillReportedWithCompleteLogs) {
  auto l = job(1,
               "i=1; while [ $i -le 15 ]; do echo line-$i; i=$((i+1)); sleep 0.1; done; "
               "echo bye >&2; exit 7");
  auto cid = run(mgr_->launch(l));
  ASSERT_TRUE(cid.is_ok()) << cid.status().to_string();
  ASSERT_TRUE(
      pump([&] { return read_file(l.stdout_path).find("line-3\n") != std::string::npos; }, 10s));
  // dockerd "goes away" until well after the job has exited.
  proxy_->set_refusing(true);
  proxy_->drop_all();
  std::this_thread::sleep_for(2500ms);
  pump([] { return false; }, 500ms);
  EXPECT_TRUE(observer_.exits.empty());
  proxy_->set_refusing(false);

  ASSERT_TRUE(pump([&] { return !observer_.exits.empty(); }, 30s));
  EXPECT_EQ(observer_.exits.at(0).first, 1);
  EXPECT_EQ(observer_.exits.at(0).second.exit_code, 7);
  std::string want;
  for (int i = 1; i <= 15; ++i) want += "line-" + std::to_string(i) + "\n";
  EXPECT_EQ(read_file(l.stdout_path), want);
  EXPECT_EQ(read_file(l.stderr_path), "bye\n");
  pump([] { return false; }, 500ms);
  EXPECT_EQ(observer_.exits.size(), 1u);
}

TEST_F(DockerReconnectTest, BrokenStreamsWhileTheJobRunsLoseAndDoubleNothing) {
  auto l = job(2,
               "i=1; while [ $i -le 30 ]; do echo line-$i; echo err-$i >&2; i=$((i+1)); "
               "sleep 0.1; done");
  auto cid = run(mgr_->launch(l));
  ASSERT_TRUE(cid.is_ok()) << cid.status().to_string();
  for (int cut = 0; cut < 3; ++cut) {
    pump([] { return false; }, 700ms);
    proxy_->drop_all();  // both the event stream and the log stream break
  }
  ASSERT_TRUE(pump([&] { return !observer_.exits.empty(); }, 30s));
  EXPECT_EQ(observer_.exits.at(0).second.exit_code, 0);
  std::string out, err;
  for (int i = 1; i <= 30; ++i) {
    out += "line-" + std::to_string(i) + "\n";
    err += "err-" + std::to_string(i) + "\n";
  }
  EXPECT_EQ(read_file(l.stdout_path), out);
  EXPECT_EQ(read_file(l.stderr_path), err);
  pump([] { return false; }, 500ms);
  EXPECT_EQ(observer_.exits.size(), 1u);
}

TEST_F(DockerReconnectTest, CallsDuringAnOutageAreUnavailable) {
  proxy_->set_refusing(true);
  auto r = run(mgr_->list_jobs());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
  proxy_->set_refusing(false);
  EXPECT_TRUE(run(mgr_->list_jobs()).is_ok());
}

}  // namespace
}  // namespace pirus
