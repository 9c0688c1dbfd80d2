#pragma once
// How model objects look on the wire (docs/api.md). Server paths never leave the server.

#include <boost/json/object.hpp>
#include <vector>

#include "managers/container_manager.hpp"
#include "model/model.hpp"

namespace pirus::api {

boost::json::object file_json(const File& f);
// With "companions": [{"id", "name"}], the files that accompany `f` (its indexes).
boost::json::object file_json(const File& f, const std::vector<File>& companions);
// `detail` adds the manifest and the form.
boost::json::object pipeline_json(const Pipeline& p, bool detail);
boost::json::object job_json(const Job& j);

}  // namespace pirus::api
