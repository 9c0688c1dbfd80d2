#include "api/web_routes.hpp"

#include <filesystem>
#include <string_view>
#include <system_error>

#include "core/offload.hpp"

namespace pirus::api {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using http::Request;
using http::Response;

namespace {

struct StaticFile {
  int status = 200;  // 200, or 404 with `detail`
  std::string detail;
  std::string path;  // what to send (maybe the .gz sibling)
  std::string content_type;
  std::string etag;
  bool gzip = false;
};

std::string content_type_of(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// True when `p` (canonical) is `root` (canonical) or below it: symbolic links that lead out
// of the root are refused this way, whatever the request spelled.
bool inside(const fs::path& p, const fs::path& root) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

std::optional<fs::path> regular_inside(const fs::path& p, const fs::path& root) {
  std::error_code ec;
  fs::path real = fs::canonical(p, ec);
  if (ec || !inside(real, root) || !fs::is_regular_file(real, ec)) return std::nullopt;
  return real;
}

// Blocking (stat, canonical): runs on the worker pool.
StaticFile resolve(const std::string& root_dir, const std::string& rel, bool accept_gzip) {
  StaticFile out;
  std::error_code ec;
  const fs::path root = fs::canonical(root_dir, ec);
  if (ec || !fs::is_directory(root, ec)) {
    out.status = 404;
    out.detail = "the web dashboard is not installed: " + root_dir +
                 " does not exist (build it, or set web.root)";
    return out;
  }
  // The router decoded each segment; refuse every component that could climb or hide.
  bool spa_route = true;
  fs::path wanted = root;
  if (!rel.empty()) {
    std::string_view rest = rel;
    while (true) {
      auto slash = rest.find('/');
      std::string_view part = rest.substr(0, slash);
      if (part.empty() || part == "." || part == ".." ||
          part.find('\\') != std::string_view::npos) {
        out.status = 404;
        out.detail = "no such file in the web dashboard";
        return out;
      }
      wanted /= std::string(part);
      if (slash == std::string_view::npos) {
        // A name with an extension is a file; anything else is a page of the application.
        spa_route = part.find('.') == std::string_view::npos;
        break;
      }
      rest.remove_prefix(slash + 1);
    }
  }
  std::optional<fs::path> file = regular_inside(wanted, root);
  if (!file && spa_route) file = regular_inside(root / "index.html", root);
  if (!file) {
    out.status = 404;
    out.detail = "no such file in the web dashboard";
    return out;
  }
  out.content_type = content_type_of(*file);
  out.path = file->string();
  if (accept_gzip) {
    if (auto gz = regular_inside(fs::path(out.path + ".gz"), root)) {
      out.path = gz->string();
      out.gzip = true;
    }
  }
  auto size = fs::file_size(out.path, ec);
  auto mtime = fs::last_write_time(out.path, ec);
  out.etag = "\"" + std::to_string(size) + "-" + std::to_string(mtime.time_since_epoch().count()) +
             (out.gzip ? "-gz\"" : "\"");
  return out;
}

bool accepts_gzip(const Request& req) {
  auto v = req.header("accept-encoding");
  return v && v->find("gzip") != std::string::npos;
}

}  // namespace

std::string web_root_of(const Config& config) {
  if (!config.web_root.empty()) return config.web_root;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "web";
  return (exe.parent_path() / "web").string();
}

void register_web_routes(http::Server& server, Services s) {
  const std::string root = web_root_of(s.ctx.config);
  server.add(
      {"GET", "/{path...}", http::BodyKind::kNone,
       [s, root](Request& req) -> asio::awaitable<Response> {
         const std::string rel = req.params["path"];
         if (rel == "api" || rel.rfind("api/", 0) == 0) {
           co_return Response::problem(404, "Not Found", "no route for " + req.path);
         }
         const bool gzip = accepts_gzip(req);
         auto work = [root, rel, gzip] { return resolve(root, rel, gzip); };
         StaticFile f = co_await offload(s.ctx.workers, std::move(work));
         if (f.status != 200) co_return Response::problem(f.status, "Not Found", f.detail);

         Response r;
         if (req.header("if-none-match") == f.etag) {
           r.status = 304;
         } else {
           r = Response::file(f.path, f.content_type);
           if (f.gzip) r.headers["Content-Encoding"] = "gzip";
         }
         r.headers["ETag"] = f.etag;
         // Names carry no content hash (no bundler): browsers revalidate every
         // time, which the ETag makes a 304 without a body.
         r.headers["Cache-Control"] = "no-cache";
         r.headers["Vary"] = "Accept-Encoding";
         r.headers["X-Content-Type-Options"] = "nosniff";
         if (f.content_type.rfind("text/html", 0) == 0) {
           r.headers["Content-Security-Policy"] =
               "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
               "object-src 'none'; "
               "base-uri 'none'; frame-ancestors 'self'";
         }
         co_return r;
       }});
}

}  // namespace pirus::api
