#include "store/job_messages.hpp"

#include <string>

namespace pirus {

Status about_job(const Status& st, Id id) {
  const std::string& m = st.message();
  if (m.rfind("job ", 0) == 0) return {st.code(), "job " + std::to_string(id) + " " + m.substr(4)};
  return {st.code(), "job " + std::to_string(id) + ": " + m};
}

Status job_moved(Id id, JobStatus actual, JobStatus expected) {
  return Status::conflict("job " + std::to_string(id) + " is " + std::string(to_string(actual)) +
                          ", not " + std::string(to_string(expected)));
}

}  // namespace pirus
