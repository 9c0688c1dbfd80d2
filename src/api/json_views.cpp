#include "api/json_views.hpp"

#include <boost/json.hpp>

namespace pirus::api {

namespace json = boost::json;

namespace {

json::value time_json(TimeMs t) {
  if (t == 0) return nullptr;
  return json::value(format_time(t));
}

json::value parse_or_empty(const std::string& text) {
  if (text.empty()) return json::object{};
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return json::object{};
  return v;
}

}  // namespace

json::object file_json(const File& f) {
  json::object o;
  o["id"] = f.id;
  o["name"] = f.name;
  o["type"] = f.type;
  o["size"] = f.size;
  o["upload_offset"] = f.upload_offset;
  o["status"] = std::string(to_string(f.status));
  o["sha256"] = f.sha256;
  o["job_source_id"] = f.job_source_id ? json::value(*f.job_source_id) : json::value(nullptr);
  o["tags"] = f.tags;
  o["created_at"] = time_json(f.created_at);
  o["updated_at"] = time_json(f.updated_at);
  o["download_url"] = "/api/v1/files/" + std::to_string(f.id) + "/content";
  o["companion_of"] = f.companion_of ? json::value(*f.companion_of) : json::value(nullptr);
  if (f.status == FileStatus::kUploading) {
    o["upload_url"] = "/api/v1/uploads/" + std::to_string(f.id);
    o["upload_expires_at"] = time_json(f.expires_at);
  }
  if (!f.error_reason.empty()) o["error_reason"] = f.error_reason;
  return o;
}

json::object file_json(const File& f, const std::vector<File>& companions) {
  json::object o = file_json(f);
  json::array list;
  for (const auto& c : companions) list.push_back(json::object{{"id", c.id}, {"name", c.name}});
  o["companions"] = std::move(list);
  return o;
}

json::object pipeline_json(const Pipeline& p, bool detail) {
  json::object o;
  o["id"] = p.id;
  o["name"] = p.name;
  o["version"] = p.version;
  o["type"] = p.type;
  o["engine"] = p.engine;
  o["status"] = std::string(to_string(p.status));
  o["description"] = p.description;
  o["image"] = p.image;
  o["error_reason"] = p.error_reason;
  o["created_at"] = time_json(p.created_at);
  o["updated_at"] = time_json(p.updated_at);
  o["installed_at"] = time_json(p.installed_at);
  json::object docs;
  for (const auto& [key, rel] : p.documents) {
    docs[key] = "/api/v1/pipelines/" + std::to_string(p.id) + "/documents/" + key;
  }
  o["documents"] = std::move(docs);
  o["build_log_url"] = "/api/v1/pipelines/" + std::to_string(p.id) + "/build-log";
  if (detail) {
    o["manifest"] = parse_or_empty(p.manifest_json);
    o["form"] = parse_or_empty(p.form_json);
  }
  return o;
}

json::object job_json(const Job& j) {
  json::object o;
  o["id"] = j.id;
  o["pipeline_id"] = j.pipeline_id;
  o["name"] = j.name;
  o["status"] = std::string(to_string(j.status));
  o["priority"] = j.priority;
  o["parameters"] = parse_or_empty(j.parameters_json);
  o["resources"] = {
      {"cpus", j.resources.cpus}, {"memory_mb", j.resources.memory_mb}, {"pids", j.resources.pids}};
  o["progress"] = j.progress;
  o["progress_label"] = j.progress_label;
  o["exit_code"] = j.exit_code ? json::value(*j.exit_code) : json::value(nullptr);
  o["error_reason"] = j.error_reason;
  json::array in(j.inputs.begin(), j.inputs.end());
  json::array out(j.outputs.begin(), j.outputs.end());
  o["inputs"] = std::move(in);
  o["outputs"] = std::move(out);
  o["created_at"] = time_json(j.created_at);
  o["started_at"] = time_json(j.started_at);
  o["ended_at"] = time_json(j.ended_at);
  o["updated_at"] = time_json(j.updated_at);
  o["peak_memory_bytes"] = j.peak_memory_bytes;
  o["cpu_seconds"] = j.cpu_seconds;
  return o;
}

}  // namespace pirus::api
