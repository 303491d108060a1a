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
  return fmt::format("{}{}{}{}{}", activationName(s.activation),
                     s.norm ? fmt::format("+bn{:g}", s.norm_epsilon) : std::string(),
                     s.residual ? "+residual" : "", s.scale ? "+scale" : "",
                     s.derivative ? "+derivative" : "");
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
  case KernelOp::WeightGradChannels: return "weight_grad_channels";
  case KernelOp::WeightGradPatches: return "weight_grad_patches";
  case KernelOp::WeightGradTokens: return "weight_grad_tokens";
  case KernelOp::BiasGradChannels: return "bias_grad_channels";
  case KernelOp::BiasGradTokens: return "bias_grad_tokens";
  case KernelOp::LayerNormGrad: return "layer_norm_grad";
  case KernelOp::LayerNormParamGrad: return "layer_norm_param_grad";
  case KernelOp::Activation: return "activation";
  case KernelOp::ActivationTrain: return "activation_train";
  case KernelOp::ActivationGrad: return "activation_grad";
  case KernelOp::Add: return "add";
  case KernelOp::Mul: return "mul";
  case KernelOp::GlobalAvgPoolGrad: return "global_avg_pool_grad";
  case KernelOp::SoftmaxCrossEntropy: return "softmax_cross_entropy";
  case KernelOp::BatchNormTrain: return "batch_norm_train";
  case KernelOp::BatchNormGrad: return "batch_norm_grad";
  case KernelOp::DepthwiseGradInput: return "depthwise_grad_input";
  case KernelOp::DepthwiseGradWeight: return "depthwise_grad_weight";
  case KernelOp::AdamW: return "adamw";
  case KernelOp::SgdMomentum: return "sgd_momentum";
  case KernelOp::Pack: return "pack";
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
    return fmt::format("{}/n{}_m{}_k{}_rows{}_panel{}/{}{}/f32", opName(), n, m, k, rows_per_image,
                       panel, bias ? "" : "nobias+", epilogueName(*this));
  case KernelOp::WeightGradChannels:
  case KernelOp::WeightGradTokens:
  case KernelOp::BiasGradChannels:
  case KernelOp::BiasGradTokens:
    return fmt::format("{}/n{}_m{}_k{}/f32", opName(), n, m, k);
  case KernelOp::WeightGradPatches:
    return fmt::format("{}/img{}x{}x{}_p{}_n{}/f32", opName(), image_channels, image_height,
                       image_width, patch, n);
  case KernelOp::LayerNormGrad:
  case KernelOp::LayerNormParamGrad:
    return fmt::format("{}/c{}/eps{:g}{}{}/f32", opName(), n, epsilon, residual ? "/residual" : "",
                       param_grads ? "/params" : "");
  case KernelOp::Activation:
  case KernelOp::ActivationTrain:
  case KernelOp::ActivationGrad:
    return fmt::format("{}/{}/f32", opName(), activationName(activation));
  case KernelOp::Add:
  case KernelOp::Mul:
  case KernelOp::AdamW:
  case KernelOp::SgdMomentum:
    return fmt::format("{}/f32", opName());
  case KernelOp::GlobalAvgPoolGrad:
    return fmt::format("{}/c{}_s{}/f32", opName(), n, m);
  case KernelOp::SoftmaxCrossEntropy:
    return fmt::format("{}/k{}/f32", opName(), n);
  case KernelOp::Pack:
    return fmt::format("pack/n{}_k{}_panel{}{}/f32", n, k, panel, transposed ? "_transposed" : "");
  case KernelOp::BatchNormTrain:
    return fmt::format("{}/c{}/eps{:g}_momentum{:g}/f32", opName(), n, epsilon, momentum);
  case KernelOp::BatchNormGrad:
    return fmt::format("{}/c{}/f32", opName(), n);
  case KernelOp::DepthwiseGradInput:
  case KernelOp::DepthwiseGradWeight:
    return fmt::format("{}/c{}_{}x{}_k{}/f32", opName(), n, image_height, image_width,
                       kernel_size);
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
  case KernelOp::WeightGradChannels:
    return 2.0 * double(rows_per_image) * double(n) * double(k);
  case KernelOp::WeightGradPatches:
    return 2.0 * double(image_height / patch) * double(image_width / patch) * double(n) *
           double(image_channels * patch * patch);
  case KernelOp::WeightGradTokens:
    return 2.0 * double(m) * double(n) * double(k);
  case KernelOp::DepthwiseGradInput:
  case KernelOp::DepthwiseGradWeight:
    return 2.0 * double(image_height * image_width) * double(n) * double(kernel_size * kernel_size);
  default:
    return 0.0; // memory-bound kernels
  }
}

namespace {
std::string argString(const KernelArg &arg) {
  static const char *kinds[] = {"param", "packed", "input", "output", "act", "grad", "labels", "hyper"};
  std::string dims;
  for (const BufferDim &d : arg.dims)
    dims += fmt::format("{}{}{}:{}", dims.empty() ? "" : " ", d.extent, d.batch_scaled ? "*N" : "",
                        d.stride);
  return fmt::format("{}{}[{}]", kinds[int(arg.kind)],
                     arg.kind == SlotKind::Input || arg.kind == SlotKind::Output ||
                             arg.kind == SlotKind::Labels || arg.kind == SlotKind::Hyper
                         ? std::string()
                         : std::to_string(arg.index),
                     dims);
}
} // namespace

std::string KernelPlan::str() const {
  std::string out = fmt::format(
      "model {} ({}): {} params, {} packs, {} activation slots, {} images per chunk\n", name,
      family, params.size(), packs.size(), activation_elems.size(), images_per_chunk);
  for (size_t i = 0; i < kernels.size(); ++i) {
    out += fmt::format("kernel {}: {}\n", i, kernels[i].key());
    if (!scheduleOf(i).empty())
      out += fmt::format("  schedule: {}\n", scheduleOf(i));
  }
  auto listSteps = [&](const std::vector<PlanStep> &list, const char *prefix) {
    for (const PlanStep &step : list) {
      out += fmt::format("{}step {} k{}:", prefix, step.label, step.kernel);
      for (const KernelArg &arg : step.args)
        out += " " + argString(arg);
      out += "\n";
    }
  };
  listSteps(steps, "");
  if (training) {
    out += fmt::format("training: {} activation slots, optimizers k{} (adamw) k{} (sgd)\n",
                       train_activation_elems.size(), adamw_kernel, sgd_kernel);
    listSteps(train_steps, "train ");
  }
  return out;
}

} // namespace mixerc
