#include "store/row_mapping.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace pirus {

std::string documents_to_json(const std::map<std::string, std::string>& docs) {
  boost::json::object o;
  for (const auto& [key, path] : docs) o[key] = path;
  return boost::json::serialize(o);
}

Result<std::map<std::string, std::string>> documents_from_json(const std::string& text, Id id) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  Status bad =
      Status::internal("pipeline " + std::to_string(id) + " has a malformed documents column");
  if (ec || !v.is_object()) return bad;
  std::map<std::string, std::string> out;
  for (const auto& kv : v.get_object()) {
    if (!kv.value().is_string()) return bad;
    out.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
  }
  return out;
}

}  // namespace pirus
