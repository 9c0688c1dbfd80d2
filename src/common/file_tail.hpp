#pragma once
// Finding the last lines of a file without reading the whole file: the file is read
// backwards from its end in fixed blocks, so a tail of a 10 GB log costs the blocks that hold
// those lines and no more memory than one block. Thread-safe (no shared state); blocking, so
// the server calls it through offload().

#include <cstdint>
#include <string>

#include "common/status.hpp"

namespace pirus {

struct TailWindow {
  std::int64_t offset = 0;  // where the last lines start
  std::int64_t size = 0;    // the file's size when it was read: the window is [offset, size)
};

// The window holding the last `lines` lines of the file at `path`. A final newline ends the
// last line rather than starting an empty one; a last line without a newline counts as a
// line. Fewer lines in the file than asked: the whole file (offset 0). lines = 0: an empty
// window at the end. kNotFound when the file does not exist, kInternal when it cannot be
// read, kInvalid for negative `lines`.
Result<TailWindow> find_tail(const std::string& path, std::int64_t lines);

}  // namespace pirus
