#include "store_fixture.hpp"

namespace pirus {

std::vector<StoreBackend> store_backends() {
  return {
      {"sqlite", [](const testing::TempDir& dir) { return "sqlite://" + dir / "pirus.db"; }},
  };
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(store_backends()),
                         [](const ::testing::TestParamInfo<StoreBackend>& info) {
                           return info.param.name;
                         });

}  // namespace pirus
