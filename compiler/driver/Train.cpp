// mixerc train / mixerc eval (see Train.h).
//
// Reproducibility: the epoch's order is a Fisher-Yates shuffle driven by SplitMix64 seeded with
// (seed, epoch), and augmentation draws from its own (seed, epoch) stream, so a run resumed from
// an epoch's checkpoint sees exactly the batches the uninterrupted run saw; the optimizer state
// comes back with the weights (optimizer.* tensors), so the resumed run is the same computation.
#include "driver/Train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unistd.h>

#include <fmt/format.h>

#include "driver/Args.h"
#include "driver/Dataset.h"
#include "driver/Distributed.h"
#include "driver/ModelLibrary.h"
#include "driver/Plot.h"
#include "support/Hash.h"
#include "safetensors.h" // the runtime's reader: a checkpoint's optimizer.step

namespace fs = std::filesystem;

namespace mixerc {
namespace {

constexpr const char *kTrainUsage = R"(usage: mixerc train SPEC|LIB --data DATA [options]

Trains a model compiled with 'training = true' (SPEC is compiled to ./build-<name> first) and
reports test accuracy after every epoch. The default recipe is AdamW, lr 3e-3 with 300 warm-up
steps then per-step cosine decay to 0, weight decay 0.05, label smoothing 0.1, random horizontal
flips, batch 64, 5 epochs (90.19% on Fashion-MNIST for specs/mixer_fmnist.toml; README).

data:
  --data DATA           fashion-mnist (Debian's dataset-fashion-mnist), cifar10 ($MIXERC_CIFAR10
                        or ./cifar-10-batches-bin), or a directory of IDX files (MNIST layout,
                        gzipped or not) or CIFAR-10 binaries; standardised with the training
                        split's per-channel mean and std
options:
  --epochs N            (default 5)
  --batch B             (default 64)
  --optimizer adamw|sgd (default adamw)
  --lr LR               peak learning rate (default 3e-3)
  --warmup STEPS        linear warm-up steps before the cosine decay (default 300)
  --weight-decay WD     (default 0.05)
  --momentum M          SGD momentum (default 0.9)
  --label-smoothing S   (default 0.1)
  --no-flip             no random horizontal flips
  --crop PAD            random crops of the image zero-padded by PAD pixels (default 0: none)
  --seed S              initial weights, shuffling and augmentation (default 0)
  --threads T           worker threads (default 0: all cores)
  --out FILE            checkpoint written after every epoch (default <name>.safetensors)
  --log FILE            CSV log, one row per epoch, appended (default <out>.csv)
  --plot FILE.png       loss and accuracy curves, redrawn after every epoch
  --stop-after K        stop after epoch K of the --epochs schedule (continue with --resume)
  --resume FILE         continue from a checkpoint saved at the end of an epoch
  --init FILE           start from these weights (no optimizer state) instead of the seed's
  --step-log FILE       CSV of every step's loss and learning rate (written anew)
  --distributed MODE    auto (default: MPI when started by mpirun), mpi or none

data-parallel (mpirun -np N mixerc train ...): every rank takes its contiguous share of each
global batch of B images from the one seeded shuffle, so N ranks see exactly the samples one
process sees; gradients are averaged with MPI_Allreduce (weighted by the shares) and every rank
applies the same update. Rank 0 alone prints, logs, checkpoints and plots; its weights (and with
--resume its checkpoint) are broadcast at the start. BatchNorm normalises with each rank's own
batch statistics; after every step the running means and variances are averaged across ranks, so
all ranks keep the same ones. A SPEC is compiled once per machine; ranks with another library
build, other options or other data are refused before the first step.
)";

constexpr const char *kEvalUsage = R"(usage: mixerc eval LIB --weights FILE --data DATA [options]

Prints the test-split accuracy of a checkpoint and the inference throughput.

options:
  --batch B             images per inference call (default 500)
  --threads T           worker threads (default 0: all cores)
)";

/// The one positional argument (SPEC|LIB), or an error for an unknown option or a second one.
bool positional(const std::string &arg, std::string *model, std::string *error) {
  if (!arg.empty() && arg[0] == '-')
    *error = fmt::format("unknown option '{}'", arg);
  else if (model->empty())
    *model = arg;
  else
    *error = fmt::format("unexpected argument '{}'", arg);
  return error->empty();
}

int fail(const char *verb, const std::string &message) {
  fmt::print(stderr, "mixerc {}: {}\n", verb, message);
  return 2;
}

/// SplitMix64: a small reproducible generator (the same stream on every platform).
struct Random {
  uint64_t state;
  Random(uint64_t seed, uint64_t stream) : state(seed * 0x9E3779B97F4A7C15ull ^ (stream + 1)) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

struct Recipe {
  int64_t epochs = 5, batch = 64, warmup = 300, crop = 0, seed = 0, threads = 0, stopAfter = 0;
  double lr = 3e-3, weightDecay = 0.05, momentum = 0.9, smoothing = 0.1;
  bool flip = true;
  mixer_optimizer optimizer = MIXER_OPTIMIZER_ADAMW;
};

/// Linear warm-up to the peak, then cosine decay to 0 at the last step.
double learningRate(const Recipe &r, int64_t step, int64_t total) {
  if (step < r.warmup)
    return r.lr * double(step + 1) / double(r.warmup);
  double progress = double(step - r.warmup) / double(std::max<int64_t>(1, total - r.warmup));
  return r.lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

/// Copies this rank's share of the batch's images, flipped and cropped as the recipe asks. The
/// augmentation of every image of the batch is drawn, so each image gets the same draws whichever
/// rank copies it.
void makeBatch(const Split &split, const std::vector<int64_t> &order, int64_t first, int64_t count,
               const Share &share, const Recipe &r, Random &augment, std::vector<float> *images,
               std::vector<int32_t> *labels) {
  const int64_t c = split.channels, h = split.height, w = split.width, elems = c * h * w;
  images->resize(size_t(share.size() * elems));
  labels->resize(size_t(share.size()));
  for (int64_t i = 0; i < count; ++i) {
    const bool flip = r.flip && augment.below(2);
    const int64_t dy = r.crop ? int64_t(augment.below(uint64_t(2 * r.crop + 1))) - r.crop : 0;
    const int64_t dx = r.crop ? int64_t(augment.below(uint64_t(2 * r.crop + 1))) - r.crop : 0;
    if (i < share.begin || i >= share.end)
      continue;
    const int64_t index = order[size_t(first + i)];
    const float *src = split.images.data() + index * elems;
    float *dst = images->data() + (i - share.begin) * elems;
    (*labels)[size_t(i - share.begin)] = split.labels[size_t(index)];
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          int64_t sy = y + dy, sx = (flip ? w - 1 - x : x) + dx;
          dst[(ch * h + y) * w + x] =
              sy >= 0 && sy < h && sx >= 0 && sx < w ? src[(ch * h + sy) * w + sx] : 0.0f;
        }
  }
}

std::string duration(double seconds) {
  int64_t s = int64_t(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

/// The progress display: a redrawn bar on a terminal, a plain line every 10% otherwise.
class Progress {
public:
  Progress() : terminal_(isatty(2)) {}
  void update(int64_t epoch, int64_t epochs, int64_t step, int64_t steps, double loss,
              double imagesPerSecond, double eta) {
    const int64_t tenth = std::max<int64_t>(1, steps / 10);
    if (!terminal_ && step % tenth != 0 && step != steps)
      return;
    constexpr int kWidth = 24;
    int filled = int(double(kWidth) * double(step) / double(steps));
    std::string bar = std::string(size_t(filled), '=') + std::string(size_t(kWidth - filled), ' ');
    std::string line = fmt::format("epoch {}/{} [{}] {}/{} loss {:.4f} {:.0f} img/s ETA {}", epoch,
                                   epochs, bar, step, steps, loss, imagesPerSecond, duration(eta));
    if (terminal_)
      fmt::print(stderr, "\r{}\x1b[K", line);
    else
      fmt::print(stderr, "{}\n", line);
  }
  void endLine() {
    if (terminal_)
      fmt::print(stderr, "\n");
  }

private:
  bool terminal_;
};

/// Top-1 accuracy (%) of the model on a split, and the images/s of inference; each rank of the
/// group scores its share of the split.
bool accuracy(const ModelLibrary &lib, void *model, const ProcessGroup &group, const Split &split,
              int64_t classes, int64_t batch, double *percent, double *imagesPerSecond,
              std::string *error) {
  std::vector<float> logits(size_t(batch * classes));
  int64_t correct = 0;
  const Share share(split.count, group.rank(), group.size());
  auto start = std::chrono::steady_clock::now();
  for (int64_t first = share.begin; first < share.end; first += batch) {
    int64_t n = std::min(batch, share.end - first);
    if (lib.infer(model, split.images.data() + first * split.imageElements(), n, logits.data())) {
      *error = lib.lastError();
      return false;
    }
    for (int64_t i = 0; i < n; ++i) {
      const float *row = logits.data() + i * classes;
      correct += std::max_element(row, row + classes) - row == split.labels[size_t(first + i)];
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double sums[2] = {double(correct), double(share.size()) / std::max(seconds, 1e-9)};
  group.sum(sums, 2);
  *percent = 100.0 * sums[0] / double(split.count);
  *imagesPerSecond = sums[1];
  return true;
}

/// Ends a distributed run whose ranks disagree on `value`: rank 0 names the first rank that
/// differs, with `what` (formatted with that rank's value and rank 0's) and its own library.
void requireSame(const ProcessGroup &group, uint64_t value, const char *what,
                 const std::string &library) {
  const std::vector<uint64_t> all = group.gather(value);
  for (size_t rank = 1; rank < all.size(); ++rank)
    if (all[rank] != all[0]) {
      if (!group.root())
        group.barrier(); // rank 0 reports and ends the job
      group.fatal("train", fmt::format("rank {} {} (rank 0 runs {})", rank,
                                       fmt::format(fmt::runtime(what), all[rank], all[0]),
                                       library));
    }
}

/// Refuses to start a distributed run whose ranks would not compute one training: each rank's
/// recipe and data (sizes, labels, standardisation) must be rank 0's.
void requireSameRun(const ProcessGroup &group, const mixer_model_info &info, const Recipe &r,
                    const Dataset &data, const std::string &library) {
  if (!group.distributed())
    return;
  const std::string recipe = fmt::format(
      "{} {} {} {} {} {} {} {:a} {:a} {:a} {:a} {} {}", r.epochs, r.batch, r.warmup, r.crop,
      r.seed, r.stopAfter, int(r.optimizer), r.lr, r.weightDecay, r.momentum, r.smoothing,
      r.flip, info.name);
  requireSame(group, fnv1a(recipe.data(), recipe.size()),
              "was started with other training options (hash {:016x}, rank 0's {:016x})",
              library);
  uint64_t dataHash = kFnvOffset;
  for (const Split *split : {&data.train, &data.test}) {
    dataHash = fnv1a(&split->count, sizeof(split->count), dataHash);
    dataHash = fnv1a(split->labels.data(), split->labels.size() * sizeof(int32_t), dataHash);
  }
  dataHash = fnv1a(data.mean.data(), data.mean.size() * sizeof(float), dataHash);
  dataHash = fnv1a(data.std.data(), data.std.size() * sizeof(float), dataHash);
  requireSame(group, dataHash,
              "reads other data (hash {:016x} of its sizes, labels and statistics, rank 0's "
              "{:016x})",
              library);
}

/// optimizer.step of a checkpoint (0 when it has none).
bool checkpointSteps(const std::string &path, int64_t *steps, std::string *error) {
  mixer::rt::SafetensorsFile file;
  if (mixer::rt::read_safetensors(path.c_str(), &file) != MIXER_OK) {
    *error = mixer_last_error();
    return false;
  }
  *steps = 0;
  if (const mixer::rt::TensorView *t = file.find("optimizer.step")) {
    if (t->dtype != "I64" || t->bytes != sizeof(int64_t)) {
      *error = fmt::format("{}: tensor 'optimizer.step' is not an I64 scalar", path);
      return false;
    }
    std::memcpy(steps, t->data, sizeof(int64_t));
  }
  return true;
}

} // namespace

int trainVerb(int argc, char **argv, const CompileFn &compile) {
  const char *verb = "train";
  Recipe r;
  std::string model, data, out, log, plot, resume, init, stepLog, value, error;
  ProcessGroup::Mode mode = ProcessGroup::Mode::Auto;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto flagInt = [&](int64_t lo, int64_t *target) {
      return takeValue(argc, argv, i, &value, &error) && parseInt(arg, value, lo, target, &error);
    };
    auto flagNumber = [&](double lo, double hi, double *target) {
      return takeValue(argc, argv, i, &value, &error) &&
             parseNumber(arg, value, lo, hi, target, &error);
    };
    bool ok = true;
    if (isHelp(argv[i])) {
      fmt::print("{}", kTrainUsage);
      return 0;
    } else if (arg == "--data") {
      ok = takeValue(argc, argv, i, &data, &error);
    } else if (arg == "--epochs") {
      ok = flagInt(1, &r.epochs);
    } else if (arg == "--batch") {
      ok = flagInt(1, &r.batch);
    } else if (arg == "--stop-after") {
      ok = flagInt(1, &r.stopAfter);
    } else if (arg == "--warmup") {
      ok = flagInt(0, &r.warmup);
    } else if (arg == "--crop") {
      ok = flagInt(0, &r.crop);
    } else if (arg == "--seed") {
      ok = flagInt(0, &r.seed);
    } else if (arg == "--threads") {
      ok = flagInt(0, &r.threads);
    } else if (arg == "--lr") {
      ok = flagNumber(0, 1e3, &r.lr);
    } else if (arg == "--weight-decay") {
      ok = flagNumber(0, 1e3, &r.weightDecay);
    } else if (arg == "--momentum") {
      ok = flagNumber(0, 1, &r.momentum);
    } else if (arg == "--label-smoothing") {
      ok = flagNumber(0, 0.999, &r.smoothing);
    } else if (arg == "--no-flip") {
      r.flip = false;
    } else if (arg == "--optimizer") {
      ok = takeValue(argc, argv, i, &value, &error);
      if (ok && value != "adamw" && value != "sgd") {
        error = fmt::format("--optimizer: unknown '{}' (expected adamw or sgd)", value);
        ok = false;
      }
      r.optimizer = value == "sgd" ? MIXER_OPTIMIZER_SGD : MIXER_OPTIMIZER_ADAMW;
    } else if (arg == "--out") {
      ok = takeValue(argc, argv, i, &out, &error);
    } else if (arg == "--log") {
      ok = takeValue(argc, argv, i, &log, &error);
    } else if (arg == "--plot") {
      ok = takeValue(argc, argv, i, &plot, &error);
    } else if (arg == "--resume") {
      ok = takeValue(argc, argv, i, &resume, &error);
    } else if (arg == "--init") {
      ok = takeValue(argc, argv, i, &init, &error);
    } else if (arg == "--step-log") {
      ok = takeValue(argc, argv, i, &stepLog, &error);
    } else if (arg == "--distributed") {
      ok = takeValue(argc, argv, i, &value, &error) &&
           ProcessGroup::parseMode(value, &mode, &error);
    } else {
      ok = positional(arg, &model, &error);
    }
    if (!ok)
      return fail(verb, error);
  }
  if (model.empty() || data.empty())
    return fail(verb, "needs SPEC|LIB and --data (see mixerc train --help)");
  if (!resume.empty() && !init.empty())
    return fail(verb, "--resume and --init exclude each other");

  ProcessGroup group;
  group.start(mode);
  // From here a failure on any rank ends the whole job, naming the rank.
  auto fatal = [&](const std::string &message) { group.fatal(verb, message); };
  ModelLibrary lib;
  std::string library = model;
  if (fs::path(model).extension() == ".toml") { // compiled once per machine
    if (group.localRoot() && !compile(model, &library, &error))
      fatal(error);
    group.broadcastLocal(&library);
  }
  if (!lib.open(library, &error))
    fatal(error);
  if (!lib.trainStep)
    fatal(fmt::format("{} was compiled without training = true in its spec's [build]", model));
  const mixer_model_info &info = *lib.info();
  requireSame(group, info.plan_hash,
              "runs another build of the model (plan hash {:016x}, rank 0's {:016x}; compile it "
              "once and give every rank the same library)",
              library);
  Dataset dataset;
  if (!loadDataset(data, info.classes, info.channels, info.height, info.width, &dataset, &error))
    fatal(error);
  if (out.empty())
    out = lib.name + ".safetensors";
  if (log.empty())
    log = out + ".csv";
  const int64_t steps_per_epoch = (dataset.train.count + r.batch - 1) / r.batch;
  const int64_t total = steps_per_epoch * r.epochs;
  const int64_t smallest = std::min(r.batch, dataset.train.count - (steps_per_epoch - 1) * r.batch);
  if (smallest < group.size())
    fatal(fmt::format("--batch {}: a batch of {} images (the epoch's last) cannot give each of {} "
                      "ranks one; choose a batch size whose last batch is at least the rank "
                      "count",
                      r.batch, smallest, group.size()));
  requireSameRun(group, info, r, dataset, library);

  mixer_options options;
  mixer_options_init(&options);
  options.seed = uint64_t(r.seed);
  options.num_threads = int32_t(r.threads ? r.threads : group.threadsPerRank());
  void *m = nullptr;
  if (lib.create(&options, &m) != MIXER_OK)
    fatal(lib.lastError());
  auto cleanup = [&](int status) {
    lib.destroy(m);
    return status;
  };
  int64_t step = 0;
  if (group.root() && (!resume.empty() || !init.empty())) {
    const std::string &file = resume.empty() ? init : resume;
    if (lib.load(m, file.c_str()) != MIXER_OK)
      fatal(lib.lastError());
    if (!resume.empty()) {
      if (!checkpointSteps(resume, &step, &error))
        fatal(error);
      if (step == 0 || step % steps_per_epoch != 0 || step > total)
        fatal(fmt::format(
            "{}: holds {} optimizer steps, not the end of an epoch of {} steps within {} epochs "
            "(resume with the batch size and epochs of the interrupted run)",
            resume, step, steps_per_epoch, r.epochs));
    }
  }
  if (group.distributed()) { // every rank starts from rank 0's state
    group.broadcast(&step);
    std::vector<char> state;
    int64_t bytes = 0;
    if (group.root()) {
      lib.exportState(m, nullptr, 0, &bytes);
      state.resize(size_t(bytes));
      if (lib.exportState(m, state.data(), bytes, &bytes) != MIXER_OK)
        fatal(lib.lastError());
    }
    group.broadcast(&state);
    if (!group.root() && lib.importState(m, state.data(), int64_t(state.size())) != MIXER_OK)
      fatal(lib.lastError());
  }
  if (group.root())
    fmt::print(stderr,
               "mixerc train: {} on {} ({} training, {} test images), {} epochs of {} steps, "
               "batch {}{}{}\n",
               info.name, dataset.description, dataset.train.count, dataset.test.count,
               r.epochs, steps_per_epoch, r.batch,
               group.distributed() ? fmt::format(" over {} ranks", group.size()) : "",
               step ? fmt::format(", resuming after epoch {}", step / steps_per_epoch) : "");

  // Rank 0 alone writes the logs, the checkpoints and the plot.
  std::ofstream csv, steps;
  if (group.root()) {
    bool header = !fs::exists(log);
    csv.open(log, std::ios::app);
    if (!csv)
      fatal(fmt::format("{}: cannot open the log", log));
    if (header)
      csv << "epoch,steps,train_loss,test_accuracy,epoch_seconds,images_per_second,"
             "learning_rate\n";
    if (!stepLog.empty()) {
      steps.open(stepLog, std::ios::trunc);
      if (!steps)
        fatal(fmt::format("{}: cannot open the step log", stepLog));
      steps << "step,loss,learning_rate\n";
    }
  }

  mixer_train_options o;
  mixer_train_options_init(&o);
  o.optimizer = r.optimizer;
  o.weight_decay = float(r.weightDecay);
  o.momentum = float(r.momentum);
  o.label_smoothing = float(r.smoothing);
  std::vector<float> images;
  std::vector<int32_t> labels;
  Progress progress;
  const int64_t lastEpoch = r.stopAfter ? std::min(r.stopAfter, r.epochs) : r.epochs;
  for (int64_t epoch = step / steps_per_epoch + 1; epoch <= lastEpoch; ++epoch) {
    std::vector<int64_t> order(size_t(dataset.train.count));
    std::iota(order.begin(), order.end(), 0);
    Random shuffle(uint64_t(r.seed), uint64_t(epoch) * 2);
    for (size_t i = order.size() - 1; i > 0; --i)
      std::swap(order[i], order[shuffle.below(i + 1)]);
    Random augment(uint64_t(r.seed), uint64_t(epoch) * 2 + 1);
    auto start = std::chrono::steady_clock::now();
    double lossSum = 0;
    double lr = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      const int64_t first = s * r.batch, n = std::min(r.batch, dataset.train.count - first);
      const Share share(n, group.rank(), group.size());
      makeBatch(dataset.train, order, first, n, share, r, augment, &images, &labels);
      lr = learningRate(r, step, total);
      o.learning_rate = float(lr);
      float loss = 0;
      mixer_status status =
          group.distributed()
              ? dataParallelStep(lib, m, group, images.data(), labels.data(), share.size(), n,
                                 o, &loss, nullptr)
              : lib.trainStep(m, images.data(), labels.data(), n, &o, &loss);
      if (status != MIXER_OK) {
        progress.endLine();
        fatal(lib.lastError());
      }
      if (!std::isfinite(loss)) {
        progress.endLine();
        fatal(fmt::format("the loss is {} at step {} (learning rate {:g}); try a lower --lr",
                          loss, step + 1, lr));
      }
      lossSum += loss;
      if (!group.root())
        continue;
      if (steps.is_open())
        steps << fmt::format("{},{:.9g},{:.9g}\n", step + 1, loss, o.learning_rate);
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double rate = double(first + n) / std::max(elapsed, 1e-9);
      double remaining = double(total - step - 1) * double(r.batch) / rate;
      progress.update(epoch, r.epochs, s + 1, steps_per_epoch, lossSum / double(s + 1), rate,
                      remaining);
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double percent = 0, inferRate = 0;
    if (!accuracy(lib, m, group, dataset.test, info.classes, 500, &percent, &inferRate, &error))
      fatal(error);
    if (!group.root())
      continue;
    progress.endLine();
    if (lib.save(m, out.c_str()) != MIXER_OK)
      fatal(lib.lastError());
    double trainLoss = lossSum / double(steps_per_epoch);
    fmt::print("epoch {}: train loss {:.4f}, test accuracy {:.2f}%, {:.1f} s ({:.0f} img/s), "
               "checkpoint {}\n",
               epoch, trainLoss, percent, seconds, double(dataset.train.count) / seconds, out);
    std::fflush(stdout);
    csv << fmt::format("{},{},{:.6f},{:.2f},{:.2f},{:.1f},{:.6g}\n", epoch, step, trainLoss,
                       percent, seconds, double(dataset.train.count) / seconds, lr);
    csv.flush();
    steps.flush();
    if (!plot.empty() && !writePlot(plot, readCurve(log), &error))
      fatal(error);
  }
  group.barrier(); // no rank finalises while another still waits for it
  return cleanup(0);
}

int evalVerb(int argc, char **argv) {
  const char *verb = "eval";
  std::string model, weights, data, value, error;
  int64_t batch = 500, threads = 0;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    bool ok = true;
    if (isHelp(argv[i])) {
      fmt::print("{}", kEvalUsage);
      return 0;
    } else if (arg == "--weights") {
      ok = takeValue(argc, argv, i, &weights, &error);
    } else if (arg == "--data") {
      ok = takeValue(argc, argv, i, &data, &error);
    } else if (arg == "--batch") {
      ok = takeValue(argc, argv, i, &value, &error) && parseInt(arg, value, 1, &batch, &error);
    } else if (arg == "--threads") {
      ok = takeValue(argc, argv, i, &value, &error) && parseInt(arg, value, 0, &threads, &error);
    } else {
      ok = positional(arg, &model, &error);
    }
    if (!ok)
      return fail(verb, error);
  }
  if (model.empty() || weights.empty() || data.empty())
    return fail(verb, "needs LIB, --weights and --data (see mixerc eval --help)");
  ModelLibrary lib;
  if (!lib.open(model, &error))
    return fail(verb, error);
  const mixer_model_info &info = *lib.info();
  Dataset dataset;
  if (!loadDataset(data, info.classes, info.channels, info.height, info.width, &dataset, &error))
    return fail(verb, error);
  mixer_options options;
  mixer_options_init(&options);
  options.num_threads = int32_t(threads);
  void *m = nullptr;
  if (lib.create(&options, &m) != MIXER_OK || lib.load(m, weights.c_str()) != MIXER_OK) {
    int status = fail(verb, lib.lastError());
    lib.destroy(m);
    return status;
  }
  double percent = 0, rate = 0;
  const ProcessGroup single;
  bool ok = accuracy(lib, m, single, dataset.test, info.classes, batch, &percent, &rate, &error);
  lib.destroy(m);
  if (!ok)
    return fail(verb, error);
  fmt::print("model={} weights={} test_images={} accuracy={:.2f} images_per_s={:.0f}\n",
             info.name, weights, dataset.test.count, percent, rate);
  return 0;
}

} // namespace mixerc
