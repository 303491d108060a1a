// mixer dialect -> kernel plan (see LowerMixerToKernels.h). The buffer layouts chosen here are the
// contract with the kernels in compiler/kernels: every activation is a dense row-major tensor with
// the batch outermost, viewed by each kernel with the dimensions it needs.
#include "lower/LowerMixerToKernels.h"

#include <cassert>
#include <map>

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include "mixer/MixerOps.h"
#include "schedule/GemmSchedule.h"

using namespace mlir;

namespace mixerc {
namespace {

/// Up to this many arguments fit the runtime's call frame (runtime/src/model.cpp).
constexpr size_t kMaxKernelArgs = 16;

ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }

int64_t product(ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::pair<int64_t, int64_t> fans(ArrayRef<int64_t> shape) {
  if (shape.empty()) // a scalar (a counter): no fans
    return {1, 1};
  if (shape.size() == 1)
    return {shape[0], shape[0]};
  int64_t receptive = product(shape.drop_front(2));
  return {shape[1] * receptive, shape[0] * receptive};
}

class Lowering {
public:
  Lowering(func::FuncOp function, const VectorMachine &machine, KernelPlan *plan)
      : function_(function), machine_(machine), plan_(plan),
        training_(function->hasAttr("mixer.train")),
        activationElems_(training_ ? &plan->train_activation_elems : &plan->activation_elems),
        steps_(training_ ? &plan->train_steps : &plan->steps) {
    // A second function (training after inference) shares the first one's parameters, packed
    // weights and kernels.
    for (size_t i = 0; i < plan->params.size(); ++i)
      paramsByName_[plan->params[i].name] = int(i);
    for (size_t i = 0; i < plan->packs.size(); ++i)
      packs_[{plan->packs[i].param, plan->packs[i].panel, plan->packs[i].transposed}] = int(i);
    for (size_t i = 0; i < plan->kernels.size(); ++i)
      kernels_[plan->kernels[i].key()] = int(i);
  }

  LogicalResult run() {
    Block &body = function_.getBody().front();
    int position = 0;
    for (Operation &op : body) {
      if (auto flatten = dyn_cast<mixer::FlattenOp>(op))
        views_[flatten.getResult()] = storage(flatten.getInput());
      if (auto store = dyn_cast<mixer::StoreGradOp>(op)) {
        gradOf_[store.getGrad()] = store.getParam();
        trained_.insert(store.getParam());
      }
      for (Value operand : op.getOperands())
        lastUse_[storage(operand)] = position;
      ++position;
    }
    returned_ = body.getTerminator()->getOperand(0);
    input_ = function_.getArgument(0);
    if (training_)
      labels_ = function_.getArgument(1);
    auto image = shapeOf(input_);
    plan_->image_channels = image[1];
    plan_->image_height = image[2];
    plan_->image_width = image[3];
    if (!training_)
      plan_->classes = shapeOf(returned_).back();

    position = 0;
    for (Operation &op : body) {
      LogicalResult result =
          llvm::TypeSwitch<Operation *, LogicalResult>(&op)
              .Case<mixer::ParamOp>([&](auto p) { return lowerParam(p); })
              .Case<mixer::PatchEmbedOp>([&](auto p) { return lowerPatchEmbed(p); })
              .Case<mixer::LayerNormOp>([&](auto p) { return lowerLayerNorm(p); })
              .Case<mixer::DenseOp>([&](auto p) { return lowerDense(p); })
              .Case<mixer::DepthwiseConv2dOp>([&](auto p) { return lowerDepthwise(p); })
              .Case<mixer::GlobalAvgPoolOp>([&](auto p) { return lowerPool(p); })
              .Case<mixer::SoftmaxCrossEntropyOp>([&](auto p) { return lowerLoss(p); })
              .Case<mixer::DenseGradInputOp>([&](auto p) { return lowerDenseGradInput(p); })
              .Case<mixer::DenseGradWeightOp>([&](auto p) { return lowerDenseGradWeight(p); })
              .Case<mixer::BiasGradOp>([&](auto p) { return lowerBiasGrad(p); })
              .Case<mixer::PatchEmbedGradWeightOp>([&](auto p) { return lowerPatchGrad(p); })
              .Case<mixer::LayerNormGradOp>([&](auto p) { return lowerLayerNormGrad(p); })
              .Case<mixer::LayerNormParamGradOp>([&](auto p) { return lowerLayerNormParams(p); })
              .Case<mixer::GeluOp>([&](auto p) { return lowerGelu(p); })
              .Case<mixer::ReluOp>([&](auto p) { return lowerRelu(p); })
              .Case<mixer::ReluGradOp>([&](auto p) { return lowerReluGrad(p); })
              .Case<mixer::BatchNormTrainOp>([&](auto p) { return lowerBatchNormTrain(p); })
              .Case<mixer::BatchNormGradOp>([&](auto p) { return lowerBatchNormGrad(p); })
              .Case<mixer::DepthwiseConv2dGradInputOp>([&](auto p) { return lowerDepthwiseGrad(p); })
              .Case<mixer::DepthwiseConv2dGradWeightOp>([&](auto p) { return lowerDepthwiseGrad(p); })
              .Case<mixer::GeluTrainOp>([&](auto p) { return lowerGeluTrain(p); })
              .Case<mixer::MulOp>([&](auto p) { return lowerElementwise(p, KernelOp::Mul); })
              .Case<mixer::AddOp>([&](auto p) { return lowerElementwise(p, KernelOp::Add); })
              .Case<mixer::GlobalAvgPoolGradOp>([&](auto p) { return lowerPoolGrad(p); })
              .Case<mixer::StoreGradOp>([&](auto) { return success(); }) // its producer wrote it
              .Case<mixer::FlattenOp>([&](auto) { return success(); }) // a view: no kernel
              .Case<func::ReturnOp>([&](auto) { return success(); })
              .Default([](Operation *other) {
                return other->emitOpError()
                       << "has no kernel; run mixer-fuse-elementwise before lowering";
              });
      if (failed(result))
        return failure();
      // Free the slots whose last reader was this op.
      for (Value operand : op.getOperands())
        if (lastUse_[storage(operand)] == position)
          release(storage(operand));
      ++position;
    }
    return success();
  }

private:
  // --- parameters and packed weights -------------------------------------------------------

  LogicalResult lowerParam(mixer::ParamOp op) {
    // The training function reads the parameters the inference function declared.
    auto known = paramsByName_.find(op.getName().str());
    if (known != paramsByName_.end()) {
      params_[op.getResult()] = known->second;
      if (trained_.contains(op.getResult()))
        plan_->params[size_t(known->second)].trainable = true;
      return success();
    }
    PlanParam param;
    param.name = op.getName().str();
    auto shape = op.getResult().getType().getShape();
    param.shape.assign(shape.begin(), shape.end());
    param.init = op.getInit().str();
    param.std = op.getStd() ? op.getStd()->convertToDouble() : 0.0;
    param.counter = op.getResult().getType().getElementType().isInteger(64);
    param.buffer = param.counter;
    std::tie(param.fan_in, param.fan_out) = fans(shape);
    if (op.getFanIn())
      param.fan_in = int64_t(*op.getFanIn());
    params_[op.getResult()] = int(plan_->params.size());
    paramsByName_[param.name] = int(plan_->params.size());
    param.trainable = trained_.contains(op.getResult());
    plan_->params.push_back(std::move(param));
    return success();
  }

  int paramIndex(Value v) { return params_.lookup(v); }

  /// The packed-panel copy of a [N][K...] weight, made once however many kernels read it.
  KernelArg packed(Value weight, int64_t panel, bool transposed = false) {
    int param = paramIndex(weight);
    auto key = std::make_tuple(param, panel, transposed);
    auto it = packs_.find(key);
    if (it == packs_.end()) {
      it = packs_.emplace(key, int(plan_->packs.size())).first;
      plan_->packs.push_back({param, panel, transposed});
    }
    auto shape = shapeOf(weight);
    int64_t n = shape[0], k = product(shape.drop_front());
    if (transposed)
      std::swap(n, k);
    int64_t panels = (n + panel - 1) / panel;
    return {SlotKind::Packed, it->second,
            {{panel, 1, false}, {k, panel, false}, {panels, k * panel, false}}};
  }

  KernelArg vectorParam(Value v) {
    return {SlotKind::Param, paramIndex(v), {{shapeOf(v)[0], 1, false}}};
  }

  // --- activations ----------------------------------------------------------------------

  /// The value whose buffer `v` lives in: itself, or what a flatten of it views.
  Value storage(Value v) const {
    auto it = views_.find(v);
    return it == views_.end() ? v : it->second;
  }

  /// The slot holding `v`: the input, the output, or an activation slot.
  std::pair<SlotKind, int> slotOf(Value v) {
    v = storage(v);
    if (v == input_)
      return {SlotKind::Input, 0};
    if (v == returned_)
      return {SlotKind::Output, 0};
    if (v == labels_)
      return {SlotKind::Labels, 0};
    if (auto grad = gradOf_.find(v); grad != gradOf_.end())
      return {SlotKind::Grad, paramIndex(grad->second)};
    auto it = activations_.find(v);
    assert(it != activations_.end() && "a value is read after its slot was released");
    return {SlotKind::Activation, it->second};
  }

  /// Gives `result` a slot before the op's operands are released, so no kernel writes a buffer it
  /// reads (the GEMM schedules recompute overlapping tail tiles and rely on that).
  void allocate(Value result) {
    if (result == returned_ || gradOf_.count(result))
      return;
    // Batch tensors take their per-image size (times the batch at run time); a rank-1 value (a
    // training BatchNorm's per-channel statistics) takes its whole size, over-allocated by the
    // batch, which keeps one slot kind for both.
    auto shape = shapeOf(result);
    int64_t elems = shape.size() == 1 ? shape[0] : product(shape.drop_front());
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if ((*activationElems_)[size_t(*it)] == elems) {
        activations_[result] = *it;
        free_.erase(it);
        return;
      }
    activations_[result] = int(activationElems_->size());
    activationElems_->push_back(elems);
  }

  void release(Value v) {
    auto it = activations_.find(v); // the input, the output and parameters have no slot
    if (it != activations_.end()) {
      free_.push_back(it->second);
      activations_.erase(it);
    }
  }

  /// A [batch, rows..., width] tensor viewed as 2-D (width, batch * rows).
  KernelArg rows(Value v) {
    auto shape = shapeOf(v);
    int64_t width = shape.back(), perImage = product(shape.drop_front().drop_back());
    auto [kind, index] = slotOf(v);
    return {kind, index, {{width, 1, false}, {perImage, width, true}}};
  }

  /// A [batch, ...] tensor viewed as 1-D: all its elements (elementwise kernels).
  KernelArg flat(Value v) {
    auto [kind, index] = slotOf(v);
    return {kind, index, {{product(shapeOf(v).drop_front()), 1, true}}};
  }

  /// A parameter-shaped gradient [rows][width] (a vector when rows is 1) in Halide order.
  KernelArg matrix(Value v, int64_t rowCount, int64_t width) {
    auto [kind, index] = slotOf(v);
    if (rowCount == 1)
      return {kind, index, {{width, 1, false}}};
    return {kind, index, {{width, 1, false}, {rowCount, width, false}}};
  }

  /// A [batch, a..., b] tensor viewed as 3-D (b, product(a...), batch).
  KernelArg cube(Value v) {
    auto shape = shapeOf(v);
    int64_t inner = shape.back(), middle = product(shape.drop_front().drop_back());
    auto [kind, index] = slotOf(v);
    return {kind, index, {{inner, 1, false}, {middle, inner, false}, {1, middle * inner, true}}};
  }

  /// A rank-4 [batch, a, b, c] tensor viewed as 4-D (c, b, a, batch): a channels-last grid
  /// [N, H, W, C], or an image batch [N, C, H, W].
  KernelArg grid(Value v) {
    auto shape = shapeOf(v);
    auto [kind, index] = slotOf(v);
    return {kind,
            index,
            {{shape[3], 1, false},
             {shape[2], shape[3], false},
             {shape[1], shape[2] * shape[3], false},
             {1, shape[1] * shape[2] * shape[3], true}}};
  }

  /// Fills the signature's epilogue from the op and appends its arguments after the op's own:
  /// the BatchNorm vectors (gamma, beta, mean, variance), then the residual in `view`'s layout.
  void addEpilogue(mixer::EpilogueOp op, KernelSignature *sig, std::vector<KernelArg> *args,
                   KernelArg (Lowering::*view)(Value)) {
    StringRef act = op.getActivation();
    sig->activation = act == "gelu_erf"    ? Activation::GeluErf
                      : act == "gelu_tanh" ? Activation::GeluTanh
                      : act == "relu"      ? Activation::Relu
                                           : Activation::None;
    sig->norm = !op.getNorm().empty();
    if (sig->norm) {
      sig->norm_epsilon = op.getNormEpsilon().convertToDouble();
      for (Value v : op.getNorm())
        args->push_back(vectorParam(v));
      markBuffers({op.getNorm()[2], op.getNorm()[3]}); // mean, variance (of gamma, beta, mean, var)
    }
    sig->residual = bool(op.getResidual());
    if (sig->residual)
      args->push_back((this->*view)(op.getResidual()));
  }

  // --- ops ------------------------------------------------------------------------------

  LogicalResult addStep(Operation *op, const KernelSignature &signature,
                        std::vector<KernelArg> args) {
    if (args.size() > kMaxKernelArgs)
      return op->emitOpError() << "needs " << args.size() << " kernel arguments, more than "
                               << kMaxKernelArgs;
    std::string key = signature.key();
    auto it = kernels_.find(key);
    if (it == kernels_.end()) {
      it = kernels_.emplace(key, int(plan_->kernels.size())).first;
      plan_->kernels.push_back(signature);
    }
    std::string label;
    if (auto name = dyn_cast<NameLoc>(op->getLoc()))
      label = name.getName().str();
    steps_->push_back({it->second, label.empty() ? op->getName().getStringRef().str() : label,
                       std::move(args)});
    return success();
  }

  LogicalResult lowerPatchEmbed(mixer::PatchEmbedOp op) {
    auto image = shapeOf(op.getImage()), weight = shapeOf(op.getWeight());
    KernelSignature sig;
    sig.op = KernelOp::PatchEmbed;
    sig.n = weight[0];
    sig.k = product(weight.drop_front());
    sig.rows_per_image = product(shapeOf(op.getResult()).drop_front().drop_back()); // patches
    sig.panel = gemmPanelWidth(sig.n, machine_);
    sig.image_channels = image[1];
    sig.image_height = image[2];
    sig.image_width = image[3];
    sig.patch = weight[2];
    allocate(op.getResult());
    std::vector<KernelArg> args{grid(op.getImage()), packed(op.getWeight(), sig.panel),
                                vectorParam(op.getBias())};
    addEpilogue(op, &sig, &args, &Lowering::rows);
    args.push_back(rows(op.getResult()));
    return addStep(op, sig, std::move(args));
  }

  LogicalResult lowerDepthwise(mixer::DepthwiseConv2dOp op) {
    auto input = shapeOf(op.getInput()), weight = shapeOf(op.getWeight());
    KernelSignature sig;
    sig.op = KernelOp::DepthwiseConv;
    sig.n = input[3];
    sig.image_height = input[1];
    sig.image_width = input[2];
    sig.kernel_size = weight[2];
    allocate(op.getResult());
    // One panel as wide as the channels turns [C][1][k][k] into taps x channels, the layout
    // whose rows are channel vectors.
    std::vector<KernelArg> args{grid(op.getInput()), packed(op.getWeight(), sig.n),
                                vectorParam(op.getBias())};
    addEpilogue(op, &sig, &args, &Lowering::grid);
    args.push_back(grid(op.getResult()));
    return addStep(op, sig, std::move(args));
  }

  LogicalResult lowerLayerNorm(mixer::LayerNormOp op) {
    KernelSignature sig;
    sig.op = KernelOp::LayerNorm;
    sig.n = shapeOf(op.getInput()).back();
    sig.epsilon = op.getEpsilon().convertToDouble();
    allocate(op.getResult());
    return addStep(op, sig,
                   {rows(op.getInput()), vectorParam(op.getGamma()), vectorParam(op.getBeta()),
                    rows(op.getResult())});
  }

  LogicalResult lowerDense(mixer::DenseOp op) {
    auto input = shapeOf(op.getInput()), weight = shapeOf(op.getWeight());
    int64_t rank = int64_t(input.size()), dim = op.getDim();
    KernelSignature sig;
    sig.derivative = bool(op.getDerivative());
    allocate(op.getResult());
    if (sig.derivative)
      allocate(op.getDerivative());
    std::vector<KernelArg> args;
    if (dim == rank - 1) { // channel mixing: rows x K times packed K x N
      sig.op = KernelOp::DenseChannels;
      sig.n = weight[0];
      sig.k = weight[1];
      sig.rows_per_image = product(input.drop_front().drop_back());
      sig.panel = gemmPanelWidth(sig.n, machine_);
      args = {rows(op.getInput()), packed(op.getWeight(), sig.panel), vectorParam(op.getBias())};
      addEpilogue(op, &sig, &args, &Lowering::rows);
      args.push_back(rows(op.getResult()));
      if (sig.derivative)
        args.push_back(rows(op.getDerivative()));
    } else if (dim == 1 && rank == 3) { // token mixing: W[M][K] times x[b] (K x C)
      sig.op = KernelOp::DenseTokens;
      sig.n = input[2];
      sig.m = weight[0];
      sig.k = weight[1];
      KernelArg w{SlotKind::Param, paramIndex(op.getWeight()),
                  {{weight[1], 1, false}, {weight[0], weight[1], false}}};
      args = {w, cube(op.getInput()), vectorParam(op.getBias())};
      addEpilogue(op, &sig, &args, &Lowering::cube);
      args.push_back(cube(op.getResult()));
      if (sig.derivative)
        args.push_back(cube(op.getDerivative()));
    } else {
      return op.emitOpError() << "dense along dim " << dim << " of a rank-" << rank
                              << " tensor has no kernel";
    }
    return addStep(op, sig, std::move(args));
  }

  // --- the training function's ops -----------------------------------------------------------

  LogicalResult lowerLoss(mixer::SoftmaxCrossEntropyOp op) {
    KernelSignature sig;
    sig.op = KernelOp::SoftmaxCrossEntropy;
    sig.n = shapeOf(op.getLogits()).back();
    plan_->classes = sig.n;
    allocate(op.getGrad());
    allocate(op.getLoss());
    return addStep(op, sig,
                   {rows(op.getLogits()), {SlotKind::Labels, 0, {{1, 1, true}}},
                    {SlotKind::Hyper, 0, {{kLossHyperParameters, 1, false}}}, rows(op.getGrad()),
                    flat(op.getLoss())});
  }

  /// dx = dy W along `dim`: the forward GEMM kernels without a bias, reading W transposed.
  LogicalResult lowerDenseGradInput(mixer::DenseGradInputOp op) {
    auto grad = shapeOf(op.getGrad()), weight = shapeOf(op.getWeight());
    int64_t rank = int64_t(grad.size()), dim = op.getDim();
    KernelSignature sig;
    sig.bias = false;
    sig.scale = bool(op.getScale());
    allocate(op.getResult());
    std::vector<KernelArg> args;
    KernelArg (Lowering::*view)(Value) = nullptr; // the layout of the gradients
    if (dim == rank - 1) {
      sig.op = KernelOp::DenseChannels;
      sig.n = product(weight.drop_front());
      sig.k = weight[0];
      sig.rows_per_image = product(grad.drop_front().drop_back());
      sig.panel = gemmPanelWidth(sig.n, machine_);
      view = &Lowering::rows;
      args = {rows(op.getGrad()), packed(op.getWeight(), sig.panel, /*transposed=*/true)};
    } else if (dim == 1 && rank == 3) {
      // W [M][K] packed in one panel of M columns is W^T, row-major [K][M]: the token kernel's
      // weight for out[k] = sum_m W[m][k] dy[m].
      sig.op = KernelOp::DenseTokens;
      sig.n = grad[2];
      sig.m = weight[1];
      sig.k = weight[0];
      KernelArg transposed = packed(op.getWeight(), weight[0]);
      transposed.dims = {{weight[0], 1, false}, {weight[1], weight[0], false}};
      view = &Lowering::cube;
      args = {transposed, cube(op.getGrad())};
    } else {
      return op.emitOpError() << "along dim " << dim << " of a rank-" << rank
                              << " tensor has no kernel";
    }
    if (op.getScale())
      args.push_back((this->*view)(op.getScale()));
    args.push_back((this->*view)(op.getResult()));
    return addStep(op, sig, std::move(args));
  }

  LogicalResult lowerDenseGradWeight(mixer::DenseGradWeightOp op) {
    auto input = shapeOf(op.getInput()), grad = shapeOf(op.getGrad());
    int64_t rank = int64_t(input.size()), dim = op.getDim();
    KernelSignature sig;
    if (dim == rank - 1) {
      sig.op = KernelOp::WeightGradChannels;
      sig.n = grad.back();
      sig.k = input.back();
      sig.rows_per_image = product(input.drop_front().drop_back());
      return addStep(op, sig,
                     {rows(op.getInput()), rows(op.getGrad()),
                      matrix(op.getResult(), sig.n, sig.k)});
    }
    if (dim == 1 && rank == 3) {
      sig.op = KernelOp::WeightGradTokens;
      sig.n = input[2];
      sig.m = grad[1];
      sig.k = input[1];
      return addStep(op, sig,
                     {cube(op.getInput()), cube(op.getGrad()),
                      matrix(op.getResult(), sig.m, sig.k)});
    }
    return op.emitOpError() << "along dim " << dim << " of a rank-" << rank
                            << " tensor has no kernel";
  }

  LogicalResult lowerBiasGrad(mixer::BiasGradOp op) {
    auto grad = shapeOf(op.getGrad());
    int64_t rank = int64_t(grad.size()), dim = op.getDim();
    KernelSignature sig;
    if (dim == rank - 1) {
      sig.op = KernelOp::BiasGradChannels;
      sig.n = grad.back();
      return addStep(op, sig, {rows(op.getGrad()), matrix(op.getResult(), 1, sig.n)});
    }
    if (dim == 1 && rank == 3) {
      sig.op = KernelOp::BiasGradTokens;
      sig.n = grad[2];
      sig.m = grad[1];
      return addStep(op, sig, {cube(op.getGrad()), matrix(op.getResult(), 1, sig.m)});
    }
    return op.emitOpError() << "along dim " << dim << " of a rank-" << rank
                            << " tensor has no kernel";
  }

  LogicalResult lowerPatchGrad(mixer::PatchEmbedGradWeightOp op) {
    auto image = shapeOf(op.getImage()), weight = shapeOf(op.getResult());
    KernelSignature sig;
    sig.op = KernelOp::WeightGradPatches;
    sig.n = weight[0];
    sig.k = product(weight.drop_front());
    sig.image_channels = image[1];
    sig.image_height = image[2];
    sig.image_width = image[3];
    sig.patch = weight[2];
    return addStep(op, sig,
                   {grid(op.getImage()), rows(op.getGrad()), matrix(op.getResult(), sig.n, sig.k)});
  }

  LogicalResult lowerLayerNormGrad(mixer::LayerNormGradOp op) {
    KernelSignature sig;
    sig.op = KernelOp::LayerNormGrad;
    sig.n = shapeOf(op.getInput()).back();
    sig.epsilon = op.getEpsilon().convertToDouble();
    allocate(op.getResult());
    std::vector<KernelArg> args{rows(op.getInput()), vectorParam(op.getGamma()),
                                rows(op.getGrad())};
    if (Value r = op.getResidual()) {
      sig.residual = true;
      args.push_back(rows(r));
    }
    args.push_back(rows(op.getResult()));
    sig.param_grads = !op.getParamGrads().empty();
    for (Value paramGrad : op.getParamGrads()) // gamma's, then beta's
      args.push_back(matrix(paramGrad, 1, sig.n));
    return addStep(op, sig, std::move(args));
  }

  LogicalResult lowerLayerNormParams(mixer::LayerNormParamGradOp op) {
    KernelSignature sig;
    sig.op = KernelOp::LayerNormParamGrad;
    sig.n = shapeOf(op.getInput()).back();
    sig.epsilon = op.getEpsilon().convertToDouble();
    return addStep(op, sig,
                   {rows(op.getInput()), rows(op.getGrad()), matrix(op.getGammaGrad(), 1, sig.n),
                    matrix(op.getBetaGrad(), 1, sig.n)});
  }

  static Activation geluForm(StringRef approximation) {
    return approximation == "tanh" ? Activation::GeluTanh : Activation::GeluErf;
  }

  LogicalResult lowerGelu(mixer::GeluOp op) {
    KernelSignature sig;
    sig.op = KernelOp::Activation;
    sig.activation = geluForm(op.getApproximation());
    allocate(op.getResult());
    return addStep(op, sig, {flat(op.getInput()), flat(op.getResult())});
  }

  LogicalResult lowerGeluTrain(mixer::GeluTrainOp op) {
    KernelSignature sig;
    sig.op = KernelOp::ActivationTrain;
    sig.activation = geluForm(op.getApproximation());
    allocate(op.getResult());
    allocate(op.getDerivative());
    return addStep(op, sig,
                   {flat(op.getInput()), flat(op.getResult()), flat(op.getDerivative())});
  }

  LogicalResult lowerRelu(mixer::ReluOp op) {
    KernelSignature sig;
    sig.op = KernelOp::Activation;
    sig.activation = Activation::Relu;
    allocate(op.getResult());
    return addStep(op, sig, {flat(op.getInput()), flat(op.getResult())});
  }

  LogicalResult lowerReluGrad(mixer::ReluGradOp op) {
    KernelSignature sig;
    sig.op = KernelOp::ActivationGrad;
    sig.activation = Activation::Relu;
    allocate(op.getResult());
    return addStep(op, sig, {flat(op.getInput()), flat(op.getGrad()), flat(op.getResult())});
  }

  /// A per-channel vector of the training function (batch statistics): a slot of its own.
  KernelArg channelVector(Value v) {
    auto [kind, index] = slotOf(v);
    return {kind, index, {{shapeOf(v)[0], 1, false}}};
  }

  /// The running statistics of a BatchNorm are state, not parameters.
  void markBuffers(std::initializer_list<Value> values) {
    for (Value v : values)
      plan_->params[size_t(paramIndex(v))].buffer = true;
  }

  LogicalResult lowerBatchNormTrain(mixer::BatchNormTrainOp op) {
    markBuffers({op.getRunningMean(), op.getRunningVar()});
    KernelSignature sig;
    sig.op = KernelOp::BatchNormTrain;
    sig.n = shapeOf(op.getInput()).back();
    sig.epsilon = op.getEpsilon().convertToDouble();
    sig.momentum = op.getMomentum().convertToDouble();
    for (Value v : op->getResults())
      allocate(v);
    // The running statistics are inputs and (in place) outputs.
    return addStep(op, sig,
                   {rows(op.getInput()), vectorParam(op.getGamma()), vectorParam(op.getBeta()),
                    vectorParam(op.getRunningMean()), vectorParam(op.getRunningVar()),
                    rows(op.getResult()), channelVector(op.getMean()),
                    channelVector(op.getInvstd()), vectorParam(op.getRunningMean()),
                    vectorParam(op.getRunningVar())});
  }

  LogicalResult lowerBatchNormGrad(mixer::BatchNormGradOp op) {
    KernelSignature sig;
    sig.op = KernelOp::BatchNormGrad;
    sig.n = shapeOf(op.getInput()).back();
    allocate(op.getResult());
    return addStep(op, sig,
                   {rows(op.getInput()), vectorParam(op.getGamma()), channelVector(op.getMean()),
                    channelVector(op.getInvstd()), rows(op.getGrad()), rows(op.getResult()),
                    matrix(op.getGammaGrad(), 1, sig.n), matrix(op.getBetaGrad(), 1, sig.n)});
  }

  /// The depthwise weight [C][1][k][k] as (j, i, c) in Halide order.
  KernelArg depthwiseWeight(Value w) {
    auto shape = shapeOf(w);
    auto param = params_.find(w);
    auto [kind, index] = param != params_.end() ? std::pair{SlotKind::Param, param->second}
                                                : slotOf(w);
    int64_t k = shape[2];
    return {kind, index, {{k, 1, false}, {k, k, false}, {shape[0], k * k, false}}};
  }

  template <typename OpT> LogicalResult lowerDepthwiseGrad(OpT op) {
    constexpr bool input = std::is_same_v<OpT, mixer::DepthwiseConv2dGradInputOp>;
    auto dims = shapeOf(op.getGrad());
    KernelSignature sig;
    sig.op = input ? KernelOp::DepthwiseGradInput : KernelOp::DepthwiseGradWeight;
    sig.n = dims[3];
    sig.image_height = dims[1];
    sig.image_width = dims[2];
    if constexpr (input) {
      sig.kernel_size = shapeOf(op.getWeight())[2];
      allocate(op.getResult());
      return addStep(op, sig,
                     {grid(op.getGrad()), depthwiseWeight(op.getWeight()), grid(op.getResult())});
    } else {
      sig.kernel_size = shapeOf(op.getResult())[2];
      return addStep(op, sig,
                     {grid(op.getInput()), grid(op.getGrad()), depthwiseWeight(op.getResult())});
    }
  }

  /// mixer.add and mixer.mul left unfused: an elementwise kernel over flat buffers.
  template <typename BinaryOp>
  LogicalResult lowerElementwise(BinaryOp op, KernelOp kind) {
    KernelSignature sig;
    sig.op = kind;
    allocate(op.getResult());
    return addStep(op, sig, {flat(op.getLhs()), flat(op.getRhs()), flat(op.getResult())});
  }

  LogicalResult lowerPoolGrad(mixer::GlobalAvgPoolGradOp op) {
    auto result = shapeOf(op.getResult());
    KernelSignature sig;
    sig.op = KernelOp::GlobalAvgPoolGrad;
    sig.n = result.back();
    sig.m = product(result.drop_front().drop_back());
    allocate(op.getResult());
    return addStep(op, sig, {rows(op.getGrad()), cube(op.getResult())});
  }

  LogicalResult lowerPool(mixer::GlobalAvgPoolOp op) {
    auto input = shapeOf(op.getInput());
    KernelSignature sig;
    sig.op = KernelOp::GlobalAvgPool;
    sig.n = input.back();
    sig.m = product(input.drop_front().drop_back());
    allocate(op.getResult());
    return addStep(op, sig, {cube(op.getInput()), rows(op.getResult())});
  }

  func::FuncOp function_;
  VectorMachine machine_;
  KernelPlan *plan_;
  bool training_;
  std::vector<int64_t> *activationElems_; ///< the plan's slots for this function
  std::vector<PlanStep> *steps_;
  Value input_, returned_, labels_;
  llvm::DenseMap<Value, Value> gradOf_; ///< stored gradient -> its parameter
  llvm::DenseSet<Value> trained_;       ///< parameters with a stored gradient
  std::map<std::string, int> paramsByName_;
  llvm::DenseMap<Value, int> lastUse_, params_, activations_;
  llvm::DenseMap<Value, Value> views_; ///< flatten results -> the value they view
  std::vector<int> free_;
  std::map<std::tuple<int, int64_t, bool>, int> packs_;
  std::map<std::string, int> kernels_;
};

} // namespace

LogicalResult lowerMixerToKernels(func::FuncOp function, const VectorMachine &machine,
                                  KernelPlan *plan) {
  return Lowering(function, machine, plan).run();
}

} // namespace mixerc
