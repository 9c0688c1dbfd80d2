// The parts of the HTTP server without sockets: routing, target parsing, Range parsing,
// Content-Disposition and the Response helpers.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <stdexcept>

#include "http/http_internal.hpp"
#include "http/http_server.hpp"

namespace pirus::http {
namespace {

Handler noop() {
  return [](Request&) -> asio::awaitable<Response> { co_return Response::text(200, "ok"); };
}

std::vector<std::string> segments_of(const std::string& target) {
  std::vector<std::string> segments;
  std::string path;
  std::multimap<std::string, std::string> query;
  EXPECT_TRUE(parse_target(target, segments, path, query)) << target;
  return segments;
}

TEST(UrlDecode, DecodesPercentEscapesAndKeepsStrayPercents) {
  EXPECT_EQ(url_decode("a%20b"), "a b");
  EXPECT_EQ(url_decode("%2Fx%2f"), "/x/");
  EXPECT_EQ(url_decode("100%"), "100%");
  EXPECT_EQ(url_decode("%zz"), "%zz");
  EXPECT_EQ(url_decode("a+b"), "a+b");
  EXPECT_EQ(url_decode("%C3%A9"), "\xC3\xA9");
}

TEST(ParseTarget, SplitsDecodedSegmentsPathAndRepeatedQueryKeys) {
  std::vector<std::string> segments;
  std::string path;
  std::multimap<std::string, std::string> query;
  ASSERT_TRUE(parse_target("/files/a%2Fb/x%20y?tag=a&tag=b+c&empty&q=%26", segments, path, query));
  EXPECT_EQ(segments, (std::vector<std::string>{"files", "a/b", "x y"}));
  EXPECT_EQ(path, "/files/a/b/x y");
  ASSERT_EQ(query.count("tag"), 2u);
  auto range = query.equal_range("tag");
  EXPECT_EQ(range.first->second, "a");
  EXPECT_EQ(std::next(range.first)->second, "b c");
  EXPECT_EQ(query.find("empty")->second, "");
  EXPECT_EQ(query.find("q")->second, "&");
}

TEST(ParseTarget, RejectsAbsoluteFormAndEncodedNul) {
  std::vector<std::string> segments;
  std::string path;
  std::multimap<std::string, std::string> query;
  EXPECT_FALSE(parse_target("http://host/x", segments, path, query));
  EXPECT_FALSE(parse_target("*", segments, path, query));
  EXPECT_FALSE(parse_target("/a%00b", segments, path, query));
}

TEST(Router, ExtractsParametersFromOneSegmentEach) {
  Router r;
  r.add({"GET", "/api/v1/jobs/{id}/logs/{stream}", BodyKind::kNone, noop()});
  auto m = r.match("GET", segments_of("/api/v1/jobs/42/logs/std%20err"));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("id"), "42");
  EXPECT_EQ(m.params.at("stream"), "std err");
  EXPECT_EQ(r.match("GET", segments_of("/api/v1/jobs//logs/out")).route, nullptr);
  EXPECT_EQ(r.match("GET", segments_of("/api/v1/jobs/4/2/logs/out")).route, nullptr);
}

TEST(Router, LiteralSegmentWinsOverParameterWhateverTheOrderOfAdding) {
  Router r;
  r.add({"GET", "/api/v1/pipelines/{id}", BodyKind::kNone, noop()});
  r.add({"GET", "/api/v1/pipelines/install", BodyKind::kNone, noop()});
  auto m = r.match("GET", segments_of("/api/v1/pipelines/install"));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/pipelines/install");
  EXPECT_TRUE(m.params.empty());
  m = r.match("GET", segments_of("/api/v1/pipelines/7"));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/pipelines/{id}");
}

TEST(Router, ReportsAllowedMethodsWhenOnlyTheMethodDiffers) {
  Router r;
  r.add({"GET", "/jobs/{id}", BodyKind::kNone, noop()});
  r.add({"DELETE", "/jobs/{id}", BodyKind::kNone, noop()});
  auto m = r.match("PUT", segments_of("/jobs/3"));
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_matched);
  EXPECT_EQ(m.allow, "DELETE, GET, HEAD, OPTIONS");
  m = r.match("GET", segments_of("/nothing"));
  EXPECT_FALSE(m.path_matched);
}

TEST(Router, FallbackRouteTakesOnlyPathsNoOrdinaryRouteHas) {
  Router r;
  r.add({"GET", "/{path...}", BodyKind::kNone, noop()});
  r.add({"GET", "/api/v1/jobs/{id}", BodyKind::kNone, noop()});
  r.add({"POST", "/api/v1/jobs", BodyKind::kNone, noop()});

  auto m = r.match("GET", segments_of("/"));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/{path...}");
  EXPECT_EQ(m.params.at("path"), "");
  m = r.match("HEAD", segments_of("/jobs/12/logs"));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("path"), "jobs/12/logs");
  // An ordinary route keeps the path, with its own methods (405, not the fallback).
  m = r.match("GET", segments_of("/api/v1/jobs/3"));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/jobs/{id}");
  m = r.match("GET", segments_of("/api/v1/jobs"));
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "OPTIONS, POST");
  // Another method on a fallback path is no route at all.
  m = r.match("POST", segments_of("/index.html"));
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_matched);
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  r.add({"GET", "/files/{id}/content", BodyKind::kNone, noop()});
  auto m = r.match("HEAD", segments_of("/files/1/content"));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
}

TEST(Router, RejectsMalformedPatterns) {
  Router r;
  EXPECT_THROW(r.add({"GET", "jobs", BodyKind::kNone, noop()}), std::invalid_argument);
  EXPECT_THROW(r.add({"GET", "/jobs/{}", BodyKind::kNone, noop()}), std::invalid_argument);
}

TEST(ParseRange, AcceptsTheThreeSingleRangeForms) {
  ByteRange r;
  ASSERT_EQ(parse_range("bytes=2-5", 10, r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 2u);
  EXPECT_EQ(r.last, 5u);
  ASSERT_EQ(parse_range("bytes=7-", 10, r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 7u);
  EXPECT_EQ(r.last, 9u);
  ASSERT_EQ(parse_range("bytes=-3", 10, r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 7u);
  EXPECT_EQ(r.last, 9u);
  ASSERT_EQ(parse_range("bytes=-30", 10, r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 0u);
  ASSERT_EQ(parse_range("bytes=5-99999999999999999999999", 10, r), RangeKind::kPartial);
  EXPECT_EQ(r.last, 9u);
}

TEST(ParseRange, TellsUnsatisfiableFromIgnorable) {
  ByteRange r;
  EXPECT_EQ(parse_range("bytes=10-", 10, r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 10, r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0, r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-1,4-5", 10, r), RangeKind::kFull);
  EXPECT_EQ(parse_range("items=0-1", 10, r), RangeKind::kFull);
  EXPECT_EQ(parse_range("bytes=5-2", 10, r), RangeKind::kFull);
  EXPECT_EQ(parse_range("bytes=x-2", 10, r), RangeKind::kFull);
}

TEST(ContentDisposition, GivesAsciiFallbackAndRfc5987Name) {
  EXPECT_EQ(content_disposition("report.txt"),
            "attachment; filename=\"report.txt\"; filename*=UTF-8''report.txt");
  EXPECT_EQ(content_disposition("r\xC3\xA9sum\xC3\xA9 \"1\".txt"),
            "attachment; filename=\"r__sum__ _1_.txt\"; "
            "filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.txt");
}

TEST(Response, ProblemIsRfc9457Json) {
  Response r = Response::problem(409, "Conflict", "job 12 is done");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.headers.at("Content-Type"), "application/problem+json");
  auto v = boost::json::parse(r.body).as_object();
  EXPECT_EQ(v.at("type").as_string(), "about:blank");
  EXPECT_EQ(v.at("title").as_string(), "Conflict");
  EXPECT_EQ(v.at("status").as_int64(), 409);
  EXPECT_EQ(v.at("detail").as_string(), "job 12 is done");
}

TEST(Response, FromStatusMapsEachCode) {
  EXPECT_EQ(Response::from_status(Status::invalid("x")).status, 400);
  EXPECT_EQ(Response::from_status(Status::not_found("x")).status, 404);
  EXPECT_EQ(Response::from_status(Status::conflict("x")).status, 409);
  EXPECT_EQ(Response::from_status(Status::too_large("x")).status, 413);
  EXPECT_EQ(Response::from_status(Status::unavailable("x")).status, 503);
  EXPECT_EQ(Response::from_status(Status::internal("x")).status, 500);
  Response r = Response::from_status(Status::not_found("no job 4"));
  auto v = boost::json::parse(r.body).as_object();
  EXPECT_EQ(v.at("title").as_string(), "Not Found");
  EXPECT_EQ(v.at("detail").as_string(), "no job 4");
}

TEST(Response, JsonAndTextSetTheirContentTypes) {
  Response j = Response::json(201, boost::json::object{{"id", 3}});
  EXPECT_EQ(j.status, 201);
  EXPECT_EQ(j.headers.at("Content-Type"), "application/json");
  EXPECT_EQ(j.body, "{\"id\":3}");
  Response t = Response::text(200, "hi");
  EXPECT_EQ(t.headers.at("Content-Type"), "text/plain");
}

TEST(Request, QueryParamReturnsTheFirstValueGiven) {
  Request req;
  req.query.emplace("tag", "b");
  req.query.emplace("tag", "a");
  EXPECT_EQ(req.query_param("tag"), "b");
  EXPECT_EQ(req.query_param("nope"), std::nullopt);
  req.headers["x-a"] = "1";
  EXPECT_EQ(req.header("x-a"), "1");
}

}  // namespace
}  // namespace pirus::http
