#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace pirus {

// Hex SHA-256 of a file, read in 1 MiB blocks (constant memory whatever the size).
Result<std::string> sha256_file(const std::string& path);
std::string sha256_hex(const std::string& data);

// An incremental SHA-256 (for data that arrives in pieces). Copyable: a copy continues
// from the same state, so a caller can try a piece and keep or drop it.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);

  void update(const void* data, std::size_t size);
  // The 32-byte digest of everything so far; the state is left unchanged.
  std::string digest() const;
  std::string hex_digest() const;

 private:
  void* ctx_;  // EVP_MD_CTX
};

// Standard base64 (RFC 4648, with padding) to bytes. nullopt for anything else: wrong
// length, stray characters, misplaced padding.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace pirus
