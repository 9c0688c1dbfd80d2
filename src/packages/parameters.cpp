#include <algorithm>
#include <boost/json.hpp>
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

// Long choice lists are cut in messages: the form itself lists them all.
constexpr std::size_t kChoicesInMessage = 8;

std::string describe_choices(const std::vector<json::value>& choices) {
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < choices.size() && i < kChoicesInMessage; ++i) {
    shown.push_back(describe_value(choices[i], 40));
  }
  std::string s = join(shown, ", ");
  if (choices.size() > kChoicesInMessage) s += ", ...";
  return s;
}

// Checks one supplied value; returns the problem ("" when fine) and normalizes `v`.
std::string check_value(const FormField& f, json::value* v, const FormContext& ctx) {
  switch (f.type) {
    case FieldType::kInteger: {
      std::int64_t i = 0;
      if (!as_integer(*v, &i)) return "must be an integer";
      *v = i;
      break;
    }
    case FieldType::kNumber:
      if (!v->is_number()) return "must be a number";
      break;
    case FieldType::kString:
      if (!v->is_string()) return "must be a string";
      break;
    case FieldType::kBoolean:
      if (!v->is_bool()) return "must be true or false";
      break;
    case FieldType::kEnum: {
      if (!f.enum_placeholder.empty()) {
        const bool inputs = f.enum_placeholder == "__INPUTS_FILES__";
        const auto& allowed = inputs ? ctx.input_names : ctx.genome_refs;
        if (!v->is_string() ||
            std::find(allowed.begin(), allowed.end(), v->get_string()) == allowed.end()) {
          return inputs ? "must be the name of one of the job's input files"
                        : "must be one of the reference genomes installed on the server";
        }
        break;
      }
      for (const json::value& c : f.enum_values) {
        if (same_scalar(c, *v)) return "";
      }
      return "must be one of " + describe_choices(f.enum_values) + " (got " +
             describe_value(*v, 40) + ")";
    }
  }
  double n = 0;
  if (as_double(*v, &n)) {
    if (f.minimum && n < *f.minimum) return "must be >= " + format_number(*f.minimum);
    if (f.maximum && n > *f.maximum) return "must be <= " + format_number(*f.maximum);
  }
  return "";
}

}  // namespace

Result<json::object> validate_parameters(const FormSchema& form, const json::object& params,
                                         const FormContext& ctx) {
  json::object out;
  std::vector<std::string> errors;
  for (const FormField& f : form.fields) {
    const json::value* given = params.if_contains(f.key);
    // Clients send null for a field left empty: that is "not given", not a value.
    if (!given || given->is_null()) {
      if (f.default_value && !f.enum_placeholder.empty()) {
        // Unchecked at install (the lists did not exist): checked now, like a given value.
        json::value v = *f.default_value;
        std::string problem = check_value(f, &v, ctx);
        if (!problem.empty()) {
          errors.push_back(f.key + ": the default " + describe_value(v, 40) + " " + problem);
        } else {
          out[f.key] = std::move(v);
        }
      } else if (f.default_value) {
        out[f.key] = *f.default_value;
      } else if (f.required) {
        errors.push_back(f.key + ": required");
      }
      continue;
    }
    json::value v = *given;
    std::string problem = check_value(f, &v, ctx);
    if (!problem.empty()) {
      errors.push_back(f.key + ": " + problem);
      continue;
    }
    out[f.key] = std::move(v);
  }
  for (const auto& [key, value] : params) {
    const bool known = std::any_of(form.fields.begin(), form.fields.end(),
                                   [&](const FormField& f) { return f.key == key; });
    if (!known) errors.push_back(std::string(key) + ": unknown parameter");
  }
  if (!errors.empty()) return Status::invalid(join(errors, "; "));
  return out;
}

}  // namespace pirus
