// Push events and followed logs against a real `pirus server` and dockerd: a job's whole
// life over WebSocket and SSE, subscription filtering, malformed subscriptions, job_log
// lines, a slow client being dropped, `?follow=true` and `pirus job logs -f`.

#include <gtest/gtest.h>
#include <stdio.h>

#include <filesystem>
#include <fstream>

#include "event_clients.hpp"
#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

namespace fs = std::filesystem;

// Prints "out N" and "err N" every 200 ms, `n` times (after `pause_s` seconds).
std::int64_t install_ticker(cli::ApiClient& client, const std::string& dir, const std::string& name,
                            const std::string& body) {
  const std::string script = "#!/bin/sh\n" + body;
  const std::string zip = dir + "/" + name + ".zip";
  write_zip(
      zip,
      {{"manifest.json", R"({"name":")" + name + R"(","version":"1","command":["/run.sh"]})"},
       {"Dockerfile", "FROM pirus-base/busybox:1\nCOPY run.sh /run.sh\nRUN chmod 0755 /run.sh\n"},
       {"run.sh", script, 0100755}});
  return install_pipeline(client, zip);
}

const char* kTicker =
    "sleep 1\n"
    "i=0\n"
    "while [ $i -lt 15 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); usleep 200000; "
    "done\n";

class EventsTest : public SeqstatsTest {
 protected:
  std::string dir() { return server().root_dir(); }
};

std::string status_of(const json::object& e) {
  return str_of(e.at("data"), "status");
}

TEST_F(EventsTest, WebSocketAndSseFollowAJobsWholeLifeInOrder) {
  start_seqstats();
  WsClient ws(server().port(), "/api/v1/events?kinds=job_updated");
  auto hello = ws.next(5s);
  ASSERT_TRUE(hello);
  EXPECT_EQ(str_of(*hello, "type"), "subscribed");
  StreamingGet sse(server().url() + "/api/v1/events?kinds=job_updated",
                   {"Accept: text/event-stream"});
  ASSERT_TRUE(sse.wait_for(": subscribed", 5s));

  const std::int64_t id = id_of(run({{"delay_ms", 1500}}));
  std::vector<json::object> events;
  for (;;) {
    auto e = ws.next_event(60s);
    ASSERT_TRUE(e) << "no event before the timeout";
    if (e->at("id").as_int64() != id) continue;
    events.push_back(*e);
    if (status_of(*e) == "done" || status_of(*e) == "error") break;
  }
  std::vector<std::string> statuses;
  double last_progress = -1;
  std::uint64_t last_seq = 0;
  bool partial_progress = false;
  for (const auto& e : events) {
    EXPECT_EQ(str_of(e, "kind"), "job_updated");
    EXPECT_FALSE(str_of(e, "time").empty());
    const auto seq = e.at("seq").to_number<std::uint64_t>();
    EXPECT_GT(seq, last_seq);
    last_seq = seq;
    const std::string st = status_of(e);
    if (statuses.empty() || statuses.back() != st) statuses.push_back(st);
    const double p = e.at("data").at("progress").to_number<double>();
    EXPECT_GE(p, last_progress) << json::serialize(e);
    last_progress = p;
    if (st == "running" && p > 0 && p < 1) partial_progress = true;
  }
  EXPECT_EQ(statuses,
            (std::vector<std::string>{"waiting", "initializing", "running", "finalizing", "done"}));
  EXPECT_TRUE(partial_progress) << "no progress between 0 and 1 while running";
  EXPECT_DOUBLE_EQ(last_progress, 1.0);

  // The SSE twin carried the same events, with the same sequence numbers.
  ASSERT_TRUE(sse.wait_for("\"status\":\"done\"", 10s));
  std::vector<std::string> ws_seqs;
  for (const auto& e : events)
    ws_seqs.push_back(std::to_string(e.at("seq").to_number<std::uint64_t>()));
  std::vector<std::string> sse_seqs;
  for (const auto& f : parse_sse(sse.body())) {
    json::object e = json::parse(f.data).as_object();
    if (e.at("id").as_int64() != id) continue;
    EXPECT_EQ(f.event, "job_updated");
    EXPECT_EQ(f.id, std::to_string(e.at("seq").to_number<std::uint64_t>()));
    sse_seqs.push_back(f.id);
  }
  EXPECT_EQ(sse_seqs, ws_seqs);
}

TEST_F(EventsTest, SubscriptionsFilterByKindAndId) {
  start_seqstats();
  const std::int64_t first = id_of(run({{"delay_ms", 1000}}));
  const std::int64_t second = id_of(run({{"delay_ms", 1000}}));
  WsClient only_second(server().port(),
                       "/api/v1/events?kinds=job_updated&job=" + std::to_string(second));
  WsClient pipelines_only(server().port(), "/api/v1/events?kinds=pipeline_updated");
  // Subscribed over the socket instead of the query.
  WsClient by_message(server().port(), "/api/v1/events?kinds=file_updated", 0, false);
  by_message.send(R"({"type":"subscribe","kinds":["job_updated"],"job":[)" + std::to_string(first) +
                  "]}");
  by_message.send(R"({"type":"subscribe","kinds":["nonsense"]})");
  by_message.start();
  auto r1 = by_message.next(5s);
  auto r2 = by_message.next(5s);
  auto r3 = by_message.next(5s);
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(str_of(*r1, "type"), "subscribed");  // the connect-time subscription
  EXPECT_EQ(str_of(*r2, "type"), "subscribed");
  EXPECT_EQ(r2->at("subscription").at("job").as_array(), json::array({first}));
  EXPECT_EQ(str_of(*r3, "type"), "error");  // a bad message leaves the subscription alone
  EXPECT_NE(str_of(*r3, "detail").find("nonsense"), std::string::npos);

  wait_job(client(), first, {"done"}, 60s);
  wait_job(client(), second, {"done"}, 60s);
  auto collect = [](WsClient& c) {
    std::vector<json::object> out;
    while (auto e = c.next_event(1500ms)) out.push_back(*e);
    return out;
  };
  auto a = collect(only_second);
  auto b = collect(by_message);
  auto c = collect(pipelines_only);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  for (const auto& e : a) {
    EXPECT_EQ(str_of(e, "kind"), "job_updated");
    EXPECT_EQ(e.at("id").as_int64(), second);
  }
  for (const auto& e : b) {
    EXPECT_EQ(str_of(e, "kind"), "job_updated");
    EXPECT_EQ(e.at("id").as_int64(), first);
  }
  EXPECT_EQ(status_of(a.back()), "done");
  EXPECT_EQ(status_of(b.back()), "done");
  EXPECT_TRUE(c.empty()) << json::serialize(c.front());
}

TEST_F(EventsTest, MalformedSubscriptionsAreRefusedBeforeTheUpgrade) {
  start_server();
  const std::vector<std::string> upgrade = {"Connection: Upgrade", "Upgrade: websocket",
                                            "Sec-WebSocket-Version: 13",
                                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="};
  for (const std::string query :
       {"kinds=bogus", "kinds=job_log", "job=abc", "job=-1", "kinds=", "jobs=1", "job=1,,2",
        "kinds=job_updated&pipeline=99999999999999999999999"}) {
    RawReply r = raw_request("GET", server().url() + "/api/v1/events?" + query, upgrade);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json") << query;
    EXPECT_FALSE(str_of(json::parse(r.body), "detail").empty()) << query;
  }
  // Beast's own client sees the refusal as a declined upgrade with the problem body.
  asio::io_context io;
  websocket::stream<asio::ip::tcp::socket> ws(io);
  ws.next_layer().connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server().port())});
  websocket::response_type res;
  boost::system::error_code ec;
  ws.handshake(res, "127.0.0.1", "/api/v1/events?kinds=bogus", ec);
  EXPECT_EQ(ec, websocket::error::upgrade_declined);
  EXPECT_EQ(res.result_int(), 400u);
  // Neither an upgrade nor an event stream.
  RawReply plain = raw_request("GET", server().url() + "/api/v1/events");
  EXPECT_EQ(plain.status, 406);
}

TEST_F(EventsTest, JobLogLinesArriveForTheJobsSubscribers) {
  start_server();
  const std::int64_t ticker = install_ticker(client(), dir(), "ticker", kTicker);
  const std::int64_t id = id_of(create_job(client(), {{"pipeline_id", ticker}}));
  WsClient ws(server().port(),
              "/api/v1/events?kinds=job_log,job_updated&job=" + std::to_string(id));
  std::vector<std::string> out_lines;
  std::vector<std::string> err_lines;
  for (;;) {
    auto e = ws.next_event(60s);
    ASSERT_TRUE(e) << "no event before the timeout";
    ASSERT_EQ(e->at("id").as_int64(), id);
    if (str_of(*e, "kind") == "job_updated") {
      if (status_of(*e) == "done") break;
      continue;
    }
    ASSERT_EQ(str_of(*e, "kind"), "job_log");
    const auto& d = e->at("data").as_object();
    auto& sink = str_of(d, "stream") == "stdout" ? out_lines : err_lines;
    for (const auto& l : d.at("lines").as_array()) sink.emplace_back(l.as_string());
  }
  std::vector<std::string> want_out;
  std::vector<std::string> want_err;
  for (int i = 0; i < 15; ++i) {
    want_out.push_back("out " + std::to_string(i));
    want_err.push_back("err " + std::to_string(i));
  }
  // The subscription began before the job printed anything (it sleeps 1 s first).
  EXPECT_EQ(out_lines, want_out);
  EXPECT_EQ(err_lines, want_err);
}

std::int64_t vm_rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_F(EventsTest, ASlowClientIsDroppedWithTooSlowAndTheServerStaysHealthy) {
  start_server({.sets = {"events.queue_events=32", "events.queue_bytes=128K"}});
  const std::int64_t flood = install_ticker(client(), dir(), "flood",
                                            "sleep 2\n"
                                            "i=0\n"
                                            "while [ $i -lt 12 ]; do seq 1 50000; i=$((i+1)); "
                                            "done\n");
  const std::int64_t id = id_of(create_job(client(), {{"pipeline_id", flood}}));
  const std::string target = "/api/v1/events?kinds=job_log,job_updated&job=" + std::to_string(id);
  WsClient slow(server().port(), target, 4096, /*read_now=*/false);
  WsClient fast(server().port(), "/api/v1/events?kinds=job_updated&job=" + std::to_string(id));
  const std::int64_t rss_before = vm_rss_kb(server().pid());

  ASSERT_TRUE(poll_until(
      [&] {
        auto stats = api_object(client(), "/api/v1/events/stats");
        return stats.at("dropped_slow").to_number<std::int64_t>() >= 1;
      },
      60s))
      << json::serialize(api_object(client(), "/api/v1/events/stats"));
  const std::int64_t rss_dropped = vm_rss_kb(server().pid());
  slow.start();
  EXPECT_EQ(slow.wait_closed(20s), 4008);
  EXPECT_EQ(slow.close_reason(), "too slow");

  wait_job(client(), id, {"done"}, 120s);
  // The server is fine, the fast client was not dropped and saw the job end.
  EXPECT_EQ(raw_request("GET", server().url() + "/api/v1/health").status, 200);
  std::string last;
  while (auto e = fast.next_event(2s)) last = status_of(*e);
  EXPECT_EQ(last, "done");
  EXPECT_FALSE(fast.ended());
  auto stats = api_object(client(), "/api/v1/events/stats");
  EXPECT_EQ(stats.at("dropped_slow").to_number<std::int64_t>(), 1);
  EXPECT_EQ(stats.at("websocket").to_number<std::int64_t>(), 1);
  // Bounded: the dropped client's backlog was not kept (the flood is 4 MB of lines).
  const std::int64_t rss_after = vm_rss_kb(server().pid());
  std::cerr << "server VmRSS: " << rss_before << " kB before, " << rss_dropped
            << " kB at the drop, " << rss_after << " kB after\n";
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(rss_after - rss_before, 32 * 1024);
#else
  // ASan's quarantine keeps freed memory resident by design: RSS says nothing here.
  (void)rss_after;
#endif
}

TEST_F(EventsTest, FollowStreamsTheLogWhileTheJobRunsAndEndsWithIt) {
  start_server();
  const std::int64_t ticker = install_ticker(client(), dir(), "ticker", kTicker);
  const std::int64_t id = id_of(create_job(client(), {{"pipeline_id", ticker}}));
  StreamingGet follow(server().url() + "/api/v1/jobs/" + std::to_string(id) +
                      "/logs/stdout?follow=true");
  ASSERT_TRUE(follow.wait_for("out 1\n", 60s)) << follow.body();
  // Seen while the job still runs: the job prints for 3 s.
  const std::string status_then = str_of(get_job(client(), id), "status");
  EXPECT_EQ(status_then, "running");
  EXPECT_EQ(follow.body().find("out 14"), std::string::npos);
  auto rc = follow.wait_done(60s);
  ASSERT_TRUE(rc) << "the followed stream did not end with the job";
  EXPECT_EQ(*rc, CURLE_OK);
  EXPECT_EQ(follow.status(), 200);
  EXPECT_EQ(str_of(get_job(client(), id), "status"), "done");
  EXPECT_EQ(follow.body(), job_log(client(), id, "stdout"));
  EXPECT_NE(follow.body().find("out 14\n"), std::string::npos);

  // A finished job: the whole log at once, then the end.
  StreamingGet again(server().url() + "/api/v1/jobs/" + std::to_string(id) +
                     "/logs/stderr?follow=true");
  auto rc2 = again.wait_done(10s);
  ASSERT_TRUE(rc2);
  EXPECT_EQ(again.body(), job_log(client(), id, "stderr"));
}

TEST_F(EventsTest, CliLogsFollowPrintsLinesLiveAndExitsZero) {
  start_server();
  const std::int64_t ticker = install_ticker(client(), dir(), "ticker", kTicker);
  const std::int64_t id = id_of(create_job(client(), {{"pipeline_id", ticker}}));
  const std::string cmd = std::string(PIRUS_BINARY) + " --server " + server().url() +
                          " job logs -f --stream stdout " + std::to_string(id) +
                          "; echo \"exit=$?\"";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[512];
  std::string output;
  std::string status_at_first_line;
  while (::fgets(line, sizeof line, p) != nullptr) {
    output += line;
    if (status_at_first_line.empty() && output.find("out 0") != std::string::npos) {
      status_at_first_line = str_of(get_job(client(), id), "status");
    }
  }
  ::pclose(p);
  EXPECT_EQ(status_at_first_line, "running") << output;
  std::string expected;
  for (int i = 0; i < 15; ++i) expected += "out " + std::to_string(i) + "\n";
  EXPECT_EQ(output, expected + "exit=0\n");
  EXPECT_EQ(str_of(get_job(client(), id), "status"), "done");
}

TEST_F(EventsTest, CliLogsFollowFailsWhenTheServerGoesAway) {
  start_server();
  const std::int64_t ticker = install_ticker(client(), dir(), "ticker",
                                             "i=0\nwhile [ $i -lt 600 ]; do echo \"tick $i\"; "
                                             "i=$((i+1)); sleep 1; done\n");
  const std::int64_t id = id_of(create_job(client(), {{"pipeline_id", ticker}}));
  wait_job(client(), id, {"running"}, 60s);
  const std::string cmd = std::string(PIRUS_BINARY) + " --server " + server().url() +
                          " job logs -f " + std::to_string(id) + " 2>&1; echo \"exit=$?\"";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[512];
  std::string output;
  bool stopped = false;
  while (::fgets(line, sizeof line, p) != nullptr) {
    output += line;
    if (!stopped && output.find("tick 1") != std::string::npos) {
      server().stop();
      stopped = true;
    }
  }
  ::pclose(p);
  EXPECT_TRUE(stopped) << output;
  EXPECT_NE(output.find("broke before the job ended"), std::string::npos) << output;
  EXPECT_EQ(output.find("exit=0"), std::string::npos) << output;
}

}  // namespace
}  // namespace pirus::testing
