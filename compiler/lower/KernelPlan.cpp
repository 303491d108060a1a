// Kernel signature naming: stable keys for kernel sharing and the tuning database.
#include "lower/KernelPlan.h"

#include <fmt/format.h>

namespace mixerc {
namespace {
const char *activationName(Activation a) {
  switch (a) {
  case Activation::None: return "none";
  case Activation::GeluErf: return "gelu_erf";
  case Activation::GeluTanh: return "gelu_tanh";
  case Activation::Relu: return "relu";
  }
  return "?";
}

/// "relu+bn1e-05+residual": the epilogue part of a key.
std::string epilogueName(const KernelSignature &s) {
  return fmt::format("{}{}{}", activationName(s.activation),
                     s.norm ? fmt::format("+bn{:g}", s.norm_epsilon) : std::string(),
                     s.residual ? "+residual" : "");
}
} // namespace

std::string KernelSignature::opName() const {
  switch (op) {
  case KernelOp::LayerNorm: return "layer_norm";
  case KernelOp::DenseChannels: return "dense_channels";
  case KernelOp::DenseTokens: return "dense_tokens";
  case KernelOp::PatchEmbed: return "patch_embed";
  case KernelOp::DepthwiseConv: return "depthwise_conv";
  case KernelOp::GlobalAvgPool: return "global_avg_pool";
  }
  return "?";
}

std::string KernelSignature::key() const {
  switch (op) {
  case KernelOp::LayerNorm:
    return fmt::format("layer_norm/c{}/eps{:g}/f32", n, epsilon);
  case KernelOp::GlobalAvgPool:
    return fmt::format("global_avg_pool/c{}_s{}/f32", n, m);
  case KernelOp::PatchEmbed:
    return fmt::format("patch_embed/img{}x{}x{}_p{}_n{}_panel{}/{}/f32", image_channels,
                       image_height, image_width, patch, n, panel, epilogueName(*this));
  case KernelOp::DepthwiseConv:
    return fmt::format("depthwise_conv/c{}_{}x{}_k{}/{}/f32", n, image_height, image_width,
                       kernel_size, epilogueName(*this));
  case KernelOp::DenseTokens:
  case KernelOp::DenseChannels:
    return fmt::format("{}/n{}_m{}_k{}_rows{}_panel{}/{}/f32", opName(), n, m, k, rows_per_image,
                       panel, epilogueName(*this));
  }
  return "?";
}

double KernelSignature::flopsPerImage() const {
  switch (op) {
  case KernelOp::DenseChannels:
  case KernelOp::PatchEmbed:
    return 2.0 * double(rows_per_image) * double(n) * double(k);
  case KernelOp::DenseTokens:
    return 2.0 * double(m) * double(n) * double(k);
  case KernelOp::DepthwiseConv:
    return 2.0 * double(image_height * image_width) * double(n) * double(kernel_size * kernel_size);
  case KernelOp::LayerNorm:
  case KernelOp::GlobalAvgPool:
    return 0.0;
  }
  return 0.0;
}

namespace {
std::string argString(const KernelArg &arg) {
  static const char *kinds[] = {"param", "packed", "input", "output", "act"};
  std::string dims;
  for (const BufferDim &d : arg.dims)
    dims += fmt::format("{}{}{}:{}", dims.empty() ? "" : " ", d.extent, d.batch_scaled ? "*N" : "",
                        d.stride);
  return fmt::format("{}{}[{}]", kinds[int(arg.kind)],
                     arg.kind == SlotKind::Input || arg.kind == SlotKind::Output
                         ? std::string()
                         : std::to_string(arg.index),
                     dims);
}
} // namespace

std::string KernelPlan::str() const {
  std::string out = fmt::format(
      "model {} ({}): {} params, {} packs, {} activation slots, {} images per chunk\n", name,
      family, params.size(), packs.size(), activation_elems.size(), images_per_chunk);
  for (size_t i = 0; i < kernels.size(); ++i)
    out += fmt::format("kernel {}: {}\n", i, kernels[i].key());
  for (const PlanStep &step : steps) {
    out += fmt::format("step {} k{}:", step.label, step.kernel);
    for (const KernelArg &arg : step.args)
      out += " " + argString(arg);
    out += "\n";
  }
  return out;
}

} // namespace mixerc
