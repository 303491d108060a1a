// Verifiers and shape inference of the mixer ops. Each op computes the result shape its operands
// imply in one place (`impliedShape`); the verifier compares it with the declared result and
// inferShapes writes it, so the two can never disagree.
#include "mixer/MixerOps.h"

#include "ShapeString.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using mixer::shapeString;

namespace mixer {
#include "mixer/MixerInterfaces.cpp.inc"
} // namespace mixer

#define GET_OP_CLASSES
#include "mixer/MixerOps.cpp.inc"

namespace {

RankedTensorType rankedOrNull(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

/// Checks the declared results against the implied shape, once they are ranked (a shaped op's
/// results all have its shape: dense's optional derivative is shaped as its result).
LogicalResult checkResult(Operation *op, ArrayRef<int64_t> implied) {
  for (Value v : op->getResults()) {
    auto result = rankedOrNull(v);
    if (result && result.getShape() != implied)
      return op->emitOpError() << "result has shape " << shapeString(result.getShape())
                               << " but its operands imply " << shapeString(implied);
  }
  return success();
}

/// Sets the results to the implied shape (inferShapes).
void setResultShape(Operation *op, ArrayRef<int64_t> shape) {
  for (Value v : op->getResults())
    v.setType(RankedTensorType::get(shape, Float32Type::get(op->getContext())));
}

/// A rank-1 parameter of `expected` elements, or an error naming `what`.
LogicalResult checkVector(Operation *op, Value v, int64_t expected, StringRef what) {
  auto type = rankedOrNull(v);
  if (type.getRank() != 1 || type.getDimSize(0) != expected)
    return op->emitOpError() << what << " has shape " << shapeString(type.getShape())
                             << " but " << expected << " elements are expected";
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult mixer::ParamOp::verify() {
  static constexpr StringLiteral kInits[] = {"zeros",  "ones",          "xavier_uniform",
                                             "lecun_normal", "normal", "uniform_fan_in"};
  if (!llvm::is_contained(kInits, getInit()))
    return emitOpError() << "unknown initialiser '" << getInit()
                         << "' (expected zeros, ones, xavier_uniform, lecun_normal, normal or "
                            "uniform_fan_in)";
  if (getInit() == "normal" && !getStd())
    return emitOpError() << "initialiser 'normal' needs a 'std' attribute";
  if (!getResult().getType().hasStaticShape())
    return emitOpError() << "parameter '" << getName() << "' must have a static shape, not "
                         << shapeString(getResult().getType().getShape());
  if (getName().empty())
    return emitOpError() << "parameter name must not be empty";
  if (getFanIn() && *getFanIn() <= 0)
    return emitOpError() << "fan_in must be positive, got " << *getFanIn();
  if (getResult().getType().getElementType().isInteger(64) && getInit() != "zeros")
    return emitOpError() << "an i64 parameter (a counter) must be initialised with zeros, not '"
                         << getInit() << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// The fused epilogue shared by dense, patch_embed and depthwise_conv2d
//===----------------------------------------------------------------------===//

/// Checks activation, BatchNorm operands and residual against the op's implied result `shape`.
static LogicalResult checkEpilogue(Operation *op, ArrayRef<int64_t> shape) {
  auto epilogue = cast<mixer::EpilogueOp>(op);
  static constexpr StringLiteral kActivations[] = {"none", "gelu_erf", "gelu_tanh", "relu"};
  StringRef act = epilogue.getActivation();
  if (!llvm::is_contained(kActivations, act))
    return op->emitOpError() << "unknown activation '" << act
                             << "' (expected none, gelu_erf, gelu_tanh or relu)";
  auto norm = epilogue.getNorm();
  if (!norm.empty()) {
    if (norm.size() != 4)
      return op->emitOpError() << "norm takes gamma, beta, mean and variance, got " << norm.size()
                               << " operands";
    static constexpr StringLiteral kNames[] = {"norm gamma", "norm beta", "norm mean",
                                               "norm variance"};
    for (auto [value, name] : llvm::zip(norm, kNames))
      if (failed(checkVector(op, value, shape.back(), name)))
        return failure();
    if (!(epilogue.getNormEpsilon().convertToDouble() > 0.0))
      return op->emitOpError() << "norm_epsilon must be positive";
  }
  if (Value residual = epilogue.getResidual())
    if (auto type = rankedOrNull(residual); type && type.getShape() != shape)
      return op->emitOpError() << "residual has shape " << shapeString(type.getShape())
                               << " but the result is " << shapeString(shape);
  return success();
}

//===----------------------------------------------------------------------===//
// PatchEmbedOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::PatchEmbedOp op, SmallVectorImpl<int64_t> &shape) {
  auto image = rankedOrNull(op.getImage());
  auto weight = rankedOrNull(op.getWeight());
  if (image.getRank() != 4)
    return op.emitOpError() << "image must be NxCxHxW, got " << shapeString(image.getShape());
  if (weight.getRank() != 4 || weight.getDimSize(2) != weight.getDimSize(3))
    return op.emitOpError() << "weight must be [hidden, channels, p, p], got "
                            << shapeString(weight.getShape());
  int64_t patch = weight.getDimSize(2), height = image.getDimSize(2), width = image.getDimSize(3);
  if (weight.getDimSize(1) != image.getDimSize(1))
    return op.emitOpError() << "weight expects " << weight.getDimSize(1)
                            << " input channels but the image has " << image.getDimSize(1);
  if (ShapedType::isDynamic(height) || ShapedType::isDynamic(width))
    return op.emitOpError() << "image height and width must be static";
  if (height % patch != 0 || width % patch != 0)
    return op.emitOpError() << "image " << height << "x" << width
                            << " is not divisible by the patch size " << patch;
  if (failed(checkVector(op, op.getBias(), weight.getDimSize(0), "bias")))
    return failure();
  if (op.getGrid())
    shape.assign({image.getDimSize(0), height / patch, width / patch, weight.getDimSize(0)});
  else
    shape.assign({image.getDimSize(0), (height / patch) * (width / patch), weight.getDimSize(0)});
  return checkEpilogue(op, shape);
}

//===----------------------------------------------------------------------===//
// DepthwiseConv2dOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::DepthwiseConv2dOp op, SmallVectorImpl<int64_t> &shape) {
  auto input = rankedOrNull(op.getInput());
  auto weight = rankedOrNull(op.getWeight());
  if (input.getRank() != 4)
    return op.emitOpError() << "input must be NxHxWxC (channels last), got "
                            << shapeString(input.getShape());
  int64_t channels = input.getDimSize(3);
  if (weight.getRank() != 4 || weight.getDimSize(1) != 1 ||
      weight.getDimSize(2) != weight.getDimSize(3))
    return op.emitOpError() << "weight must be [channels, 1, k, k], got "
                            << shapeString(weight.getShape());
  if (weight.getDimSize(0) != channels)
    return op.emitOpError() << "weight has " << weight.getDimSize(0)
                            << " filters but the input has " << channels << " channels";
  if (failed(checkVector(op, op.getBias(), channels, "bias")))
    return failure();
  shape.assign(input.getShape().begin(), input.getShape().end());
  return checkEpilogue(op, shape);
}

//===----------------------------------------------------------------------===//
// BatchNormOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::BatchNormOp op, SmallVectorImpl<int64_t> &shape) {
  auto input = rankedOrNull(op.getInput());
  int64_t channels = input.getShape().back();
  if (failed(checkVector(op, op.getGamma(), channels, "gamma")) ||
      failed(checkVector(op, op.getBeta(), channels, "beta")) ||
      failed(checkVector(op, op.getMean(), channels, "mean")) ||
      failed(checkVector(op, op.getVariance(), channels, "variance")))
    return failure();
  if (!(op.getEpsilon().convertToDouble() > 0.0))
    return op.emitOpError() << "epsilon must be positive";
  shape.assign(input.getShape().begin(), input.getShape().end());
  return success();
}

//===----------------------------------------------------------------------===//
// LayerNormOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::LayerNormOp op, SmallVectorImpl<int64_t> &shape) {
  auto input = rankedOrNull(op.getInput());
  int64_t channels = input.getShape().back();
  if (failed(checkVector(op, op.getGamma(), channels, "gamma")) ||
      failed(checkVector(op, op.getBeta(), channels, "beta")))
    return failure();
  if (!(op.getEpsilon().convertToDouble() > 0.0))
    return op.emitOpError() << "epsilon must be positive";
  shape.assign(input.getShape().begin(), input.getShape().end());
  return success();
}

//===----------------------------------------------------------------------===//
// DenseOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::DenseOp op, SmallVectorImpl<int64_t> &shape) {
  auto input = rankedOrNull(op.getInput());
  auto weight = rankedOrNull(op.getWeight());
  int64_t dim = op.getDim();
  if (input.getRank() < 2 || dim < 1 || dim >= input.getRank())
    return op.emitOpError() << "dim " << dim << " is not a non-batch dimension of the "
                            << shapeString(input.getShape()) << " input";
  // A 1x1 convolution's [out, in, 1, 1] weight is a dense weight along the channels (last) dim.
  bool pointwise = weight.getRank() == 4 && weight.getDimSize(2) == 1 &&
                   weight.getDimSize(3) == 1 && dim == input.getRank() - 1;
  if (weight.getRank() != 2 && !pointwise)
    return op.emitOpError() << "weight must be [out, in] (or [out, in, 1, 1] along the last dim), "
                            << "got " << shapeString(weight.getShape());
  if (weight.getDimSize(1) != input.getDimSize(dim))
    return op.emitOpError() << "weight expects " << weight.getDimSize(1)
                            << " inputs but the input has " << input.getDimSize(dim)
                            << " along dim " << dim;
  if (failed(checkVector(op, op.getBias(), weight.getDimSize(0), "bias")))
    return failure();
  shape.assign(input.getShape().begin(), input.getShape().end());
  shape[dim] = weight.getDimSize(0);
  if (op.getDerivative() && op.getActivation() == "none")
    return op.emitOpError() << "returns an activation's derivative but has no activation";
  return checkEpilogue(op, shape);
}

//===----------------------------------------------------------------------===//
// GeluOp, ReluOp, AddOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::ReluOp op, SmallVectorImpl<int64_t> &shape) {
  auto input = rankedOrNull(op.getInput());
  shape.assign(input.getShape().begin(), input.getShape().end());
  return success();
}

static LogicalResult impliedShape(mixer::GeluOp op, SmallVectorImpl<int64_t> &shape) {
  if (op.getApproximation() != "erf" && op.getApproximation() != "tanh")
    return op.emitOpError() << "unknown approximation '" << op.getApproximation()
                            << "' (expected erf or tanh)";
  auto input = rankedOrNull(op.getInput());
  shape.assign(input.getShape().begin(), input.getShape().end());
  return success();
}

static LogicalResult impliedShape(mixer::AddOp op, SmallVectorImpl<int64_t> &shape) {
  auto lhs = rankedOrNull(op.getLhs()), rhs = rankedOrNull(op.getRhs());
  if (!rhs)
    return op.emitOpError() << "rhs shape is not known yet";
  if (lhs.getShape() != rhs.getShape())
    return op.emitOpError() << "operands have shapes " << shapeString(lhs.getShape()) << " and "
                            << shapeString(rhs.getShape());
  shape.assign(lhs.getShape().begin(), lhs.getShape().end());
  return success();
}

//===----------------------------------------------------------------------===//
// FlattenOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::FlattenOp op, SmallVectorImpl<int64_t> &shape) {
  auto input = rankedOrNull(op.getInput());
  if (input.getRank() < 2)
    return op.emitOpError() << "needs a batch and at least one more dimension, got "
                            << shapeString(input.getShape());
  int64_t features = 1;
  for (int64_t d : input.getShape().drop_front()) {
    if (ShapedType::isDynamic(d))
      return op.emitOpError() << "needs static non-batch dimensions, got "
                              << shapeString(input.getShape());
    features *= d;
  }
  shape.assign({input.getDimSize(0), features});
  return success();
}

//===----------------------------------------------------------------------===//
// GlobalAvgPoolOp
//===----------------------------------------------------------------------===//

static LogicalResult impliedShape(mixer::GlobalAvgPoolOp op, SmallVectorImpl<int64_t> &shape) {
  auto input = rankedOrNull(op.getInput());
  if (input.getRank() < 3)
    return op.emitOpError() << "needs [batch, ..., channels] with at least one dimension to pool, "
                            << "got " << shapeString(input.getShape());
  shape.assign({input.getDimSize(0), input.getShape().back()});
  return success();
}

//===----------------------------------------------------------------------===//
// The shared verify/inferShapes of every shaped op.
//===----------------------------------------------------------------------===//

namespace {
/// Ops are verified only once their first operand is ranked; before shape inference an
/// unranked operand is legal and says nothing yet.
template <typename OpT> LogicalResult verifyShaped(OpT op) {
  if (!rankedOrNull(op->getOperand(0)))
    return success();
  SmallVector<int64_t> shape;
  if (failed(impliedShape(op, shape)))
    return failure();
  return checkResult(op, shape);
}

template <typename OpT> LogicalResult inferShaped(OpT op) {
  if (!rankedOrNull(op->getOperand(0)))
    return op.emitOpError() << "cannot infer a shape from an unranked input";
  SmallVector<int64_t> shape;
  if (failed(impliedShape(op, shape)))
    return failure();
  setResultShape(op, shape);
  return success();
}
} // namespace

#define MIXER_SHAPED_OP(OpT)                                                                      \
  LogicalResult mixer::OpT::verify() { return verifyShaped(*this); }                              \
  LogicalResult mixer::OpT::inferShapes() { return inferShaped(*this); }
MIXER_SHAPED_OP(PatchEmbedOp)
MIXER_SHAPED_OP(LayerNormOp)
MIXER_SHAPED_OP(DenseOp)
MIXER_SHAPED_OP(DepthwiseConv2dOp)
MIXER_SHAPED_OP(BatchNormOp)
MIXER_SHAPED_OP(GeluOp)
MIXER_SHAPED_OP(ReluOp)
MIXER_SHAPED_OP(AddOp)
MIXER_SHAPED_OP(FlattenOp)
MIXER_SHAPED_OP(GlobalAvgPoolOp)
#undef MIXER_SHAPED_OP
