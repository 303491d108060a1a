// See BatchChunking.h.
#include "schedule/BatchChunking.h"

#include <algorithm>

#include "lower/KernelPlan.h"

namespace mixerc {

int64_t imagesPerChunk(const KernelPlan &plan) {
  int64_t bytesPerImage = 0;
  for (int64_t elements : plan.activation_elems)
    bytesPerImage += elements * int64_t(sizeof(float));
  int64_t rowsPerImage = 0; // the largest GEMM's rows per image
  for (const KernelSignature &k : plan.kernels)
    if (k.op == KernelOp::DenseChannels || k.op == KernelOp::PatchEmbed)
      rowsPerImage = std::max(rowsPerImage, k.rows_per_image);
  const int64_t byCache = kChunkActivationBytes / std::max<int64_t>(bytesPerImage, 1);
  const int64_t byRows = (kChunkMinimumRows + std::max<int64_t>(rowsPerImage, 1) - 1) /
                         std::max<int64_t>(rowsPerImage, 1);
  // When even a chunk with the minimum rows overflows the budget, chunking only shrinks the GEMMs
  // (Mixer-B/16 at batch 32: 7.37-7.49 img/s in chunks of 4 against 7.51-7.77 whole).
  return byCache >= byRows ? byCache : 0;
}

} // namespace mixerc
