#pragma once
// Pipeline packages: safe extraction of the zip, the manifest, the form schema, and the
// validation of job parameters against that form. Format: docs/pipeline-packages.md.
// Everything here is synchronous, pure file and string work, safe to run on any thread.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace pirus {

struct ExtractLimits {
  std::int64_t max_entries = 10000;
  std::int64_t max_total_bytes = 2LL << 30;  // uncompressed, all entries together
  std::int64_t max_entry_bytes = 1LL << 30;  // uncompressed, one entry
  double max_ratio = 100.0;                  // uncompressed / compressed, whole archive
};

// Extracts the zip at `zip_path` into `dest_dir`, which must not exist yet. When every
// entry sits under one top folder, that folder is stripped. Rejects, with a kInvalid
// Status naming the entry: absolute paths, ".." components, symlinks and hard links,
// device/fifo/socket entries, duplicate paths; kTooLarge when a limit is exceeded. On
// any error `dest_dir` is removed: nothing is ever written outside it.
Status extract_package(const std::string& zip_path, const std::string& dest_dir,
                       const ExtractLimits& limits = {});

// The same extraction, with the same rules, for other archives: with `allow_tar`, a tar
// (plain, gzip, bzip2 or xz compressed) is accepted as well as a zip. Used for reference
// databases. Messages say "archive" instead of "package".
Status extract_archive(const std::string& archive_path, const std::string& dest_dir,
                       const ExtractLimits& limits, bool allow_tar);

struct Manifest {
  std::string name;
  std::string version;
  std::string type = "job";  // job | importer | exporter | reporter
  std::string description;
  std::string engine = "docker";  // which container manager runs it
  boost::json::array contacts;
  std::string inputs = "/pipeline/inputs";
  std::string outputs = "/pipeline/outputs";
  std::string logs = "/pipeline/logs";
  std::string databases = "/pipeline/databases";
  std::vector<std::string> command;  // empty: the image's own entrypoint/cmd
  bool read_only_rootfs = true;      // false when the pipeline must write outside its mounts
  boost::json::object json;          // the whole manifest, defaults filled in
};

// Parses manifest.json. Python-style True/False (outside strings) are accepted as
// true/false. Malformed JSON: kInvalid with "line L, column C". Missing name/version,
// unknown type, non-absolute or duplicated container paths: kInvalid naming the key.
Result<Manifest> parse_manifest(std::string_view text);

enum class FieldType { kInteger, kNumber, kString, kBoolean, kEnum };

struct FormField {
  std::string key;
  std::string title;
  std::string description;
  FieldType type = FieldType::kString;
  bool required = false;
  std::optional<boost::json::value> default_value;
  std::optional<double> minimum;
  std::optional<double> maximum;
  std::vector<boost::json::value> enum_values;
  // "__INPUTS_FILES__" or "__GENOMES_REFS__" when the choices are resolved at run time.
  std::string enum_placeholder;
};

struct FormSchema {
  std::vector<FormField> fields;  // in the order of form.json
  boost::json::object json;       // the validated form as served to clients
};

// Parses form.json (JSON-Schema draft-03 style, see docs). kInvalid with the key at fault:
// unknown type, default outside min/max or not of the type, min > max, an enum without
// values, an unknown placeholder.
Result<FormSchema> parse_form(std::string_view text);

// What placeholders resolve to for one job.
struct FormContext {
  std::vector<std::string> input_names;  // the job's input file names
  std::vector<std::string> genome_refs;  // reference databases installed on the server
};

// Checks `params` against the form and returns them completed with defaults. kInvalid with
// every problem found ("threshold: must be <= 10; name: required"). Unknown keys are
// rejected. An empty form accepts only an empty object.
Result<boost::json::object> validate_parameters(const FormSchema& form,
                                                const boost::json::object& params,
                                                const FormContext& ctx);

// The served form (FormSchema::json) with its placeholder choices listed for a client: each
// property whose `enum` is "__GENOMES_REFS__" gets `"enum": [ctx.genome_refs...]`, and with
// `resolve_inputs` each "__INPUTS_FILES__" gets `"enum": [ctx.input_names...]`. A resolved
// property keeps its placeholder in `"enum_placeholder"`, so a client can tell the list is
// the server's current one. Other properties are left as they are.
boost::json::object resolve_form_choices(const boost::json::object& form, const FormContext& ctx,
                                         bool resolve_inputs);

// The unpacked package as the core needs it.
struct PackageInfo {
  Manifest manifest;
  FormSchema form;
  std::string form_text;  // "{}" when the package has no form.json
  // about, help, icon, license, readme -> path relative to the package dir (when present)
  std::map<std::string, std::string> documents;
  bool has_dockerfile = false;
};

// Reads manifest.json, form.json (optional), the documents and the Dockerfile from an
// extracted package directory.
Result<PackageInfo> read_package(const std::string& dir);

// Writes a tar of `dir` (the Docker build context) to `tar_path`. Regular files and
// directories only; symlinks are stored as links but never followed.
Status write_build_context(const std::string& dir, const std::string& tar_path);

}  // namespace pirus
