#include "store/store_cursor.hpp"

#include <algorithm>
#include <charconv>

namespace pirus {

std::string job_cursor_prefix(JobOrder order) {
  switch (order) {
    case JobOrder::kNewestFirst:
      return "j1:n:";
    case JobOrder::kOldestFirst:
      return "j1:o:";
    case JobOrder::kQueueOrder:
      return "j1:q:";
  }
  return "j1:?:";
}

std::string job_store_cursor(JobOrder order, const Job& j) {
  std::string c = job_cursor_prefix(order);
  if (order == JobOrder::kQueueOrder) c += std::to_string(j.priority) + ":";
  return c + std::to_string(j.created_at) + ":" + std::to_string(j.id);
}

std::optional<std::vector<std::int64_t>> parse_store_cursor(std::string_view cursor,
                                                            std::string_view prefix,
                                                            std::size_t count) {
  if (cursor.substr(0, prefix.size()) != prefix) return std::nullopt;
  cursor.remove_prefix(prefix.size());
  std::vector<std::int64_t> out;
  while (out.size() < count) {
    const std::size_t end = std::min(cursor.find(':'), cursor.size());
    std::int64_t v = 0;
    const char* first = cursor.data();
    const char* last = first + end;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (end == 0 || ec != std::errc() || ptr != last) return std::nullopt;
    out.push_back(v);
    cursor.remove_prefix(end);
    if (out.size() < count) {
      if (cursor.empty()) return std::nullopt;
      cursor.remove_prefix(1);
    }
  }
  if (!cursor.empty()) return std::nullopt;
  return out;
}

Status bad_store_cursor() {
  return Status::invalid("cursor is not valid for this listing; start again without one");
}

}  // namespace pirus
