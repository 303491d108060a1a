// A generated library loaded at run time (dlopen): the C API of lib<name>.so resolved by name, for
// the verbs that run models (bench, train, eval).
#ifndef MIXERC_DRIVER_MODELLIBRARY_H
#define MIXERC_DRIVER_MODELLIBRARY_H

#include <cstdint>
#include <string>

#include "mixer/runtime.h"

namespace mixerc {

class ModelLibrary {
public:
  using ProfileFn = mixer_status (*)(void *, const float *, int64_t, float *,
                                     mixer_step_profile *, int32_t, int32_t *);
  using TrainStepFn = mixer_status (*)(void *, const float *, const int32_t *, int64_t,
                                       const mixer_train_options *, float *);

  /// Loads `path` (lib<name>.so); false with a message naming the file otherwise.
  bool open(const std::string &path, std::string *error);

  std::string name;
  const mixer_model_info *(*info)() = nullptr;
  mixer_status (*create)(const mixer_options *, void **) = nullptr;
  void (*destroy)(void *) = nullptr;
  mixer_status (*load)(void *, const char *) = nullptr;
  mixer_status (*save)(void *, const char *) = nullptr;
  mixer_status (*infer)(void *, const float *, int64_t, float *) = nullptr;
  ProfileFn profile = nullptr;
  using TrainProfileFn = mixer_status (*)(void *, const float *, const int32_t *, int64_t,
                                          const mixer_train_options *, float *,
                                          mixer_step_profile *, int32_t, int32_t *);
  TrainStepFn trainStep = nullptr;       ///< null unless compiled with training = true
  TrainProfileFn trainProfile = nullptr; ///< likewise
  // The halves of a train step and the views data-parallel training needs (training libraries).
  mixer_status (*computeGradients)(void *, const float *, const int32_t *, int64_t,
                                   const mixer_train_options *, float *) = nullptr;
  mixer_status (*applyGradients)(void *, const mixer_train_options *) = nullptr;
  mixer_status (*gradients)(void *, float **, int64_t *) = nullptr;
  mixer_status (*runningStats)(void *, float **, int64_t *) = nullptr;
  mixer_status (*exportState)(const void *, void *, int64_t, int64_t *) = nullptr;
  mixer_status (*importState)(void *, const void *, int64_t) = nullptr;
  const char *(*lastError)() = nullptr;
};

} // namespace mixerc

#endif
