// The default depthwise schedule template (see DepthwiseSchedule.h).
#include "schedule/DepthwiseSchedule.h"

#include <algorithm>

#include <fmt/format.h>

#include "lower/KernelPlan.h"
#include "schedule/RecordText.h"

namespace mixerc {

std::string DepthwiseSchedule::str() const {
  return fmt::format("vector={} vectors={} pixels={} channel_block={} rows={}", vector, vectors,
                     pixels, channel_block, rows);
}

bool parseDepthwiseSchedule(const std::string &text, DepthwiseSchedule *out, std::string *error) {
  DepthwiseSchedule s;
  if (!parseRecordText("depthwise", text,
                       {{"vector", &s.vector},
                        {"vectors", &s.vectors},
                        {"pixels", &s.pixels},
                        {"channel_block", &s.channel_block},
                        {"rows", &s.rows}},
                       error))
    return false;
  *out = s;
  return true;
}

namespace {
/// The bytes of a task's padded input window (channel_block x (rows + k - 1) x (width + k - 1)).
int64_t windowBytes(const KernelSignature &signature, const DepthwiseSchedule &s) {
  const int64_t k = signature.kernel_size;
  return int64_t(s.channel_block) * (s.rows + k - 1) * (signature.image_width + k - 1) * 4;
}
// A window beyond this is no longer a cache-resident copy but a second image.
constexpr int64_t kMaxWindowBytes = 4 << 20;
} // namespace

bool validDepthwiseSchedule(const KernelSignature &signature, const VectorMachine &machine,
                            const DepthwiseSchedule &s, std::string *error) {
  auto refuse = [&](const std::string &why) {
    *error = fmt::format("depthwise schedule '{}' for {}: {}", s.str(), signature.key(), why);
    return false;
  };
  const int64_t channels = signature.n;
  if (s.vector < 1 || s.vector > machine.lanes || s.vector > channels)
    return refuse(fmt::format("vector must be in [1, {}]", std::min<int64_t>(machine.lanes,
                                                                            channels)));
  const int64_t tile = int64_t(s.vectors) * s.vector;
  if (s.vectors < 1 || tile > channels)
    return refuse(fmt::format("vectors x vector must be in [1, {}] channels", channels));
  // pixels x vectors accumulators, and per tap one input vector and one weight vector.
  const int accumulators = s.pixels * s.vectors;
  if (s.pixels < 1 || accumulators + 2 * s.vectors > machine.registers)
    return refuse(fmt::format("{} accumulators and {} operands exceed the {} vector registers",
                              accumulators, 2 * s.vectors, machine.registers));
  if (s.pixels > signature.image_width)
    return refuse(fmt::format("pixels must be at most the width {}", signature.image_width));
  // A block is all the channels or tiles that divide them: Halide's bounds of a block that is
  // shifted inwards, or of tiles shifted inwards within a block, do not follow the shift through
  // the fused task loop, and the taps are then read past their end (measured: 96 channels in
  // blocks of 64, 40 in blocks of 20 with 16-channel tiles).
  if (s.channel_block != channels &&
      (s.channel_block < tile || s.channel_block % tile || channels % s.channel_block))
    return refuse(fmt::format("channel_block must be the {} channels or a multiple of the "
                              "{}-channel tile that divides them",
                              channels, tile));
  if (s.rows < 1 || s.rows > signature.image_height)
    return refuse(fmt::format("rows must be in [1, {}]", signature.image_height));
  if (windowBytes(signature, s) > kMaxWindowBytes)
    return refuse(fmt::format("a task's input window of {} bytes exceeds {}",
                              windowBytes(signature, s), kMaxWindowBytes));
  return true;
}

// Measured on Zen 4 (AVX-512), 2 threads: ConvMixer-768/32's depthwise convolutions at 0.60 of
// the FMA peak with these tiles; 8-pixel tiles measured no faster.
DepthwiseSchedule defaultDepthwiseSchedule(const KernelSignature &signature,
                                           const VectorMachine &machine) {
  const int channels = int(signature.n), width = int(signature.image_width);
  DepthwiseSchedule s;
  s.vectors = channels >= 2 * machine.lanes ? 2 : 1;
  s.vector = channels >= machine.lanes ? machine.lanes : 1;
  const int channelTile = s.vectors * s.vector;
  // pixels x vectors accumulators leave registers for the inputs and taps; the widest tile up to
  // that which divides the row computes no pixel twice.
  const int maxPixels = machine.registers >= 32 ? 6 : 4;
  s.pixels = std::min(width, maxPixels);
  for (int p = s.pixels; p >= std::max(1, maxPixels / 2); --p)
    if (width % p == 0) {
      s.pixels = p;
      break;
    }
  // 64 channels x (8 + k - 1) rows x (width + k - 1) padded pixels: 136 KiB for ConvMixer-768/32.
  // The block is the largest multiple of the tile up to 64 that divides the channels, else all of
  // them (validDepthwiseSchedule; 96 channels: 32, 80: 80).
  const int limit = std::max(channelTile, 64);
  s.channel_block = channels;
  if (channels > limit)
    for (int block = limit / channelTile * channelTile; block >= channelTile; block -= channelTile)
      if (channels % block == 0) {
        s.channel_block = block;
        break;
      }
  s.rows = std::min(int(signature.image_height), 8);
  return s;
}

} // namespace mixerc
