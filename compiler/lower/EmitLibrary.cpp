// Kernel plan -> shared library (see EmitLibrary.h). Everything is built in a scratch directory
// beside the outputs; the library and header are renamed into place only when all steps succeed.
#include "lower/EmitLibrary.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "kernels/Kernels.h"
#include "lower/GenerateGlue.h"
#include "support/Hash.h"

namespace fs = std::filesystem;

namespace mixerc {
namespace {

std::string envOr(const char *name, const char *fallback) {
  const char *v = std::getenv(name);
  return v && *v ? v : fallback;
}

/// Runs argv with stdout and stderr sent to `log`; returns false with the log's tail on failure.
bool runCommand(const std::vector<std::string> &argv, const fs::path &log, std::string *error) {
  pid_t pid = fork();
  if (pid < 0) {
    *error = "cannot fork to run " + argv[0];
    return false;
  }
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char *> args;
    for (const std::string &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return true;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string output = text.str();
  if (output.size() > 2000)
    output = "..." + output.substr(output.size() - 2000);
  *error = fmt::format("{} failed:\n{}", argv[0], output);
  return false;
}

bool writeFile(const fs::path &path, const std::string &text, std::string *error) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    *error = fmt::format("{}: cannot write", path.string());
    return false;
  }
  return true;
}

/// The runtime every library links: include/ (mixer/*.h) and lib/libmixer_runtime.a in the
/// directory above mixerc's own (bin/ of an install, compiler/ of the build tree, which mirrors
/// it), unless MIXERC_RUNTIME_INCLUDE / MIXERC_RUNTIME_LIBRARY name others.
bool findRuntime(std::string *include, std::string *library, std::string *error) {
  std::error_code ec;
  const fs::path prefix = fs::canonical("/proc/self/exe", ec).parent_path().parent_path();
  *include = envOr("MIXERC_RUNTIME_INCLUDE", (prefix / "include").c_str());
  *library = envOr("MIXERC_RUNTIME_LIBRARY", (prefix / "lib" / "libmixer_runtime.a").c_str());
  for (const fs::path &need : {fs::path(*include) / "mixer" / "model_api.h", fs::path(*library)})
    if (!fs::exists(need)) {
      *error = fmt::format("mixerc's runtime is missing: {} (an install puts it beside bin/; "
                           "MIXERC_RUNTIME_INCLUDE and MIXERC_RUNTIME_LIBRARY override)",
                           need.string());
      return false;
    }
  return true;
}

/// The plan hash (mixer_model_info::plan_hash): the target, the model table and every kernel's
/// object code, so that libraries whose kernels or tables differ in any byte differ.
uint64_t planHash(const KernelPlan &plan, const Halide::Target &target,
                  const std::vector<std::string> &objects) {
  const std::string targetName = target.to_string(), table = generateGlue(plan, 0);
  uint64_t hash = fnv1a(targetName.data(), targetName.size());
  hash = fnv1a(table.data(), table.size(), hash);
  for (const std::string &object : objects) {
    std::ifstream in(object, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string code = bytes.str();
    hash = fnv1a(code.data(), code.size(), hash);
  }
  return hash;
}

} // namespace

bool resolveTarget(const std::string &name, Halide::Target *target, std::string *error) {
  if (name == "host")
    *target = Halide::get_host_target();
  else if (name == "x86-64-avx2")
    *target = Halide::Target("x86-64-linux-sse41-avx-f16c-fma-avx2");
  else if (name == "x86-64-avx512")
    *target = Halide::Target("x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake");
  else if (Halide::Target::validate_target_string(name))
    *target = Halide::Target(name);
  else {
    *error = fmt::format("unknown target '{}' (expected host, x86-64-avx2, x86-64-avx512 or a "
                         "Halide target string)",
                         name);
    return false;
  }
  if (target->os != Halide::Target::Linux || target->arch != Halide::Target::X86) {
    *error = fmt::format("target '{}' is not x86-64 Linux, the only one this mixerc emits", name);
    return false;
  }
  return true;
}

bool targetString(const std::string &name, std::string *halideTarget, std::string *error) {
  Halide::Target target;
  if (!resolveTarget(name, &target, error))
    return false;
  *halideTarget = target.to_string();
  return true;
}

bool targetVectorMachine(const std::string &name, VectorMachine *machine, std::string *error) {
  Halide::Target target;
  if (!resolveTarget(name, &target, error))
    return false;
  *machine = vectorMachine(target);
  return true;
}

bool emitKernelText(const KernelPlan &plan, const std::string &targetName, bool assembly,
                    std::string *text, std::string *error) {
  Halide::Target target;
  if (!resolveTarget(targetName, &target, error))
    return false;
  fs::path scratch = fs::temp_directory_path() / fmt::format("mixerc-emit-{}", getpid());
  fs::create_directories(scratch);
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    fs::path file = scratch / (assembly ? "kernel.s" : "kernel.stmt");
    try {
      BuiltKernel kernel = buildKernel(plan.kernels[i], target, plan.scheduleOf(i));
      kernel.pipeline.compile_to(
          {{assembly ? Halide::OutputFileType::assembly : Halide::OutputFileType::stmt, file}},
          kernel.arguments, kernelSymbol(plan, i), target.with_feature(Halide::Target::NoRuntime));
    } catch (const Halide::Error &e) {
      fs::remove_all(scratch);
      *error = fmt::format("Halide failed on kernel {}: {}", plan.kernels[i].key(), e.what());
      return false;
    }
    std::ifstream in(file);
    std::stringstream body;
    body << in.rdbuf();
    *text += fmt::format("// kernel {}: {}\n{}\n", kernelSymbol(plan, i), plan.kernels[i].key(),
                         body.str());
  }
  fs::remove_all(scratch);
  return true;
}

bool emitLibrary(const KernelPlan &plan, const EmitOptions &options, std::string *error) {
  Halide::Target target;
  if (!resolveTarget(options.target, &target, error))
    return false;
  const fs::path outDir = options.output_dir;
  std::error_code ec;
  fs::create_directories(outDir, ec);
  if (ec) {
    *error = fmt::format("{}: cannot create output directory: {}", outDir.string(), ec.message());
    return false;
  }
  fs::path scratch = outDir / fmt::format(".mixerc-build-{}", getpid());
  fs::remove_all(scratch, ec);
  fs::create_directories(scratch);
  auto fail = [&](const std::string &message) {
    *error = message;
    fs::remove_all(scratch, ec);
    return false;
  };

  // Kernels: one object per distinct signature, all without a runtime of their own.
  std::vector<std::string> objects;
  const Halide::Target kernelTarget = target.with_feature(Halide::Target::NoRuntime);
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    fs::path object = scratch / fmt::format("k{}.o", i);
    try {
      BuiltKernel kernel = buildKernel(plan.kernels[i], target, plan.scheduleOf(i));
      kernel.pipeline.compile_to_object(object.string(), kernel.arguments, kernelSymbol(plan, i),
                                        kernelTarget);
    } catch (const Halide::Error &e) {
      return fail(fmt::format("Halide failed on kernel {}: {}", plan.kernels[i].key(), e.what()));
    }
    if (options.verbose)
      fmt::print(stderr, "mixerc: compiled {}\n", plan.kernels[i].key());
    objects.push_back(object.string());
  }
  fs::path runtimeObject = scratch / "halide_runtime.o";
  try {
    Halide::compile_standalone_runtime(runtimeObject.string(), target);
  } catch (const Halide::Error &e) {
    return fail(fmt::format("Halide failed on its runtime for {}: {}", target.to_string(),
                            e.what()));
  }

  // Glue and header.
  const std::string header = generateHeader(plan);
  fs::path headerTemp = scratch / (plan.name + ".h");
  fs::path glue = scratch / (plan.name + "_model.cpp");
  fs::path exports = scratch / "exports.map";
  if (!writeFile(headerTemp, header, error) || !writeFile(glue, generateGlue(plan, planHash(plan, target, objects)), error) ||
      !writeFile(exports,
                 fmt::format("{{ global: {}_*; mixer_last_error; mixer_runtime_error_slot; "
                             "local: *; }};\n",
                             plan.name),
                 error))
    return fail(*error);

  const std::string cxx = envOr("CXX", "c++");
  std::string runtimeInclude, runtimeLibrary;
  if (!findRuntime(&runtimeInclude, &runtimeLibrary, error))
    return fail(*error);
  // MIXERC_CXXFLAGS: flags for the glue's compile and the link (words split at whitespace), as
  // a sanitizer build of mixerc's tests uses them.
  std::vector<std::string> extraFlags;
  {
    std::istringstream words(envOr("MIXERC_CXXFLAGS", ""));
    for (std::string word; words >> word;)
      extraFlags.push_back(word);
  }
  fs::path glueObject = scratch / "glue.o";
  std::vector<std::string> compileGlue{cxx, "-std=c++17", "-O2", "-fPIC", "-fvisibility=hidden",
                                       "-DMIXER_BUILDING_LIBRARY", "-I", scratch.string(), "-I",
                                       runtimeInclude, "-c", glue.string(), "-o",
                                       glueObject.string()};
  compileGlue.insert(compileGlue.end(), extraFlags.begin(), extraFlags.end());
  if (!runCommand(compileGlue, scratch / "glue.log", error))
    return fail(*error);

  const fs::path library = outDir / ("lib" + plan.name + ".so");
  fs::path libraryTemp = scratch / library.filename();
  std::vector<std::string> link{cxx, "-shared", "-s", "-o", libraryTemp.string(),
                                glueObject.string()};
  link.insert(link.end(), objects.begin(), objects.end());
  link.insert(link.end(),
              {runtimeObject.string(), runtimeLibrary, "-Wl,--version-script=" + exports.string(),
               "-Wl,-soname,lib" + plan.name + ".so", "-lpthread",
               "-ldl", "-lm"});
  link.insert(link.end(), extraFlags.begin(), extraFlags.end());
  if (!runCommand(link, scratch / "link.log", error))
    return fail(*error);

  fs::rename(libraryTemp, library, ec);
  if (!ec)
    fs::rename(headerTemp, outDir / (plan.name + ".h"), ec);
  if (ec)
    return fail(fmt::format("{}: cannot move the library into place: {}", outDir.string(),
                            ec.message()));
  fs::remove_all(scratch, ec);
  return true;
}

} // namespace mixerc
