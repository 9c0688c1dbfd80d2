// libpq plumbing for the PostgreSQL store: parameters, results, error codes and the pool.

#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "store/postgres/pg_store.hpp"

namespace pirus::pg {

namespace {

// How long a caller waits for a pooled connection before the store reports kUnavailable.
constexpr auto kAcquireTimeout = std::chrono::seconds(30);

void ignore_notice(void*, const char*) {
  // Notices ("table already exists, skipping") are not errors; libpq would print them on
  // the server's stderr.
}

std::string trimmed(const char* text) {
  std::string s = text == nullptr ? "" : text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Status from_sqlstate(const std::string& state, std::string msg) {
  if (state == "23505") return Status::conflict(std::move(msg));  // unique_violation
  const std::string cls = state.substr(0, 2);
  // 22: data exceptions (a value out of range, bad text encoding); 23: integrity violations.
  if (cls == "22" || cls == "23") return Status::invalid(std::move(msg));
  // 08: connection exceptions; 53: insufficient resources (disk full, too many
  // connections); 57P01-03: the server is shutting down or starting; 40: a serialization
  // failure or deadlock, which a later attempt may not meet.
  if (cls == "08" || cls == "53" || cls == "40" || state == "57P01" || state == "57P02" ||
      state == "57P03") {
    return Status::unavailable(std::move(msg));
  }
  return Status::internal(std::move(msg));
}

Status error_status(PGconn* conn, const PGresult* res, std::string_view context) {
  std::string detail = res != nullptr ? trimmed(PQresultErrorMessage(res)) : "";
  if (detail.empty()) detail = trimmed(PQerrorMessage(conn));
  std::string msg = context.empty() ? detail : std::string(context) + ": " + detail;
  if (PQstatus(conn) != CONNECTION_OK) {
    return Status::unavailable("the database connection is lost: " + msg);
  }
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return Status::unavailable(std::move(msg));
  return from_sqlstate(state, std::move(msg));
}

// libpq may quote the URL in a message (a malformed option, say): the password in it, if
// any, never reaches a log or a client.
std::string redacted(std::string msg, const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return msg;
  const std::string userinfo = url.substr(scheme + 3, at - scheme - 3);
  const auto colon = userinfo.find(':');
  if (colon == std::string::npos || colon + 1 == userinfo.size()) return msg;
  const std::string password = userinfo.substr(colon + 1);
  for (auto pos = msg.find(password); pos != std::string::npos; pos = msg.find(password, pos)) {
    msg.replace(pos, password.size(), "***");
    pos += 3;
  }
  return msg;
}

}  // namespace

// ----- Params -----

Params& Params::add(std::int64_t v) {
  values_.emplace_back(std::to_string(v));
  return *this;
}

Params& Params::add(double v) {
  // Shortest text that reads back as the same double, so REAL columns round-trip exactly.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  values_.emplace_back(std::string(buf, ec == std::errc() ? end : buf));
  return *this;
}

Params& Params::add(std::string_view v) {
  values_.emplace_back(std::string(v));
  return *this;
}

Params& Params::add(std::nullopt_t) {
  values_.emplace_back(std::nullopt);
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

// ----- Row / Rows -----

bool Row::is_null(int col) const {
  return PQgetisnull(res_, row_, col) != 0;
}

std::int64_t Row::int64(int col) const {
  const char* p = PQgetvalue(res_, row_, col);
  std::int64_t v = 0;
  std::from_chars(p, p + std::strlen(p), v);
  return v;
}

double Row::real(int col) const {
  const char* p = PQgetvalue(res_, row_, col);
  double v = 0;
  std::from_chars(p, p + std::strlen(p), v);
  return v;
}

std::string Row::text(int col) const {
  return {PQgetvalue(res_, row_, col), static_cast<std::size_t>(PQgetlength(res_, row_, col))};
}

std::optional<std::int64_t> Row::optional_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

Rows::Rows(PGresult* res) : res_(res) {}

Rows::~Rows() {
  PQclear(res_);
}

Rows::Rows(Rows&& other) noexcept : res_(other.res_) {
  other.res_ = nullptr;
}

int Rows::size() const {
  return res_ == nullptr ? 0 : PQntuples(res_);
}

std::int64_t Rows::affected() const {
  const char* n = res_ == nullptr ? "" : PQcmdTuples(res_);
  std::int64_t v = 0;
  std::from_chars(n, n + std::strlen(n), v);
  return v;
}

// ----- statements -----

Result<Rows> exec(PGconn* conn, std::string_view sql, const Params& params) {
  const std::string text(sql);
  const auto values = params.pointers();
  PGresult* res = PQexecParams(conn, text.c_str(), params.size(), nullptr,
                               values.empty() ? nullptr : values.data(), nullptr, nullptr, 0);
  const ExecStatusType st = res == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(res);
  Status err = error_status(conn, res, "");
  PQclear(res);
  return err;
}

Status exec_script(PGconn* conn, std::string_view sql) {
  const std::string text(sql);
  PGresult* res = PQexec(conn, text.c_str());
  const ExecStatusType st = res == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(res);
  Status out = Status::ok();
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) out = error_status(conn, res, "");
  PQclear(res);
  return out;
}

Result<PGconn*> connect(const std::string& url) {
  // A malformed URL is the caller's mistake, not an outage.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error != nullptr ? trimmed(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return Status::invalid("malformed PostgreSQL URL: " + redacted(why, url));
  }
  PQconninfoFree(parsed);
  // connect_timeout comes first so that one given in the URL (expanded from dbname) wins.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"10", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (conn == nullptr) return Status::unavailable("cannot allocate a PostgreSQL connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::unavailable("cannot connect to PostgreSQL: " + redacted(why, url));
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  // Dates are stored as integers; only the encoding matters to the store.
  Status st = exec_script(conn, "SET client_encoding = 'UTF8'");
  if (!st) {
    PQfinish(conn);
    return st;
  }
  return conn;
}

// ----- Pool -----

Pool::Pool(std::string url, int size) : url_(std::move(url)), size_(size < 1 ? 1 : size) {}

Pool::~Pool() {
  for (PGconn* c : idle_) PQfinish(c);
}

Pool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->release(conn_);
}

void Pool::Lease::discard() {
  if (conn_ == nullptr) return;
  PQfinish(conn_);
  conn_ = nullptr;
  std::lock_guard<std::mutex> lock(pool_->mu_);
  --pool_->open_;
  pool_->cv_.notify_one();
}

Result<Pool::Lease> Pool::acquire(bool fresh) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + kAcquireTimeout;
  for (;;) {
    if (fresh && !idle_.empty() && open_ >= size_) {
      // Make room for the fresh connection by closing an idle one.
      PQfinish(idle_.back());
      idle_.pop_back();
      --open_;
    }
    if (!fresh && !idle_.empty()) {
      PGconn* c = idle_.back();
      idle_.pop_back();
      return Lease(this, c);
    }
    if (open_ < size_) break;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return Status::unavailable("all " + std::to_string(size_) +
                                 " database connections stayed busy for 30 s");
    }
  }
  ++open_;
  lock.unlock();
  // Connecting happens outside the lock: it may take until the connect timeout.
  auto conn = connect(url_);
  if (!conn) {
    lock.lock();
    --open_;
    cv_.notify_one();
    return conn.status();
  }
  return Lease(this, *conn);
}

void Pool::release(PGconn* conn) {
  const bool reusable =
      PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
  if (!reusable) PQfinish(conn);
  std::lock_guard<std::mutex> lock(mu_);
  if (reusable) {
    idle_.push_back(conn);
  } else {
    --open_;
  }
  cv_.notify_one();
}

}  // namespace pirus::pg
