#include "store/store_transfer.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <istream>
#include <map>
#include <ostream>
#include <variant>
#include <vector>

#include "model/model.hpp"
#include "store/migrations.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace pirus {

namespace {

namespace json = boost::json;

constexpr char kFormat[] = "pirus-db-export";
constexpr int kFormatVersion = 1;

// ----- the schema the document carries (version 4) -----

enum class Type { kInt, kReal, kText };

struct Column {
  const char* name;
  Type type;
  bool nullable = false;
};

struct Table {
  const char* name;
  std::vector<Column> columns;
  bool has_id_sequence = false;
};

constexpr Type I = Type::kInt;
constexpr Type R = Type::kReal;
constexpr Type T = Type::kText;

// In insertion order. The columns that close reference cycles (files -> jobs through
// job_source_id, files -> files through companion_of) are filled in after every row is in.
const std::vector<Table>& tables() {
  static const std::vector<Table> kTables = {
      {"meta", {{"key", T}, {"value", T}}},
      {"files",
       {{"id", I},
        {"name", T},
        {"type", T},
        {"path", T},
        {"size", I},
        {"upload_offset", I},
        {"status", T},
        {"sha256", T},
        {"job_source_id", I, true},
        {"tags", T},
        {"created_at", I},
        {"updated_at", I},
        {"expires_at", I},
        {"expected_sha256", T},
        {"error_reason", T},
        {"companion_of", I, true}},
       true},
      {"pipelines",
       {{"id", I},
        {"name", T},
        {"version", T},
        {"type", T},
        {"engine", T},
        {"status", T},
        {"description", T},
        {"manifest_json", T},
        {"form_json", T},
        {"documents_json", T},
        {"path", T},
        {"image", T},
        {"error_reason", T},
        {"package_file_id", I, true},
        {"created_at", I},
        {"updated_at", I},
        {"installed_at", I}},
       true},
      {"jobs",
       {{"id", I},
        {"pipeline_id", I, true},
        {"name", T},
        {"status", T},
        {"priority", I},
        {"parameters_json", T},
        {"cpus", R},
        {"memory_mb", I},
        {"pids", I},
        {"progress", R},
        {"progress_label", T},
        {"path", T},
        {"container_id", T},
        {"exit_code", I, true},
        {"error_reason", T},
        {"created_at", I},
        {"started_at", I},
        {"ended_at", I},
        {"updated_at", I},
        {"peak_memory_bytes", I},
        {"cpu_seconds", R},
        {"notify_token_sha256", T}},
       true},
      {"job_files", {{"job_id", I}, {"file_id", I}, {"role", T}, {"position", I}}},
  };
  return kTables;
}

constexpr int kSchemaVersion = 4;

bool deferred(const std::string& table, const std::string& column) {
  return table == "files" && (column == "job_source_id" || column == "companion_of");
}

// ----- one connection, either backend, inside one transaction -----

using Value = std::variant<std::monostate, std::int64_t, double, std::string>;
using Values = std::vector<Value>;

class Conn {
 public:
  virtual ~Conn() = default;
  // Statements without values (BEGIN, COMMIT...).
  virtual Status exec(const char* sql) = 0;
  // Rows of `sql`, each column read as `types[i]`. Parameters are $1, $2... used once each
  // and in order, which both backends bind by position.
  virtual Result<std::vector<Values>> query(const std::string& sql, const Values& params,
                                            const std::vector<Type>& types) = 0;
  virtual Result<std::int64_t> run(const std::string& sql, const Values& params) = 0;
  virtual bool postgres() const = 0;
  virtual Result<int> schema_version() = 0;
};

class SqliteConn : public Conn {
 public:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  ~SqliteConn() override { sqlite3_close_v2(db_); }

  Status exec(const char* sql) override { return sqlite::exec(db_, sql); }

  Result<std::vector<Values>> query(const std::string& sql, const Values& params,
                                    const std::vector<Type>& types) override {
    sqlite::Stmt s(db_, sql);
    bind(s, params);
    std::vector<Values> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.status();
      if (!*row) break;
      Values v;
      for (std::size_t c = 0; c < types.size(); ++c) {
        const int col = static_cast<int>(c);
        if (s.is_null(col)) {
          v.emplace_back(std::monostate{});
        } else if (types[c] == Type::kInt) {
          v.emplace_back(s.int64(col));
        } else if (types[c] == Type::kReal) {
          v.emplace_back(s.real(col));
        } else {
          v.emplace_back(s.text(col));
        }
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<std::int64_t> run(const std::string& sql, const Values& params) override {
    sqlite::Stmt s(db_, sql);
    bind(s, params);
    return s.run();
  }

  bool postgres() const override { return false; }
  Result<int> schema_version() override { return sqlite_schema_version(db_); }

 private:
  static void bind(sqlite::Stmt& s, const Values& params) {
    for (const Value& v : params) {
      if (const auto* i = std::get_if<std::int64_t>(&v)) {
        s.bind(*i);
      } else if (const auto* d = std::get_if<double>(&v)) {
        s.bind(*d);
      } else if (const auto* t = std::get_if<std::string>(&v)) {
        s.bind(*t);
      } else {
        s.bind(std::nullopt);
      }
    }
  }

  sqlite3* db_;
};

class PgConn : public Conn {
 public:
  explicit PgConn(PGconn* c) : c_(c) {}
  ~PgConn() override { PQfinish(c_); }

  Status exec(const char* sql) override { return pg::exec_script(c_, sql); }

  Result<std::vector<Values>> query(const std::string& sql, const Values& params,
                                    const std::vector<Type>& types) override {
    auto rows = pg::exec(c_, sql, to_params(params));
    if (!rows) return rows.status();
    std::vector<Values> out;
    for (int r = 0; r < rows->size(); ++r) {
      const pg::Row row = (*rows)[r];
      Values v;
      for (std::size_t c = 0; c < types.size(); ++c) {
        const int col = static_cast<int>(c);
        if (row.is_null(col)) {
          v.emplace_back(std::monostate{});
        } else if (types[c] == Type::kInt) {
          v.emplace_back(row.int64(col));
        } else if (types[c] == Type::kReal) {
          v.emplace_back(row.real(col));
        } else {
          v.emplace_back(row.text(col));
        }
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<std::int64_t> run(const std::string& sql, const Values& params) override {
    auto rows = pg::exec(c_, sql, to_params(params));
    if (!rows) return rows.status();
    return rows->affected();
  }

  bool postgres() const override { return true; }
  Result<int> schema_version() override { return postgres_schema_version(c_); }

 private:
  static pg::Params to_params(const Values& params) {
    pg::Params p;
    for (const Value& v : params) {
      if (const auto* i = std::get_if<std::int64_t>(&v)) {
        p.add(*i);
      } else if (const auto* d = std::get_if<double>(&v)) {
        p.add(*d);
      } else if (const auto* t = std::get_if<std::string>(&v)) {
        p.add(*t);
      } else {
        p.add(std::nullopt);
      }
    }
    return p;
  }

  PGconn* c_;
};

// A raw connection to the database at `url`, without migrating it.
Result<std::unique_ptr<Conn>> connect(const std::string& url) {
  auto parsed = parse_database_url(url);
  if (!parsed) return parsed.status();
  if (parsed->postgres) {
    auto c = pg::connect(parsed->target);
    if (!c) return c.status();
    return std::unique_ptr<Conn>(new PgConn(*c));
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(parsed->target.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE, nullptr);
  if (rc != SQLITE_OK) {
    Status st = sqlite::error_status(db, rc, "cannot open the database " + parsed->target);
    sqlite3_close(db);
    return st;
  }
  auto conn = std::unique_ptr<Conn>(new SqliteConn(db));
  for (const char* pragma : {"PRAGMA busy_timeout = 5000", "PRAGMA foreign_keys = ON"}) {
    PIRUS_RETURN_IF_ERROR(conn->exec(pragma));
  }
  return conn;
}

// Opening a Store applies the pending migrations (with the backend's own locking).
Result<std::unique_ptr<Conn>> connect_migrated(const std::string& url) {
  {
    auto store = open_store(url, {.pool_size = 1});
    if (!store) return store.status();
  }
  return connect(url);
}

std::string column_list(const Table& t) {
  std::string out;
  for (const Column& c : t.columns) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

std::vector<Type> column_types(const Table& t) {
  std::vector<Type> out;
  for (const Column& c : t.columns) out.push_back(c.type);
  return out;
}

// The highest id each table's sequence has handed out (0: none yet).
Result<std::map<std::string, std::int64_t>> read_sequences(Conn& c) {
  std::map<std::string, std::int64_t> out;
  for (const Table& t : tables()) {
    if (!t.has_id_sequence) continue;
    Result<std::vector<Values>> rows =
        c.postgres()
            ? c.query(
                  "SELECT COALESCE(pg_sequence_last_value("
                  "pg_get_serial_sequence($1, 'id')::regclass), 0)",
                  {std::string(t.name)}, {Type::kInt})
            : c.query("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = $1), 0)",
                      {std::string(t.name)}, {Type::kInt});
    if (!rows)
      return rows.status().with_context("reading the id sequence of " + std::string(t.name));
    out[t.name] = rows->empty() ? 0 : std::get<std::int64_t>(rows->front()[0]);
  }
  return out;
}

// Moves each sequence to at least `floor` and past every id in its table.
Status write_sequences(Conn& c, const std::map<std::string, std::int64_t>& floors) {
  for (const Table& t : tables()) {
    if (!t.has_id_sequence) continue;
    const auto it = floors.find(t.name);
    const std::int64_t floor = it == floors.end() ? 0 : it->second;
    auto max_id =
        c.query(std::string("SELECT COALESCE(MAX(id), 0) FROM ") + t.name, {}, {Type::kInt});
    if (!max_id) return max_id.status();
    const std::int64_t top = std::max(floor, std::get<std::int64_t>(max_id->front()[0]));
    if (top == 0) continue;
    Result<std::int64_t> done =
        c.postgres() ? c.run("SELECT setval(pg_get_serial_sequence($1, 'id')::regclass, $2, true)",
                             {std::string(t.name), top})
                     : c.run(
                           "INSERT OR REPLACE INTO sqlite_sequence (rowid, name, seq) VALUES ("
                           "(SELECT rowid FROM sqlite_sequence WHERE name = $1), $2, $3)",
                           {std::string(t.name), std::string(t.name), top});
    if (!done)
      return done.status().with_context("setting the id sequence of " + std::string(t.name));
  }
  return Status::ok();
}

json::value to_json(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* t = std::get_if<std::string>(&v)) return json::string(*t);
  return nullptr;
}

Result<Value> from_json(const json::value& v, const Column& col, const std::string& where) {
  const std::string what = where + ": column " + col.name;
  if (v.is_null()) {
    if (col.nullable) return Value(std::monostate{});
    return Status::invalid(what + " must not be null");
  }
  switch (col.type) {
    case Type::kInt:
      if (v.is_int64()) return Value(v.get_int64());
      if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return Value(static_cast<std::int64_t>(v.get_uint64()));
      }
      return Status::invalid(what + " must be an integer");
    case Type::kReal:
      if (v.is_number()) return Value(v.to_number<double>());
      return Status::invalid(what + " must be a number");
    case Type::kText:
      if (v.is_string()) return Value(std::string(v.get_string()));
      return Status::invalid(what + " must be a string");
  }
  return Status::invalid(what + " has an unknown type");
}

enum class Access { kRead, kWrite };

// Runs `fn()` in one transaction on `c`, committing only when it succeeds. Both kinds
// see one snapshot (REPEATABLE READ; SQLite's WAL read transaction); a SQLite write
// transaction takes the write lock up front.
template <typename F>
auto in_transaction(Conn& c, Access access, F&& fn) -> decltype(fn()) {
  const char* begin = c.postgres()               ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                      : access == Access::kWrite ? "BEGIN IMMEDIATE"
                                                 : "BEGIN";
  PIRUS_RETURN_IF_ERROR(c.exec(begin).with_context("starting a transaction"));
  auto result = fn();
  if (!result.is_ok()) {
    (void)c.exec("ROLLBACK");
    return result;
  }
  Status st = c.exec("COMMIT");
  if (!st) return st.with_context("committing");
  return result;
}

}  // namespace

Result<MigrationReport> migrate_database(const std::string& url) {
  MigrationReport report;
  {
    auto conn = connect(url);
    if (!conn) return conn.status();
    auto before = (*conn)->schema_version();
    if (!before) return before.status().with_context("reading the schema version");
    report.before = *before;
  }
  auto conn = connect_migrated(url);
  if (!conn) return conn.status();
  auto after = (*conn)->schema_version();
  if (!after) return after.status().with_context("reading the schema version");
  report.after = *after;
  return report;
}

Result<TransferReport> export_database(const std::string& url, std::ostream& out) {
  auto conn = connect_migrated(url);
  if (!conn) return conn.status();
  Conn& c = **conn;
  return in_transaction(c, Access::kRead, [&]() -> Result<TransferReport> {
    TransferReport report;
    auto version = c.schema_version();
    if (!version) return version.status();
    if (*version != kSchemaVersion) {
      return Status::invalid("the database is at schema version " + std::to_string(*version) +
                             "; this Pirus exports version " + std::to_string(kSchemaVersion));
    }
    report.schema_version = *version;
    auto sequences = read_sequences(c);
    if (!sequences) return sequences.status();
    json::object seq;
    for (const auto& [table, value] : *sequences) seq[table] = value;
    json::object header{{"format", kFormat},
                        {"format_version", kFormatVersion},
                        {"schema_version", *version},
                        {"exported_at", now_ms()},
                        {"sequences", seq}};
    out << json::serialize(header) << '\n';
    for (const Table& t : tables()) {
      // Ordered by key so two exports of one database are the same bytes.
      const std::string order = std::string(t.name) == "meta"        ? "key"
                                : std::string(t.name) == "job_files" ? "job_id, role, position"
                                                                     : "id";
      auto rows = c.query("SELECT " + column_list(t) + " FROM " + t.name + " ORDER BY " + order, {},
                          column_types(t));
      if (!rows) return rows.status().with_context(std::string("reading ") + t.name);
      for (const Values& row : *rows) {
        json::object o;
        for (std::size_t i = 0; i < t.columns.size(); ++i) o[t.columns[i].name] = to_json(row[i]);
        json::object line{{"table", t.name}, {"row", std::move(o)}};
        out << json::serialize(line) << '\n';
        ++report.rows;
      }
    }
    json::object trailer{{"end", true}, {"rows", report.rows}};
    out << json::serialize(trailer) << '\n';
    out.flush();
    if (!out) return Status::unavailable("writing the export failed");
    return report;
  });
}

Result<TransferReport> import_database(const std::string& url, std::istream& in) {
  // The whole header is checked before the target is touched.
  std::string line;
  std::int64_t line_no = 1;
  if (!std::getline(in, line)) return Status::invalid("the file is empty, not a Pirus export");
  json::error_code ec;
  json::value header = json::parse(line, ec);
  if (ec || !header.is_object() || header.as_object().if_contains("format") == nullptr ||
      !header.at("format").is_string() || header.at("format").get_string() != kFormat) {
    return Status::invalid("line 1: not a Pirus database export (no pirus-db-export header)");
  }
  const json::object& h = header.as_object();
  const json::value* fv = h.if_contains("format_version");
  if (fv == nullptr || !fv->is_int64() || fv->get_int64() != kFormatVersion) {
    return Status::invalid("line 1: unsupported export format version (this Pirus reads " +
                           std::to_string(kFormatVersion) + ")");
  }
  const json::value* sv = h.if_contains("schema_version");
  if (sv == nullptr || !sv->is_int64() || sv->get_int64() != kSchemaVersion) {
    return Status::invalid("line 1: the export is of schema version " +
                           (sv != nullptr ? json::serialize(*sv) : std::string("?")) +
                           "; this Pirus imports version " + std::to_string(kSchemaVersion));
  }
  std::map<std::string, std::int64_t> sequences;
  if (const json::value* seq = h.if_contains("sequences"); seq != nullptr && seq->is_object()) {
    for (const auto& kv : seq->get_object()) {
      if (!kv.value().is_int64()) return Status::invalid("line 1: sequences must be integers");
      sequences[std::string(kv.key())] = kv.value().get_int64();
    }
  }

  auto conn = connect_migrated(url);
  if (!conn) return conn.status();
  Conn& c = **conn;
  std::map<std::string, const Table*> by_name;
  for (const Table& t : tables()) by_name[t.name] = &t;

  return in_transaction(c, Access::kWrite, [&]() -> Result<TransferReport> {
    TransferReport report;
    report.schema_version = kSchemaVersion;
    for (const Table& t : tables()) {
      auto n = c.query(std::string("SELECT COUNT(*) FROM ") + t.name, {}, {Type::kInt});
      if (!n) return n.status();
      const std::int64_t count = std::get<std::int64_t>(n->front()[0]);
      if (count > 0) {
        return Status::conflict("the target database is not empty (table " + std::string(t.name) +
                                " has " + std::to_string(count) +
                                " rows): import only into a new, empty database");
      }
    }
    // Columns closing reference cycles, set once every row exists: (id, column, value).
    struct Deferred {
      std::int64_t id;
      const char* column;
      std::int64_t value;
    };
    std::vector<Deferred> later;
    std::size_t last_table = 0;
    bool ended = false;
    while (std::getline(in, line)) {
      ++line_no;
      const std::string where = "line " + std::to_string(line_no);
      if (ended) {
        if (line.empty()) continue;
        return Status::invalid(where + ": data after the end of the export");
      }
      json::value v = json::parse(line, ec);
      if (ec || !v.is_object()) return Status::invalid(where + ": not a JSON object");
      const json::object& o = v.as_object();
      if (const json::value* end = o.if_contains("end"); end != nullptr) {
        const json::value* rows = o.if_contains("rows");
        if (rows == nullptr || !rows->is_int64() || rows->get_int64() != report.rows) {
          return Status::invalid(where + ": the trailer counts " +
                                 (rows != nullptr ? json::serialize(*rows) : std::string("?")) +
                                 " rows but the file holds " + std::to_string(report.rows));
        }
        ended = true;
        continue;
      }
      const json::value* tv = o.if_contains("table");
      const json::value* rv = o.if_contains("row");
      if (tv == nullptr || !tv->is_string() || rv == nullptr || !rv->is_object()) {
        return Status::invalid(where + ": expected {\"table\": ..., \"row\": {...}}");
      }
      const auto it = by_name.find(std::string(tv->get_string()));
      if (it == by_name.end()) {
        return Status::invalid(where + ": unknown table '" + std::string(tv->get_string()) + "'");
      }
      const Table& t = *it->second;
      const std::size_t index = static_cast<std::size_t>(&t - tables().data());
      if (index < last_table) {
        return Status::invalid(where + ": table " + std::string(t.name) + " comes out of order");
      }
      last_table = index;
      const json::object& row = rv->as_object();
      if (row.size() != t.columns.size()) {
        return Status::invalid(where + ": a " + std::string(t.name) + " row has " +
                               std::to_string(row.size()) + " columns, expected " +
                               std::to_string(t.columns.size()));
      }
      Values values;
      std::string placeholders;
      std::optional<std::int64_t> id;
      for (const Column& col : t.columns) {
        const json::value* cell = row.if_contains(col.name);
        if (cell == nullptr) return Status::invalid(where + ": column " + col.name + " is missing");
        auto value = from_json(*cell, col, where);
        if (!value) return value.status();
        if (std::string(col.name) == "id") id = std::get<std::int64_t>(*value);
        if (deferred(t.name, col.name) && std::holds_alternative<std::int64_t>(*value)) {
          later.push_back({id.value_or(0), col.name, std::get<std::int64_t>(*value)});
          *value = std::monostate{};
        }
        values.push_back(std::move(*value));
        placeholders += (placeholders.empty() ? "$" : ", $") + std::to_string(values.size());
      }
      auto done = c.run("INSERT INTO " + std::string(t.name) + " (" + column_list(t) +
                            ") VALUES (" + placeholders + ")",
                        values);
      if (!done) return done.status().with_context(where + " (" + t.name + ")");
      ++report.rows;
    }
    if (!ended) return Status::invalid("the export is truncated: its end line is missing");
    for (const Deferred& d : later) {
      auto done = c.run(std::string("UPDATE files SET ") + d.column + " = $1 WHERE id = $2",
                        {d.value, d.id});
      if (!done) return done.status().with_context("file " + std::to_string(d.id));
    }
    PIRUS_RETURN_IF_ERROR(write_sequences(c, sequences));
    return report;
  });
}

}  // namespace pirus
