#pragma once
// Errors cross module boundaries as values, never as exceptions (see docs/architecture.md).
// A Status names a category (which the REST layer maps to an HTTP status) and a message
// written for the person who will read it.

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pirus {

enum class Code {
  kOk = 0,
  kInvalid,      // bad input from the caller (HTTP 400/422)
  kNotFound,     // no such entity (HTTP 404)
  kConflict,     // the entity is not in a state that allows this (HTTP 409)
  kTooLarge,     // a body, a file or an archive is beyond a configured limit (HTTP 413)
  kUnavailable,  // a dependency (dockerd, the database) cannot be reached now (HTTP 503)
  kInternal,     // a bug or an unexpected system failure (HTTP 500)
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  static Status invalid(std::string m) { return {Code::kInvalid, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status too_large(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "conflict: job 4 is done" - for logs and CLI messages.
  std::string to_string() const;

  // Prefixes the message with context, keeping the code: "building image: ...".
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return {code_, context + ": " + message_};
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // Default-constructible only because asio's co_spawn needs it; never observed as ok.
  Result() : v_(Status::internal("result was never set")) {}
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).is_ok());
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace pirus

// Early return for Status-returning functions.
#define PIRUS_RETURN_IF_ERROR(expr) \
  do {                              \
    ::pirus::Status _st = (expr);   \
    if (!_st.is_ok()) return _st;   \
  } while (0)

// The same for coroutines returning awaitable<Status>.
#define PIRUS_CO_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::pirus::Status _st = (expr);      \
    if (!_st.is_ok()) co_return _st;   \
  } while (0)
