// Schedule parameters of the depthwise convolution family (ConvMixer's k x k per-channel
// convolution, kernels/DepthwiseKernel.cpp) and the default CPU template that picks them from the
// kernel's shape. Like the GEMM family's, the schedule is data the kernel applies.
#ifndef MIXERC_SCHEDULE_DEPTHWISESCHEDULE_H
#define MIXERC_SCHEDULE_DEPTHWISESCHEDULE_H

#include <string>

#include "schedule/GemmSchedule.h" // VectorMachine

namespace mixerc {

struct KernelSignature;

struct DepthwiseSchedule {
  int vector = 16;        ///< f32 lanes per vector (1 where the channels are fewer than a vector)
  int vectors = 2;        ///< channel vectors per register tile
  int pixels = 6;         ///< neighbouring output pixels per register tile
  int channel_block = 64; ///< channels per parallel task (its padded input window is copied once)
  int rows = 8;           ///< output rows per parallel task

  std::string str() const;
};

/// Reads a record written by DepthwiseSchedule::str(); false with a message naming the item.
bool parseDepthwiseSchedule(const std::string &text, DepthwiseSchedule *out, std::string *error);

/// Whether `s` is a schedule of `signature` on `machine`: the vector divides the channels' tile,
/// the tile's accumulators fit the register file, the tile and the task fit the grid and the
/// task's input window stays within L2-sized bounds. False with the reason otherwise.
bool validDepthwiseSchedule(const KernelSignature &signature, const VectorMachine &machine,
                            const DepthwiseSchedule &s, std::string *error);

/// The default x86 template: two channel vectors x 6 pixels on AVX-512 (4 on AVX2), tasks of 64
/// channels x 8 rows.
DepthwiseSchedule defaultDepthwiseSchedule(const KernelSignature &signature,
                                           const VectorMachine &machine);

} // namespace mixerc

#endif
