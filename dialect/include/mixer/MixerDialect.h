// The mixer dialect: declarations generated from MixerDialect.td.
#ifndef MIXER_MIXERDIALECT_H
#define MIXER_MIXERDIALECT_H

#include "mlir/IR/Dialect.h"

#include "mixer/MixerOpsDialect.h.inc"

#endif
