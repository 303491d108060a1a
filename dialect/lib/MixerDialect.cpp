// Registration of the mixer dialect and its operations.
#include "mixer/MixerDialect.h"
#include "mixer/MixerOps.h"

#include "mixer/MixerOpsDialect.cpp.inc"

void mixer::MixerDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "mixer/MixerOps.cpp.inc"
      >();
}
