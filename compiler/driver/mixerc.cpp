// mixerc: the command-line driver. Verbs: compile, bench (train, eval and tune come with their
// issues). Every verb takes --help; errors are one line on stderr and a non-zero exit status.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "driver/Bench.h"
#include "lower/EmitLibrary.h"
#include "lower/Frontend.h"
#include "spec/Spec.h"

namespace {

constexpr const char *kUsage = R"(usage: mixerc <verb> [options]

verbs:
  compile SPEC [-o DIR] [--target T] [--emit mlir|plan|halide|asm] [-v]
                         compile a spec to DIR/lib<name>.so and DIR/<name>.h
  bench LIB [--batch B] [--threads T] [--seconds S] [--weights W.safetensors]
                         time inference of a compiled library

Run 'mixerc <verb> --help' for a verb's options.
)";

constexpr const char *kCompileUsage = R"(usage: mixerc compile SPEC [options]

Compiles the model described by SPEC (a TOML file, see specs/) into DIR/lib<name>.so and
DIR/<name>.h, where name is the spec's name.

options:
  -o, --output DIR    output directory (default ./build-<name>)
  --target T          host (default: the spec's first target), x86-64-avx2, x86-64-avx512
                      or a Halide target string
  --emit WHAT         print instead of building: mlir (the mixer dialect after shape inference
                      and fusion), plan (kernels, steps and buffers), halide (lowered Halide
                      statements), asm (kernel assembly)
  -v, --verbose       report each kernel as it is compiled
)";

constexpr const char *kBenchUsage = R"(usage: mixerc bench LIB [options]

Times inference of a library made by 'mixerc compile' on random images and prints the median
latency, images/s and GFLOP/s (forward FLOPs with multiply-adds counted as 2).

options:
  --batch B           images per call (default 1)
  --threads T         worker threads (default 0: all cores)
  --seconds S         measure for at least S seconds (default 3)
  --weights FILE      load weights from a safetensors file first (default: initial weights)
  --profile           also time every kernel call (fastest of the profiled runs) and print,
                      per kernel, its time, GFLOP/s and GB/s of the distinct bytes it reads and
                      writes, next to the memory bandwidth a probe measures in this process
)";

int usageError(const std::string &message) {
  fmt::print(stderr, "mixerc: {}\n", message);
  return 2;
}

bool isHelp(const char *arg) { return !std::strcmp(arg, "--help") || !std::strcmp(arg, "-h"); }

/// Parses "--flag value" pairs; returns false with a message on a missing or bad value.
bool takeValue(int argc, char **argv, int &i, std::string *value, std::string *error) {
  if (i + 1 >= argc) {
    *error = fmt::format("{} needs a value", argv[i]);
    return false;
  }
  *value = argv[++i];
  return true;
}

bool parseInt(const std::string &flag, const std::string &text, int64_t lo, int64_t *out,
              std::string *error) {
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || v < lo) {
    *error = fmt::format("{}: '{}' is not an integer >= {}", flag, text, lo);
    return false;
  }
  *out = v;
  return true;
}

int compileVerb(int argc, char **argv) {
  std::string specPath, outDir, target, emit, error;
  bool verbose = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (isHelp(argv[i])) {
      fmt::print("{}", kCompileUsage);
      return 0;
    } else if (arg == "-o" || arg == "--output") {
      if (!takeValue(argc, argv, i, &outDir, &error))
        return usageError(error);
    } else if (arg == "--target") {
      if (!takeValue(argc, argv, i, &target, &error))
        return usageError(error);
    } else if (arg == "--emit") {
      if (!takeValue(argc, argv, i, &emit, &error))
        return usageError(error);
      if (emit != "mlir" && emit != "plan" && emit != "halide" && emit != "asm")
        return usageError(
            fmt::format("--emit: unknown '{}' (expected mlir, plan, halide or asm)", emit));
    } else if (arg == "-v" || arg == "--verbose") {
      verbose = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return usageError(fmt::format("compile: unknown option '{}'", arg));
    } else if (specPath.empty()) {
      specPath = arg;
    } else {
      return usageError(fmt::format("compile: unexpected argument '{}'", arg));
    }
  }
  if (specPath.empty())
    return usageError("compile: missing SPEC (see mixerc compile --help)");

  mixerc::ModelSpec spec;
  if (!mixerc::parseSpecFile(specPath, &spec, &error))
    return usageError(error);
  if (target.empty())
    target = spec.targets.front();
  if (emit == "mlir") {
    std::string text;
    if (!mixerc::emitMixerModule(spec, &text, &error))
      return usageError(error);
    fmt::print("{}", text);
    return 0;
  }
  mixerc::VectorMachine machine;
  if (!mixerc::targetVectorMachine(target, &machine, &error))
    return usageError(error);
  mixerc::KernelPlan plan;
  if (!mixerc::planModel(spec, machine, &plan, &error))
    return usageError(error);
  if (emit == "plan") {
    fmt::print("{}", plan.str());
    return 0;
  }
  if (!emit.empty()) {
    std::string text;
    if (!mixerc::emitKernelText(plan, target, emit == "asm", &text, &error))
      return usageError(error);
    fmt::print("{}", text);
    return 0;
  }
  mixerc::EmitOptions options;
  options.output_dir = outDir.empty() ? "build-" + spec.name : outDir;
  options.target = target;
  options.verbose = verbose;
  auto start = std::chrono::steady_clock::now();
  if (!mixerc::emitLibrary(plan, options, &error))
    return usageError(error);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("mixerc: {}/lib{}.so and {}.h: {} kernels for {} steps{}, {} parameters, {:.1f} s\n",
             options.output_dir, spec.name, spec.name, plan.kernels.size(), plan.steps.size(),
             plan.training ? fmt::format(" (training: {})", plan.train_steps.size()) : "",
             plan.params.size(), seconds);
  return 0;
}

int benchVerb(int argc, char **argv) {
  mixerc::BenchOptions options;
  std::string value, error;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    int64_t number = 0;
    if (isHelp(argv[i])) {
      fmt::print("{}", kBenchUsage);
      return 0;
    } else if (arg == "--batch" || arg == "--threads" || arg == "--seconds") {
      if (!takeValue(argc, argv, i, &value, &error) ||
          !parseInt(arg, value, arg == "--threads" ? 0 : 1, &number, &error))
        return usageError(error);
      if (arg == "--batch")
        options.batch = number;
      else if (arg == "--threads")
        options.threads = int(number);
      else
        options.seconds = double(number);
    } else if (arg == "--weights") {
      if (!takeValue(argc, argv, i, &options.weights, &error))
        return usageError(error);
    } else if (arg == "--profile") {
      options.profile = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return usageError(fmt::format("bench: unknown option '{}'", arg));
    } else if (options.library.empty()) {
      options.library = arg;
    } else {
      return usageError(fmt::format("bench: unexpected argument '{}'", arg));
    }
  }
  if (options.library.empty())
    return usageError("bench: missing LIB (see mixerc bench --help)");
  return mixerc::runBench(options);
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || isHelp(argv[1])) {
    fmt::print(argc < 2 ? stderr : stdout, "{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  std::string verb = argv[1];
  if (verb == "compile")
    return compileVerb(argc, argv);
  if (verb == "bench")
    return benchVerb(argc, argv);
  return usageError(fmt::format("unknown verb '{}' (see mixerc --help)", verb));
}
