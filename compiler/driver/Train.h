// mixerc train and mixerc eval: the training loop around a generated library's NAME_train_step
// (data, shuffling, augmentation, learning-rate schedule, progress, CSV log, checkpoints, resume,
// plot) and test-set accuracy of a checkpoint.
#ifndef MIXERC_DRIVER_TRAIN_H
#define MIXERC_DRIVER_TRAIN_H

#include <functional>
#include <string>

namespace mixerc {

/// Compiles a spec for training into a library; false with a message otherwise.
using CompileFn =
    std::function<bool(const std::string &spec, std::string *library, std::string *error)>;

/// argv[1] is the verb ("train" or "eval"); returns the process exit status. `compile` turns a
/// SPEC argument into a library.
int trainVerb(int argc, char **argv, const CompileFn &compile);
int evalVerb(int argc, char **argv);

} // namespace mixerc

#endif
