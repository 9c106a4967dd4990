#include "seawall/app/app_metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/process_stats.hpp"

namespace seawall::app {
namespace {

using ::testing::HasSubstr;

TEST(AppMetricsTest, DescribesEveryAppMetric) {
  metrics::Registry registry;
  declare_metrics(registry);
  const std::string table = registry.describe();
  for (const metrics::Spec& spec : kAppMetrics) {
    EXPECT_THAT(table, HasSubstr(std::string(spec.name) + " ")) << spec.name;
  }
}

TEST(AppMetricsTest, RendersBuildInfoClientsAndStartTime) {
  metrics::Registry registry;
  declare_metrics(registry);
  std::atomic<std::uint32_t> clients{3};
  register_app_metrics(
      registry, clients,
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000250)));
  std::string text = registry.render();
  EXPECT_THAT(text, HasSubstr("\nseawall_build_info{version=\"" SEAWALL_VERSION "\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nseawall_clients 3\n"));
  EXPECT_THAT(text, HasSubstr("\nprocess_start_time_seconds 1700000000.25\n"));
  // The client count is read at each scrape.
  clients = 0;
  EXPECT_THAT(registry.render(), HasSubstr("\nseawall_clients 0\n"));
}

TEST(ProcessStatsTest, ReadsThisProcess) {
  EXPECT_GE(detail::process_cpu_seconds(), 0.0);
  EXPECT_GT(detail::process_resident_bytes(), 1024.0 * 1024.0);
  EXPECT_GT(detail::process_max_fds(), 0.0);
  // Opening a descriptor shows up in the count.
  const double before = detail::process_open_fds();
  const int fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(detail::process_open_fds(), before + 1);
  ::close(fd);
  EXPECT_EQ(detail::process_open_fds(), before);
}

}  // namespace
}  // namespace seawall::app
