// Schedule parameters of the GEMM kernel family (dense layers and the patch embedding), and the
// default CPU template that picks them from the kernel's shape. A schedule is data: the kernel's
// schedule() applies whatever record it is given, so defaults and tuned records share one space.
#ifndef MIXERC_SCHEDULE_GEMMSCHEDULE_H
#define MIXERC_SCHEDULE_GEMMSCHEDULE_H

#include <cstdint>
#include <string>

namespace mixerc {

struct KernelSignature;

struct GemmSchedule {
  int panel = 64;           ///< micro-tile columns (= packed weight panel width)
  int vector = 16;          ///< f32 lanes per vector
  int micro_rows = 6;       ///< micro-tile rows (accumulators: micro_rows x panel / vector)
  int tiles_per_block = 16; ///< micro-tiles of rows per parallel task
  int panels_per_task = 1;  ///< column panels per parallel task (0: all of them)
  /// Each row tile sweeps the task's column panels before the next row tile (rather than each
  /// panel all row tiles): epilogue operands read per output then stream along whole rows.
  bool panels_inner = false;
  int k_unroll = 4;

  std::string str() const;
};

/// What the default template needs to know of the target: f32 lanes per vector register and the
/// number of vector registers (16 for AVX2, 32 for AVX-512).
struct VectorMachine {
  int lanes = 16;
  int registers = 32;
};

/// The packed-panel width the default template uses for `n` output columns. It is part of the
/// weight layout, so the lowering asks for it when it plans the packing.
int64_t gemmPanelWidth(int64_t n, const VectorMachine &machine);

/// Reads a record written by GemmSchedule::str() (every key once, nothing else); false with a
/// message naming the key otherwise.
bool parseGemmSchedule(const std::string &text, GemmSchedule *out, std::string *error);

/// Whether `s` is a schedule of `signature` on `machine`: the packed panel width is the plan's
/// (it is the weights' layout), the vector divides the panel, the accumulators fit the register
/// file, and the unroll divides k. False with the reason otherwise.
bool validGemmSchedule(const KernelSignature &signature, const VectorMachine &machine,
                       const GemmSchedule &s, std::string *error);

/// The default x86 template: a register tile of 6 rows x (4 vectors on AVX-512, 2 on AVX2) —
/// the textbook sgemm micro-kernel (PERFORMANCE.md) — in blocks of 96 rows.
GemmSchedule defaultGemmSchedule(const KernelSignature &signature, const VectorMachine &machine);

} // namespace mixerc

#endif
