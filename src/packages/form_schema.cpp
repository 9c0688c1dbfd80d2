#include <boost/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "packages/package.hpp"
#include "packages/package_internal.hpp"

namespace pirus {

namespace json = boost::json;
using packages_internal::as_double;
using packages_internal::as_integer;
using packages_internal::describe_value;
using packages_internal::format_number;
using packages_internal::join;
using packages_internal::same_scalar;

namespace {

constexpr std::string_view kInputsFiles = "__INPUTS_FILES__";
constexpr std::string_view kGenomesRefs = "__GENOMES_REFS__";

// Keys this parser interprets; any other key of a property is passed through to clients
// untouched (UI hints and the like).
const std::set<std::string, std::less<>> kKnownFieldKeys = {
    "title", "description", "type", "required", "default", "minimum", "maximum", "enum"};

const char* type_name(FieldType t) {
  switch (t) {
    case FieldType::kInteger:
      return "integer";
    case FieldType::kNumber:
      return "number";
    case FieldType::kString:
      return "string";
    case FieldType::kBoolean:
      return "boolean";
    case FieldType::kEnum:
      return "enum";
  }
  return "string";
}

bool looks_like_placeholder(std::string_view s) {
  return s.size() > 4 && s.starts_with("__") && s.ends_with("__");
}

// The canonical placeholder for `s`, or "" when it is not one we know. The Pirus 0.2 names
// are accepted too, so forms written for it keep working.
std::string canonical_placeholder(std::string_view s) {
  if (s == kInputsFiles || s == "__PIRUS_INPUT_FILES__") return std::string(kInputsFiles);
  if (s == kGenomesRefs || s == "__PIRUS_DB_REFS__") return std::string(kGenomesRefs);
  return {};
}

// Parses one property. Problems are appended to `errors` as "<key>: <what>".
void parse_field(const std::string& key, const json::value& spec, bool required_by_list,
                 FormField* f, json::object* normalized, std::vector<std::string>* errors) {
  auto fail = [&](const std::string& what) { errors->push_back(key + ": " + what); };
  f->key = key;
  f->title = key;
  if (!spec.is_object()) return fail("must be an object");
  const json::object& o = spec.get_object();

  if (const json::value* v = o.if_contains("title")) {
    if (!v->is_string()) return fail("title: must be a string");
    f->title = std::string(v->get_string());
  }
  if (const json::value* v = o.if_contains("description")) {
    if (!v->is_string()) return fail("description: must be a string");
    f->description = std::string(v->get_string());
  }
  f->required = required_by_list;
  if (const json::value* v = o.if_contains("required")) {
    if (!v->is_bool()) return fail("required: must be true or false");
    f->required = f->required || v->get_bool();
  }

  const json::value* enum_v = o.if_contains("enum");
  std::string declared;
  if (const json::value* v = o.if_contains("type")) {
    if (!v->is_string()) return fail("type: must be a string");
    declared = std::string(v->get_string());
  } else if (enum_v) {
    declared = "enum";
  } else {
    return fail("type: required (integer, number, string, boolean or enum)");
  }
  if (declared == "integer") {
    f->type = FieldType::kInteger;
  } else if (declared == "number") {
    f->type = FieldType::kNumber;
  } else if (declared == "string") {
    f->type = enum_v ? FieldType::kEnum : FieldType::kString;
  } else if (declared == "boolean") {
    f->type = FieldType::kBoolean;
  } else if (declared == "enum") {
    f->type = FieldType::kEnum;
  } else {
    return fail("type: unknown type '" + declared + "' (integer, number, string, boolean or enum)");
  }

  if (enum_v && f->type != FieldType::kEnum) {
    return fail("enum: only allowed with type enum or string");
  }
  if (f->type == FieldType::kEnum) {
    if (!enum_v) return fail("enum: required for type enum");
    const json::value* placeholder = nullptr;
    if (enum_v->is_string()) {
      placeholder = enum_v;
    } else if (enum_v->is_array() && enum_v->get_array().size() == 1 &&
               enum_v->get_array()[0].is_string() &&
               looks_like_placeholder(enum_v->get_array()[0].get_string())) {
      placeholder = &enum_v->get_array()[0];
    }
    if (placeholder) {
      std::string_view s = placeholder->get_string();
      f->enum_placeholder = canonical_placeholder(s);
      if (f->enum_placeholder.empty()) {
        return fail(looks_like_placeholder(s)
                        ? "enum: unknown placeholder '" + std::string(s) + "' (" +
                              std::string(kInputsFiles) + " or " + std::string(kGenomesRefs) + ")"
                        : "enum: must be an array of choices or a placeholder");
      }
    } else if (!enum_v->is_array()) {
      return fail("enum: must be an array of choices or a placeholder");
    } else {
      const json::array& choices = enum_v->get_array();
      if (choices.empty()) return fail("enum: must list at least one choice");
      for (const json::value& c : choices) {
        if (!c.is_string() && !c.is_number() && !c.is_bool()) {
          return fail("enum: choices must be strings, numbers or booleans");
        }
        if (declared == "string" && !c.is_string()) {
          return fail("enum: choices of a string field must be strings");
        }
        if (c.is_string() && !canonical_placeholder(c.get_string()).empty()) {
          return fail("enum: a placeholder must be the only choice");
        }
        for (const json::value& seen : f->enum_values) {
          if (same_scalar(seen, c)) return fail("enum: " + describe_value(c) + " is listed twice");
        }
        f->enum_values.push_back(c);
      }
    }
  }

  const bool numeric = f->type == FieldType::kInteger || f->type == FieldType::kNumber;
  for (const char* bound : {"minimum", "maximum"}) {
    const json::value* v = o.if_contains(bound);
    if (!v) continue;
    if (!numeric) return fail(std::string(bound) + ": only allowed with type integer or number");
    double d = 0;
    if (!as_double(*v, &d)) return fail(std::string(bound) + ": must be a number");
    (std::string_view(bound) == "minimum" ? f->minimum : f->maximum) = d;
  }
  if (f->minimum && f->maximum && *f->minimum > *f->maximum) {
    return fail("minimum (" + format_number(*f->minimum) + ") is greater than maximum (" +
                format_number(*f->maximum) + ")");
  }

  // A null default is how some forms spell "no default".
  if (const json::value* v = o.if_contains("default"); v && !v->is_null()) {
    json::value d = *v;
    std::string what;
    switch (f->type) {
      case FieldType::kInteger: {
        std::int64_t i = 0;
        if (!as_integer(d, &i)) {
          what = "must be an integer";
        } else {
          d = i;
        }
        break;
      }
      case FieldType::kNumber:
        if (!d.is_number()) what = "must be a number";
        break;
      case FieldType::kString:
        if (!d.is_string()) what = "must be a string";
        break;
      case FieldType::kBoolean:
        if (!d.is_bool()) what = "must be true or false";
        break;
      case FieldType::kEnum:
        // Placeholder choices only exist at run time: nothing to check the default against.
        if (f->enum_placeholder.empty()) {
          bool found = false;
          for (const json::value& c : f->enum_values) found = found || same_scalar(c, d);
          if (!found) what = "must be one of the enum choices";
        }
        break;
    }
    double n = 0;
    if (what.empty() && numeric && as_double(d, &n)) {
      if (f->minimum && n < *f->minimum) what = "must be >= " + format_number(*f->minimum);
      if (f->maximum && n > *f->maximum) what = "must be <= " + format_number(*f->maximum);
    }
    if (!what.empty()) return fail("default " + describe_value(*v) + " " + what);
    f->default_value = std::move(d);
  }

  json::object& out = *normalized;
  out["title"] = f->title;
  out["description"] = f->description;
  out["type"] = type_name(f->type);
  out["required"] = f->required;
  if (f->default_value) out["default"] = *f->default_value;
  if (const json::value* v = o.if_contains("minimum")) out["minimum"] = *v;
  if (const json::value* v = o.if_contains("maximum")) out["maximum"] = *v;
  if (!f->enum_placeholder.empty()) {
    out["enum"] = f->enum_placeholder;
  } else if (f->type == FieldType::kEnum) {
    out["enum"] = json::array(f->enum_values.begin(), f->enum_values.end());
  }
  for (const auto& [k, v] : o) {
    if (!kKnownFieldKeys.contains(std::string_view(k))) out[k] = v;
  }
}

bool is_blank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return false;
  }
  return true;
}

}  // namespace

Result<FormSchema> parse_form(std::string_view text) {
  FormSchema form;
  if (is_blank(text)) return form;
  auto parsed = packages_internal::parse_json_document(text, "form.json");
  if (!parsed) return parsed.status();
  if (!parsed->is_object()) return Status::invalid("form.json: must be a JSON object");
  const json::object& root = parsed->get_object();
  if (root.empty()) return form;

  std::vector<std::string> errors;
  if (const json::value* v = root.if_contains("$schema")) {
    if (!v->is_string()) {
      errors.push_back("$schema: must be a string");
    } else {
      form.json["$schema"] = *v;
    }
  }
  if (const json::value* v = root.if_contains("type");
      v && !(v->is_string() && v->get_string() == "object")) {
    errors.push_back("type: must be \"object\"");
  }
  form.json["type"] = "object";

  // Later JSON-Schema drafts list required keys at the top instead of in each property.
  std::set<std::string, std::less<>> required_keys;
  if (const json::value* v = root.if_contains("required")) {
    bool ok = v->is_array();
    if (ok) {
      for (const json::value& k : v->get_array()) {
        if (!k.is_string()) {
          ok = false;
          break;
        }
        required_keys.emplace(k.get_string());
      }
    }
    if (!ok) errors.push_back("required: must be an array of property names");
  }

  json::object properties;
  const json::object* declared = nullptr;
  if (const json::value* v = root.if_contains("properties")) {
    if (!v->is_object()) {
      errors.push_back("properties: must be an object");
    } else {
      declared = &v->get_object();
      for (const auto& [key, spec] : *declared) {
        std::string k(key);
        if (k.empty()) {
          errors.push_back("properties: a property has an empty name");
          continue;
        }
        FormField field;
        json::object normalized;
        std::size_t before = errors.size();
        parse_field(k, spec, required_keys.contains(k), &field, &normalized, &errors);
        if (errors.size() != before) continue;
        properties[k] = std::move(normalized);
        form.fields.push_back(std::move(field));
      }
    }
  }
  for (const auto& k : required_keys) {
    if (!declared || !declared->contains(k)) {
      errors.push_back("required: '" + k + "' is not a property");
    }
  }
  for (const auto& [k, v] : root) {
    if (k != "$schema" && k != "type" && k != "required" && k != "properties") form.json[k] = v;
  }
  form.json["properties"] = std::move(properties);

  if (!errors.empty()) return Status::invalid("form.json: " + join(errors, "; "));
  return form;
}

}  // namespace pirus
