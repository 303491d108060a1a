// mixer-generate-gradients: reverse-mode differentiation of a forward function into a training
// function (MixerPasses.td). Each forward op has one rule that emits the dialect ops computing the
// gradients of its inputs from the gradient of its result; gradients reaching a value along
// several paths (a residual's two branches) are summed with mixer.add.
#include "mixer/MixerOps.h"
#include "mixer/MixerPasses.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "mlir/IR/Builders.h"

namespace mixer {
#define GEN_PASS_DEF_MIXERGENERATEGRADIENTS
#include "mixer/MixerPasses.h.inc"
} // namespace mixer

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kTrainAttr = "mixer.train";
/// torch.nn.BatchNorm2d's default running-statistics momentum.
constexpr double kBatchNormMomentum = 0.1;

class Differentiator {
public:
  Differentiator(func::FuncOp train) : train_(train), builder_(train.getContext()) {}

  LogicalResult run() {
    Block &body = train_.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    if (ret.getNumOperands() != 1)
      return ret.emitOpError() << "a model returns one value (the logits) to differentiate";
    Value logits = ret.getOperand(0);
    auto logitsType = dyn_cast<RankedTensorType>(logits.getType());
    if (!logitsType || logitsType.getRank() != 2)
      return train_.emitOpError() << "run mixer-infer-shapes first: the logits must be ranked";

    // Training normalises with batch statistics: every inference BatchNorm becomes its training
    // form, which also updates the running statistics.
    SmallVector<mixer::BatchNormOp> norms(body.getOps<mixer::BatchNormOp>());
    for (mixer::BatchNormOp norm : norms) {
      builder_.setInsertionPoint(norm);
      auto vector = cast<RankedTensorType>(norm.getGamma().getType());
      auto train = builder_.create<mixer::BatchNormTrainOp>(
          norm.getLoc(), TypeRange{norm.getType(), vector, vector}, norm.getInput(),
          norm.getGamma(), norm.getBeta(), norm.getMean(), norm.getVariance(),
          norm.getEpsilonAttr(), builder_.getF64FloatAttr(kBatchNormMomentum));
      norm.getResult().replaceAllUsesWith(train.getResult());
      norm.erase();
    }
    // Every GELU also returns its derivative, which the backward pass multiplies by.
    SmallVector<mixer::GeluOp> gelus(body.getOps<mixer::GeluOp>());
    for (mixer::GeluOp gelu : gelus) {
      builder_.setInsertionPoint(gelu);
      auto train = builder_.create<mixer::GeluTrainOp>(
          gelu.getLoc(), TypeRange{gelu.getType(), gelu.getType()}, gelu.getInput(),
          gelu.getApproximationAttr());
      gelu.getResult().replaceAllUsesWith(train.getResult());
      gelu.erase();
    }

    // Forward: which values depend on a parameter (only those need gradients).
    SmallVector<Operation *> forward;
    for (Operation &op : body.without_terminator()) {
      forward.push_back(&op);
      bool depends = isa<mixer::ParamOp>(op) ||
                     llvm::any_of(op.getOperands(), [&](Value v) { return needsGrad_.contains(v); });
      if (depends)
        for (Value r : op.getResults())
          needsGrad_.insert(r);
    }

    auto labelsType = RankedTensorType::get({logitsType.getDimSize(0)}, builder_.getI32Type());
    Value labels = body.addArgument(labelsType, train_.getLoc());
    builder_.setInsertionPoint(ret);
    auto loss = builder_.create<mixer::SoftmaxCrossEntropyOp>(
        NameLoc::get(builder_.getStringAttr("loss"), train_.getLoc()),
        TypeRange{RankedTensorType::get({logitsType.getDimSize(0)}, builder_.getF32Type()),
                  logitsType},
        logits, labels);
    grads_[logits] = loss.getGrad();

    for (Operation *op : llvm::reverse(forward)) {
      if (llvm::none_of(op->getResults(), [&](Value r) { return grads_.count(r); }))
        continue;
      builder_.setInsertionPoint(ret);
      if (failed(differentiate(op)))
        return failure();
    }
    builder_.setInsertionPoint(ret);
    builder_.create<func::ReturnOp>(ret.getLoc(), loss.getLoss());
    ret.erase();
    train_.setType(FunctionType::get(train_.getContext(), body.getArgumentTypes(),
                                     {loss.getLoss().getType()}));
    return success();
  }

private:
  /// Where the backward ops of `op` say they come from: its module name + ".backward".
  Location backwardLoc(Operation *op) {
    if (auto name = dyn_cast<NameLoc>(op->getLoc()))
      return NameLoc::get(builder_.getStringAttr(name.getName().str() + ".backward"), op->getLoc());
    return op->getLoc();
  }

  /// Adds `g` to the gradient of `v`, if `v` needs one.
  void accumulate(Value v, Value g, Location loc) {
    if (!needsGrad_.contains(v))
      return;
    auto it = grads_.find(v);
    if (it == grads_.end()) {
      grads_[v] = g;
      return;
    }
    it->second = builder_.create<mixer::AddOp>(loc, g.getType(), it->second, g);
  }

  LogicalResult differentiate(Operation *op) {
    Location loc = backwardLoc(op);
    Value dy = grads_.lookup(op->getResult(0));
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case<mixer::ParamOp>([&](mixer::ParamOp p) {
          builder_.create<mixer::StoreGradOp>(loc, p.getResult(), dy);
          return success();
        })
        .Case<mixer::AddOp>([&](mixer::AddOp add) {
          accumulate(add.getLhs(), dy, loc);
          accumulate(add.getRhs(), dy, loc);
          return success();
        })
        .Case<mixer::DenseOp>([&](mixer::DenseOp dense) -> LogicalResult {
          if (failed(bareEpilogue(dense)))
            return failure();
          int64_t dim = dense.getDim();
          Value x = dense.getInput(), w = dense.getWeight();
          if (needsGrad_.contains(x))
            accumulate(x,
                       builder_.create<mixer::DenseGradInputOp>(
                           loc, x.getType(), dy, w, builder_.getI64IntegerAttr(dim), Value()),
                       loc);
          accumulate(w,
                     builder_.create<mixer::DenseGradWeightOp>(loc, w.getType(), x, dy,
                                                               builder_.getI64IntegerAttr(dim)),
                     loc);
          accumulate(dense.getBias(), biasGrad(dense.getBias(), dy, dim, loc), loc);
          return success();
        })
        .Case<mixer::PatchEmbedOp>([&](mixer::PatchEmbedOp embed) -> LogicalResult {
          if (failed(bareEpilogue(embed)))
            return failure();
          if (needsGrad_.contains(embed.getImage()))
            return embed.emitOpError() << "has no gradient with respect to its image";
          Value w = embed.getWeight();
          accumulate(w,
                     builder_.create<mixer::PatchEmbedGradWeightOp>(loc, w.getType(),
                                                                    embed.getImage(), dy),
                     loc);
          int64_t last = cast<RankedTensorType>(dy.getType()).getRank() - 1;
          accumulate(embed.getBias(), biasGrad(embed.getBias(), dy, last, loc), loc);
          return success();
        })
        .Case<mixer::LayerNormOp>([&](mixer::LayerNormOp norm) {
          Value x = norm.getInput();
          auto eps = norm.getEpsilonAttr();
          if (needsGrad_.contains(x))
            accumulate(x,
                       builder_
                           .create<mixer::LayerNormGradOp>(loc, x.getType(), TypeRange{}, x,
                                                           norm.getGamma(), dy, eps, Value())
                           .getResult(),
                       loc);
          auto params = builder_.create<mixer::LayerNormParamGradOp>(
              loc, TypeRange{norm.getGamma().getType(), norm.getBeta().getType()}, x, dy, eps);
          accumulate(norm.getGamma(), params.getGammaGrad(), loc);
          accumulate(norm.getBeta(), params.getBetaGrad(), loc);
          return success();
        })
        .Case<mixer::GeluTrainOp>([&](mixer::GeluTrainOp gelu) {
          Value x = gelu.getInput();
          accumulate(x, builder_.create<mixer::MulOp>(loc, x.getType(), dy, gelu.getDerivative()),
                     loc);
          return success();
        })
        .Case<mixer::ReluOp>([&](mixer::ReluOp relu) {
          Value x = relu.getInput();
          accumulate(x, builder_.create<mixer::ReluGradOp>(loc, x.getType(), x, dy), loc);
          return success();
        })
        .Case<mixer::BatchNormTrainOp>([&](mixer::BatchNormTrainOp norm) {
          Value x = norm.getInput();
          auto grads = builder_.create<mixer::BatchNormGradOp>(
              loc, TypeRange{x.getType(), norm.getGamma().getType(), norm.getBeta().getType()},
              x, norm.getGamma(), norm.getMean(), norm.getInvstd(), dy);
          accumulate(x, grads.getResult(), loc);
          accumulate(norm.getGamma(), grads.getGammaGrad(), loc);
          accumulate(norm.getBeta(), grads.getBetaGrad(), loc);
          return success();
        })
        .Case<mixer::DepthwiseConv2dOp>([&](mixer::DepthwiseConv2dOp conv) -> LogicalResult {
          if (failed(bareEpilogue(conv)))
            return failure();
          Value x = conv.getInput(), w = conv.getWeight();
          if (needsGrad_.contains(x))
            accumulate(x,
                       builder_.create<mixer::DepthwiseConv2dGradInputOp>(loc, x.getType(), dy, w),
                       loc);
          accumulate(w,
                     builder_.create<mixer::DepthwiseConv2dGradWeightOp>(loc, w.getType(), x, dy),
                     loc);
          accumulate(conv.getBias(), biasGrad(conv.getBias(), dy, 3, loc), loc);
          return success();
        })
        .Case<mixer::GlobalAvgPoolOp>([&](mixer::GlobalAvgPoolOp pool) {
          Value x = pool.getInput();
          accumulate(x, builder_.create<mixer::GlobalAvgPoolGradOp>(loc, x.getType(), dy), loc);
          return success();
        })
        .Case<mixer::FlattenOp>([&](mixer::FlattenOp flatten) -> LogicalResult {
          return flatten.emitOpError() << "has no gradient rule (only an image is flattened)";
        })
        .Default([](Operation *other) {
          return other->emitOpError()
                 << "has no gradient rule";
        });
  }

  Value biasGrad(Value bias, Value dy, int64_t dim, Location loc) {
    return builder_.create<mixer::BiasGradOp>(loc, bias.getType(), dy,
                                              builder_.getI64IntegerAttr(dim));
  }

  /// The pass differentiates unfused graphs: a fused epilogue would hide the activation's input.
  LogicalResult bareEpilogue(mixer::EpilogueOp op) {
    if (op.getActivation() != "none" || !op.getNorm().empty() || op.getResidual())
      return op->emitOpError()
             << "has a fused epilogue; run mixer-generate-gradients before mixer-fuse-elementwise";
    return success();
  }

  func::FuncOp train_;
  OpBuilder builder_;
  llvm::DenseSet<Value> needsGrad_;
  llvm::DenseMap<Value, Value> grads_;
};

struct GenerateGradientsPass
    : mixer::impl::MixerGenerateGradientsBase<GenerateGradientsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> models;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f->hasAttr(kTrainAttr))
        models.push_back(f);
    for (func::FuncOp model : models) {
      std::string name = (model.getSymName() + "_train").str();
      if (module.lookupSymbol(name))
        continue; // already differentiated
      OpBuilder builder(module.getContext());
      builder.setInsertionPointAfter(model);
      auto train = cast<func::FuncOp>(builder.clone(*model));
      train.setSymName(name);
      train->setAttr(kTrainAttr, builder.getUnitAttr());
      if (failed(Differentiator(train).run()))
        return signalPassFailure();
    }
  }
};

} // namespace

std::unique_ptr<Pass> mixer::createGenerateGradientsPass() {
  return std::make_unique<GenerateGradientsPass>();
}
