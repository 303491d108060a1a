// See ModelLibrary.h.
#include "driver/ModelLibrary.h"

#include <dlfcn.h>
#include <filesystem>

#include <fmt/format.h>

namespace mixerc {

bool ModelLibrary::open(const std::string &path, std::string *error) {
  std::string file = std::filesystem::path(path).filename().string();
  if (file.rfind("lib", 0) != 0 || file.size() < 7 || file.substr(file.size() - 3) != ".so") {
    *error = fmt::format("{}: expected a library named lib<name>.so", path);
    return false;
  }
  name = file.substr(3, file.size() - 6);
  void *handle = dlopen(std::filesystem::absolute(path).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    *error = dlerror();
    return false;
  }
  auto resolve = [&](auto *fn, const std::string &symbol) {
    *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(dlsym(handle, symbol.c_str()));
    return *fn != nullptr;
  };
  bool ok = resolve(&info, name + "_info") && resolve(&create, name + "_create") &&
            resolve(&destroy, name + "_destroy") && resolve(&load, name + "_load_weights") &&
            resolve(&save, name + "_save_weights") && resolve(&infer, name + "_infer") &&
            resolve(&profile, name + "_profile") && resolve(&lastError, "mixer_last_error");
  if (!ok) {
    *error = fmt::format("{} is not a mixerc library for model '{}'", path, name);
    return false;
  }
  resolve(&trainStep, name + "_train_step");
  resolve(&trainProfile, name + "_train_profile");
  if (trainStep &&
      !(resolve(&computeGradients, name + "_compute_gradients") &&
        resolve(&applyGradients, name + "_apply_gradients") &&
        resolve(&gradients, name + "_gradients") &&
        resolve(&runningStats, name + "_running_stats") &&
        resolve(&exportState, name + "_export_state") &&
        resolve(&importState, name + "_import_state"))) {
    *error = fmt::format("{} lacks the data-parallel training functions of mixer ABI {}; "
                         "recompile it with this mixerc",
                         path, MIXER_ABI_VERSION);
    return false;
  }
  return true;
}

} // namespace mixerc
