// Reference databases against a real server and dockerd: added from archives and from
// server directories, listed, refused when hostile (with nothing left behind), mounted
// read-only into jobs, resolved and validated by forms, and removed.

#include <filesystem>

#include "dataflow_fixture.hpp"

namespace pirus::testing {
namespace {

namespace fs = std::filesystem;

class DatabasesTest : public DataflowTest {
 protected:
  void SetUp() override {
    fs::create_directories(import_root());
    ServerOptions options;
    options.sets = {"databases.import_root=" + import_root()};
    start_server(options);
  }
  std::string import_root() const { return dir_ / "import"; }
  std::string databases_dir() const { return servers_.back()->data_dir() + "/databases"; }

  // A tar.gz of `files` (relative path -> content) under a top folder `top`.
  std::string make_targz(const std::string& name, const std::string& top,
                         const std::vector<std::pair<std::string, std::string>>& files) {
    const std::string src = dir_ / ("src-" + name);
    for (const auto& [path, content] : files) write_file(src + "/" + top + "/" + path, content);
    const std::string out = dir_ / (name + ".tar.gz");
    EXPECT_EQ(run_command("tar -C " + shell_quote(src) + " -czf " + shell_quote(out) + " " +
                          shell_quote(top)),
              0);
    return out;
  }

  cli::HttpResult upload_db(const std::string& name, const std::string& archive) {
    auto r = client().upload("/api/v1/databases?name=" + name, archive, "application/gzip");
    if (!r) throw std::runtime_error(r.status().to_string());
    return *r;
  }

  // Every entry of databases/, hidden ones included.
  std::vector<std::string> on_disk() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(databases_dir())) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> listed() {
    std::vector<std::string> names;
    json::object page = api_object(client(), "/api/v1/databases");
    for (const auto& db : page.at("items").as_array()) {
      names.push_back(str_of(db, "name"));
    }
    return names;
  }
};

TEST_F(DatabasesTest, AddFromArchiveAndDirectoryListShowAndRemove) {
  auto r = upload_db(
      "hg19", make_targz("hg19", "hg19",
                         {{"genome.fa", ">chr1\nACGT\n"}, {"index/genome.fai", "chr1\t4\n"}}));
  ASSERT_EQ(r.status, 201) << r.body;
  json::value db = json::parse(r.body);
  EXPECT_EQ(str_of(db, "name"), "hg19");
  EXPECT_EQ(db.at("file_count").as_int64(), 2);
  EXPECT_EQ(db.at("size").as_int64(), 11 + 7);
  EXPECT_FALSE(str_of(db, "created_at").empty());
  EXPECT_EQ(read_file(databases_dir() + "/hg19/genome.fa"), ">chr1\nACGT\n");

  write_file(import_root() + "/hg38/chr/chr2.fa", ">chr2\nGG\n");
  json::value body = json::object{{"name", "hg38"}, {"path", import_root() + "/hg38"}};
  auto copied = api_request(client(), "POST", "/api/v1/databases/import", json::serialize(body));
  ASSERT_EQ(copied.status, 201) << copied.body;
  EXPECT_EQ(json::parse(copied.body).at("file_count").as_int64(), 1);
  EXPECT_EQ(read_file(databases_dir() + "/hg38/chr/chr2.fa"), ">chr2\nGG\n");
  // A copy, not a link: the source may change or go without touching the database.
  fs::remove_all(import_root() + "/hg38");
  EXPECT_EQ(read_file(databases_dir() + "/hg38/chr/chr2.fa"), ">chr2\nGG\n");

  EXPECT_EQ(listed(), (std::vector<std::string>{"hg19", "hg38"}));
  json::object one = api_object(client(), "/api/v1/databases/hg38");
  EXPECT_EQ(one.at("size").as_int64(), 9);

  // Taken names, bad names, paths outside the import root.
  EXPECT_EQ(upload_db("hg19", make_targz("again", "x", {{"a", "b"}})).status, 409);
  for (const char* bad : {"HG19", "-x", ".hidden", "a/b", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(
        upload_db(bad, make_targz(std::string("bad") + std::to_string(bad[0]), "x", {{"a", "b"}}))
            .status,
        400);
  }
  body = json::object{{"name", "etc"}, {"path", "/etc"}};
  auto outside = api_request(client(), "POST", "/api/v1/databases/import", json::serialize(body));
  EXPECT_EQ(outside.status, 400) << outside.body;
  EXPECT_NE(outside.body.find("import_root"), std::string::npos);
  write_file(dir_ / "import/sneaky/x", "x");
  fs::create_symlink("/etc", import_root() + "/sneaky/etc");
  body = json::object{{"name", "sneaky"}, {"path", import_root() + "/sneaky"}};
  auto linked = api_request(client(), "POST", "/api/v1/databases/import", json::serialize(body));
  EXPECT_EQ(linked.status, 400) << linked.body;
  EXPECT_NE(linked.body.find("symbolic link"), std::string::npos) << linked.body;

  EXPECT_EQ(api_request(client(), "DELETE", "/api/v1/databases/hg19").status, 204);
  EXPECT_EQ(api_request(client(), "GET", "/api/v1/databases/hg19").status, 404);
  EXPECT_EQ(api_request(client(), "DELETE", "/api/v1/databases/hg19").status, 404);
  EXPECT_EQ(listed(), (std::vector<std::string>{"hg38"}));
  EXPECT_EQ(on_disk(), (std::vector<std::string>{"hg38"}));
}

TEST_F(DatabasesTest, HostileArchivesAreRefusedWithNothingLeftBehind) {
  const std::string slip = dir_ / "slip.zip";
  write_zip(slip, {{"ok.txt", "fine"}, {"../../evil.txt", "escaped"}});
  const std::string link = dir_ / "link.zip";
  write_zip(link, {{"ok.txt", "fine"}, {"passwd", "/etc/passwd", 0120777}});
  // A tar with a symlink, made by tar itself.
  const std::string tsrc = dir_ / "tlink";
  write_file(tsrc + "/ref/a.fa", "A");
  fs::create_symlink("/etc/shadow", tsrc + "/ref/shadow");
  const std::string tlink = dir_ / "tlink.tar.gz";
  ASSERT_EQ(run_command("tar -C " + shell_quote(tsrc) + " -czf " + shell_quote(tlink) + " ref"), 0);
  // 64 MiB of zeros compress about 1000:1: beyond the 100:1 ratio.
  const std::string bsrc = dir_ / "bomb";
  fs::create_directories(bsrc);
  ASSERT_EQ(run_command("head -c 67108864 /dev/zero > " + shell_quote(bsrc + "/zeros")), 0);
  const std::string bomb = dir_ / "bomb.tar.gz";
  ASSERT_EQ(run_command("tar -C " + shell_quote(bsrc) + " -czf " + shell_quote(bomb) + " zeros"),
            0);
  const std::string junk = dir_ / "junk.tar.gz";
  write_file(junk, "this is not an archive");

  for (const auto& [archive, status] : std::vector<std::pair<std::string, long>>{
           {slip, 400}, {link, 400}, {tlink, 400}, {bomb, 413}, {junk, 400}}) {
    SCOPED_TRACE(archive);
    auto r = upload_db("evil", archive);
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(api_request(client(), "GET", "/api/v1/databases/evil").status, 404);
    EXPECT_TRUE(on_disk().empty());
  }
  EXPECT_FALSE(fs::exists(server().data_dir() + "/evil.txt"));
  EXPECT_FALSE(fs::exists(databases_dir() + "/../../evil.txt"));
  EXPECT_TRUE(listed().empty());
}

TEST_F(DatabasesTest, MountedReadOnlyAndValidatedThroughTheForm) {
  ASSERT_EQ(upload_db("refa", make_targz("refa", "refa", {{"genome.fa", ">r\nACGT\n"}})).status,
            201);
  const std::string form = R"({"properties": {
      "ref": {"type": "enum", "enum": "__GENOMES_REFS__", "required": true},
      "sample": {"type": "enum", "enum": ["__INPUTS_FILES__"]}}})";
  std::int64_t pipeline = install_script(
      "useref",
      "ref=$(sed -n 's/.*\"ref\": *\"\\([^\"]*\\)\".*/\\1/p' \"$PIRUS_CONFIG_FILE\")\n"
      "cp \"$PIRUS_DATABASES_DIR/$ref/genome.fa\" \"$PIRUS_OUTPUTS_DIR/copy.fa\"\n"
      "if echo x >> \"$PIRUS_DATABASES_DIR/$ref/genome.fa\"; then echo append-ok; "
      "else echo append-refused; fi > \"$PIRUS_OUTPUTS_DIR/write.txt\"\n"
      "if touch \"$PIRUS_DATABASES_DIR/new\"; then echo create-ok; "
      "else echo create-refused; fi >> \"$PIRUS_OUTPUTS_DIR/write.txt\"\n" +
          std::string(kWaitForGo),
      form);
  const std::string local = dir_ / "reads.fa";
  write_file(local, ">s\nAC\n");
  std::int64_t input = upload(client(), local);

  // The form shows the installed databases; the inputs when the client names them.
  json::object f = api_object(client(), "/api/v1/pipelines/" + std::to_string(pipeline) + "/form");
  auto& props = f.at("properties").as_object();
  EXPECT_EQ(json::serialize(props.at("ref").at("enum")), R"(["refa"])");
  EXPECT_EQ(str_of(props.at("ref"), "enum_placeholder"), "__GENOMES_REFS__");
  EXPECT_EQ(str_of(props.at("sample"), "enum"), "__INPUTS_FILES__");
  f = api_object(client(), "/api/v1/pipelines/" + std::to_string(pipeline) +
                               "/form?inputs=" + std::to_string(input));
  EXPECT_EQ(json::serialize(f.at("properties").at("sample").at("enum")), R"(["reads.fa"])");
  EXPECT_EQ(api_request(client(), "GET",
                        "/api/v1/pipelines/" + std::to_string(pipeline) + "/form?inputs=999")
                .status,
            400);

  // Values outside the real lists: 400 naming the field.
  auto bad = client().request(
      "POST", "/api/v1/jobs",
      json::serialize(json::object{{"pipeline_id", pipeline},
                                   {"inputs", json::array{input}},
                                   {"parameters", {{"ref", "hg99"}, {"sample", "reads.fa"}}}}));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("ref: must be one of the reference genomes"), std::string::npos)
      << bad->body;
  bad = client().request(
      "POST", "/api/v1/jobs",
      json::serialize(json::object{{"pipeline_id", pipeline},
                                   {"inputs", json::array{input}},
                                   {"parameters", {{"ref", "refa"}, {"sample", "other.fa"}}}}));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("sample: must be the name of one of the job's input files"),
            std::string::npos)
      << bad->body;

  std::int64_t id =
      id_of(start_job(pipeline, {{"ref", "refa"}, {"sample", "reads.fa"}}, json::array{input}));
  wait_job(client(), id, {"running"});
  // A running job names it: it cannot be removed now.
  auto busy = api_request(client(), "DELETE", "/api/v1/databases/refa");
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_NE(busy.body.find("job " + std::to_string(id)), std::string::npos) << busy.body;
  release(id);
  wait_job(client(), id, {"done"});

  std::map<std::string, std::string> outputs;
  for (const auto& o : job_outputs(client(), id)) {
    outputs[str_of(o, "name")] =
        api_request(client(), "GET", "/api/v1/files/" + std::to_string(id_of(o)) + "/content").body;
  }
  EXPECT_EQ(outputs["copy.fa"], ">r\nACGT\n");
  EXPECT_EQ(outputs["write.txt"], "append-refused\ncreate-refused\n");
  EXPECT_EQ(read_file(databases_dir() + "/refa/genome.fa"), ">r\nACGT\n");

  EXPECT_EQ(api_request(client(), "DELETE", "/api/v1/databases/refa").status, 204);
  bad = client().request("POST", "/api/v1/jobs",
                         json::serialize(json::object{{"pipeline_id", pipeline},
                                                      {"inputs", json::array{input}},
                                                      {"parameters", {{"ref", "refa"}}}}));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
}

TEST_F(DatabasesTest, DatabaseCommands) {
  const std::string cli = std::string(PIRUS_BINARY) + " --server " + server().url() + " ";
  std::string out;
  const std::string archive = make_targz("cli", "mm10", {{"a.fa", ">a\nA\n"}});
  ASSERT_EQ(run_command(cli + "database add mm10 " + shell_quote(archive) + " 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("added reference database mm10 (1 files"), std::string::npos) << out;
  write_file(import_root() + "/rn6/b.fa", ">b\nC\n");
  ASSERT_EQ(
      run_command(cli + "database add rn6 --path " + shell_quote(import_root() + "/rn6") + " 2>&1",
                  &out),
      0)
      << out;
  ASSERT_EQ(run_command(cli + "database list 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("NAME"), std::string::npos) << out;
  EXPECT_NE(out.find("mm10"), std::string::npos) << out;
  EXPECT_NE(out.find("rn6"), std::string::npos) << out;
  ASSERT_EQ(run_command(cli + "--json database list", &out), 0) << out;
  EXPECT_EQ(json::parse(out).at("items").as_array().size(), 2u);
  EXPECT_EQ(run_command(cli + "database add mm10 " + shell_quote(archive) + " 2>&1", &out), 1);
  EXPECT_NE(out.find("error: a reference database named 'mm10' already exists"), std::string::npos)
      << out;
  EXPECT_NE(run_command(cli + "database add x 2>&1", &out), 0);
  EXPECT_NE(out.find("either an archive"), std::string::npos) << out;
  ASSERT_EQ(run_command(cli + "database rm mm10 2>&1", &out), 0) << out;
  EXPECT_NE(run_command(cli + "database rm mm10 2>&1", &out), 0);
  EXPECT_NE(out.find("no reference database named 'mm10'"), std::string::npos) << out;
  EXPECT_EQ(listed(), (std::vector<std::string>{"rn6"}));
}

}  // namespace
}  // namespace pirus::testing
