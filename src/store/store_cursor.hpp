#pragma once
// Listing cursors shared by the store backends, so a cursor means the same on SQLite and
// PostgreSQL. Opaque to clients, but plain text so a log line shows where a listing was: a
// prefix naming the listing and its order, then the last row's sort key and id.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "model/model.hpp"
#include "store/store.hpp"

namespace pirus {

std::string job_cursor_prefix(JobOrder order);
// The cursor that resumes a job listing after `j`.
std::string job_store_cursor(JobOrder order, const Job& j);
// The `count` integers after `prefix`, or nothing when `cursor` is not one of ours.
std::optional<std::vector<std::int64_t>> parse_store_cursor(std::string_view cursor,
                                                            std::string_view prefix,
                                                            std::size_t count);
Status bad_store_cursor();

}  // namespace pirus
