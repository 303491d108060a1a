// The default GEMM schedule template (see GemmSchedule.h).
#include "schedule/GemmSchedule.h"

#include <algorithm>

#include <fmt/format.h>

#include "lower/KernelPlan.h"

namespace mixerc {

std::string GemmSchedule::str() const {
  return fmt::format("panel={} vector={} micro_rows={} tiles_per_block={} k_unroll={}", panel,
                     vector, micro_rows, tiles_per_block, k_unroll);
}

int64_t gemmPanelWidth(int64_t n) {
  for (int64_t width : {64, 48, 32, 16})
    if (n >= width)
      return width;
  return n;
}

GemmSchedule defaultGemmSchedule(const KernelSignature &signature, int vectorLanes) {
  GemmSchedule s;
  s.panel = int(signature.panel ? signature.panel : gemmPanelWidth(signature.n));
  s.vector = std::min<int>(vectorLanes, s.panel);
  while (s.panel % s.vector)
    --s.vector;
  // 24 accumulators of 16 lanes: 6 rows x 4 vectors (the textbook AVX-512 sgemm tile); narrower
  // panels leave registers for more rows.
  int vectorsPerRow = s.panel / s.vector;
  s.micro_rows = std::max(1, std::min(8, 24 / vectorsPerRow));
  s.tiles_per_block = std::max(1, 96 / s.micro_rows);
  const int64_t k = signature.k;
  s.k_unroll = k % 4 == 0 ? 4 : k % 2 == 0 ? 2 : 1;
  return s;
}

} // namespace mixerc
