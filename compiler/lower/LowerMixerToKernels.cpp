// mixer dialect -> kernel plan (see LowerMixerToKernels.h). The buffer layouts chosen here are the
// contract with the kernels in compiler/kernels: every activation is a dense row-major tensor with
// the batch outermost, viewed by each kernel with the dimensions it needs.
#include "lower/LowerMixerToKernels.h"

#include <cassert>
#include <map>

#include "llvm/ADT/DenseMap.h"
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
      : function_(function), machine_(machine), plan_(plan) {}

  LogicalResult run() {
    Block &body = function_.getBody().front();
    int position = 0;
    for (Operation &op : body) {
      if (auto flatten = dyn_cast<mixer::FlattenOp>(op))
        views_[flatten.getResult()] = storage(flatten.getInput());
      for (Value operand : op.getOperands())
        lastUse_[storage(operand)] = position;
      ++position;
    }
    returned_ = body.getTerminator()->getOperand(0);
    input_ = function_.getArgument(0);
    auto image = shapeOf(input_);
    plan_->image_channels = image[1];
    plan_->image_height = image[2];
    plan_->image_width = image[3];
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
    PlanParam param;
    param.name = op.getName().str();
    auto shape = op.getResult().getType().getShape();
    param.shape.assign(shape.begin(), shape.end());
    param.init = op.getInit().str();
    param.std = op.getStd() ? op.getStd()->convertToDouble() : 0.0;
    param.counter = op.getResult().getType().getElementType().isInteger(64);
    std::tie(param.fan_in, param.fan_out) = fans(shape);
    if (op.getFanIn())
      param.fan_in = int64_t(*op.getFanIn());
    params_[op.getResult()] = int(plan_->params.size());
    plan_->params.push_back(std::move(param));
    return success();
  }

  int paramIndex(Value v) { return params_.lookup(v); }

  /// The packed-panel copy of a [N][K...] weight, made once however many kernels read it.
  KernelArg packed(Value weight, int64_t panel) {
    int param = paramIndex(weight);
    auto key = std::make_pair(param, panel);
    auto it = packs_.find(key);
    if (it == packs_.end()) {
      it = packs_.emplace(key, int(plan_->packs.size())).first;
      plan_->packs.push_back({param, panel});
    }
    auto shape = shapeOf(weight);
    int64_t n = shape[0], k = product(shape.drop_front());
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
    auto it = activations_.find(v);
    assert(it != activations_.end() && "a value is read after its slot was released");
    return {SlotKind::Activation, it->second};
  }

  /// Gives `result` a slot before the op's operands are released, so no kernel writes a buffer it
  /// reads (the GEMM schedules recompute overlapping tail tiles and rely on that).
  void allocate(Value result) {
    if (result == returned_)
      return;
    int64_t elems = product(shapeOf(result).drop_front());
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (plan_->activation_elems[size_t(*it)] == elems) {
        activations_[result] = *it;
        free_.erase(it);
        return;
      }
    activations_[result] = int(plan_->activation_elems.size());
    plan_->activation_elems.push_back(elems);
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
    plan_->steps.push_back({it->second, label.empty() ? op->getName().getStringRef().str() : label,
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
    allocate(op.getResult());
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
    } else {
      return op.emitOpError() << "dense along dim " << dim << " of a rank-" << rank
                              << " tensor has no kernel";
    }
    return addStep(op, sig, std::move(args));
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
  Value input_, returned_;
  llvm::DenseMap<Value, int> lastUse_, params_, activations_;
  llvm::DenseMap<Value, Value> views_; ///< flatten results -> the value they view
  std::vector<int> free_;
  std::map<std::pair<int, int64_t>, int> packs_;
  std::map<std::string, int> kernels_;
};

} // namespace

LogicalResult lowerMixerToKernels(func::FuncOp function, const VectorMachine &machine,
                                  KernelPlan *plan) {
  return Lowering(function, machine, plan).run();
}

} // namespace mixerc
