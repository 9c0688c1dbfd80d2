#include <boost/json.hpp>

#include "packages/package.hpp"

namespace pirus {

namespace json = boost::json;

json::object resolve_form_choices(const json::object& form, const FormContext& ctx,
                                  bool resolve_inputs) {
  json::object out = form;
  json::value* props = out.if_contains("properties");
  if (props == nullptr || !props->is_object()) return out;
  for (auto& [key, field] : props->get_object()) {
    if (!field.is_object()) continue;
    json::object& f = field.get_object();
    const json::value* e = f.if_contains("enum");
    if (e == nullptr || !e->is_string()) continue;
    const std::string placeholder(e->get_string());
    const std::vector<std::string>* names = nullptr;
    if (placeholder == "__GENOMES_REFS__") {
      names = &ctx.genome_refs;
    } else if (placeholder == "__INPUTS_FILES__" && resolve_inputs) {
      names = &ctx.input_names;
    }
    if (names == nullptr) continue;
    f["enum"] = json::array(names->begin(), names->end());
    f["enum_placeholder"] = placeholder;
  }
  return out;
}

}  // namespace pirus
