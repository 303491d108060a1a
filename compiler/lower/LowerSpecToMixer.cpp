// Spec -> mixer dialect for the three families, with timm's parameter names and initialisers
// (timm/models/mlp_mixer.py and convmixer.py; B-MLP in timm's style), so checkpoints move between
// timm and mixerc. The ops come out unfused and unranked; the frontend's passes do the rest.
#include "lower/LowerSpecToMixer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "mixer/MixerOps.h"

using namespace mlir;

namespace mixerc {
namespace {

class MixerBuilder {
public:
  MixerBuilder(const ModelSpec &spec, MLIRContext &context)
      : spec_(spec), builder_(&context), fileLoc_(FileLineColLoc::get(&context, spec.path, 1, 1)) {}

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc_);
    builder_.setInsertionPointToEnd(module->getBody());
    auto f32 = builder_.getF32Type();
    auto images = RankedTensorType::get(
        {ShapedType::kDynamic, spec_.channels, spec_.image_height, spec_.image_width}, f32);
    auto function = builder_.create<func::FuncOp>(
        fileLoc_, spec_.name, builder_.getFunctionType({images}, {unranked()}));
    builder_.setInsertionPointToStart(function.addEntryBlock());

    if (spec_.family == Family::Bmlp) {
      buildBmlp(function.getArgument(0));
      return module;
    }
    if (spec_.family == Family::ConvMixer) {
      buildConvMixer(function.getArgument(0));
      return module;
    }
    Value x = patchEmbed(function.getArgument(0));
    for (int64_t i = 0; i < spec_.depth; ++i) {
      std::string block = "blocks." + std::to_string(i);
      x = residualMlp(block + ".norm1", block + ".mlp_tokens", x, /*dim=*/1, spec_.token_mlp,
                      spec_.tokens());
      x = residualMlp(block + ".norm2", block + ".mlp_channels", x, /*dim=*/2, spec_.channel_mlp,
                      spec_.hidden);
    }
    x = layerNorm("norm", x);
    x = builder_.create<mixer::GlobalAvgPoolOp>(at("global_pool"), unranked(), x);
    if (spec_.init == InitScheme::Pytorch)
      x = linear("head", x, spec_.classes, spec_.hidden);
    else
      x = dense("head", x, /*dim=*/1, spec_.classes, spec_.hidden, "zeros", "zeros");
    builder_.create<func::ReturnOp>(fileLoc_, x);
    return module;
  }

private:
  Type unranked() { return UnrankedTensorType::get(builder_.getF32Type()); }
  /// The epilogue ops are built bare; mixer-fuse-elementwise fills their epilogues in.
  static ValueRange noNorm() { return {}; }
  Location at(const std::string &module) {
    return NameLoc::get(builder_.getStringAttr(module), fileLoc_);
  }

  Value param(const std::string &name, ArrayRef<int64_t> shape, StringRef init,
              std::optional<double> std = std::nullopt, std::optional<int64_t> fanIn = {},
              Type element = {}) {
    return builder_.create<mixer::ParamOp>(
        at(name), RankedTensorType::get(shape, element ? element : builder_.getF32Type()),
        builder_.getStringAttr(name), builder_.getStringAttr(init),
        std ? builder_.getF64FloatAttr(*std) : FloatAttr(),
        fanIn ? builder_.getI64IntegerAttr(*fanIn) : IntegerAttr());
  }

  /// PyTorch's default nn.Linear (the Scaling MLPs code keeps it): weight and bias both
  /// U(-1/sqrt(in), 1/sqrt(in)).
  Value linear(const std::string &name, Value x, int64_t out, int64_t in, int64_t dim = 1) {
    Value w = param(name + ".weight", {out, in}, "uniform_fan_in");
    Value b = param(name + ".bias", {out}, "uniform_fan_in", std::nullopt, in);
    return denseOp(name, x, w, b, dim);
  }

  Value denseOp(const std::string &name, Value x, Value w, Value b, int64_t dim) {
    return builder_
        .create<mixer::DenseOp>(at(name), unranked(), /*derivative=*/Type(), x, w, b, dim,
                                noNorm(), Value(), "none", APFloat(spec_.batch_norm_epsilon))
        .getResult();
  }

  Value geluOp(const std::string &name, Value x) {
    return builder_.create<mixer::GeluOp>(
        at(name), unranked(), x,
        builder_.getStringAttr(spec_.gelu == GeluApproximation::Tanh ? "tanh" : "erf"));
  }

  /// ConvMixer-h/d (timm/models/convmixer.py, channels last): stem conv -> act -> BN, `depth`
  /// blocks of x + BN(act(depthwise(x))) -> pointwise -> act -> BN, pool, head. Convolutions and
  /// the head keep PyTorch's default initialisation, as timm does.
  void buildConvMixer(Value images) {
    const int64_t h = spec_.hidden, k = spec_.kernel, p = spec_.patch;
    Value w = param("stem.0.weight", {h, spec_.channels, p, p}, "uniform_fan_in");
    Value b = param("stem.0.bias", {h}, "uniform_fan_in", std::nullopt, spec_.channels * p * p);
    Value x = builder_.create<mixer::PatchEmbedOp>(at("stem.0"), unranked(), images, w, b,
                                                   /*grid=*/true, noNorm(), Value(), "none",
                                                   APFloat(spec_.batch_norm_epsilon));
    x = batchNorm("stem.2", activation("stem.1", x));
    for (int64_t i = 0; i < spec_.depth; ++i) {
      std::string block = "blocks." + std::to_string(i);
      w = param(block + ".0.fn.0.weight", {h, 1, k, k}, "uniform_fan_in");
      b = param(block + ".0.fn.0.bias", {h}, "uniform_fan_in", std::nullopt, k * k);
      Value y = builder_.create<mixer::DepthwiseConv2dOp>(at(block + ".0.fn.0"), unranked(), x, w,
                                                          b, noNorm(), Value(), "none",
                                                          APFloat(spec_.batch_norm_epsilon));
      y = batchNorm(block + ".0.fn.2", activation(block + ".0.fn.1", y));
      x = builder_.create<mixer::AddOp>(at(block + ".0"), unranked(), x, y);
      w = param(block + ".1.weight", {h, h, 1, 1}, "uniform_fan_in");
      b = param(block + ".1.bias", {h}, "uniform_fan_in", std::nullopt, h);
      x = denseOp(block + ".1", x, w, b, /*dim=*/3);
      x = batchNorm(block + ".3", activation(block + ".2", x));
    }
    x = builder_.create<mixer::GlobalAvgPoolOp>(at("pooling"), unranked(), x);
    x = linear("head", x, spec_.classes, h);
    builder_.create<func::ReturnOp>(fileLoc_, x);
  }

  Value activation(const std::string &name, Value x) {
    if (spec_.activation == ConvActivation::Relu)
      return builder_.create<mixer::ReluOp>(at(name), unranked(), x);
    return builder_.create<mixer::GeluOp>(at(name), unranked(), x, builder_.getStringAttr("erf"));
  }

  /// nn.BatchNorm2d: weight ones, bias zeros, running mean zeros, running variance ones, and the
  /// i64 counter of batches seen, which training updates and checkpoints carry.
  Value batchNorm(const std::string &name, Value x) {
    const int64_t h = spec_.hidden;
    Value gamma = param(name + ".weight", {h}, "ones");
    Value beta = param(name + ".bias", {h}, "zeros");
    Value mean = param(name + ".running_mean", {h}, "zeros");
    Value variance = param(name + ".running_var", {h}, "ones");
    param(name + ".num_batches_tracked", {}, "zeros", std::nullopt, std::nullopt,
          builder_.getI64Type());
    return builder_.create<mixer::BatchNormOp>(at(name), unranked(), x, gamma, beta, mean,
                                               variance,
                                               builder_.getF64FloatAttr(spec_.batch_norm_epsilon));
  }

  /// B-MLP (Bachmann et al. 2023): flatten, embed to the width, `depth` pre-norm inverted
  /// bottlenecks x + fc2(gelu(fc1(norm(x)))), a final norm and the head.
  void buildBmlp(Value images) {
    const int64_t width = spec_.hidden, hidden = spec_.channel_mlp;
    Value x = builder_.create<mixer::FlattenOp>(at("flatten"), unranked(), images);
    x = linear("stem", x, width, spec_.image_features());
    for (int64_t i = 0; i < spec_.depth; ++i) {
      std::string block = "blocks." + std::to_string(i);
      Value y = layerNorm(block + ".norm", x);
      y = linear(block + ".mlp.fc1", y, hidden, width);
      y = geluOp(block + ".mlp.act", y);
      y = linear(block + ".mlp.fc2", y, width, hidden);
      x = builder_.create<mixer::AddOp>(at(block + ".mlp"), unranked(), x, y);
    }
    x = layerNorm("norm", x);
    x = linear("head", x, spec_.classes, width);
    builder_.create<func::ReturnOp>(fileLoc_, x);
  }

  Value patchEmbed(Value images) {
    int64_t p = spec_.patch;
    const bool pytorch = spec_.init == InitScheme::Pytorch;
    Value w = param("stem.proj.weight", {spec_.hidden, spec_.channels, p, p},
                    pytorch ? "uniform_fan_in" : "lecun_normal");
    Value b = pytorch ? param("stem.proj.bias", {spec_.hidden}, "uniform_fan_in", std::nullopt,
                              spec_.patch_features())
                      : param("stem.proj.bias", {spec_.hidden}, "zeros");
    return builder_.create<mixer::PatchEmbedOp>(at("stem.proj"), unranked(), images, w, b,
                                                /*grid=*/false, noNorm(), Value(), "none",
                                                APFloat(spec_.batch_norm_epsilon));
  }

  Value layerNorm(const std::string &name, Value x) {
    Value gamma = param(name + ".weight", {spec_.hidden}, "ones");
    Value beta = param(name + ".bias", {spec_.hidden}, "zeros");
    return builder_.create<mixer::LayerNormOp>(at(name), unranked(), x, gamma, beta,
                                               builder_.getF64FloatAttr(spec_.layer_norm_epsilon));
  }

  Value dense(const std::string &name, Value x, int64_t dim, int64_t out, int64_t in,
              StringRef weightInit, StringRef biasInit, std::optional<double> biasStd = {}) {
    Value w = param(name + ".weight", {out, in}, weightInit);
    Value b = param(name + ".bias", {out}, biasInit, biasStd);
    return denseOp(name, x, w, b, dim);
  }

  /// x + fc2(gelu(fc1(norm(x)))) along `dim`, as timm's MixerBlock (mlp biases ~ N(0, 1e-6)), or
  /// with nn.Linear's default initialisation.
  Value residualMlp(const std::string &norm, const std::string &mlp, Value x, int64_t dim,
                    int64_t hidden, int64_t width) {
    auto mixerDense = [&](const std::string &name, Value in, int64_t out, int64_t features) {
      if (spec_.init == InitScheme::Pytorch)
        return linear(name, in, out, features, dim);
      return dense(name, in, dim, out, features, "xavier_uniform", "normal", 1e-6);
    };
    Value y = layerNorm(norm, x);
    y = mixerDense(mlp + ".fc1", y, hidden, width);
    y = geluOp(mlp + ".act", y);
    y = mixerDense(mlp + ".fc2", y, width, hidden);
    return builder_.create<mixer::AddOp>(at(mlp), unranked(), x, y);
  }

  const ModelSpec &spec_;
  OpBuilder builder_;
  Location fileLoc_;
};

} // namespace

OwningOpRef<ModuleOp> lowerSpecToMixer(const ModelSpec &spec, MLIRContext &context) {
  context.loadDialect<mixer::MixerDialect, func::FuncDialect>();
  return MixerBuilder(spec, context).build();
}

} // namespace mixerc
