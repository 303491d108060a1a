// The mixer dialect's operations and the shape inference interface they implement.
#ifndef MIXER_MIXEROPS_H
#define MIXER_MIXEROPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "mixer/MixerDialect.h"
#include "mixer/MixerInterfaces.h.inc"

#define GET_OP_CLASSES
#include "mixer/MixerOps.h.inc"

#endif
