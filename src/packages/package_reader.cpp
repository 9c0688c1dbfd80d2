#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "packages/package.hpp"
#include "packages/package_internal.hpp"

namespace pirus {

using packages_internal::open_beneath;
using packages_internal::read_file_beneath;
using packages_internal::UniqueFd;

namespace {

// Both files are a few kilobytes in practice; the cap keeps a hostile package from making
// the server parse a gigabyte of JSON.
constexpr std::int64_t kMaxJsonBytes = 1 << 20;

bool is_regular_beneath(int root, const std::string& rel) {
  UniqueFd fd(open_beneath(root, rel, O_PATH));
  if (fd.get() < 0) return false;
  struct stat st;
  return ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<PackageInfo> read_package(const std::string& dir) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return Status::not_found("package directory '" + dir + "' does not exist");
    }
    return Status::internal("opening '" + dir + "': " + std::strerror(errno));
  }
  PackageInfo info;

  auto manifest_text = read_file_beneath(root.get(), "manifest.json", kMaxJsonBytes);
  if (!manifest_text) return manifest_text.status();
  if (!manifest_text->has_value()) {
    return Status::invalid("the package has no manifest.json at its top level");
  }
  auto manifest = parse_manifest(**manifest_text);
  if (!manifest) return manifest.status();
  info.manifest = std::move(manifest).value();

  auto form_text = read_file_beneath(root.get(), "form.json", kMaxJsonBytes);
  if (!form_text) return form_text.status();
  info.form_text = form_text->has_value() ? std::move(**form_text) : std::string("{}");
  auto form = parse_form(info.form_text);
  if (!form) return form.status();
  info.form = std::move(form).value();

  // First present candidate wins for each document.
  const std::pair<const char*, std::vector<const char*>> documents[] = {
      {"about", {"doc/about.html"}},
      {"help", {"doc/help.html"}},
      {"icon", {"doc/icon.png", "doc/icon.jpg"}},
      {"license", {"LICENSE"}},
      {"readme", {"README", "README.md"}},
  };
  for (const auto& [name, candidates] : documents) {
    for (const char* rel : candidates) {
      if (is_regular_beneath(root.get(), rel)) {
        info.documents[name] = rel;
        break;
      }
    }
  }
  info.has_dockerfile = is_regular_beneath(root.get(), "Dockerfile");
  return info;
}

}  // namespace pirus
