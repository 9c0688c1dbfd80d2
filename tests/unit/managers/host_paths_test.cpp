#include "managers/docker/host_paths.hpp"

#include <gtest/gtest.h>

namespace pirus::docker {
namespace {

TEST(HostPathMap, SameDirectoriesMapNothing) {
  HostPathMap m("/var/lib/pirus", "/var/lib/pirus");
  EXPECT_TRUE(m.identity());
  EXPECT_EQ(m.to_host("/var/lib/pirus/jobs/1/inputs"), "/var/lib/pirus/jobs/1/inputs");
  EXPECT_TRUE(HostPathMap().identity());
  EXPECT_TRUE(HostPathMap("/data", "").identity());
}

TEST(HostPathMap, PathsUnderDataDirMoveToTheHostDirectory) {
  HostPathMap m("/data", "/srv/pirus/data");
  EXPECT_FALSE(m.identity());
  EXPECT_EQ(m.to_host("/data"), "/srv/pirus/data");
  EXPECT_EQ(m.to_host("/data/jobs/7/outputs"), "/srv/pirus/data/jobs/7/outputs");
  EXPECT_EQ(m.to_host("/data/databases"), "/srv/pirus/data/databases");
}

TEST(HostPathMap, OnlyWholeComponentsMatch) {
  HostPathMap m("/data", "/host");
  EXPECT_EQ(m.to_host("/data2/jobs"), "/data2/jobs");
  EXPECT_EQ(m.to_host("/dat"), "/dat");
  EXPECT_EQ(m.to_host("/elsewhere/data/x"), "/elsewhere/data/x");
}

TEST(HostPathMap, RootDirectoriesOnEitherSide) {
  EXPECT_EQ(HostPathMap("/", "/host").to_host("/jobs/1"), "/host/jobs/1");
  EXPECT_EQ(HostPathMap("/", "/host").to_host("/"), "/host");
  EXPECT_EQ(HostPathMap("/data", "/").to_host("/data/jobs/1"), "/jobs/1");
  EXPECT_EQ(HostPathMap("/data", "/").to_host("/data"), "/");
}

}  // namespace
}  // namespace pirus::docker
