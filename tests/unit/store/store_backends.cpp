#include "store_fixture.hpp"
#include "support/postgres_server.hpp"

namespace pirus {

std::vector<StoreBackend> store_backends() {
  return {
      {"sqlite", [](const testing::TempDir& dir) { return "sqlite://" + dir / "pirus.db"; }},
      // Each test gets its own database on the process's throw-away cluster.
      {"postgres",
       [](const testing::TempDir&) { return testing::PostgresServer::shared().fresh_url(); }},
  };
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(store_backends()),
                         [](const ::testing::TestParamInfo<StoreBackend>& info) {
                           return info.param.name;
                         });

}  // namespace pirus
