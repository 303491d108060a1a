// Kernel plan -> lib<name>.so + <name>.h: compiles each distinct kernel with Halide ahead of time,
// writes the glue that describes the model to the runtime, and links everything into one library
// that exports only <name>_* symbols (plus the shared mixer_last_error).
#ifndef MIXERC_LOWER_EMITLIBRARY_H
#define MIXERC_LOWER_EMITLIBRARY_H

#include <string>

#include "lower/KernelPlan.h"
#include "schedule/GemmSchedule.h"

namespace mixerc {

struct EmitOptions {
  std::string output_dir;
  std::string target = "host"; ///< a spec target name or a Halide target string
  bool verbose = false;
};

/// Returns false and sets `error` on failure; never leaves a half-written library behind.
bool emitLibrary(const KernelPlan &plan, const EmitOptions &options, std::string *error);

/// The Halide target string of a target name (what tuning records are keyed by).
bool targetString(const std::string &target, std::string *halideTarget, std::string *error);

/// The vector shape of a target name (host, x86-64-avx2, ... or a Halide target string).
bool targetVectorMachine(const std::string &target, VectorMachine *machine, std::string *error);

/// Halide assembly of every kernel (for --emit asm), or Halide's lowered statements (--emit halide).
bool emitKernelText(const KernelPlan &plan, const std::string &target, bool assembly,
                    std::string *text, std::string *error);

} // namespace mixerc

#endif
