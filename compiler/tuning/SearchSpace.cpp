// The tuner's record spaces (see SearchSpace.h).
#include "tuning/SearchSpace.h"

#include "kernels/Kernels.h"

#include "support/Hash.h"

#include <algorithm>
#include <random>
#include <set>

namespace mixerc {

namespace {
/// The records in an order shuffled by `seed` and the kernel (FNV-1a: the same in every build).
void shuffle(std::vector<std::string> *records, const KernelSignature &signature, uint64_t seed) {
  const std::string key = signature.key();
  std::mt19937_64 random(seed ^ fnv1a(key.data(), key.size()));
  std::shuffle(records->begin(), records->end(), random);
}
} // namespace

std::vector<std::string> gemmCandidates(const KernelSignature &signature,
                                        const VectorMachine &machine, uint64_t seed) {
  const GemmSchedule base = defaultGemmSchedule(signature, machine);
  const std::string baseText = base.str();
  std::vector<int> panels{base.panel};
  if (signature.op == KernelOp::DenseTokens)
    for (int vectors = 1; vectors <= 4; ++vectors)
      if (vectors * machine.lanes <= signature.n && vectors * machine.lanes != base.panel)
        panels.push_back(vectors * machine.lanes);
  const int64_t rowTiles = std::max<int64_t>(1, (signature.op == KernelOp::DenseTokens
                                                     ? signature.m
                                                     : 96) /
                                                    std::max(1, base.micro_rows));
  std::set<std::string> seen{baseText};
  std::vector<std::string> out;
  std::string error;
  for (int panel : panels)
    for (int rows = 1; rows <= 12; ++rows)
      for (int tiles : {1, 2, 4, 8, 12, 16, 24, 32, int(rowTiles)})
        for (int panelsPerTask : {0, 1, 2, 4})
          for (bool inner : {false, true})
            for (int unroll : {1, 2, 4, 8}) {
              GemmSchedule s = base;
              s.panel = panel;
              s.vector = std::min(machine.lanes, panel);
              while (s.panel % s.vector)
                --s.vector;
              s.micro_rows = rows;
              s.tiles_per_block = tiles;
              s.panels_per_task = panelsPerTask;
              s.panels_inner = inner;
              s.k_unroll = unroll;
              // Spilling tiles are never fast (7 x 4 zmm halved the rate, GemmSchedule.cpp).
              const int accumulators = rows * (s.panel / s.vector);
              if (accumulators + s.panel / s.vector + 2 > machine.registers)
                continue;
              if (!validGemmSchedule(signature, machine, s, &error))
                continue;
              const std::string text = s.str();
              if (seen.insert(text).second)
                out.push_back(text);
            }
  shuffle(&out, signature, seed);
  return out;
}

std::vector<std::string> depthwiseCandidates(const KernelSignature &signature,
                                             const VectorMachine &machine, uint64_t seed) {
  const DepthwiseSchedule base = defaultDepthwiseSchedule(signature, machine);
  std::set<std::string> seen{base.str()};
  std::vector<std::string> out;
  std::string error;
  const int channels = int(signature.n), height = int(signature.image_height);
  for (int vectors = 1; vectors <= 4; ++vectors) {
    // The blocks validDepthwiseSchedule admits, ascending: the tile's multiples that divide the
    // channels, and all of them.
    const int tile = base.vector * vectors;
    std::vector<int> blocks;
    for (int block = tile; block <= channels; block += tile)
      if (channels % block == 0)
        blocks.push_back(block);
    if (channels % tile)
      blocks.push_back(channels);
    for (int pixels = 1; pixels <= 12; ++pixels)
      for (int block : blocks)
        for (int rows : {1, 2, 4, 8, 16, height}) {
          DepthwiseSchedule s = base;
          s.vectors = vectors;
          s.pixels = pixels;
          s.channel_block = block;
          s.rows = rows;
          if (!validDepthwiseSchedule(signature, machine, s, &error))
            continue;
          const std::string text = s.str();
          if (seen.insert(text).second)
            out.push_back(text);
        }
  }
  shuffle(&out, signature, seed);
  return out;
}

std::vector<std::string> scheduleCandidates(const KernelSignature &signature,
                                            const VectorMachine &machine, uint64_t seed) {
  const std::string family = scheduleFamily(signature);
  if (family == "gemm")
    return gemmCandidates(signature, machine, seed);
  if (family == "depthwise")
    return depthwiseCandidates(signature, machine, seed);
  return {};
}

} // namespace mixerc
