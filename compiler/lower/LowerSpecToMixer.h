// Spec -> mixer dialect: builds the network a spec describes as one func.func of mixer ops.
#ifndef MIXERC_LOWER_LOWERSPECTOMIXER_H
#define MIXERC_LOWER_LOWERSPECTOMIXER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "spec/Spec.h"

namespace mixerc {

/// Results are left unranked; the mixer-infer-shapes pass refines them.
mlir::OwningOpRef<mlir::ModuleOp> lowerSpecToMixer(const ModelSpec &spec,
                                                   mlir::MLIRContext &context);

} // namespace mixerc

#endif
