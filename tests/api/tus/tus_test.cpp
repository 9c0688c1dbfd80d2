// TUS 1.0.0 resumable uploads against a real `pirus server`: the protocol (creation,
// chunks, offsets, checksums, termination, expiry, restart), hostile requests, the CLI's
// resume after being killed, companions in a real job's workspace, and a 2 GB upload whose
// server memory stays flat.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/sha256.hpp"
#include "support/server_process.hpp"

namespace pirus::testing {
namespace {

namespace fs = std::filesystem;

const std::string kTus = "Tus-Resumable: 1.0.0";
const std::string kOctets = "Content-Type: application/offset+octet-stream";

std::string random_bytes(std::size_t n, unsigned seed = 7) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

std::string b64(const std::string& s) {
  return base64_encode(s);
}

std::string chunk_checksum(const std::string& data) {
  Sha256 sha;
  sha.update(data.data(), data.size());
  return "Upload-Checksum: sha256 " + b64(sha.digest());
}

// VmHWM (peak resident set) of a process, in kB.
std::int64_t peak_rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

class TusTest : public ServerTest {
 protected:
  std::string url(const std::string& path) { return server().url() + path; }

  // POST /api/v1/uploads; returns the reply.
  RawReply create(std::int64_t length, const std::string& name = "data.bin",
                  const std::string& extra_metadata = "") {
    std::string meta = "filename " + b64(name);
    if (!extra_metadata.empty()) meta += "," + extra_metadata;
    return raw_request(
        "POST", url("/api/v1/uploads"),
        {kTus, "Upload-Length: " + std::to_string(length), "Upload-Metadata: " + meta});
  }

  // Creates an upload that must succeed; returns its Location path.
  std::string create_ok(std::int64_t length, const std::string& name = "data.bin",
                        const std::string& extra_metadata = "") {
    RawReply r = create(length, name, extra_metadata);
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.headers["tus-resumable"], "1.0.0");
    return r.headers["location"];
  }

  RawReply patch(const std::string& location, std::int64_t offset, const std::string& data,
                 std::vector<std::string> extra = {}) {
    extra.push_back(kTus);
    extra.push_back(kOctets);
    extra.push_back("Upload-Offset: " + std::to_string(offset));
    return raw_request("PATCH", url(location), extra, data);
  }

  RawReply head(const std::string& location) { return raw_request("HEAD", url(location), {kTus}); }

  std::int64_t offset_of(const std::string& location) {
    RawReply r = head(location);
    EXPECT_EQ(r.status, 200);
    return std::stoll(r.headers["upload-offset"]);
  }

  json::object file_of(const std::string& location) {
    return api_object(client(), "/api/v1/files/" + location.substr(location.rfind('/') + 1));
  }

  std::string upload_dir(const std::string& location) {
    return server().data_dir() + "/files/" + location.substr(location.rfind('/') + 1);
  }
};

TEST_F(TusTest, OptionsAdvertisesTheProtocol) {
  start_server({.sets = {"limits.max_upload_size=5M"}, .wait_for_engine = false});
  RawReply r = raw_request("OPTIONS", url("/api/v1/uploads"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers["tus-resumable"], "1.0.0");
  EXPECT_EQ(r.headers["tus-version"], "1.0.0");
  EXPECT_EQ(r.headers["tus-extension"], "creation,termination,checksum,expiration");
  EXPECT_EQ(r.headers["tus-max-size"], std::to_string(5 << 20));
  EXPECT_EQ(r.headers["tus-checksum-algorithm"], "sha256");
}

TEST_F(TusTest, UploadInChunksBecomesANormalFile) {
  start_server({.wait_for_engine = false});
  const std::string data = random_bytes(3 * 100000 + 17);
  const std::string loc = create_ok(static_cast<std::int64_t>(data.size()), "reads.fq");
  ASSERT_EQ(loc.rfind("/api/v1/uploads/", 0), 0u) << loc;
  EXPECT_EQ(offset_of(loc), 0);
  RawReply h = head(loc);
  EXPECT_EQ(h.headers["cache-control"], "no-store");
  EXPECT_EQ(h.headers["upload-length"], std::to_string(data.size()));
  EXPECT_FALSE(h.headers["upload-expires"].empty());

  std::int64_t offset = 0;
  for (std::size_t pos = 0; pos < data.size(); pos += 100000) {
    const std::string piece = data.substr(pos, 100000);
    RawReply r = patch(loc, offset, piece, {chunk_checksum(piece)});
    ASSERT_EQ(r.status, 204) << r.body;
    offset += static_cast<std::int64_t>(piece.size());
    EXPECT_EQ(r.headers["upload-offset"], std::to_string(offset));
    EXPECT_EQ(offset_of(loc), offset);
    if (offset < static_cast<std::int64_t>(data.size())) {
      EXPECT_EQ(str_of(file_of(loc), "status"), "uploading");
    }
  }
  json::object f = file_of(loc);
  EXPECT_EQ(str_of(f, "status"), "uploaded");
  EXPECT_EQ(str_of(f, "name"), "reads.fq");
  EXPECT_EQ(str_of(f, "sha256"), sha256_of(data));
  auto content =
      api_request(client(), "GET", "/api/v1/files/" + std::to_string(id_of(f)) + "/content");
  EXPECT_EQ(content.body, data);
  // Listed like any other file, and the stored copy is readable by the job user.
  json::object page = api_object(client(), "/api/v1/files?status=uploaded");
  EXPECT_EQ(page.at("items").as_array().size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat((upload_dir(loc) + "/reads.fq").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(TusTest, DownloadOfAnUploadHonoursRanges) {
  start_server({.wait_for_engine = false});
  const std::string data = random_bytes(1000);
  const std::string loc = create_ok(1000);
  ASSERT_EQ(patch(loc, 0, data).status, 204);
  const std::string content =
      url("/api/v1/files/" + std::to_string(id_of(file_of(loc))) + "/content");
  RawReply part = raw_request("GET", content, {"Range: bytes=100-199"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, data.substr(100, 100));
  EXPECT_EQ(part.headers["content-range"], "bytes 100-199/1000");
  RawReply suffix = raw_request("GET", content, {"Range: bytes=-10"});
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.body, data.substr(990));
  RawReply beyond = raw_request("GET", content, {"Range: bytes=1000-"});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.headers["content-range"], "bytes */1000");
}

TEST_F(TusTest, WholeFileChecksumMarksCheckedOrDiscards) {
  start_server({.wait_for_engine = false});
  const std::string data = random_bytes(5000);
  const std::string good = create_ok(5000, "good.bin", "sha256 " + b64(sha256_of(data)));
  ASSERT_EQ(patch(good, 0, data).status, 204);
  EXPECT_EQ(str_of(file_of(good), "status"), "checked");

  const std::string bad = create_ok(5000, "bad.bin", "sha256 " + b64(std::string(64, 'a')));
  ASSERT_EQ(patch(bad, 0, data.substr(0, 3000)).status, 204);
  RawReply last = patch(bad, 3000, data.substr(3000));
  EXPECT_EQ(last.status, 400) << last.body;
  EXPECT_NE(last.body.find("checksum mismatch"), std::string::npos) << last.body;
  json::object f = file_of(bad);
  EXPECT_EQ(str_of(f, "status"), "error");
  EXPECT_NE(str_of(f, "error_reason").find("checksum mismatch"), std::string::npos);
  EXPECT_FALSE(fs::exists(upload_dir(bad) + "/bad.bin"));
  EXPECT_EQ(head(bad).status, 404);
  EXPECT_EQ(
      api_request(client(), "GET", "/api/v1/files/" + std::to_string(id_of(f)) + "/content").status,
      409);
}

TEST_F(TusTest, WrongOffsetIsAConflict) {
  start_server({.wait_for_engine = false});
  const std::string loc = create_ok(100);
  EXPECT_EQ(patch(loc, 10, std::string(10, 'x')).status, 409);
  ASSERT_EQ(patch(loc, 0, std::string(40, 'x')).status, 204);
  RawReply again = patch(loc, 0, std::string(10, 'x'));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(offset_of(loc), 40);
}

TEST_F(TusTest, OversizeIsRefused) {
  start_server({.sets = {"limits.max_upload_size=1M"}, .wait_for_engine = false});
  RawReply r = create((1 << 20) + 1);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.headers["tus-resumable"], "1.0.0");
  EXPECT_EQ(create(1 << 20).status, 201);
}

TEST_F(TusTest, BadChunkChecksumDiscardsTheChunk) {
  start_server({.wait_for_engine = false});
  const std::string loc = create_ok(200);
  ASSERT_EQ(patch(loc, 0, std::string(50, 'a'), {chunk_checksum(std::string(50, 'a'))}).status,
            204);
  RawReply r = patch(loc, 50, std::string(50, 'b'), {chunk_checksum(std::string(50, 'c'))});
  EXPECT_EQ(r.status, 460) << r.body;
  EXPECT_EQ(offset_of(loc), 50);
  EXPECT_EQ(fs::file_size(upload_dir(loc) + "/data.bin"), 50u);
  // Unknown algorithm, and a digest that is not base64 of 32 bytes.
  EXPECT_EQ(patch(loc, 50, "x", {"Upload-Checksum: md5 " + b64("0123456789abcdef")}).status, 400);
  EXPECT_EQ(patch(loc, 50, "x", {"Upload-Checksum: sha256 ***"}).status, 400);
  EXPECT_EQ(patch(loc, 50, "x", {"Upload-Checksum: sha256 " + b64("short")}).status, 400);
  EXPECT_EQ(offset_of(loc), 50);
}

TEST_F(TusTest, TerminateRemovesTheUploadAndItsData) {
  start_server({.wait_for_engine = false});
  const std::string loc = create_ok(100);
  ASSERT_EQ(patch(loc, 0, std::string(30, 'x')).status, 204);
  ASSERT_TRUE(fs::exists(upload_dir(loc)));
  RawReply r = raw_request("DELETE", url(loc), {kTus});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(head(loc).status, 404);
  EXPECT_EQ(patch(loc, 30, "x").status, 404);
  EXPECT_FALSE(fs::exists(upload_dir(loc)));
  EXPECT_EQ(raw_request("DELETE", url(loc), {kTus}).status, 404);
}

TEST_F(TusTest, ZeroByteUploadCompletesAtOnce) {
  start_server({.wait_for_engine = false});
  RawReply r = create(0, "empty.txt");
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.headers["upload-offset"], "0");
  json::object f = file_of(r.headers["location"]);
  EXPECT_EQ(str_of(f, "status"), "uploaded");
  EXPECT_EQ(str_of(f, "sha256"), sha256_of(""));
  EXPECT_EQ(
      api_request(client(), "GET", "/api/v1/files/" + std::to_string(id_of(f)) + "/content").body,
      "");
  RawReply h = head(r.headers["location"]);
  EXPECT_EQ(h.headers["upload-offset"], "0");
  EXPECT_EQ(h.headers["upload-length"], "0");
}

TEST_F(TusTest, ExpiredUploadsAreSwept) {
  start_server({.sets = {"limits.upload_expiry=2s"}, .wait_for_engine = false});
  const std::string loc = create_ok(100);
  ASSERT_EQ(patch(loc, 0, std::string(10, 'x')).status, 204);
  const std::string done = create_ok(5);
  ASSERT_EQ(patch(done, 0, "hello").status, 204);
  const std::string dir = upload_dir(loc);
  ASSERT_TRUE(fs::exists(dir));
  EXPECT_TRUE(poll_until([&] { return !fs::exists(dir); }, 10s)) << "the sweep never ran";
  EXPECT_EQ(head(loc).status, 404);
  auto row = api_request(client(), "GET", "/api/v1/files/" + loc.substr(loc.rfind('/') + 1));
  EXPECT_EQ(row.status, 404);
  // A completed upload never expires.
  EXPECT_EQ(str_of(file_of(done), "status"), "uploaded");
}

TEST_F(TusTest, UploadResumesAfterAServerRestart) {
  ServerProcess& first = start_server({.wait_for_engine = false});
  const std::string data = random_bytes(300000, 11);
  const std::string loc = create_ok(300000, "restart.bin");
  ASSERT_EQ(patch(loc, 0, data.substr(0, 120000)).status, 204);
  ASSERT_EQ(first.stop(), 0);
  start_server({.data_dir = first.data_dir(), .wait_for_engine = false});
  EXPECT_EQ(offset_of(loc), 120000);
  ASSERT_EQ(patch(loc, 120000, data.substr(120000)).status, 204);
  json::object f = file_of(loc);
  EXPECT_EQ(str_of(f, "status"), "uploaded");
  EXPECT_EQ(str_of(f, "sha256"), sha256_of(data));
}

// What a crash of the machine leaves: the saved offset is ahead of the bytes on disk.
TEST_F(TusTest, AnUploadResumesFromTheBytesReallyOnDisk) {
  ServerProcess& first = start_server({.wait_for_engine = false});
  const std::string data = random_bytes(200000, 12);
  const std::string loc = create_ok(200000, "crash.bin");
  ASSERT_EQ(patch(loc, 0, data.substr(0, 150000)).status, 204);
  ASSERT_EQ(first.stop(), 0);
  fs::resize_file(upload_dir(loc) + "/crash.bin", 90000);
  start_server({.data_dir = first.data_dir(), .wait_for_engine = false});
  EXPECT_EQ(offset_of(loc), 90000);
  EXPECT_EQ(patch(loc, 150000, data.substr(150000)).status, 409);
  ASSERT_EQ(patch(loc, 90000, data.substr(90000)).status, 204);
  json::object f = file_of(loc);
  EXPECT_EQ(str_of(f, "status"), "uploaded");
  EXPECT_EQ(str_of(f, "sha256"), sha256_of(data));
}

TEST_F(TusTest, HostileRequestsGetProblems) {
  start_server({.wait_for_engine = false});
  // Upload-Length: negative, huge, not a number, signed, missing.
  for (const char* length : {"-1", "99999999999999999999999", "abc", "+5", "1e3", "7 7", ""}) {
    RawReply r = raw_request("POST", url("/api/v1/uploads"),
                             {kTus, std::string("Upload-Length: ") + length});
    EXPECT_EQ(r.status, 400) << "Upload-Length '" << length << "': " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json");
  }
  EXPECT_EQ(raw_request("POST", url("/api/v1/uploads"), {kTus}).status, 400);
  // The version is required, and only 1.0.0 is spoken.
  RawReply no_version = raw_request("POST", url("/api/v1/uploads"), {"Upload-Length: 5"});
  EXPECT_EQ(no_version.status, 412);
  EXPECT_EQ(no_version.headers["tus-version"], "1.0.0");
  EXPECT_EQ(
      raw_request("POST", url("/api/v1/uploads"), {"Tus-Resumable: 0.2.2", "Upload-Length: 5"})
          .status,
      412);
  // Malformed metadata: bad base64, a duplicate key, an empty pair, a bad companion id.
  for (const std::string& meta : std::vector<std::string>{
           "filename ***", "filename YQ", "filename YQ==,filename Yg==", "filename YQ==,,x",
           "companion_of " + b64("-3"), "companion_of " + b64("999")}) {
    RawReply r = raw_request("POST", url("/api/v1/uploads"),
                             {kTus, "Upload-Length: 5", "Upload-Metadata: " + meta});
    EXPECT_EQ(r.status, 400) << meta << ": " << r.body;
  }
  // A file name that tries to leave the upload directory is cut to its last component.
  const std::string loc = create_ok(4, "../../../../etc/passwd");
  json::object f = file_of(loc);
  EXPECT_EQ(str_of(f, "name"), "passwd");
  EXPECT_TRUE(fs::exists(upload_dir(loc) + "/passwd"));
  EXPECT_FALSE(fs::exists(server().data_dir() + "/etc"));

  // Upload-Offset: negative, huge, not a number, missing.
  for (const char* offset : {"-1", "99999999999999999999999", "x1", "+0"}) {
    RawReply r = raw_request("PATCH", url(loc),
                             {kTus, kOctets, std::string("Upload-Offset: ") + offset}, "abcd");
    EXPECT_EQ(r.status, 400) << "Upload-Offset '" << offset << "': " << r.body;
  }
  EXPECT_EQ(raw_request("PATCH", url(loc), {kTus, kOctets}, "abcd").status, 400);
  // Wrong content type.
  EXPECT_EQ(raw_request("PATCH", url(loc),
                        {kTus, "Content-Type: application/octet-stream", "Upload-Offset: 0"}, "ab")
                .status,
            415);
  // Past the declared length: refused, nothing kept.
  RawReply past = patch(loc, 0, "abcdefgh");
  EXPECT_EQ(past.status, 413) << past.body;
  EXPECT_EQ(offset_of(loc), 0);
  // Chunked past the declared length: the same.
  RawReply chunked = patch(loc, 0, "abcdefgh", {"Transfer-Encoding: chunked"});
  EXPECT_EQ(chunked.status, 413) << chunked.body;
  EXPECT_EQ(offset_of(loc), 0);
  EXPECT_EQ(patch(loc, 0, "abcd").status, 204);
  // A complete upload takes no more bytes.
  EXPECT_EQ(patch(loc, 4, "e").status, 409);
  // Unknown uploads.
  EXPECT_EQ(head("/api/v1/uploads/987654").status, 404);
  EXPECT_EQ(patch("/api/v1/uploads/987654", 0, "a").status, 404);
  EXPECT_EQ(patch("/api/v1/uploads/abc", 0, "a").status, 404);
  EXPECT_EQ(patch("/api/v1/uploads/-1", 0, "a").status, 404);
  EXPECT_EQ(raw_request("DELETE", url("/api/v1/uploads/987654"), {kTus}).status, 404);
  // The server is still fine.
  EXPECT_EQ(api_request(client(), "GET", "/api/v1/files").status, 200);
}

// The client goes away in the middle of a PATCH without a checksum: the bytes that reached
// the server count, and HEAD shows them.
TEST_F(TusTest, ClientDisconnectKeepsTheBytesReceived) {
  start_server({.wait_for_engine = false});
  const std::string loc = create_ok(100000);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(server().port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request = "PATCH " + loc +
                              " HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                              "Content-Type: application/offset+octet-stream\r\n"
                              "Upload-Offset: 0\r\nContent-Length: 100000\r\n\r\n" +
                              std::string(30000, 'z');
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  ::close(fd);
  EXPECT_TRUE(poll_until([&] { return offset_of(loc) == 30000; }, 5s)) << offset_of(loc);
  EXPECT_EQ(str_of(file_of(loc), "status"), "uploading");
  // And the upload goes on from there.
  ASSERT_EQ(patch(loc, 30000, std::string(70000, 'y')).status, 204);
  EXPECT_EQ(str_of(file_of(loc), "sha256"),
            sha256_of(std::string(30000, 'z') + std::string(70000, 'y')));
}

TEST_F(TusTest, IndexFilesBecomeCompanionsOfTheirPrimary) {
  start_server({.wait_for_engine = false});
  TempDir dir;
  write_file(dir / "x.bam", "BAM");
  const std::int64_t bam = upload(client(), dir / "x.bam");
  // Automatic: the name is the primary's plus an index suffix.
  const std::string bai = create_ok(3, "x.bam.bai");
  ASSERT_EQ(patch(bai, 0, "BAI").status, 204);
  EXPECT_EQ(file_of(bai).at("companion_of").to_number<std::int64_t>(), bam);
  // Explicit, whatever the name.
  const std::string csi = create_ok(3, "whatever.idx", "companion_of " + b64(std::to_string(bam)));
  ASSERT_EQ(patch(csi, 0, "CSI").status, 204);
  EXPECT_EQ(file_of(csi).at("companion_of").to_number<std::int64_t>(), bam);
  // A name without a matching primary stays alone.
  const std::string lone = create_ok(3, "y.bam.bai");
  ASSERT_EQ(patch(lone, 0, "BAI").status, 204);
  EXPECT_TRUE(file_of(lone).at("companion_of").is_null());
  // The primary lists them.
  json::object primary = api_object(client(), "/api/v1/files/" + std::to_string(bam));
  const json::array& companions = primary.at("companions").as_array();
  ASSERT_EQ(companions.size(), 2u) << json::serialize(primary);
  EXPECT_EQ(str_of(companions[0], "name"), "x.bam.bai");
  EXPECT_EQ(str_of(companions[1], "name"), "whatever.idx");
  // A companion of an unfinished upload is refused.
  const std::string open = create_ok(10, "open.bam");
  RawReply refused = create(3, "z.bai", "companion_of " + b64(open.substr(open.rfind('/') + 1)));
  EXPECT_EQ(refused.status, 400) << refused.body;
}

// A real job: the .bai arrives next to its .bam under the matching name, a clashing second
// x.bam gets the id prefix and so does its index, and the stored originals are untouched.
TEST_F(TusTest, CompanionsArriveNextToTheirPrimaryInAJob) {
  start_server();
  TempDir dir;
  write_file(dir / "x.bam", "BAM-ONE");
  write_file(dir / "x.bam.bai", "BAI-ONE");
  write_file(dir / "x.bai", "BAI-TWO");
  const std::int64_t bam1 = upload(client(), dir / "x.bam");
  // Two indexes for the first x.bam: by the simple POST route, then over TUS.
  const std::int64_t bai1 = upload(client(), dir / "x.bam.bai");
  const std::string bai1_loc = create_ok(7, "x.bam.bai");
  ASSERT_EQ(patch(bai1_loc, 0, "BAI-TUS").status, 204);
  const std::string tus_bai = bai1_loc.substr(bai1_loc.rfind('/') + 1);
  const std::int64_t bam2 = upload(client(), dir / "x.bam");
  const std::string bai2 = create_ok(7, "x.bai", "companion_of " + b64(std::to_string(bam2)));
  ASSERT_EQ(patch(bai2, 0, "BAI-TWO").status, 204);
  EXPECT_EQ(api_object(client(), "/api/v1/files/" + std::to_string(bai1)).at("companion_of"),
            json::value(bam1));

  const std::string script =
      "#!/bin/sh\n"
      "set -e\n"
      "in=$PIRUS_INPUTS_DIR\n"
      "ls \"$in\" > \"$PIRUS_OUTPUTS_DIR/listing.txt\"\n"
      "test -f \"$in/x.bam\" && test -f \"$in/x.bam.bai\"\n"
      "echo companions-ok\n"
      "cat \"$in/x.bam.bai\" \"$in/" +
      std::to_string(bam2) + "_x.bam.bai\"\n";
  const std::string zip = dir / "idx.zip";
  write_zip(zip, {{"manifest.json", R"({"name":"idxcheck","version":"1","command":["/run.sh"]})"},
                  {"Dockerfile",
                   "FROM pirus-base/busybox:1\nCOPY run.sh /run.sh\nRUN chmod 0755 /run.sh\n"},
                  {"run.sh", script, 0100755}});
  const std::int64_t pipeline = install_pipeline(client(), zip);
  const std::int64_t job =
      id_of(create_job(client(), {{"pipeline_id", pipeline}, {"inputs", {bam1, bam2}}}));
  json::object done = wait_job(client(), job, {"done"}, 90s);
  const std::string out = job_log(client(), job, "stdout");
  EXPECT_NE(out.find("companions-ok"), std::string::npos) << out;
  // The first index keeps x.bam.bai, the second clashes and gets its id; bam2 is renamed,
  // and its x.bai follows its new name.
  EXPECT_NE(out.find("BAI-ONEBAI-TWO"), std::string::npos) << out;
  json::array outputs = job_outputs(client(), job);
  ASSERT_EQ(outputs.size(), 1u);
  auto listing = api_request(client(), "GET",
                             "/api/v1/files/" + std::to_string(id_of(outputs[0])) + "/content");
  const std::string b2 = std::to_string(bam2);
  std::vector<std::string> names = {b2 + "_x.bam", b2 + "_x.bam.bai", tus_bai + "_x.bam.bai",
                                    "config.json", "x.bam",           "x.bam.bai"};
  std::sort(names.begin(), names.end());  // as ls lists them
  std::string expected;
  for (const auto& n : names) expected += n + "\n";
  EXPECT_EQ(listing.body, expected);
  // config.json names the companions with their primary.
  const std::string config =
      read_file(server().data_dir() + "/jobs/" + std::to_string(job) + "/inputs/config.json");
  EXPECT_NE(config.find("\"companion_of\": " + std::to_string(bam1)), std::string::npos) << config;
  // The stored originals: still there, still 0644, not moved.
  for (std::int64_t id : {bam1, bam2}) {
    json::object f = api_object(client(), "/api/v1/files/" + std::to_string(id));
    auto content = api_request(client(), "GET", "/api/v1/files/" + std::to_string(id) + "/content");
    EXPECT_EQ(content.body, "BAM-ONE");
    const std::string stored = server().data_dir() + "/files/" + std::to_string(id) + "/x.bam";
    struct stat st {};
    ASSERT_EQ(::stat(stored.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
  }
  (void)done;
}

// The real CLI, SIGKILLed in the middle of an upload, then run again: it resumes the same
// upload (its state file) and the stored file is exactly the local one.
TEST_F(TusTest, CliResumesAfterBeingKilled) {
  start_server({.wait_for_engine = false});
  TempDir home;
  const std::string path = home.path() + "/big.bin";
  {
    // 400 MB, sparse except for random blocks, so the checksum covers real content.
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 50; ++i) {
      out.seekp(static_cast<std::streamoff>(i) * 8000000);
      out << random_bytes(4096, static_cast<unsigned>(i));
    }
  }
  fs::resize_file(path, 400000000);
  const std::string state = home.path() + "/state";
  auto cli = [&]() {
    return "env XDG_STATE_HOME=" + shell_quote(state) + " " + shell_quote(PIRUS_BINARY) +
           " --server " + server().url() + " file upload --chunk-size 8 " + shell_quote(path);
  };

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string cmd = "exec " + cli() + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it once the server holds some of the file, but not all of it.
  std::int64_t seen = 0;
  bool midway = poll_until(
      [&] {
        auto r = client().request("GET", "/api/v1/files/1");
        if (!r || r->status != 200) return false;
        json::value f = json::parse(r->body);
        seen = f.at("upload_offset").to_number<std::int64_t>();
        return seen >= 16 << 20;
      },
      30s, 5ms);
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ASSERT_TRUE(midway) << "the upload never got going";
  ASSERT_TRUE(WIFSIGNALED(wstatus));
  json::object partial = api_object(client(), "/api/v1/files/1");
  ASSERT_EQ(str_of(partial, "status"), "uploading") << "the client finished before the kill";
  const std::int64_t kept = partial.at("upload_offset").to_number<std::int64_t>();
  EXPECT_GT(kept, 0);
  // The state file is private.
  std::vector<fs::path> states;
  for (const auto& e : fs::directory_iterator(state + "/pirus/uploads")) states.push_back(e.path());
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(fs::status(states[0]).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  std::string out;
  int code = run_command(cli() + " 2>&1", &out);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("resuming the upload of big.bin"), std::string::npos) << out;
  json::object f = api_object(client(), "/api/v1/files/1");
  EXPECT_EQ(str_of(f, "status"), "uploaded");
  std::string local;
  ASSERT_EQ(run_command("sha256sum " + shell_quote(path) + " | cut -c1-64", &local), 0);
  EXPECT_EQ(str_of(f, "sha256") + "\n", local);
  // Only one upload was made, and the state file is gone.
  EXPECT_EQ(api_request(client(), "GET", "/api/v1/files/2").status, 404);
  EXPECT_TRUE(fs::is_empty(state + "/pirus/uploads"));
  fs::remove(path);
}

// A 2 GB upload streams to disk: the server's peak RSS hardly moves.
TEST_F(TusTest, TwoGigabyteUploadKeepsServerMemoryFlat) {
  start_server({.wait_for_engine = false});
  TempDir dir;
  const std::string path = dir.path() + "/two.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << random_bytes(1 << 20, 3);
  }
  const std::int64_t size = 2LL << 30;
  fs::resize_file(path, static_cast<std::uintmax_t>(size));
  const std::int64_t before = peak_rss_kb(server().pid());
  ASSERT_GT(before, 0);

  const std::string loc = create_ok(size, "two.bin");
  // One PATCH for all of it, through the same client code as the CLI.
  cli::ApiClient::RangeBody body{path, 0, size, "application/offset+octet-stream"};
  auto r = client().send("PATCH", loc, {kTus, "Upload-Offset: 0"}, &body);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->status, 204) << r->body;
  const std::int64_t after = peak_rss_kb(server().pid());
  json::object f = file_of(loc);
  EXPECT_EQ(str_of(f, "status"), "uploaded");
  EXPECT_EQ(f.at("size").to_number<std::int64_t>(), size);
  std::string local;
  ASSERT_EQ(run_command("sha256sum " + shell_quote(path) + " | cut -c1-64", &local), 0);
  EXPECT_EQ(str_of(f, "sha256") + "\n", local);
  std::cout << "server VmHWM before " << before << " kB, after a 2 GiB upload " << after << " kB\n";
  std::int64_t bound_kb = 64 * 1024;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed blocks in a quarantine (256 MB by default) instead of
  // reusing them, so every small per-read allocation adds to RSS until it is full.
  bound_kb += 256 * 1024;
#endif
  EXPECT_LT(after - before, bound_kb) << "peak RSS grew by " << (after - before) << " kB";
  // Give the disk back.
  api_request(client(), "DELETE", "/api/v1/files/" + std::to_string(id_of(f)));
  fs::remove(path);
}

}  // namespace
}  // namespace pirus::testing
