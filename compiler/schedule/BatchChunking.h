// How many images one run of the kernel sequence takes when a call brings more: the batch is
// tiled so that a chunk's activations stay in cache from one kernel to the next, while every
// GEMM still has enough rows to fill its register tiles and both threads.
#ifndef MIXERC_SCHEDULE_BATCHCHUNKING_H
#define MIXERC_SCHEDULE_BATCHCHUNKING_H

#include <cstdint>

namespace mixerc {

struct KernelPlan;

/// Activation bytes a chunk may occupy. Measured (Zen 4, 2 threads): ConvMixer-256/8 (513 KiB of
/// activations per image) at batch 64 ran at 492 img/s unchunked, 576 with chunks of 4 images,
/// 601 with 8 and 576 with 16.
inline constexpr int64_t kChunkActivationBytes = int64_t(4) << 20;
/// Rows a chunk gives the GEMMs at least: Mixer-S/16 at batch 32 lost 8% with chunks of 1 or 2
/// images (196 or 392 rows) and was within noise with 4 (784 rows).
inline constexpr int64_t kChunkMinimumRows = 768;

/// ModelDesc::images_per_chunk for a lowered plan: as many images as fit the activation budget,
/// if that gives each GEMM at least kChunkMinimumRows rows; otherwise 0 (never chunk).
int64_t imagesPerChunk(const KernelPlan &plan);

} // namespace mixerc

#endif
