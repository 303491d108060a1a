// mixerc tune (see Tuner.h).
#include "tuning/Tuner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "kernels/Kernels.h"
#include "lower/EmitLibrary.h"
#include "lower/Frontend.h"
#include "spec/Spec.h"
#include "tuning/ApplyTuning.h"
#include "tuning/SearchSpace.h"
#include "tuning/TuningDb.h"

#ifndef MIXERC_VERSION
#define MIXERC_VERSION "unknown"
#endif

namespace mixerc {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// One candidate's outcome in a child process.
struct Trial {
  std::string params;
  TrialStatus status = TrialStatus::Ok;
  double median_ms = 0, spread = 0;
  std::string message;
};

/// A tunable kernel: its signature, the step whose buffers it is timed on, its calls per step.
struct TunableKernel {
  int index;
  KernelSignature signature;
  const PlanStep *step;
  /// Per step argument: a variance (BatchNorm's running_var), filled with positive values; with
  /// the others' [-1, 1) its square root would make every output NaN, and no candidate could
  /// be told from the default.
  std::vector<bool> variance;
  /// Images it is timed at: what the library runs it at (see collect below).
  int64_t batch = 0;
  int calls = 0;
  double default_ms = 0;
};

// ---- The child: compile, check and time a batch of records (the first is the default's). ----

struct Buffers {
  std::vector<std::vector<float>> storage;
  std::vector<Halide::Runtime::Buffer<float>> views;
};

/// Buffers shaped as the step's arguments at `batch` images, inputs filled with U(-1, 1).
Buffers makeBuffers(const TunableKernel &kernel, int64_t batch, size_t first, size_t count,
                    uint64_t seed) {
  const PlanStep &step = *kernel.step;
  Buffers b;
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f), positive(0.5f, 1.5f);
  for (size_t a = first; a < first + count; ++a) {
    const KernelArg &arg = step.args[a];
    std::vector<halide_dimension_t> dims;
    int64_t span = 1; // elements up to the last one addressed
    for (const BufferDim &d : arg.dims) {
      const int64_t extent = d.batch_scaled ? d.extent * batch : d.extent;
      dims.push_back({0, int32_t(extent), int32_t(d.stride), 0});
      span += (extent - 1) * d.stride;
    }
    b.storage.emplace_back(size_t(span));
    const bool variance = a < kernel.variance.size() && kernel.variance[a];
    for (float &v : b.storage.back())
      v = variance ? positive(random) : uniform(random);
    b.views.emplace_back(b.storage.back().data(), int(dims.size()), dims.data());
  }
  return b;
}

/// Runs in the child: writes one line per record to `fd`: "status median spread message".
void measureBatch(const TunableKernel &kernel, const Halide::Target &target,
                  const std::vector<std::string> &records, int64_t batch, int fd) {
  auto report = [&](const Trial &t) {
    std::string message = t.message.substr(0, 300);
    std::replace(message.begin(), message.end(), '\n', ' ');
    const std::string line = fmt::format("{} {:.6f} {:.6f} {}\n", trialStatusName(t.status),
                                         t.median_ms, t.spread, message);
    if (write(fd, line.data(), line.size()) < 0)
      _exit(3);
  };
  struct Candidate {
    Halide::Callable callable;
    Buffers outputs;
    bool ok = false;
  };
  std::vector<Candidate> candidates(records.size());
  std::vector<Trial> trials(records.size());
  // The step's arguments are the kernel's inputs, then its outputs; every schedule of a kernel
  // has the same ones, so the default's build says how many inputs there are.
  size_t inputs = 0;
  for (size_t c = 0; c < records.size(); ++c) {
    trials[c].params = records[c];
    try {
      BuiltKernel built = buildKernel(kernel.signature, target, c == 0 ? "" : records[c]);
      inputs = built.arguments.size();
      candidates[c].callable = built.pipeline.compile_to_callable(built.arguments, target);
      candidates[c].outputs =
          makeBuffers(kernel, batch, inputs, kernel.step->args.size() - inputs, 99);
      candidates[c].ok = true;
    } catch (const Halide::Error &e) {
      trials[c].status = TrialStatus::CompileError;
      trials[c].message = e.what();
    }
  }
  const size_t outputs = kernel.step->args.size() - inputs;
  Buffers in = makeBuffers(kernel, batch, 0, inputs, 1234 + kernel.index);
  Halide::JITUserContext context;
  Halide::JITUserContext *contextPointer = &context;
  auto call = [&](size_t c) {
    std::vector<const void *> argv{&contextPointer};
    for (auto &v : in.views)
      argv.push_back(v.raw_buffer());
    for (auto &v : candidates[c].outputs.views)
      argv.push_back(v.raw_buffer());
    return candidates[c].callable.call_argv_fast(argv.size(), argv.data());
  };
  // MIXERC_TUNE_FAULT=MODE:TEXT (MODE crash, hang or wrong) makes every candidate whose record
  // contains TEXT misbehave so, for the tests of what the tuner does then (tests/e2e).
  const char *faultText = std::getenv("MIXERC_TUNE_FAULT");
  std::string fault = faultText ? faultText : "", faultMatch;
  if (const size_t colon = fault.find(':'); colon != std::string::npos) {
    faultMatch = fault.substr(colon + 1);
    fault.resize(colon);
  } else {
    fault.clear();
  }
  // Each candidate once, its output checked against the default's (candidate 0).
  for (size_t c = 0; c < records.size(); ++c) {
    if (!candidates[c].ok)
      continue;
    const bool faulty = c > 0 && !fault.empty() && records[c].find(faultMatch) != std::string::npos;
    if (faulty && fault == "crash")
      raise(SIGSEGV);
    while (faulty && fault == "hang")
      pause();
    int rc = 0;
    try {
      rc = call(c);
    } catch (const Halide::Error &e) {
      rc = -1;
      trials[c].message = e.what();
    }
    if (faulty && fault == "wrong" && !candidates[c].outputs.storage.empty())
      candidates[c].outputs.storage[0][0] += 1.0f;
    if (rc != 0) {
      candidates[c].ok = false;
      trials[c].status = TrialStatus::Crash;
      if (trials[c].message.empty())
        trials[c].message = fmt::format("the kernel returned error {}", rc);
      continue;
    }
    if (c == 0 || !candidates[0].ok)
      continue;
    double worst = 0, scale = 0;
    for (size_t o = 0; o < outputs; ++o) {
      const auto &want = candidates[0].outputs.storage[o], &got = candidates[c].outputs.storage[o];
      for (size_t e = 0; e < want.size(); ++e) {
        scale = std::max(scale, double(std::fabs(want[e])));
        const double d = std::fabs(double(want[e]) - double(got[e]));
        worst = std::isnan(d) ? INFINITY : std::max(worst, d);
      }
    }
    if (!(worst <= 1e-5 * std::max(scale, 1e-30))) {
      candidates[c].ok = false;
      trials[c].status = TrialStatus::Wrong;
      trials[c].message = fmt::format("output differs from the default schedule's by {:.3g} "
                                      "(max |output| {:.3g})",
                                      worst, scale);
    }
  }
  // Timing: calls per sample for about 20 ms of the default, then rounds of every candidate in
  // turn; the median of the rounds, after those beyond 1.5x of it are dropped.
  int iterations = 1;
  if (candidates[0].ok) {
    const auto start = Clock::now();
    call(0);
    const double once = std::max(secondsSince(start), 1e-6);
    iterations = int(std::clamp(0.02 / once, 1.0, 10000.0));
  }
  constexpr int kRounds = 7;
  std::vector<std::vector<double>> samples(records.size());
  for (int round = 0; round < kRounds; ++round)
    for (size_t c = 0; c < records.size(); ++c) {
      if (!candidates[c].ok)
        continue;
      const auto start = Clock::now();
      for (int i = 0; i < iterations; ++i)
        call(c);
      samples[c].push_back(secondsSince(start) * 1e3 / iterations);
    }
  for (size_t c = 0; c < records.size(); ++c) {
    if (candidates[c].ok) {
      std::vector<double> s = samples[c];
      std::sort(s.begin(), s.end());
      const double median = s[s.size() / 2];
      std::vector<double> kept;
      for (double v : s)
        if (v <= 1.5 * median && v >= median / 1.5)
          kept.push_back(v);
      trials[c].median_ms = kept[kept.size() / 2];
      trials[c].spread = (kept.back() - kept.front()) / trials[c].median_ms;
    }
    report(trials[c]);
  }
}

// ---- The parent: batches in child processes, with a timeout, isolation and records. ----

/// Runs measureBatch in a child; a child that crashes or outlives `timeout` yields trials of
/// that status for the whole batch (the caller then isolates).
std::vector<Trial> runBatch(const TunableKernel &kernel, const Halide::Target &target,
                            const std::vector<std::string> &records, int64_t batch,
                            double timeout, bool *childFailed) {
  *childFailed = false;
  std::vector<Trial> trials(records.size());
  for (size_t c = 0; c < records.size(); ++c)
    trials[c].params = records[c];
  int pipeFds[2];
  if (pipe(pipeFds) != 0) {
    for (Trial &t : trials)
      t = {t.params, TrialStatus::Crash, 0, 0, "cannot create a pipe"};
    *childFailed = true;
    return trials;
  }
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipeFds[0]);
    measureBatch(kernel, target, records, batch, pipeFds[1]);
    close(pipeFds[1]);
    _exit(0);
  }
  close(pipeFds[1]);
  std::string text;
  const auto start = Clock::now();
  bool timedOut = false;
  while (true) {
    const double left = timeout - secondsSince(start);
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{pipeFds[0], POLLIN, 0};
    const int ready = poll(&p, 1, int(std::min(left, 1.0) * 1000) + 1);
    if (ready <= 0)
      continue;
    char buffer[4096];
    const ssize_t got = read(pipeFds[0], buffer, sizeof buffer);
    if (got <= 0)
      break;
    text.append(buffer, size_t(got));
  }
  close(pipeFds[0]);
  if (timedOut)
    kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  std::vector<std::string> lines;
  for (size_t pos = 0, end; (end = text.find('\n', pos)) != std::string::npos; pos = end + 1)
    lines.push_back(text.substr(pos, end - pos));
  const bool complete = !timedOut && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                        lines.size() == records.size();
  if (!complete) {
    *childFailed = true;
    const std::string why =
        timedOut ? fmt::format("did not finish within {:.0f} s", timeout)
        : WIFSIGNALED(status) ? fmt::format("killed by signal {} ({})", WTERMSIG(status),
                                            strsignal(WTERMSIG(status)))
                              : fmt::format("the measuring process exited with status {}",
                                            WEXITSTATUS(status));
    for (Trial &t : trials)
      t = {t.params, timedOut ? TrialStatus::Timeout : TrialStatus::Crash, 0, 0, why};
    return trials;
  }
  for (size_t c = 0; c < records.size(); ++c) {
    char statusText[32] = {0};
    double median = 0, spread = 0;
    int consumed = 0;
    std::sscanf(lines[c].c_str(), "%31s %lf %lf %n", statusText, &median, &spread, &consumed);
    parseTrialStatus(statusText, &trials[c].status);
    trials[c].median_ms = median;
    trials[c].spread = spread;
    trials[c].message = lines[c].substr(std::min<size_t>(size_t(consumed), lines[c].size()));
  }
  return trials;
}

/// A batch; where its child died, each candidate again alone (with the default), so that the
/// one that crashes or hangs is found and the others still get measured.
std::vector<Trial> measure(const TunableKernel &kernel, const Halide::Target &target,
                           const std::vector<std::string> &records, int64_t batch,
                           double candidateTimeout) {
  bool failed = false;
  std::vector<Trial> trials =
      runBatch(kernel, target, records, batch, candidateTimeout * records.size(), &failed);
  if (!failed || records.size() <= 2)
    return trials;
  std::vector<Trial> isolated{trials[0]};
  bool defaultMeasured = false;
  for (size_t c = 1; c < records.size(); ++c) {
    std::vector<Trial> one =
        runBatch(kernel, target, {records[0], records[c]}, batch, candidateTimeout * 2, &failed);
    if (!defaultMeasured && one[0].status == TrialStatus::Ok) {
      isolated[0] = one[0];
      defaultMeasured = true;
    }
    // Its time relative to the default of its own round, scaled to the first default's.
    if (one[1].status == TrialStatus::Ok && one[0].status == TrialStatus::Ok)
      one[1].median_ms *= isolated[0].median_ms / one[0].median_ms;
    else if (one[1].status == TrialStatus::Ok)
      one[1] = {records[c], TrialStatus::Crash, 0, 0, "the default failed in its round"};
    isolated.push_back(one[1]);
  }
  return isolated;
}

std::string duration(double seconds) {
  seconds = std::max(0.0, seconds);
  return seconds >= 60 ? fmt::format("{}m{:02d}s", int(seconds) / 60, int(seconds) % 60)
                       : fmt::format("{:.0f}s", seconds);
}

struct KernelSummary {
  std::string key;
  int calls = 0, trials = 0, failed = 0;
  double default_ms = 0, best_ms = 0;
};

} // namespace

int runTune(const TuneOptions &options) {
  auto fail = [](const std::string &message) {
    fmt::print(stderr, "mixerc tune: {}\n", message);
    return 2;
  };
  std::string error;
  ModelSpec spec;
  if (!parseSpecFile(options.spec, &spec, &error))
    return fail(error);
  if (options.training && !spec.training)
    return fail(fmt::format("--training: {} is not compiled for training (add 'training = "
                            "true' to [build])",
                            options.spec));
  const std::string targetName = options.target.empty() ? spec.targets.front() : options.target;
  std::string targetText;
  if (!targetString(targetName, &targetText, &error))
    return fail(error);
  const Halide::Target target(targetText), host = Halide::get_host_target();
  for (int f = 0; f < int(Halide::Target::FeatureEnd); ++f)
    if (target.has_feature(Halide::Target::Feature(f)) &&
        !host.has_feature(Halide::Target::Feature(f)))
      return fail(fmt::format("target {} needs CPU features this host lacks: kernels are timed "
                              "on this machine, so tune on a host of the target",
                              targetText));
  VectorMachine machine;
  KernelPlan plan;
  if (!targetVectorMachine(targetName, &machine, &error) ||
      !planModel(spec, machine, &plan, &error))
    return fail(error);
  std::unique_ptr<TuningDb> db = TuningDb::open(options.db, /*create=*/true, &error);
  if (!db)
    return fail(error);
  const std::string cpu = hostCpuModel();
  if (options.threads > 0)
    setenv("HL_NUM_THREADS", std::to_string(options.threads).c_str(), 1);

  // The kernels with schedule records, with their calls per step (inference, and with
  // --training the training step too).
  std::map<int, TunableKernel> byIndex;
  // The library runs inference in chunks of the plan's images_per_chunk (schedule/
  // BatchChunking.h), so its kernels see at most that many images with their inputs in cache:
  // timed at the whole batch instead, ConvMixer-256/8's depthwise record that won 1.63x at
  // batch 64 was no faster in the library (7-image chunks). A training step is not chunked.
  const int64_t inferenceBatch = plan.images_per_chunk > 0
                                     ? std::min<int64_t>(options.batch, plan.images_per_chunk)
                                     : options.batch;
  auto collect = [&](const std::vector<PlanStep> &steps, int64_t batch) {
    for (const PlanStep &step : steps) {
      const KernelSignature &sig = plan.kernels[size_t(step.kernel)];
      if (!*scheduleFamily(sig))
        continue;
      auto [it, fresh] = byIndex.try_emplace(step.kernel, TunableKernel{step.kernel, sig, &step});
      it->second.batch = std::max(it->second.batch, batch);
      if (fresh)
        for (const KernelArg &arg : step.args) {
          static const std::string suffix = "running_var";
          const std::string name =
              arg.kind == SlotKind::Param ? plan.params[size_t(arg.index)].name : "";
          it->second.variance.push_back(name.size() >= suffix.size() &&
                                        name.compare(name.size() - suffix.size(), suffix.size(),
                                                     suffix) == 0);
        }
      ++it->second.calls;
    }
  };
  collect(plan.steps, inferenceBatch);
  if (options.training)
    collect(plan.train_steps, options.batch);
  std::vector<TunableKernel> kernels;
  for (auto &[index, k] : byIndex)
    kernels.push_back(k);
  if (kernels.empty())
    return fail(fmt::format("{} has no kernels with schedule records to tune", options.spec));

  const auto start = Clock::now();
  fmt::print(stderr, "mixerc tune: {} ({} kernels with schedule records of {}), target {}, {}, "
                     "batch {}{}, budget {}, {} trials per kernel at most\n",
             spec.name, kernels.size(), plan.kernels.size(), targetText, cpu, options.batch,
             inferenceBatch < options.batch
                 ? fmt::format(" (inference kernels at {}, the library's chunk)", inferenceBatch)
                 : "",
             duration(options.budget_seconds), options.trials);
  // The defaults first: the kernels' shares of the model's time split the budget.
  double total = 0;
  for (TunableKernel &k : kernels) {
    std::vector<TuningRecord> known;
    if (options.resume && !db->records(&known, &error, k.signature.key(), targetText, cpu))
      return fail(error);
    for (const TuningRecord &r : known)
      if (r.status == TrialStatus::Ok && r.default_ms > 0)
        k.default_ms = r.default_ms;
    if (k.default_ms == 0) {
      const std::vector<Trial> t = measure(k, target, {""}, k.batch,
                                           options.candidate_timeout);
      if (t[0].status != TrialStatus::Ok)
        return fail(fmt::format("the default schedule of {} failed ({}): {}", k.signature.key(),
                                trialStatusName(t[0].status), t[0].message));
      k.default_ms = t[0].median_ms;
    }
    total += k.default_ms * k.calls;
  }
  std::sort(kernels.begin(), kernels.end(), [](const TunableKernel &a, const TunableKernel &b) {
    return a.default_ms * a.calls > b.default_ms * b.calls;
  });
  const bool terminal = isatty(2);
  std::vector<KernelSummary> summary;
  double carried = 0; // budget earlier kernels left unused
  for (size_t ki = 0; ki < kernels.size(); ++ki) {
    TunableKernel &k = kernels[ki];
    const double share = k.default_ms * k.calls / total;
    const double budget = std::max(0.0, options.budget_seconds - secondsSince(start)) > 0
                              ? share * options.budget_seconds + carried
                              : 0;
    const auto kernelStart = Clock::now();
    const std::string defaultText = defaultScheduleRecord(k.signature, machine);
    KernelSummary s{k.signature.key(), k.calls, 0, 0, k.default_ms, k.default_ms};
    // Resume: what is recorded is not measured again.
    std::set<std::string> recorded;
    std::vector<TuningRecord> known;
    if (!db->records(&known, &error, s.key, targetText, cpu))
      return fail(error);
    for (const TuningRecord &r : known) {
      recorded.insert(r.params);
      ++s.trials;
      if (r.status != TrialStatus::Ok)
        ++s.failed;
      else
        s.best_ms = std::min(s.best_ms, r.median_ms * k.default_ms / std::max(r.default_ms, 1e-9));
    }
    if (!options.resume) { // a fresh tune measures everything anew (and adds records)
      recorded.clear();
      known.clear();
      s.trials = s.failed = 0;
      s.best_ms = k.default_ms;
    }
    std::vector<std::string> pending;
    for (const std::string &c : scheduleCandidates(k.signature, machine, options.seed))
      if (!recorded.count(c))
        pending.push_back(c);
    std::reverse(pending.begin(), pending.end()); // taken from the back: the seeded order
    int candidatesDone = int(known.size()) - int(recorded.count(defaultText));
    int trial = int(known.size());
    constexpr size_t kBatch = 4;
    while (candidatesDone < options.trials && !pending.empty() &&
           secondsSince(kernelStart) < budget) {
      // Slot 0: the default template, timed in every round as the yardstick; the first round
      // also records it as a record of its own.
      std::vector<std::string> records{""};
      if (!recorded.count(defaultText)) {
        records.push_back(defaultText);
        recorded.insert(defaultText);
      }
      const size_t fixed = records.size();
      while (records.size() < fixed + kBatch && !pending.empty() &&
             candidatesDone + int(records.size() - fixed) < options.trials) {
        records.push_back(pending.back());
        pending.pop_back();
      }
      const std::vector<Trial> trials =
          measure(k, target, records, k.batch, options.candidate_timeout);
      const double defaultMs = trials[0].status == TrialStatus::Ok ? trials[0].median_ms : 0;
      for (size_t c = 1; c < trials.size(); ++c) {
        TuningRecord r;
        r.kernel = s.key;
        r.target = targetText;
        r.cpu = cpu;
        r.family = scheduleFamily(k.signature);
        r.params = records[c];
        r.status = trials[c].status;
        r.message = trials[c].message;
        if (r.status == TrialStatus::Ok && defaultMs == 0) {
          r.status = TrialStatus::Crash;
          r.message = "the default schedule failed in this round: " + trials[0].message;
        }
        r.median_ms = r.status == TrialStatus::Ok ? trials[c].median_ms : 0;
        r.spread = r.status == TrialStatus::Ok ? trials[c].spread : 0;
        r.default_ms = defaultMs;
        r.trial = ++trial;
        r.version = MIXERC_VERSION;
        r.date = utcNow();
        if (!db->add(r, &error))
          return fail(error);
        ++s.trials;
        if (records[c] != defaultText)
          ++candidatesDone;
        if (r.status != TrialStatus::Ok)
          ++s.failed;
        else
          s.best_ms = std::min(s.best_ms, r.median_ms * k.default_ms / defaultMs);
      }
      // ETA: this kernel's time per candidate for what is left of it and of the later kernels,
      // each within its share of the budget.
      const double elapsed = secondsSince(start);
      const double perCandidate =
          secondsSince(kernelStart) / std::max(1, candidatesDone - int(known.size()) + 1);
      double eta = std::min(budget - secondsSince(kernelStart),
                            perCandidate * std::max(0, options.trials - candidatesDone));
      for (size_t later = ki + 1; later < kernels.size(); ++later)
        eta += std::min(kernels[later].default_ms * kernels[later].calls / total *
                            options.budget_seconds,
                        perCandidate * options.trials);
      eta = std::clamp(eta, 0.0, std::max(0.0, options.budget_seconds - elapsed));
      const std::string line = fmt::format(
          "[{}/{} kernels] {} {}/{} trials, best {:.2f}x ({:.4f} ms, default {:.4f}), {} "
          "failed, {} elapsed, ETA {}",
          ki + 1, kernels.size(), s.key, candidatesDone, options.trials,
          k.default_ms / s.best_ms, s.best_ms, k.default_ms, s.failed, duration(elapsed),
          duration(eta));
      if (terminal)
        fmt::print(stderr, "\r\033[K{}", line.substr(0, 200));
      else
        fmt::print(stderr, "mixerc tune: {}\n", line);
    }
    if (terminal)
      fmt::print(stderr, "\n");
    carried = std::max(0.0, budget - secondsSince(kernelStart));
    summary.push_back(s);
  }
  fmt::print("{:<72} {:>5} {:>11} {:>11} {:>8} {:>7}\n", "kernel", "calls", "default ms",
             "best ms", "speedup", "trials");
  double before = 0, after = 0;
  for (const KernelSummary &s : summary) {
    const bool used = s.best_ms * kTunedMinimumGain <= s.default_ms;
    fmt::print("{:<72} {:>5} {:>11.4f} {:>11.4f} {:>7.2f}x {:>4} ({} failed){}\n", s.key, s.calls,
               s.default_ms, s.best_ms, s.default_ms / s.best_ms, s.trials, s.failed,
               used ? "" : "  (default kept)");
    before += s.default_ms * s.calls;
    after += (used ? s.best_ms : s.default_ms) * s.calls;
  }
  fmt::print("tuned kernels: {:.3f} -> {:.3f} ms per step ({:.2f}x) in {}; database {}\n", before,
             after, before / after, duration(secondsSince(start)), options.db);
  return 0;
}

int showTuningDb(const std::string &path) {
  std::string error;
  std::unique_ptr<TuningDb> db = TuningDb::open(path, /*create=*/false, &error);
  std::vector<TuningRecord> all;
  if (!db || !db->records(&all, &error)) {
    fmt::print(stderr, "mixerc tune: {}\n", error);
    return 2;
  }
  struct Row {
    int trials = 0, failed = 0;
    double default_ms = 0, best_ms = 0, best_default = 0;
    std::string params;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Row> rows;
  for (const TuningRecord &r : all) {
    Row &row = rows[{r.kernel, r.target, r.cpu}];
    ++row.trials;
    if (r.status != TrialStatus::Ok) {
      ++row.failed;
      continue;
    }
    if (row.best_ms == 0 || r.median_ms < row.best_ms) {
      row.best_ms = r.median_ms;
      row.best_default = r.default_ms;
      row.params = r.params;
    }
  }
  fmt::print("{} records, {} kernel/target/CPU combinations\n", all.size(), rows.size());
  for (const auto &[key, row] : rows) {
    const auto &[kernel, target, cpu] = key;
    fmt::print("{}\n  target {}\n  cpu {}\n  {} trials ({} failed)", kernel, target, cpu,
               row.trials, row.failed);
    if (row.best_ms > 0)
      fmt::print(", default {:.4f} ms, best {:.4f} ms ({:.2f}x): {}\n", row.best_default,
                 row.best_ms, row.best_default / row.best_ms, row.params);
    else
      fmt::print(", none valid\n");
  }
  return 0;
}

} // namespace mixerc
