// The default GEMM schedule template (see GemmSchedule.h).
#include "schedule/GemmSchedule.h"

#include <algorithm>

#include <fmt/format.h>

#include "lower/KernelPlan.h"
#include "schedule/RecordText.h"

namespace mixerc {

std::string GemmSchedule::str() const {
  return fmt::format("panel={} vector={} micro_rows={} tiles_per_block={} panels_per_task={} "
                     "panels_inner={} k_unroll={}",
                     panel, vector, micro_rows, tiles_per_block, panels_per_task, panels_inner,
                     k_unroll);
}

bool parseGemmSchedule(const std::string &text, GemmSchedule *out, std::string *error) {
  GemmSchedule s;
  if (!parseRecordText("gemm", text,
                       {{"panel", &s.panel},
                        {"vector", &s.vector},
                        {"micro_rows", &s.micro_rows},
                        {"tiles_per_block", &s.tiles_per_block},
                        {"panels_per_task", &s.panels_per_task},
                        {"panels_inner", nullptr, &s.panels_inner},
                        {"k_unroll", &s.k_unroll}},
                       error))
    return false;
  *out = s;
  return true;
}

bool validGemmSchedule(const KernelSignature &signature, const VectorMachine &machine,
                       const GemmSchedule &s, std::string *error) {
  const bool packed = signature.op != KernelOp::DenseTokens;
  auto refuse = [&](const std::string &why) {
    *error = fmt::format("gemm schedule '{}' for {}: {}", s.str(), signature.key(), why);
    return false;
  };
  const int64_t planned = signature.panel ? signature.panel : gemmPanelWidth(signature.n, machine);
  if (packed && s.panel != planned)
    return refuse(fmt::format("panel must be the packed weights' {}", planned));
  if (s.panel < 1 || s.panel > std::max<int64_t>(signature.n, 1))
    return refuse(fmt::format("panel must be in [1, {}]", signature.n));
  if (s.vector < 1 || s.vector > machine.lanes || s.panel % s.vector)
    return refuse(fmt::format("vector must divide the panel and be at most {} lanes",
                              machine.lanes));
  if (s.micro_rows < 1 || s.micro_rows * (s.panel / s.vector) > machine.registers)
    return refuse(fmt::format("{} accumulators exceed the {} vector registers",
                              s.micro_rows * (s.panel / s.vector), machine.registers));
  if (s.tiles_per_block < 1)
    return refuse("tiles_per_block must be at least 1");
  if (s.k_unroll < 1 || signature.k % s.k_unroll)
    return refuse(fmt::format("k_unroll must divide k = {}", signature.k));
  return true;
}

namespace {
/// Accumulator vectors per tile row: leaves registers for the B vectors and the A broadcast.
int vectorsPerRow(const VectorMachine &machine) { return machine.registers >= 32 ? 4 : 2; }
} // namespace

int64_t gemmPanelWidth(int64_t n, const VectorMachine &machine) {
  for (int vectors = vectorsPerRow(machine); vectors >= 1; --vectors)
    if (n >= vectors * machine.lanes)
      return vectors * machine.lanes;
  return n;
}

// Measured 2026-11-23, AMD EPYC Zen 3 (AVX2, 6 x 16 tiles), 2 threads, Halide profiler, Mixer-B/16
// at batch 32: channel GEMMs 161-162 GFLOP/s (0.80 of the 202 GFLOP/s FMA peak; oneDNN 2.6 sgemm
// 163 and 145 on the same shapes), token GEMMs ~124 (the GELU epilogue is ~10% of a K = 196
// tile), patch embedding 161. Tried and not kept: K-blocking of the channel GEMMs in 256/384-deep
// chunks (no faster). Zen 4 (AVX-512, 6 x 4 zmm), same day: ConvMixer-768/32's pointwise GEMMs at
// 229 GFLOP/s (the FMA peak), B-MLP's 1024 x 4096 GEMMs at batch 64 at 209-216; 7 x 4 tiles
// spilled and halved that. Guarded ragged column panels (now the kernel's choice) took B-MLP's
// 1000-class head at batch 64 from 4.9 to 1.6 ms there, though they measured slower on Zen 3.
// Training, same host: folding the GELU gradient into the backward GEMM's epilogue (x gelu'(a),
// erf and exp per element) took the Fashion-MNIST Mixer's dx GEMMs from ~200 to 125 GFLOP/s
// (K = 128) and 87 (tokens), more than the separate gelu_grad pass it saved; not kept. Kept
// instead: the forward pass saves gelu'(a) (mixer.gelu_train) and the epilogue multiplies by it
// (one load per element): S/16's dx GEMMs stay at 212-225 GFLOP/s, the Fashion-MNIST K = 128 one
// falls from ~190 to ~165 (prefetching the multiplier 1, 2 or 4 tiles ahead did not help; the
// panels-inner order below brought it back to 180-185), and the GELU passes of a step fall from
// 13.5 to 8 ms there.
GemmSchedule defaultGemmSchedule(const KernelSignature &signature, const VectorMachine &machine) {
  GemmSchedule s;
  s.panel = int(signature.panel ? signature.panel : gemmPanelWidth(signature.n, machine));
  s.vector = std::min<int>(machine.lanes, s.panel);
  while (s.panel % s.vector)
    --s.vector;
  // The accumulators share the register file with one row of B vectors, the A broadcast and one
  // spare: 6 x 4 zmm on AVX-512 (24 + 4 + 2 of 32), 6 x 2 ymm on AVX2 (12 + 2 + 2 of 16);
  // narrower panels leave registers for more rows.
  const int vectorsPerTileRow = s.panel / s.vector;
  const int accumulators = machine.registers - vectorsPerTileRow - 2;
  s.micro_rows = std::max(1, std::min(8, accumulators / vectorsPerTileRow));
  // Token mixing's output rows are a fixed token count; 6-row tiles over 49 tokens (patch 4 on
  // 28 x 28, patch 32 on 224) compute 54 rows. With 32 registers, 7 rows of 2 vectors divide them
  // exactly (14 accumulators; a 7 x 4 tile spills): Fashion-MNIST's 49-token GEMMs 112-142 ->
  // 126-161 GFLOP/s. Where 6-row tiles waste little (196 tokens: 1%) the wider tile stays.
  const int64_t tokens = signature.m;
  const auto wasted = [&](int rows) { return (tokens + rows - 1) / rows * rows - tokens; };
  if (signature.op == KernelOp::DenseTokens && machine.registers >= 32 && tokens % 7 == 0 &&
      signature.n % (2 * machine.lanes) == 0 && wasted(s.micro_rows) * 20 > tokens) {
    s.panel = 2 * machine.lanes;
    s.vector = machine.lanes;
    s.micro_rows = 7;
  }
  s.tiles_per_block = std::max(1, 96 / s.micro_rows);
  // Tasks of about 96 x 64 outputs keep the thread pool's per-task cost small (AVX2 panels are only
  // 16 wide). The patch embedding takes whole row blocks, so each block's im2col is built once.
  s.panels_per_task = signature.op == KernelOp::PatchEmbed ? 0 : std::max(1, 64 / s.panel);
  // A multiplier read per output (the saved GELU derivative, cold in memory) is fetched along
  // whole rows when each row tile sweeps all column panels, which the prefetchers follow; that
  // rereads B per row tile, so only where all of B stays in L2. Fashion-MNIST's 512 x 128 dx GEMM:
  // 164-167 -> 180-185 GFLOP/s, the token dx GEMM 114 -> 128-133. (The residual, also read per
  // output, measured no faster so: Fashion-MNIST token GEMM 108-130 against 111-118.) The forward
  // GEMM that also writes the derivative, two cold outputs per element, gains too: Fashion-MNIST
  // 19.7-20.0 -> 19.2-19.3 ms (K = 128) and 4.0 -> 3.4-3.8 ms (tokens) per step.
  constexpr int64_t kPanelsInnerMaxBytes = 512 * 1024;
  if ((signature.scale || signature.derivative) &&
      signature.n * signature.k * 4 <= kPanelsInnerMaxBytes) {
    s.panels_per_task = 0;
    s.panels_inner = true;
  }
  // Token mixing's rows are the image's tokens: one block of all of them per task (a panel of one
  // image) streams each B panel from L2 once rather than once per block of 96 rows. Zen 4, S/16's
  // token GEMMs alone (256 x 196 x 512 and 196 x 256 x 512 per image, batch 8): 192-206 ->
  // 206-223 GFLOP/s; blocks of half the tokens measured as slow as 96 rows. In the step (three
  // interleaved profiles) the dx GEMM 18.5-19.1 -> 16.9-18.3 ms, the residual one unchanged.
  // Kept to at least 4 panels, so that a batch of one still has 4 tasks, and not with panels
  // inner, where a task would be a whole image.
  const int64_t panels = (signature.n + s.panel - 1) / s.panel;
  if (signature.op == KernelOp::DenseTokens && !s.panels_inner && panels >= 4)
    s.tiles_per_block = int((tokens + s.micro_rows - 1) / s.micro_rows);
  const int64_t k = signature.k;
  s.k_unroll = k % 4 == 0 ? 4 : k % 2 == 0 ? 2 : 1;
  return s;
}

} // namespace mixerc
