// The event hub's rules without a network: subscription parsing, filtering, and the bounded
// per-client queue (overflow drops the client and frees its backlog).

#include "api/event_hub.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "core/job_log_watcher.hpp"

namespace pirus::api {
namespace {

namespace json = boost::json;

std::multimap<std::string, std::string> query(
    std::initializer_list<std::pair<const std::string, std::string>> q) {
  return std::multimap<std::string, std::string>(q);
}

Event event(const std::string& kind, Id id) {
  Event e;
  e.kind = kind;
  e.id = id;
  e.data = {{"id", id}};
  return e;
}

TEST(Subscription, DefaultsToEveryKindButJobLog) {
  auto s = subscription_from_query({});
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_EQ(s->kinds, (std::set<std::string>{"job_updated", "file_updated", "pipeline_updated"}));
  EXPECT_TRUE(s->wants(event("job_updated", 7)));
  EXPECT_FALSE(s->wants(event("job_log", 7)));
}

TEST(Subscription, FiltersByKindAndId) {
  auto s = subscription_from_query(
      query({{"kinds", "job_updated,job_log"}, {"job", "4,5"}, {"job", "6"}}));
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_EQ(s->jobs, (std::set<Id>{4, 5, 6}));
  EXPECT_TRUE(s->wants(event("job_log", 6)));
  EXPECT_TRUE(s->wants(event("job_updated", 4)));
  EXPECT_FALSE(s->wants(event("job_updated", 7)));
  EXPECT_FALSE(s->wants(event("file_updated", 4)));
}

TEST(Subscription, RefusesMalformedQueries) {
  for (auto q : {query({{"kinds", "nope"}}), query({{"kinds", ""}}), query({{"kinds", "job_log"}}),
                 query({{"job", "x"}}), query({{"job", "0"}}), query({{"job", "1,,2"}}),
                 query({{"file", "-3"}}), query({{"jobs", "1"}}),
                 query({{"pipeline", "99999999999999999999999"}})}) {
    auto s = subscription_from_query(q);
    EXPECT_FALSE(s) << q.begin()->first << "=" << q.begin()->second;
    if (!s) {
      EXPECT_EQ(s.status().code(), Code::kInvalid);
    }
  }
  std::multimap<std::string, std::string> many;
  std::string ids;
  for (int i = 1; i <= 1001; ++i) ids += (i > 1 ? "," : "") + std::to_string(i);
  many.emplace("job", ids);
  EXPECT_FALSE(subscription_from_query(many));
}

TEST(Subscription, ParsesWebSocketMessages) {
  auto ok = subscription_from_json(
      json::parse(R"({"type":"subscribe","kinds":["pipeline_updated"],"pipeline":[3]})")
          .as_object());
  ASSERT_TRUE(ok) << ok.status().message();
  EXPECT_TRUE(ok->wants(event("pipeline_updated", 3)));
  EXPECT_FALSE(ok->wants(event("pipeline_updated", 4)));
  for (const char* bad :
       {R"({"type":"subscribe","kinds":"job_updated"})", R"({"type":"subscribe","kinds":[1]})",
        R"({"type":"subscribe","job":[1.5]})", R"({"type":"subscribe","colour":[]})",
        R"({"type":"subscribe","kinds":["job_log"]})"}) {
    EXPECT_FALSE(subscription_from_json(json::parse(bad).as_object())) << bad;
  }
}

TEST(EventHub, SerialisesOnceAndQueuesForMatchingClients) {
  boost::asio::io_context io;
  EventBus bus;
  EventHub hub(io.get_executor(), bus, nullptr, {});
  auto jobs = hub.connect(*subscription_from_query(query({{"kinds", "job_updated"}})), {}, "sse");
  auto files = hub.connect(*subscription_from_query(query({{"kinds", "file_updated"}})), {}, "sse");
  bus.publish(event("job_updated", 1));
  bus.publish(event("file_updated", 2));
  auto a = jobs->pop();
  auto b = files->pop();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(jobs->pop(), nullptr);
  EXPECT_EQ(a->seq, 1u);
  EXPECT_EQ(b->seq, 2u);
  json::object e = json::parse(a->json).as_object();
  EXPECT_EQ(e.at("kind").as_string(), "job_updated");
  EXPECT_EQ(e.at("id").as_int64(), 1);
  EXPECT_EQ(e.at("seq").to_number<int>(), 1);
  EXPECT_EQ(e.at("time").as_string().size(), std::string("2026-11-24T21:50:12.123456Z").size());
  EXPECT_EQ(hub.client_count(), 2u);
  files.reset();
  EXPECT_EQ(hub.client_count(), 1u);
}

TEST(EventHub, AnOverflowingClientIsDroppedAndItsBacklogFreed) {
  boost::asio::io_context io;
  EventBus bus;
  EventLimits limits;
  limits.queue_events = 5;
  EventHub hub(io.get_executor(), bus, nullptr, limits);
  auto slow = hub.connect(*subscription_from_query({}), {}, "websocket");
  auto fast = hub.connect(*subscription_from_query({}), {}, "websocket");
  for (int i = 0; i < 5; ++i) {
    bus.publish(event("job_updated", i + 1));
    ASSERT_TRUE(fast->pop());
  }
  EXPECT_FALSE(slow->overflowed());
  bus.publish(event("job_updated", 9));
  EXPECT_TRUE(slow->overflowed());
  EXPECT_EQ(slow->pop(), nullptr);  // freed, not kept
  EXPECT_FALSE(fast->overflowed());
  EXPECT_TRUE(fast->pop());
  EXPECT_EQ(hub.stats().at("dropped_slow").to_number<int>(), 1);
}

TEST(EventHub, ByteLimitCountsToo) {
  boost::asio::io_context io;
  EventBus bus;
  EventLimits limits;
  limits.queue_bytes = 1000;
  EventHub hub(io.get_executor(), bus, nullptr, limits);
  auto c = hub.connect(*subscription_from_query({}), {}, "sse");
  Event big = event("job_updated", 1);
  big.data["progress_label"] = std::string(2000, 'x');
  bus.publish(big);
  EXPECT_TRUE(c->overflowed());
}

TEST(SanitizeUtf8, ReplacesInvalidSequencesOnly) {
  EXPECT_EQ(sanitize_utf8("plain"), "plain");
  EXPECT_EQ(sanitize_utf8("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitize_utf8("x\xE2\x82"), "x\xEF\xBF\xBD\xEF\xBF\xBD");                // truncated
}

}  // namespace
}  // namespace pirus::api
