#pragma once
// How API resources (docs/api.md) are shown to people: pure functions from the JSON the
// server returns to text, so the layout is unit-tested without a server. Missing or
// ill-typed fields show as "-" rather than failing: the client must survive a server
// that is newer or older than itself.

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pirus::cli {

// Field accessors that never throw. str_field renders non-strings compactly (42, true)
// and null or missing as "".
std::string str_field(const boost::json::value& v, std::string_view key);
std::optional<std::int64_t> int_field(const boost::json::value& v, std::string_view key);
std::optional<double> num_field(const boost::json::value& v, std::string_view key);

// A JSON value as a person reads it: strings without quotes, null as "-", other values
// serialised compactly.
std::string json_text(const boost::json::value& v);

// "wordcount:1.0.0".
std::string pipeline_label(const boost::json::value& pipeline);

std::string pipeline_table(const boost::json::array& pipelines);
// Every field, then the form's parameters (see form_parameters_table).
std::string pipeline_details(const boost::json::value& pipeline);
// KEY TYPE REQUIRED DEFAULT RANGE/CHOICES, one row per form property in form order;
// "" when the form declares none. Understands draft-03 ("required": true on a property)
// and later ("required": [keys]) schemas, enums (or a "__INPUTS_FILES__" placeholder) and
// minimum/maximum.
std::string form_parameters_table(const boost::json::value& form);

std::string file_table(const boost::json::array& files);
std::string file_details(const boost::json::value& file);

// Seconds the job has run: started_at to ended_at, or to `now_ms` while it runs; nullopt
// before it started.
std::optional<std::int64_t> job_run_seconds(const boost::json::value& job, std::int64_t now_ms);
// "42%" from the job's progress (0..1).
std::string job_percent(const boost::json::value& job);

// `pipelines` maps ids to labels ("wordcount:1.0.0") for the PIPELINE column; unknown ids
// show as the bare id.
std::string job_table(const boost::json::array& jobs,
                      const std::map<std::int64_t, std::string>& pipelines, std::int64_t now_ms);
// Fields, then the inputs and outputs as ID NAME SIZE tables. `files` holds the File
// objects known for those ids; missing ones show as "(unavailable)".
std::string job_details(const boost::json::value& job, const std::string& pipeline,
                        const std::map<std::int64_t, boost::json::value>& files,
                        std::int64_t now_ms);
// `job monitor`: the latest sample against the limits, the peak memory, the average CPU,
// the CPU time, and sparklines of the CPU% and memory history (GET /jobs/{id}/monitoring).
std::string monitor_details(const boost::json::value& monitoring);
// ID NAME SIZE rows for `ids`, in that order.
std::string file_ids_table(const boost::json::array& ids,
                           const std::map<std::int64_t, boost::json::value>& files);

// A file name safe to create in a local directory: the last path component of `name`,
// or "file-<id>" when that is empty, "." or "..".
std::string safe_file_name(std::string_view name, std::int64_t id);

}  // namespace pirus::cli
