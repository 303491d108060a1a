// Verifiers of the loss and gradient ops (MixerTrainingOps.td): each checks its result shapes
// against the shapes its operands imply, with the same wording as the forward ops' verifiers.
#include "mixer/MixerOps.h"

#include "ShapeString.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using mixer::shapeString;

namespace {

ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }

LogicalResult expectShape(Operation *op, Value v, ArrayRef<int64_t> expected, StringRef what) {
  if (shapeOf(v) != expected)
    return op->emitOpError() << what << " has shape " << shapeString(shapeOf(v))
                             << " but its operands imply " << shapeString(expected);
  return success();
}

/// `dim` must name a non-batch dimension of `v`.
LogicalResult checkDim(Operation *op, Value v, int64_t dim) {
  int64_t rank = int64_t(shapeOf(v).size());
  if (dim < 1 || dim >= rank)
    return op->emitOpError() << "dim " << dim << " is not a non-batch dimension of "
                             << shapeString(shapeOf(v));
  return success();
}

} // namespace

LogicalResult mixer::SoftmaxCrossEntropyOp::verify() {
  auto logits = shapeOf(getLogits());
  if (logits.size() != 2)
    return emitOpError() << "logits must be [batch, classes], got " << shapeString(logits);
  if (failed(expectShape(*this, getLabels(), {logits[0]}, "labels")) ||
      failed(expectShape(*this, getLoss(), {logits[0]}, "loss")))
    return failure();
  return expectShape(*this, getGrad(), logits, "grad");
}

LogicalResult mixer::DenseGradInputOp::verify() {
  int64_t dim = getDim();
  if (failed(checkDim(*this, getGrad(), dim)))
    return failure();
  auto weight = shapeOf(getWeight());
  if (weight.size() < 2 || weight[0] != shapeOf(getGrad())[size_t(dim)])
    return emitOpError() << "weight " << shapeString(weight) << " does not produce dim " << dim
                         << " of the gradient " << shapeString(shapeOf(getGrad()));
  SmallVector<int64_t> expected(shapeOf(getGrad()));
  expected[size_t(dim)] = weight[1];
  if (getScale() && failed(expectShape(*this, getScale(), expected, "scale")))
    return failure();
  return expectShape(*this, getResult(), expected, "result");
}

LogicalResult mixer::DenseGradWeightOp::verify() {
  int64_t dim = getDim();
  if (failed(checkDim(*this, getInput(), dim)) || failed(checkDim(*this, getGrad(), dim)))
    return failure();
  auto input = shapeOf(getInput()), grad = shapeOf(getGrad());
  if (input.size() != grad.size())
    return emitOpError() << "input " << shapeString(input) << " and gradient "
                         << shapeString(grad) << " differ in rank";
  auto result = shapeOf(getResult());
  bool pointwise = result.size() == 4 && result[2] == 1 && result[3] == 1;
  if (result.size() != 2 && !pointwise)
    return emitOpError() << "result must be [out, in] or [out, in, 1, 1], got "
                         << shapeString(result);
  return expectShape(*this, getResult(),
                     pointwise ? SmallVector<int64_t>{grad[size_t(dim)], input[size_t(dim)], 1, 1}
                               : SmallVector<int64_t>{grad[size_t(dim)], input[size_t(dim)]},
                     "result");
}

LogicalResult mixer::BiasGradOp::verify() {
  if (failed(checkDim(*this, getGrad(), getDim())))
    return failure();
  return expectShape(*this, getResult(), {shapeOf(getGrad())[size_t(getDim())]}, "result");
}

LogicalResult mixer::PatchEmbedGradWeightOp::verify() {
  auto image = shapeOf(getImage()), grad = shapeOf(getGrad()), result = shapeOf(getResult());
  if (image.size() != 4 || result.size() != 4 || result[2] != result[3] || result[2] < 1)
    return emitOpError() << "expects an NxCxHxW image and a [hidden, C, p, p] result, got "
                         << shapeString(image) << " and " << shapeString(result);
  int64_t p = result[2], tokens = (image[2] / p) * (image[3] / p);
  if (result[1] != image[1] || image[2] % p || image[3] % p)
    return emitOpError() << "result " << shapeString(result) << " does not fit the image "
                         << shapeString(image);
  int64_t gradTokens = 1;
  for (int64_t d : grad.drop_front().drop_back())
    gradTokens *= d;
  if (grad.back() != result[0] || gradTokens != tokens)
    return emitOpError() << "gradient " << shapeString(grad) << " is not " << tokens
                         << " patches of " << result[0] << " features";
  return success();
}

LogicalResult mixer::LayerNormGradOp::verify() {
  int64_t channels = shapeOf(getInput()).back();
  if (failed(expectShape(*this, getGamma(), {channels}, "gamma")) ||
      failed(expectShape(*this, getGrad(), shapeOf(getInput()), "grad")))
    return failure();
  if (getResidual() && failed(expectShape(*this, getResidual(), shapeOf(getInput()), "residual")))
    return failure();
  if (!getParamGrads().empty()) {
    if (getParamGrads().size() != 2)
      return emitOpError() << "returns " << getParamGrads().size()
                           << " parameter gradients (expected none, or gamma's and beta's)";
    if (failed(expectShape(*this, getParamGrads()[0], {channels}, "gamma_grad")) ||
        failed(expectShape(*this, getParamGrads()[1], {channels}, "beta_grad")))
      return failure();
  }
  return expectShape(*this, getResult(), shapeOf(getInput()), "result");
}

LogicalResult mixer::LayerNormParamGradOp::verify() {
  int64_t channels = shapeOf(getInput()).back();
  if (failed(expectShape(*this, getGrad(), shapeOf(getInput()), "grad")) ||
      failed(expectShape(*this, getGammaGrad(), {channels}, "gamma_grad")))
    return failure();
  return expectShape(*this, getBetaGrad(), {channels}, "beta_grad");
}

LogicalResult mixer::GeluTrainOp::verify() {
  if (getApproximation() != "erf" && getApproximation() != "tanh")
    return emitOpError() << "unknown approximation '" << getApproximation()
                         << "' (expected erf or tanh)";
  if (failed(expectShape(*this, getResult(), shapeOf(getInput()), "result")))
    return failure();
  return expectShape(*this, getDerivative(), shapeOf(getInput()), "derivative");
}

LogicalResult mixer::MulOp::verify() {
  if (failed(expectShape(*this, getRhs(), shapeOf(getLhs()), "rhs")))
    return failure();
  return expectShape(*this, getResult(), shapeOf(getLhs()), "result");
}

LogicalResult mixer::GlobalAvgPoolGradOp::verify() {
  auto grad = shapeOf(getGrad()), result = shapeOf(getResult());
  if (grad.size() != 2 || result.size() < 3 || result.front() != grad.front() ||
      result.back() != grad.back())
    return emitOpError() << "gradient " << shapeString(grad) << " is not the pool of "
                         << shapeString(result);
  return success();
}

LogicalResult mixer::StoreGradOp::verify() {
  if (shapeOf(getParam()) != shapeOf(getGrad()))
    return emitOpError() << "gradient has shape " << shapeString(shapeOf(getGrad()))
                         << " but the parameter is " << shapeString(shapeOf(getParam()));
  if (!getParam().getDefiningOp<ParamOp>())
    return emitOpError() << "first operand must be a mixer.param";
  return success();
}

LogicalResult mixer::ReluGradOp::verify() {
  if (failed(expectShape(*this, getGrad(), shapeOf(getInput()), "grad")))
    return failure();
  return expectShape(*this, getResult(), shapeOf(getInput()), "result");
}

LogicalResult mixer::BatchNormTrainOp::verify() {
  auto input = shapeOf(getInput());
  int64_t channels = input.back();
  for (auto [v, what] : {std::pair{getGamma(), "gamma"}, std::pair{getBeta(), "beta"},
                         std::pair{getRunningMean(), "running_mean"},
                         std::pair{getRunningVar(), "running_var"},
                         std::pair{getMean(), "mean"}, std::pair{getInvstd(), "invstd"}})
    if (failed(expectShape(*this, v, {channels}, what)))
      return failure();
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError() << "epsilon must be positive";
  double momentum = getMomentum().convertToDouble();
  if (!(momentum >= 0.0 && momentum <= 1.0))
    return emitOpError() << "momentum must be in [0, 1], got " << momentum;
  return expectShape(*this, getResult(), input, "result");
}

LogicalResult mixer::BatchNormGradOp::verify() {
  auto input = shapeOf(getInput());
  int64_t channels = input.back();
  for (auto [v, what] : {std::pair{getGamma(), "gamma"}, std::pair{getMean(), "mean"},
                         std::pair{getInvstd(), "invstd"}, std::pair{getGammaGrad(), "gamma_grad"},
                         std::pair{getBetaGrad(), "beta_grad"}})
    if (failed(expectShape(*this, v, {channels}, what)))
      return failure();
  if (failed(expectShape(*this, getGrad(), input, "grad")))
    return failure();
  return expectShape(*this, getResult(), input, "result");
}

/// A [C, 1, k, k] depthwise weight for the channels-last grid `grid`.
static LogicalResult checkDepthwise(Operation *op, ArrayRef<int64_t> grid,
                                    ArrayRef<int64_t> weight) {
  if (grid.size() != 4 || weight.size() != 4 || weight[1] != 1 || weight[2] != weight[3] ||
      weight[0] != grid[3])
    return op->emitOpError() << "expects an NxHxWxC grid and a [C, 1, k, k] weight, got "
                             << shapeString(grid) << " and " << shapeString(weight);
  return success();
}

LogicalResult mixer::DepthwiseConv2dGradInputOp::verify() {
  if (failed(checkDepthwise(*this, shapeOf(getGrad()), shapeOf(getWeight()))))
    return failure();
  return expectShape(*this, getResult(), shapeOf(getGrad()), "result");
}

LogicalResult mixer::DepthwiseConv2dGradWeightOp::verify() {
  if (failed(checkDepthwise(*this, shapeOf(getInput()), shapeOf(getResult()))))
    return failure();
  return expectShape(*this, getGrad(), shapeOf(getInput()), "grad");
}
