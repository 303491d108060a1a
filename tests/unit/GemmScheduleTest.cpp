// The default GEMM schedule template's choices that the kernels' speed rests on (GemmSchedule.cpp).
#include "schedule/GemmSchedule.h"

#include <gtest/gtest.h>

#include "lower/KernelPlan.h"

namespace mixerc {
namespace {

KernelSignature dense(int64_t n, int64_t k, bool scale) {
  KernelSignature sig;
  sig.op = KernelOp::DenseChannels;
  sig.n = n;
  sig.k = k;
  sig.rows_per_image = 49;
  sig.panel = 64;
  sig.bias = !scale;
  sig.scale = scale;
  return sig;
}

TEST(GemmSchedule, AvxFiveTwelveTileIsSixRowsOfFourVectors) {
  const GemmSchedule s = defaultGemmSchedule(dense(512, 128, false), VectorMachine{16, 32});
  EXPECT_EQ(s.panel, 64);
  EXPECT_EQ(s.vector, 16);
  EXPECT_EQ(s.micro_rows, 6);
  EXPECT_EQ(s.panels_per_task, 1);
  EXPECT_FALSE(s.panels_inner);
}

TEST(GemmSchedule, ScaledProductSweepsPanelsPerRowTileWhenBFitsInL2) {
  // Fashion-MNIST's dx GEMM times the saved GELU derivative: B is 512 x 128 floats (256 KiB).
  const GemmSchedule small = defaultGemmSchedule(dense(512, 128, true), VectorMachine{16, 32});
  EXPECT_TRUE(small.panels_inner);
  EXPECT_EQ(small.panels_per_task, 0);
  // S/16's 2048 x 512 (4 MiB) would stream B once per row tile: panel-major as usual.
  const GemmSchedule large = defaultGemmSchedule(dense(2048, 512, true), VectorMachine{16, 32});
  EXPECT_FALSE(large.panels_inner);
  EXPECT_EQ(large.panels_per_task, 1);
}

TEST(GemmSchedule, ProductWritingTheDerivativeSweepsPanelsPerRowTileWhenBFitsInL2) {
  // The training forward GEMM that also writes gelu'(a): two outputs per element, written along
  // whole rows.
  KernelSignature small = dense(512, 128, false);
  small.activation = Activation::GeluErf;
  small.derivative = true;
  EXPECT_TRUE(defaultGemmSchedule(small, VectorMachine{16, 32}).panels_inner);
  KernelSignature large = dense(2048, 512, false);
  large.activation = Activation::GeluErf;
  large.derivative = true;
  EXPECT_FALSE(defaultGemmSchedule(large, VectorMachine{16, 32}).panels_inner);
}

KernelSignature tokens(int64_t channels, int64_t outTokens, int64_t k) {
  KernelSignature sig;
  sig.op = KernelOp::DenseTokens;
  sig.n = channels;
  sig.m = outTokens;
  sig.k = k;
  return sig;
}

TEST(GemmSchedule, FortyNineTokensTakeSevenRowTiles) {
  const GemmSchedule s = defaultGemmSchedule(tokens(128, 49, 64), VectorMachine{16, 32});
  EXPECT_EQ(s.micro_rows, 7);
  EXPECT_EQ(s.panel, 32);
  // 196 tokens waste 2 rows in 6-row tiles: the 6 x 64 tile stays, as do 64 tokens and AVX2.
  EXPECT_EQ(defaultGemmSchedule(tokens(512, 196, 256), VectorMachine{16, 32}).micro_rows, 6);
  EXPECT_EQ(defaultGemmSchedule(tokens(128, 64, 49), VectorMachine{16, 32}).micro_rows, 6);
  EXPECT_EQ(defaultGemmSchedule(tokens(128, 49, 64), VectorMachine{8, 16}).micro_rows, 6);
}

TEST(GemmSchedule, TokenGemmTasksTakeAllTokensOfOnePanelWhenThereAreFourPanels) {
  // S/16's 256-token output: 43 six-row tiles in one block per (panel, image) task.
  EXPECT_EQ(defaultGemmSchedule(tokens(512, 256, 196), VectorMachine{16, 32}).tiles_per_block, 43);
  // Two 64-wide panels (Fashion-MNIST's 128 channels) keep 96-row blocks, as does a product that
  // sweeps all panels per row tile (a task would be a whole image).
  EXPECT_EQ(defaultGemmSchedule(tokens(128, 64, 49), VectorMachine{16, 32}).tiles_per_block, 16);
  KernelSignature scaled = tokens(512, 256, 196);
  scaled.scale = true;
  const GemmSchedule inner = defaultGemmSchedule(scaled, VectorMachine{16, 32});
  EXPECT_TRUE(inner.panels_inner);
  EXPECT_EQ(inner.tiles_per_block, 16);
}

TEST(GemmSchedule, KUnrollDividesTheReduction) {
  EXPECT_EQ(defaultGemmSchedule(dense(128, 49, false), VectorMachine{}).k_unroll, 1);
  EXPECT_EQ(defaultGemmSchedule(dense(128, 98, false), VectorMachine{}).k_unroll, 2);
  EXPECT_EQ(defaultGemmSchedule(dense(128, 512, false), VectorMachine{}).k_unroll, 4);
}


TEST(GemmScheduleRecord, TextRoundTrips) {
  GemmSchedule s = defaultGemmSchedule(dense(512, 128, true), VectorMachine{16, 32});
  GemmSchedule back;
  std::string error;
  ASSERT_TRUE(parseGemmSchedule(s.str(), &back, &error)) << error;
  EXPECT_EQ(back.str(), s.str());
  s.micro_rows = 3;
  s.panels_inner = !s.panels_inner;
  ASSERT_TRUE(parseGemmSchedule(s.str(), &back, &error)) << error;
  EXPECT_EQ(back.str(), s.str());
}

TEST(GemmScheduleRecord, MalformedRecordsNameTheItem) {
  const std::string good = defaultGemmSchedule(dense(64, 32, false), VectorMachine{16, 32}).str();
  GemmSchedule out;
  std::string error;
  EXPECT_FALSE(parseGemmSchedule(good + " colour=blue", &out, &error));
  EXPECT_NE(error.find("unknown item 'colour=blue'"), std::string::npos) << error;
  EXPECT_FALSE(parseGemmSchedule(good + " panel=64", &out, &error));
  EXPECT_NE(error.find("'panel' given twice"), std::string::npos) << error;
  EXPECT_FALSE(parseGemmSchedule("panel=64", &out, &error));
  EXPECT_NE(error.find("no 'vector'"), std::string::npos) << error;
  std::string negative = good;
  negative.replace(negative.find("micro_rows=") + 11, 1, "-");
  EXPECT_FALSE(parseGemmSchedule(negative, &out, &error));
  EXPECT_NE(error.find("is not a count"), std::string::npos) << error;
  EXPECT_FALSE(parseGemmSchedule("", &out, &error));
}

TEST(GemmScheduleRecord, ValidityFollowsTheLayoutAndTheRegisterFile) {
  const VectorMachine avx512{16, 32};
  const KernelSignature sig = dense(512, 128, false);
  GemmSchedule s = defaultGemmSchedule(sig, avx512);
  std::string error;
  EXPECT_TRUE(validGemmSchedule(sig, avx512, s, &error)) << error;
  GemmSchedule wide = s;
  wide.panel = 32; // the packed weights are 64-wide panels
  EXPECT_FALSE(validGemmSchedule(sig, avx512, wide, &error));
  EXPECT_NE(error.find("packed weights' 64"), std::string::npos) << error;
  GemmSchedule spill = s;
  spill.micro_rows = 9; // 36 accumulators
  EXPECT_FALSE(validGemmSchedule(sig, avx512, spill, &error));
  GemmSchedule unroll = s;
  unroll.k_unroll = 3; // k = 128
  EXPECT_FALSE(validGemmSchedule(sig, avx512, unroll, &error));
}

} // namespace
} // namespace mixerc
