// The depthwise convolution signature the schedule and kernel tests share.
#ifndef MIXERC_TESTS_UNIT_DEPTHWISESIGNATURE_H
#define MIXERC_TESTS_UNIT_DEPTHWISESIGNATURE_H

#include "lower/KernelPlan.h"

namespace mixerc {

/// A `k` x `k` depthwise convolution over `channels` on a `height` x `width` grid.
inline KernelSignature depthwiseSignature(int64_t channels, int64_t height, int64_t width,
                                          int64_t k) {
  KernelSignature sig;
  sig.op = KernelOp::DepthwiseConv;
  sig.n = channels;
  sig.image_height = height;
  sig.image_width = width;
  sig.kernel_size = k;
  return sig;
}

} // namespace mixerc

#endif
