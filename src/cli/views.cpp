#include "cli/views.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

#include "cli/format.hpp"

namespace pirus::cli {

namespace json = boost::json;

namespace {

const json::value* field(const json::value& v, std::string_view key) {
  const auto* o = v.if_object();
  return o ? o->if_contains(key) : nullptr;
}

std::string or_dash(std::string s) {
  return s.empty() ? "-" : s;
}

std::string time_field(const json::value& v, std::string_view key) {
  return human_time(str_field(v, key));
}

std::string number_text(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

std::string id_text(const json::value& v, std::string_view key) {
  auto id = int_field(v, key);
  return id ? std::to_string(*id) : "-";
}

std::string size_text(const json::value& v) {
  auto size = int_field(v, "size");
  return size ? human_size(*size) : "-";
}

}  // namespace

std::string str_field(const json::value& v, std::string_view key) {
  const auto* f = field(v, key);
  if (!f || f->is_null()) return "";
  if (f->is_string()) return std::string(f->get_string());
  return json::serialize(*f);
}

std::optional<std::int64_t> int_field(const json::value& v, std::string_view key) {
  const auto* f = field(v, key);
  if (!f) return std::nullopt;
  if (f->is_int64()) return f->get_int64();
  if (f->is_uint64()) return static_cast<std::int64_t>(f->get_uint64());
  if (f->is_double()) return static_cast<std::int64_t>(f->get_double());
  return std::nullopt;
}

std::optional<double> num_field(const json::value& v, std::string_view key) {
  const auto* f = field(v, key);
  if (!f) return std::nullopt;
  if (f->is_double()) return f->get_double();
  if (f->is_int64()) return static_cast<double>(f->get_int64());
  if (f->is_uint64()) return static_cast<double>(f->get_uint64());
  return std::nullopt;
}

std::string json_text(const json::value& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_double()) return number_text(v.get_double());
  return json::serialize(v);
}

std::string pipeline_label(const json::value& pipeline) {
  std::string name = str_field(pipeline, "name");
  std::string version = str_field(pipeline, "version");
  if (version.empty()) return name;
  return name + ":" + version;
}

std::string pipeline_table(const json::array& pipelines) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : pipelines) {
    rows.push_back({id_text(p, "id"), or_dash(str_field(p, "name")),
                    or_dash(str_field(p, "version")), or_dash(str_field(p, "type")),
                    or_dash(str_field(p, "engine")), or_dash(str_field(p, "status")),
                    time_field(p, "installed_at")});
  }
  return render_table({"ID", "NAME", "VERSION", "TYPE", "ENGINE", "STATUS", "INSTALLED"}, rows,
                      {Align::kRight});
}

std::string form_parameters_table(const json::value& form) {
  const json::value* schema = &form;
  if (!field(form, "properties") && field(form, "schema")) schema = field(form, "schema");
  const auto* props_v = field(*schema, "properties");
  const auto* props = props_v ? props_v->if_object() : nullptr;
  if (!props || props->empty()) return "";
  std::vector<std::string> required_keys;
  if (const auto* req = field(*schema, "required"); req && req->is_array()) {
    for (const auto& k : req->get_array()) {
      if (k.is_string()) required_keys.emplace_back(k.get_string());
    }
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, spec] : *props) {
    std::string type = str_field(spec, "type");
    const auto* enum_v = field(spec, "enum");
    if (type.empty() && enum_v) type = "enum";
    bool required = false;
    if (const auto* r = field(spec, "required"); r && r->is_bool()) required = r->get_bool();
    for (const auto& k : required_keys) required = required || k == key;
    const auto* def = field(spec, "default");
    std::string range;
    if (enum_v && enum_v->is_array()) {
      for (const auto& choice : enum_v->get_array()) {
        range += (range.empty() ? "" : ", ") + json_text(choice);
      }
    } else if (enum_v && enum_v->is_string()) {
      range = std::string(enum_v->get_string());  // a placeholder resolved per job
    } else {
      auto min = num_field(spec, "minimum");
      auto max = num_field(spec, "maximum");
      if (min && max) {
        range = number_text(*min) + ".." + number_text(*max);
      } else if (min) {
        range = ">= " + number_text(*min);
      } else if (max) {
        range = "<= " + number_text(*max);
      }
    }
    rows.push_back({std::string(key), or_dash(type), required ? "yes" : "no",
                    def ? json_text(*def) : "-", or_dash(range)});
  }
  return render_table({"KEY", "TYPE", "REQUIRED", "DEFAULT", "RANGE/CHOICES"}, rows);
}

std::string pipeline_details(const json::value& p) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", id_text(p, "id")},
      {"name", str_field(p, "name")},
      {"version", str_field(p, "version")},
      {"type", str_field(p, "type")},
      {"engine", str_field(p, "engine")},
      {"status", str_field(p, "status")},
      {"description", str_field(p, "description")},
      {"image", str_field(p, "image")},
      {"created", time_field(p, "created_at")},
      {"installed", time_field(p, "installed_at")},
  };
  if (std::string reason = str_field(p, "error_reason"); !reason.empty()) {
    fields.emplace_back("error", reason);
  }
  std::string docs;
  if (const auto* d = field(p, "documents"); d && d->is_object()) {
    for (const auto& [name, url] : d->get_object()) {
      docs += (docs.empty() ? "" : ", ") + std::string(name);
    }
  }
  fields.emplace_back("documents", docs);
  std::string out = render_fields(fields);
  if (const auto* form = field(p, "form")) {
    std::string params = form_parameters_table(*form);
    out += params.empty() ? "\nparameters: none\n" : "\nparameters:\n" + params;
  }
  return out;
}

std::string file_table(const json::array& files) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : files) {
    rows.push_back({id_text(f, "id"), or_dash(str_field(f, "name")), or_dash(str_field(f, "type")),
                    size_text(f), or_dash(str_field(f, "status")), time_field(f, "created_at")});
  }
  return render_table({"ID", "NAME", "TYPE", "SIZE", "STATUS", "CREATED"}, rows,
                      {Align::kRight, Align::kLeft, Align::kLeft, Align::kRight});
}

std::string file_details(const json::value& f) {
  std::string size = size_text(f);
  if (auto bytes = int_field(f, "size"); bytes && *bytes >= 1024) {
    size += " (" + std::to_string(*bytes) + " bytes)";
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", id_text(f, "id")},
      {"name", str_field(f, "name")},
      {"type", str_field(f, "type")},
      {"size", size},
      {"status", str_field(f, "status")},
      {"sha256", str_field(f, "sha256")},
      {"job", str_field(f, "job_source_id")},
      {"created", time_field(f, "created_at")},
      {"updated", time_field(f, "updated_at")},
      {"download", str_field(f, "download_url")},
  };
  // Resumable uploads and companions: shown only when they say something.
  if (str_field(f, "status") == "uploading") {
    if (auto offset = int_field(f, "upload_offset")) {
      fields.push_back({"received", human_size(*offset)});
    }
    fields.push_back({"expires", time_field(f, "upload_expires_at")});
  }
  if (const std::string reason = str_field(f, "error_reason"); !reason.empty()) {
    fields.push_back({"error", reason});
  }
  if (auto primary = int_field(f, "companion_of")) {
    fields.push_back({"companion of", "file " + std::to_string(*primary)});
  }
  if (const auto* list = f.is_object() ? f.as_object().if_contains("companions") : nullptr;
      list != nullptr && list->is_array() && !list->as_array().empty()) {
    std::string names;
    for (const auto& c : list->as_array()) {
      if (!names.empty()) names += ", ";
      names += str_field(c, "name") + " (" + id_text(c, "id") + ")";
    }
    fields.push_back({"companions", names});
  }
  return render_fields(fields);
}

std::optional<std::int64_t> job_run_seconds(const json::value& job, std::int64_t now_ms) {
  auto started = parse_iso_time_ms(str_field(job, "started_at"));
  if (!started) return std::nullopt;
  auto ended = parse_iso_time_ms(str_field(job, "ended_at"));
  const std::int64_t end = ended ? *ended : now_ms;
  return end > *started ? (end - *started) / 1000 : 0;
}

std::string job_percent(const json::value& job) {
  const std::string bar = render_progress_bar(num_field(job, "progress").value_or(0));
  return bar.substr(bar.find("] ") + 2);
}

std::string job_table(const json::array& jobs, const std::map<std::int64_t, std::string>& pipelines,
                      std::int64_t now_ms) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs) {
    std::string pipeline = "-";
    if (auto pid = int_field(j, "pipeline_id"); pid && *pid != 0) {
      auto it = pipelines.find(*pid);
      pipeline = it != pipelines.end() ? it->second : std::to_string(*pid);
    }
    auto run = job_run_seconds(j, now_ms);
    rows.push_back({id_text(j, "id"), or_dash(str_field(j, "name")), pipeline,
                    or_dash(str_field(j, "status")), job_percent(j), time_field(j, "created_at"),
                    run ? human_duration(*run) : "-"});
  }
  return render_table({"ID", "NAME", "PIPELINE", "STATUS", "PROGRESS", "CREATED", "DURATION"}, rows,
                      {Align::kRight, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight});
}

std::string file_ids_table(const json::array& ids,
                           const std::map<std::int64_t, json::value>& files) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& idv : ids) {
    if (!idv.is_int64()) continue;
    const std::int64_t id = idv.get_int64();
    auto it = files.find(id);
    if (it == files.end()) {
      rows.push_back({std::to_string(id), "(unavailable)", "-"});
    } else {
      rows.push_back(
          {std::to_string(id), or_dash(str_field(it->second, "name")), size_text(it->second)});
    }
  }
  return render_table({"ID", "NAME", "SIZE"}, rows, {Align::kRight, Align::kLeft, Align::kRight});
}

std::string job_details(const json::value& job, const std::string& pipeline,
                        const std::map<std::int64_t, json::value>& files, std::int64_t now_ms) {
  std::string progress = job_percent(job);
  if (std::string label = str_field(job, "progress_label"); !label.empty()) {
    progress += " " + label;
  }
  std::string resources;
  if (const auto* r = field(job, "resources"); r && r->is_object()) {
    if (auto cpus = num_field(*r, "cpus")) resources += "cpus " + number_text(*cpus);
    if (auto mem = int_field(*r, "memory_mb")) {
      resources +=
          (resources.empty() ? "" : ", ") + std::string("memory ") + human_size(*mem * 1024 * 1024);
    }
    if (auto pids = int_field(*r, "pids")) {
      resources += (resources.empty() ? "" : ", ") + std::string("pids ") + std::to_string(*pids);
    }
  }
  auto run = job_run_seconds(job, now_ms);
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", id_text(job, "id")},
      {"name", str_field(job, "name")},
      {"pipeline", pipeline},
      {"status", str_field(job, "status")},
      {"progress", progress},
      {"priority", str_field(job, "priority")},
      {"resources", resources},
      {"parameters", str_field(job, "parameters")},
      {"created", time_field(job, "created_at")},
      {"started", time_field(job, "started_at")},
      {"ended", time_field(job, "ended_at")},
      {"duration", run ? human_duration(*run) : ""},
      {"exit code", str_field(job, "exit_code")},
  };
  // Measured by the server's monitor; absent from servers that predate it.
  if (auto peak = int_field(job, "peak_memory_bytes"); peak && *peak > 0) {
    fields.emplace_back("peak memory", human_size(*peak));
  }
  if (auto cpu = num_field(job, "cpu_seconds"); cpu && *cpu > 0) {
    fields.emplace_back("cpu time", number_text(std::round(*cpu * 10) / 10) + " s");
  }
  if (std::string reason = str_field(job, "error_reason"); !reason.empty()) {
    fields.emplace_back("error", reason);
  }
  std::string out = render_fields(fields);
  for (const char* kind : {"inputs", "outputs"}) {
    const auto* ids = field(job, kind);
    if (!ids || !ids->is_array() || ids->get_array().empty()) {
      out += "\n" + std::string(kind) + ": none\n";
    } else {
      out += "\n" + std::string(kind) + ":\n" + file_ids_table(ids->get_array(), files);
    }
  }
  return out;
}

std::string monitor_details(const json::value& m) {
  const json::value* limits = field(m, "limits");
  const json::value* current = field(m, "current");
  const bool have_current = current != nullptr && current->is_object();
  auto limit_num = [&](std::string_view key) {
    return limits != nullptr ? num_field(*limits, key) : std::nullopt;
  };
  auto limit_int = [&](std::string_view key) {
    return limits != nullptr ? int_field(*limits, key) : std::nullopt;
  };
  auto with_limit = [](const std::string& value, const std::string& limit) {
    return limit.empty() ? value : value + " / " + limit;
  };
  auto pct = [](std::optional<double> v) {
    return v ? number_text(std::round(*v * 10) / 10) + "%" : "";
  };

  const auto cpus = limit_num("cpus");
  const auto mem_limit = limit_int("memory_bytes");
  const std::string cpu_limit = cpus ? number_text(*cpus * 100) + "%" : "";
  const std::string mem_limit_text = mem_limit && *mem_limit > 0 ? human_size(*mem_limit) : "";
  std::string cpu_now, mem_now, io_now, net_now, pids_now, sampled;
  if (have_current) {
    cpu_now = with_limit(pct(num_field(*current, "cpu_percent")), cpu_limit);
    mem_now =
        with_limit(human_size(int_field(*current, "memory_bytes").value_or(-1)), mem_limit_text);
    io_now = "read " + human_size(int_field(*current, "block_read_bytes").value_or(-1)) +
             ", written " + human_size(int_field(*current, "block_write_bytes").value_or(-1));
    net_now = "received " + human_size(int_field(*current, "net_rx_bytes").value_or(-1)) +
              ", sent " + human_size(int_field(*current, "net_tx_bytes").value_or(-1));
    pids_now = with_limit(str_field(*current, "pids"), str_field(limits ? *limits : m, "pids"));
    sampled = time_field(*current, "at");
  }
  const auto cpu_seconds = num_field(m, "cpu_seconds");
  std::vector<std::pair<std::string, std::string>> fields = {
      {"job", str_field(m, "job_id") + " (" + str_field(m, "status") + ")"},
      {"sampled", sampled},
      {"cpu", cpu_now},
      {"memory", mem_now},
      {"block i/o", io_now},
      {"network", net_now},
      {"pids", pids_now},
      {"peak memory",
       with_limit(human_size(int_field(m, "peak_memory_bytes").value_or(-1)), mem_limit_text)},
      {"average cpu", pct(num_field(m, "cpu_percent_avg"))},
      {"cpu time", cpu_seconds ? number_text(std::round(*cpu_seconds * 10) / 10) + " s" : ""},
  };
  std::string out = render_fields(fields);
  const json::value* history = field(m, "history");
  const json::value* points = history ? field(*history, "points") : nullptr;
  if (points == nullptr || !points->is_array() || points->get_array().empty()) {
    return out + "\nhistory: no samples yet\n";
  }
  std::vector<double> cpu;
  std::vector<double> mem;
  for (const auto& p : points->get_array()) {
    cpu.push_back(num_field(p, "cpu_percent").value_or(0));
    mem.push_back(static_cast<double>(int_field(p, "memory_bytes").value_or(0)));
  }
  const double interval = num_field(m, "interval_seconds").value_or(0);
  const auto per_point = int_field(*history, "samples_per_point").value_or(1);
  out += "\nhistory: " + str_field(*history, "samples") + " samples (interval " +
         number_text(interval) + " s), " + std::to_string(per_point) + " per point\n";
  const double cpu_scale = cpus ? *cpus * 100 : 0;
  const double mem_scale = mem_limit && *mem_limit > 0 ? static_cast<double>(*mem_limit) : 0;
  out += render_fields({{"cpu", sparkline(cpu, cpu_scale) + "  (scale " +
                                    (cpu_scale > 0 ? number_text(cpu_scale) + "%" : "max") + ")"},
                        {"memory", sparkline(mem, mem_scale) + "  (scale " +
                                       (mem_scale > 0 ? human_size(*mem_limit) : "max") + ")"}});
  return out;
}

std::string safe_file_name(std::string_view name, std::int64_t id) {
  const auto slash = name.find_last_of("/\\");
  std::string base(slash == std::string_view::npos ? name : name.substr(slash + 1));
  if (base.empty() || base == "." || base == "..") return "file-" + std::to_string(id);
  return base;
}

}  // namespace pirus::cli
