// The default depthwise schedule template's choices and the record's text and validity
// (schedule/DepthwiseSchedule.cpp, schedule/RecordText.cpp).
#include "schedule/DepthwiseSchedule.h"

#include <gtest/gtest.h>

#include "DepthwiseSignature.h"

namespace mixerc {
namespace {

constexpr auto depthwise = &depthwiseSignature;

constexpr VectorMachine kAvx512{16, 32}, kAvx2{8, 16};

TEST(DepthwiseScheduleTemplate, TwoVectorsBySixPixelsOnAvx512) {
  // ConvMixer-768/32 at 224: a 32 x 32 grid; 6 does not divide 32 but 4 does.
  DepthwiseSchedule s = defaultDepthwiseSchedule(depthwise(768, 32, 32, 7), kAvx512);
  EXPECT_EQ(s.vector, 16);
  EXPECT_EQ(s.vectors, 2);
  EXPECT_EQ(s.pixels, 4);
  EXPECT_EQ(s.channel_block, 64);
  EXPECT_EQ(s.rows, 8);
  EXPECT_EQ(defaultDepthwiseSchedule(depthwise(256, 30, 30, 9), kAvx512).pixels, 6);
  EXPECT_EQ(defaultDepthwiseSchedule(depthwise(256, 30, 30, 9), kAvx2).pixels, 3);
  std::string error;
  EXPECT_TRUE(validDepthwiseSchedule(depthwise(768, 32, 32, 7), kAvx512, s, &error)) << error;
}

TEST(DepthwiseScheduleTemplate, FewChannelsAndSmallGrids) {
  // Fewer channels than a vector: scalar lanes; fewer than two vectors: one vector per tile.
  DepthwiseSchedule narrow = defaultDepthwiseSchedule(depthwise(12, 5, 5, 3), kAvx512);
  EXPECT_EQ(narrow.vector, 1);
  EXPECT_EQ(narrow.vectors, 1);
  EXPECT_EQ(narrow.pixels, 5);
  EXPECT_EQ(narrow.channel_block, 12);
  EXPECT_EQ(narrow.rows, 5);
  DepthwiseSchedule odd = defaultDepthwiseSchedule(depthwise(40, 10, 14, 3), kAvx512);
  EXPECT_EQ(odd.vectors, 2);
  EXPECT_EQ(odd.channel_block, 40);
  std::string error;
  EXPECT_TRUE(validDepthwiseSchedule(depthwise(12, 5, 5, 3), kAvx512, narrow, &error)) << error;
  EXPECT_TRUE(validDepthwiseSchedule(depthwise(40, 10, 14, 3), kAvx512, odd, &error)) << error;
}

TEST(DepthwiseScheduleTemplate, ChannelBlocksDivideTheChannels) {
  // A block that does not divide the channels read the taps past their end (96 channels in
  // blocks of 64 did, with the block fixed at 64).
  EXPECT_EQ(defaultDepthwiseSchedule(depthwise(96, 8, 8, 5), kAvx512).channel_block, 32);
  EXPECT_EQ(defaultDepthwiseSchedule(depthwise(1536, 8, 8, 5), kAvx512).channel_block, 64);
  EXPECT_EQ(defaultDepthwiseSchedule(depthwise(80, 8, 8, 5), kAvx512).channel_block, 80);
  EXPECT_EQ(defaultDepthwiseSchedule(depthwise(80, 8, 8, 5), kAvx2).channel_block, 16);
  EXPECT_EQ(defaultDepthwiseSchedule(depthwise(67, 8, 8, 5), kAvx512).channel_block, 67);
  for (int channels = 1; channels <= 600; ++channels)
    for (VectorMachine machine : {kAvx512, kAvx2}) {
      const KernelSignature sig = depthwise(channels, 8, 8, 5);
      std::string error;
      EXPECT_TRUE(validDepthwiseSchedule(sig, machine, defaultDepthwiseSchedule(sig, machine),
                                         &error))
          << error;
    }
}

TEST(DepthwiseScheduleRecord, TextRoundTripsAndMalformedTextIsNamed) {
  DepthwiseSchedule s = defaultDepthwiseSchedule(depthwise(256, 30, 30, 9), kAvx512);
  s.pixels = 5;
  DepthwiseSchedule back;
  std::string error;
  ASSERT_TRUE(parseDepthwiseSchedule(s.str(), &back, &error)) << error;
  EXPECT_EQ(back.str(), s.str());
  EXPECT_FALSE(parseDepthwiseSchedule(s.str() + " k_unroll=4", &back, &error));
  EXPECT_NE(error.find("depthwise schedule"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown item 'k_unroll=4'"), std::string::npos) << error;
  EXPECT_FALSE(parseDepthwiseSchedule("vector=16 vectors=2", &back, &error));
  EXPECT_NE(error.find("no 'pixels'"), std::string::npos) << error;
  EXPECT_FALSE(parseDepthwiseSchedule(s.str() + " rows=2", &back, &error));
  EXPECT_NE(error.find("'rows' given twice"), std::string::npos) << error;
  EXPECT_FALSE(parseDepthwiseSchedule("vector=16 vectors=2 pixels=x channel_block=64 rows=8",
                                      &back, &error));
  EXPECT_NE(error.find("'pixels=x' is not a count"), std::string::npos) << error;
}

TEST(DepthwiseScheduleRecord, ValidityFollowsTheRegistersAndTheGrid) {
  const KernelSignature sig = depthwise(256, 30, 30, 9);
  const DepthwiseSchedule base = defaultDepthwiseSchedule(sig, kAvx512);
  std::string error;
  DepthwiseSchedule spill = base;
  spill.vectors = 4;
  spill.pixels = 8; // 32 accumulators
  EXPECT_FALSE(validDepthwiseSchedule(sig, kAvx512, spill, &error));
  EXPECT_NE(error.find("exceed the 32 vector registers"), std::string::npos) << error;
  DepthwiseSchedule wide = base;
  wide.vector = 32; // more than the machine's lanes
  EXPECT_FALSE(validDepthwiseSchedule(sig, kAvx512, wide, &error));
  DepthwiseSchedule block = base;
  block.channel_block = 16; // less than one tile of 2 x 16
  EXPECT_FALSE(validDepthwiseSchedule(sig, kAvx512, block, &error));
  EXPECT_NE(error.find("channel_block must be the 256 channels or a multiple of the 32-channel "
                       "tile that divides them"),
            std::string::npos)
      << error;
  block.channel_block = 96; // not a divisor
  EXPECT_FALSE(validDepthwiseSchedule(sig, kAvx512, block, &error));
  block.channel_block = 40; // not a multiple of the tile
  EXPECT_FALSE(validDepthwiseSchedule(sig, kAvx512, block, &error));
  DepthwiseSchedule rows = base;
  rows.rows = 31;
  EXPECT_FALSE(validDepthwiseSchedule(sig, kAvx512, rows, &error));
  DepthwiseSchedule window = base;
  window.channel_block = 256;
  window.rows = 30; // 256 x 38 x 38 x 4 bytes = 1.4 MiB: allowed
  EXPECT_TRUE(validDepthwiseSchedule(sig, kAvx512, window, &error)) << error;
  const KernelSignature big = depthwise(1536, 64, 64, 9);
  DepthwiseSchedule huge = defaultDepthwiseSchedule(big, kAvx512);
  huge.channel_block = 1536;
  huge.rows = 64; // 1536 x 72 x 72 x 4 bytes: a second image, not a window
  EXPECT_FALSE(validDepthwiseSchedule(big, kAvx512, huge, &error));
  EXPECT_NE(error.find("input window"), std::string::npos) << error;
}

} // namespace
} // namespace mixerc
