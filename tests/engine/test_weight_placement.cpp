// Placement, budgets and the cost model on constructed inputs; the O_DIRECT reader on a real
// file with unaligned ranges.
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>

#include "engine/core/error.h"
#include "engine/weights/aligned_buffer.h"
#include "engine/weights/budget.h"
#include "engine/weights/cost_model.h"
#include "engine/weights/direct_reader.h"
#include "engine/weights/placement.h"
#include "engine/weights/weight_options.h"
#include "engine/weights/weight_residency.h"
#include "tests/support/test_paths.h"

namespace strata {
namespace {

TEST(Budget, ParsesBytesUnitsAndPercentages) {
  EXPECT_EQ(*Budget::parse("1073741824", "x").bytes, 1073741824u);
  EXPECT_EQ(*Budget::parse("8G", "x").bytes, 8ull << 30);
  EXPECT_EQ(*Budget::parse("512MiB", "x").bytes, 512ull << 20);
  EXPECT_EQ(*Budget::parse("1.5g", "x").bytes, 3ull << 29);
  EXPECT_EQ(*Budget::parse("8GB", "x").bytes, 8000000000ull);
  EXPECT_EQ(Budget::parse("50%", "x").resolve(1000), 500u);
  EXPECT_EQ(Budget::parse("", "x").resolve(1000), UINT64_MAX);
  for (const char* bad : {"-1", "12Q", "150%", "G", "1,5G"}) EXPECT_THROW(Budget::parse(bad, "--ram-budget"), Error) << bad;
}

TEST(TierShares, ParsesNamedAndPositionalShares) {
  EXPECT_FALSE(TierShares::parse("auto", "x"));
  auto s = TierShares::parse("ram=25,ssd=75", "x");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ram, 25);
  EXPECT_EQ(s->ssd, 75);
  EXPECT_EQ(s->gpu, 0);
  s = TierShares::parse("10,40,50", "x");
  EXPECT_EQ(s->gpu, 10);
  for (const char* bad : {"ram=50", "ram=50,disk=50", "50,50", "ram=50,60,ssd=-10"})
    EXPECT_THROW(TierShares::parse(bad, "--weight-tiers"), Error) << bad;
}

TEST(WeightResidency, MmapModesParseAndName) {
  for (MmapMode m : {MmapMode::Auto, MmapMode::On, MmapMode::Off}) EXPECT_EQ(parse_mmap_mode(mmap_mode_name(m)), m);
  EXPECT_EQ(parse_mmap_mode(""), MmapMode::Auto);
  for (const char* bad : {"yes", "1", "ON", "mapped"}) EXPECT_FALSE(parse_mmap_mode(bad)) << bad;
}

TEST(WeightResidency, AutoCopiesOnlyWithHugePagesAndMostMemoryLeftFree) {
  const uint64_t gib = uint64_t{1} << 30;
  const HostMemory roomy{20 * gib, true}, no_thp{20 * gib, false}, tight{3 * gib, true}, unknown{0, true};
  EXPECT_TRUE(copy_weights_at_load(MmapMode::Auto, gib, roomy));
  EXPECT_TRUE(copy_weights_at_load(MmapMode::Auto, 10 * gib, roomy));   // exactly half
  EXPECT_FALSE(copy_weights_at_load(MmapMode::Auto, 10 * gib + 1, roomy));
  EXPECT_FALSE(copy_weights_at_load(MmapMode::Auto, gib, no_thp));
  EXPECT_FALSE(copy_weights_at_load(MmapMode::Auto, 2 * gib, tight));
  EXPECT_FALSE(copy_weights_at_load(MmapMode::Auto, gib, unknown));
  // An explicit mode is obeyed whatever the host.
  for (const HostMemory& h : {roomy, no_thp, tight, unknown}) {
    EXPECT_FALSE(copy_weights_at_load(MmapMode::On, gib, h));
    EXPECT_TRUE(copy_weights_at_load(MmapMode::Off, 40 * gib, h));
  }
  EXPECT_NE(weight_residency_reason(MmapMode::Auto, gib, no_thp).find("huge pages are off"), std::string::npos);
  EXPECT_EQ(weight_residency_reason(MmapMode::Auto, 10 * gib + 1, roomy).rfind("mapped", 0), 0u);
  EXPECT_EQ(weight_residency_reason(MmapMode::Off, gib, tight).rfind("copied", 0), 0u);
}

TEST(WeightResidency, ReadsThisHostsAvailableMemory) {
  const HostMemory h = read_host_memory();
  EXPECT_GT(h.available_bytes, uint64_t{64} << 20);  // this process runs: there is some
}

TEST(Placement, SpreadsSsdLayersEvenly) {
  const Placement p = spread_placement(8, 4, 2);
  std::string map;
  for (Tier t : p.layers) map += t == Tier::Ssd ? 'S' : 'R';
  EXPECT_EQ(map, "RSRSRSRS");
  EXPECT_EQ(spread_placement(8, 0, 2).staging_slots, 0);
  EXPECT_EQ(spread_placement(8, 8, 2).count(Tier::Ssd), 8);
  EXPECT_EQ(spread_placement(8, 2, 2).count(Tier::Ssd), 2);
}

WeightSizes uniform(int n, uint64_t layer, uint64_t globals) {
  WeightSizes s;
  s.resident_bytes.assign(n, layer);
  s.read_bytes.assign(n, layer);
  s.globals_bytes = globals;
  s.model_bytes = globals + n * layer;
  return s;
}

CostInputs costs(int n, uint64_t layer, double compute_s, double ssd_bps) {
  CostInputs c;
  c.compute_s.assign(n, compute_s);
  c.read_bytes.assign(n, layer);
  c.ssd_bytes_per_s = ssd_bps;
  return c;
}

TEST(CostModel, AllResidentIsComputeBound) {
  const CostInputs c = costs(10, 100, 0.01, 1000);
  const Prediction p = predict(c, spread_placement(10, 0, 0));
  EXPECT_NEAR(p.seconds_per_token, 0.1, 1e-9);
  EXPECT_EQ(p.bound, "compute");
  EXPECT_EQ(p.io_s, 0);
}

TEST(CostModel, SlowSsdIsBandwidthBoundAtItsReadTime) {
  // Each read takes 0.1 s, each layer computes in 0.01 s: all-SSD costs the reads.
  const CostInputs c = costs(10, 100, 0.01, 1000);
  const Prediction p = predict(c, spread_placement(10, 10, 2));
  EXPECT_EQ(p.bound, "ssd bandwidth");
  EXPECT_NEAR(p.seconds_per_token, 1.0, 0.05);
  EXPECT_NEAR(p.io_s, 1.0, 1e-9);
}

TEST(CostModel, FastSsdWithPrefetchHidesTheReads) {
  // Reads take 0.005 s, compute 0.01 s per layer: with two buffers each read overlaps the
  // previous layer's compute; with one buffer it cannot start before that layer ends.
  const CostInputs c = costs(10, 5, 0.01, 1000);
  const Prediction two = predict(c, spread_placement(10, 10, 2));
  const Prediction one = predict(c, spread_placement(10, 10, 1));
  EXPECT_EQ(two.bound, "compute");
  EXPECT_NEAR(two.seconds_per_token, 0.1, 1e-6);
  EXPECT_GT(two.hidden_share, 0.99);
  EXPECT_NEAR(one.seconds_per_token, 0.15, 1e-6);
  EXPECT_EQ(one.bound, "prefetch depth");
  // Interleaved RAM layers give even a single buffer compute to hide behind.
  const Prediction half = predict(c, spread_placement(10, 5, 1));
  EXPECT_NEAR(half.seconds_per_token, 0.1, 1e-6);
}

TEST(CostModel, ChoosesAllRamWhenItFits) {
  const WeightSizes s = uniform(10, 100, 50);
  const PlanChoice pc = choose_placement(costs(10, 100, 0.01, 1000), s, 1050);
  EXPECT_EQ(pc.placement.count(Tier::Ssd), 0);
  EXPECT_EQ(pc.placement.ram_bytes(s), 1050u);
}

TEST(CostModel, KeepsAsManyLayersResidentAsTheBudgetAllows) {
  const WeightSizes s = uniform(10, 100, 50);
  // 50 globals + 2 staging buffers (200) leaves 350: three layers resident at depth 1.
  const PlanChoice pc = choose_placement(costs(10, 100, 0.01, 1000), s, 600);
  EXPECT_LE(pc.placement.ram_bytes(s), 600u);
  EXPECT_GE(pc.placement.count(Tier::Ram), 3);
  EXPECT_EQ(pc.prediction.bound, "ssd bandwidth");
  // A slow SSD: fewer staging buffers, more layers resident (each resident layer saves a read).
  EXPECT_LE(pc.placement.staging_slots, 2);
}

TEST(CostModel, PrefersDeeperPrefetchWhenComputeCanHideTheReads) {
  const WeightSizes s = uniform(10, 100, 50);
  // Reads take 0.008 s and compute 0.01 s: one buffer with no RAM layer between stalls; two hide.
  const PlanChoice pc = choose_placement(costs(10, 100, 0.01, 12500), s, 50 + 2 * 100);
  EXPECT_EQ(pc.placement.staging_slots, 2);
  EXPECT_EQ(pc.prediction.bound, "compute");
}

TEST(CostModel, RefusesABudgetBelowTheMinimum) {
  const WeightSizes s = uniform(10, 100, 50);
  EXPECT_THROW(choose_placement(costs(10, 100, 0.01, 1000), s, 149), Error);
  EXPECT_NO_THROW(choose_placement(costs(10, 100, 0.01, 1000), s, 150));
}

TEST(DirectReader, ReadsUnalignedRangesAndReportsTruncation) {
  const auto path = test::temp_dir("direct") / "data.bin";
  std::vector<uint8_t> bytes(3 * 4096 + 123);
  std::iota(bytes.begin(), bytes.end(), 0);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  DirectReader r(path);
  MemoryLedger ledger("test", 1 << 20);
  AlignedBuffer buf(4 * 4096, ledger);
  for (auto [off, len] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 10}, {4095, 2}, {100, 8000}, {12000, 411}, {12288, 123}}) {
    ASSERT_LE(DirectReader::aligned_bytes(off, len), buf.size());
    const uint8_t* p = r.read(off, len, buf.data());
    EXPECT_TRUE(std::equal(p, p + len, bytes.begin() + off)) << off << "+" << len;
  }
  try {
    r.read(12000, 500, buf.data());  // 89 bytes past the end
    FAIL();
  } catch (const ModelFileError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DirectReader(path.parent_path() / "absent.bin"), ModelFileError);
}

TEST(MemoryLedger, RefusesOverBudgetAndTracksPeak) {
  MemoryLedger l("budget", 10000);
  {
    AlignedBuffer a(4096, l);
    EXPECT_THROW(AlignedBuffer(8000, l), Error);  // 4096 + 8192 > 10000
    EXPECT_EQ(l.used(), 4096u);
  }
  EXPECT_EQ(l.used(), 0u);
  EXPECT_EQ(l.peak(), 4096u);
}

}  // namespace
}  // namespace strata
