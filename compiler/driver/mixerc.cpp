// mixerc: the command-line driver. Verbs: compile, tune, bench, train, eval, convert. Every verb takes --help; errors are one line on stderr and a non-zero exit status.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "driver/Args.h"
#include "driver/Bench.h"
#include "driver/Convert.h"
#include "driver/Train.h"
#include "lower/EmitLibrary.h"
#include "lower/Frontend.h"
#include "spec/Spec.h"
#include "tuning/ApplyTuning.h"
#include "tuning/Tuner.h"

namespace {

constexpr const char *kUsage = R"(usage: mixerc <verb> [options]

verbs:
  compile SPEC [-o DIR] [--target T] [--emit mlir|plan|halide|asm] [-v]
                         compile a spec to DIR/lib<name>.so and DIR/<name>.h
  bench LIB [--batch B] [--threads T] [--seconds S] [--weights W.safetensors]
                         time inference of a compiled library
  train SPEC|LIB --data DATA [--epochs N] [--batch B] [--lr LR] [--out W.safetensors] ...
                         train a model compiled with training = true (data-parallel under
                         mpirun -np N)
  eval LIB --weights W.safetensors --data DATA
                         test accuracy of a checkpoint
  tune SPEC --db FILE [--trials N] [--time-budget 10m] [--resume] [--training]
                         measure schedule candidates of the spec's kernels on this machine
  tune --show --db FILE  the records of a tuning database
  convert IN.npz -o OUT.safetensors --spec SPEC
                         a Flax MLP-Mixer checkpoint to timm's safetensors
  convert IN.safetensors -o OUT.safetensors --resize-from SPEC_A --to SPEC_B
                         weights for another image size (MLP-Mixer, ConvMixer)

Run 'mixerc <verb> --help' for a verb's options.
)";

constexpr const char *kCompileUsage = R"(usage: mixerc compile SPEC [options]

Compiles the model described by SPEC (a TOML file, see specs/) into DIR/lib<name>.so and
DIR/<name>.h, where name is the spec's name.

options:
  -o, --output DIR    output directory (default ./build-<name>)
  --target T          host (default: the spec's first target), x86-64-avx2, x86-64-avx512
                      or a Halide target string
  --tuning-db FILE    apply the best records 'mixerc tune' measured for this target and CPU
                      (kernels without one keep the default template)
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
  --train             time a training step (NAME_train_step: forward, loss, backward and an
                      AdamW update with learning rate 0) of a library compiled for training;
                      under mpirun, a data-parallel step: each rank its share of the batch, the
                      gradients all-reduced (the all-reduce's time and share are reported)
  --profile           also time every kernel call (fastest of the profiled runs) and print,
                      per kernel, its time, GFLOP/s and GB/s of the distinct bytes it reads and
                      writes, next to the memory bandwidth a probe measures in this process
)";


constexpr const char *kTuneUsage = R"(usage: mixerc tune SPEC --db FILE [options]
       mixerc tune --show --db FILE

Measures schedule candidates of every distinct kernel of SPEC that has schedule records (today
the GEMM family: dense layers along channels and tokens, the patch embedding, pointwise
convolutions; and ConvMixer's depthwise convolutions) on this machine,
and records every measurement in the SQLite database FILE (made if missing), keyed by the
kernel, the target and this CPU's model. 'mixerc compile SPEC --tuning-db FILE' then uses the
best record of each kernel that beat the default template. Candidates run in a child process
(one that fails to compile, crashes, hangs or computes another result than the default is
recorded as such), checked against the default's output and timed interleaved with it.

options:
  --db FILE             the tuning database (required)
  --trials N            candidates per kernel at most (default 32)
  --time-budget T       for the whole tune: 90s, 10m, 1h or seconds (default 10m), split across
                        kernels by their share of the model's time
  --resume              keep what FILE already holds for these kernels and measure only the rest
  --training            also the kernels of the training step (a spec with training = true)
  --batch B             images the kernels are timed at (default 8); inference kernels at most
                        at the library's images per chunk, which is what they run at there
  --threads T           worker threads (default 0: all cores)
  --target T            as for mixerc compile (default: the spec's first target); must run here
  --seed S              order of the candidates (default 0)
  --candidate-timeout S seconds one candidate may take to compile and run (default 60)
  --show                list FILE's records: kernel, target, CPU, trials, default and best ms
)";

int usageError(const std::string &message) {
  fmt::print(stderr, "mixerc: {}\n", message);
  return 2;
}

using mixerc::isHelp;
using mixerc::parseInt;
using mixerc::takeValue;

/// Emits the library and header into `dir` and reports what was built on `report`.
bool buildLibrary(const mixerc::ModelSpec &spec, const mixerc::KernelPlan &plan,
                  const std::string &target, const std::string &dir, bool verbose, FILE *report,
                  std::string *error) {
  mixerc::EmitOptions options;
  options.output_dir = dir;
  options.target = target;
  options.verbose = verbose;
  auto start = std::chrono::steady_clock::now();
  if (!mixerc::emitLibrary(plan, options, error))
    return false;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(report,
             "mixerc: {}/lib{}.so and {}.h: {} kernels for {} steps{}, {} parameters, {:.1f} s\n",
             options.output_dir, spec.name, spec.name, plan.kernels.size(), plan.steps.size(),
             plan.training ? fmt::format(" (training: {})", plan.train_steps.size()) : "",
             plan.params.size(), seconds);
  return true;
}

int compileVerb(int argc, char **argv) {
  std::string specPath, outDir, target, emit, tuningDb, error;
  bool verbose = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (isHelp(argv[i])) {
      fmt::print("{}", kCompileUsage);
      return 0;
    } else if (arg == "-o" || arg == "--output") {
      if (!takeValue(argc, argv, i, &outDir, &error))
        return usageError(error);
    } else if (arg == "--tuning-db") {
      if (!takeValue(argc, argv, i, &tuningDb, &error))
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
  if (!tuningDb.empty()) {
    std::string halideTarget;
    mixerc::TuningApplied applied;
    if (!mixerc::targetString(target, &halideTarget, &error) ||
        !mixerc::applyTuningDb(&plan, tuningDb, halideTarget, &applied, &error))
      return usageError(error);
    fmt::print(emit.empty() ? stdout : stderr,
               "mixerc: tuning database {}: {} of {} kernels use tuned records ({} without "
               "records for this target and CPU, {} where the default template stays fastest, "
               "{} without schedule records)\n",
               tuningDb, applied.tuned, plan.kernels.size(), applied.without_records,
               applied.default_fastest, applied.untunable);
  }
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
  if (!buildLibrary(spec, plan, target, outDir.empty() ? "build-" + spec.name : outDir, verbose,
                    stdout, &error))
    return usageError(error);
  return 0;
}

/// mixerc train SPEC: compiles for the host into ./build-<name> (reporting on stderr).
bool compileForTraining(const std::string &specPath, std::string *library, std::string *error) {
  mixerc::ModelSpec spec;
  if (!mixerc::parseSpecFile(specPath, &spec, error))
    return false;
  if (!spec.training) {
    *error = fmt::format("{}: add 'training = true' to [build] to train this model", specPath);
    return false;
  }
  mixerc::VectorMachine machine;
  mixerc::KernelPlan plan;
  const std::string dir = "build-" + spec.name;
  if (!mixerc::targetVectorMachine(spec.targets.front(), &machine, error) ||
      !mixerc::planModel(spec, machine, &plan, error) ||
      !buildLibrary(spec, plan, spec.targets.front(), dir, false, stderr, error))
    return false;
  *library = dir + "/lib" + spec.name + ".so";
  return true;
}

/// 90s, 10m, 1h or plain seconds.
bool parseDuration(const std::string &flag, const std::string &text, double *seconds,
                   std::string *error) {
  double unit = 1;
  std::string number = text;
  if (!number.empty() && (number.back() == 's' || number.back() == 'm' || number.back() == 'h')) {
    unit = number.back() == 'h' ? 3600 : number.back() == 'm' ? 60 : 1;
    number.pop_back();
  }
  double value = 0;
  if (!mixerc::parseNumber(flag, number, 0, 1e7, &value, error)) {
    *error = fmt::format("{}: '{}' is not a duration (90s, 10m, 1h or seconds)", flag, text);
    return false;
  }
  *seconds = value * unit;
  return true;
}

int tuneVerb(int argc, char **argv) {
  mixerc::TuneOptions options;
  bool show = false;
  std::string value, error;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    int64_t number = 0;
    if (isHelp(argv[i])) {
      fmt::print("{}", kTuneUsage);
      return 0;
    } else if (arg == "--db" || arg == "--target") {
      if (!takeValue(argc, argv, i, arg == "--db" ? &options.db : &options.target, &error))
        return usageError(error);
    } else if (arg == "--trials" || arg == "--batch" || arg == "--threads" || arg == "--seed") {
      if (!takeValue(argc, argv, i, &value, &error) ||
          !parseInt(arg, value, arg == "--batch" ? 1 : 0, &number, &error))
        return usageError(error);
      if (arg == "--trials")
        options.trials = int(std::min<int64_t>(number, 1000000));
      else if (arg == "--batch")
        options.batch = std::min<int64_t>(number, 4096);
      else if (arg == "--threads")
        options.threads = int(std::min<int64_t>(number, 1024));
      else
        options.seed = uint64_t(number);
    } else if (arg == "--time-budget" || arg == "--candidate-timeout") {
      if (!takeValue(argc, argv, i, &value, &error) ||
          !parseDuration(arg, value,
                         arg == "--time-budget" ? &options.budget_seconds
                                                : &options.candidate_timeout,
                         &error))
        return usageError(error);
    } else if (arg == "--resume") {
      options.resume = true;
    } else if (arg == "--training") {
      options.training = true;
    } else if (arg == "--show") {
      show = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return usageError(fmt::format("tune: unknown option '{}'", arg));
    } else if (options.spec.empty()) {
      options.spec = arg;
    } else {
      return usageError(fmt::format("tune: unexpected argument '{}'", arg));
    }
  }
  if (options.db.empty())
    return usageError("tune: needs --db FILE (see mixerc tune --help)");
  if (show)
    return mixerc::showTuningDb(options.db);
  if (options.spec.empty())
    return usageError("tune: missing SPEC (see mixerc tune --help)");
  if (options.candidate_timeout < 1)
    return usageError("tune: --candidate-timeout must be at least 1 s");
  return mixerc::runTune(options);
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
    } else if (arg == "--train") {
      options.train = true;
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
  if (verb == "train")
    return mixerc::trainVerb(argc, argv, compileForTraining);
  if (verb == "eval")
    return mixerc::evalVerb(argc, argv);
  if (verb == "tune")
    return tuneVerb(argc, argv);
  if (verb == "convert")
    return mixerc::convertVerb(argc, argv);
  return usageError(fmt::format("unknown verb '{}' (see mixerc --help)", verb));
}
