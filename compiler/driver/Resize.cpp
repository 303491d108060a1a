// mixerc convert --resize-from A --to B (see Resize.h).
//
// The token-mixing MLP of A mixes the S = GH x GW patches of A's grid: fc1 [D_S][S], fc2 [S][D_S].
// B's grid is (KH GH) x (KW GW). Following the paper's fine-tuning at a higher resolution
// (Tolstikhin et al. 2021, appendix C: the longer token sequence is split into K^2 parts of A's
// length, each mixed by a copy of the pre-trained token-mixing MLP, which makes B's weights a
// block-diagonal matrix of K^2 copies of A's and its hidden width K^2 D_S), the parts here are
// strided: part (u, v) holds B's tokens (KH i + u, KW j + v), a GH x GW grid spread over the
// whole image as A's tokens are, so each copy sees the image at A's spatial layout. B's fc1 row
// t D_S + h (part t = u KW + v) reads A's row h at the part's tokens, fc2 writes them, zeros
// elsewhere; biases repeat. What this preserves exactly: B applied to an image whose patch grid
// is A's with every patch repeated KH x KW times gives A's logits on A's image (every part's
// tokens are A's tokens, layer after layer, and the average pool of the copies is A's pool) -
// the property tests/numerics/test_resize.py checks. Measured (bench/run_resize_finetune.py,
// README): on Fashion-MNIST upsampled 2x, parts of contiguous K x K tiles gave 14.9% before and
// 83.1% after one epoch of fine-tuning, strided parts 78.4% and 85.1%.
#include "driver/Resize.h"

#include <map>
#include <vector>

#include <fmt/format.h>

#include "convert.h" // the runtime's dtype conversions
#include "lower/Frontend.h"
#include "safetensors.h"
#include "spec/Spec.h"

namespace mixerc {
namespace {

/// The spec keys a resize must leave alone, with their values.
std::vector<std::pair<const char *, std::string>> fixedKeys(const ModelSpec &s) {
  return {{"model.channels", fmt::format("{}", s.channels)},
          {"model.patch", fmt::format("{}", s.patch)},
          {"model.kernel", fmt::format("{}", s.kernel)},
          {"model.depth", fmt::format("{}", s.depth)},
          {"model.hidden", fmt::format("{}", s.hidden)},
          {"model.channel_mlp", fmt::format("{}", s.channel_mlp)},
          {"model.classes", fmt::format("{}", s.classes)},
          {"model.gelu", s.gelu == GeluApproximation::Erf ? "erf" : "tanh"},
          {"model.activation", s.activation == ConvActivation::Gelu ? "gelu" : "relu"},
          {"model.layer_norm_epsilon", fmt::format("{:g}", s.layer_norm_epsilon)},
          {"model.batch_norm_epsilon", fmt::format("{:g}", s.batch_norm_epsilon)}};
}

bool checkResizable(const ModelSpec &a, const ModelSpec &b, int64_t *kh, int64_t *kw,
                    std::string *error) {
  if (a.family != b.family) {
    *error = fmt::format("{} is a {} model but {} a {}: a resize keeps the family", b.path,
                         familyName(b.family), a.path, familyName(a.family));
    return false;
  }
  if (a.family == Family::Bmlp) {
    *error = fmt::format("{}: a bmlp embeds the flattened image (its first layer's width is the "
                         "number of pixels), so its weights do not carry over to another "
                         "resolution",
                         a.path);
    return false;
  }
  const auto fa = fixedKeys(a), fb = fixedKeys(b);
  for (size_t i = 0; i < fa.size(); ++i)
    if (fa[i].second != fb[i].second) {
      *error = fmt::format("{}: key '{}' is {} but {} for {}: a resize changes the image size "
                           "only",
                           b.path, fb[i].first, fb[i].second, fa[i].second, a.path);
      return false;
    }
  *kh = *kw = 1;
  if (a.family == Family::ConvMixer)
    return true;
  const int64_t gah = a.image_height / a.patch, gaw = a.image_width / a.patch;
  const int64_t gbh = b.image_height / b.patch, gbw = b.image_width / b.patch;
  if (gbh % gah || gbw % gaw) {
    *error = fmt::format("{}: its {}x{} patch grid is no integer multiple of {}'s {}x{}: the "
                         "token-mixing weights are resized by whole copies of the grid",
                         b.path, gbh, gbw, a.path, gah, gaw);
    return false;
  }
  *kh = gbh / gah;
  *kw = gbw / gaw;
  if (b.token_mlp != a.token_mlp * *kh * *kw) {
    *error = fmt::format("{}: key 'model.token_mlp' is {} but must be {} ({}'s {} times the {}x{} "
                         "copies of its grid the token-mixing MLP becomes)",
                         b.path, b.token_mlp, a.token_mlp * *kh * *kw, a.path, a.token_mlp, *kh,
                         *kw);
    return false;
  }
  return true;
}

struct Tensor {
  std::string dtype; ///< "F32" or "I64"
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<uint8_t> raw; ///< I64 counters, as stored
};

/// Every parameter of `plan` from `file`, by name: all must be there with the plan's shape
/// (BatchNorm's counters may be missing, as PyTorch allows) and nothing else may be.
bool readParameters(const mixer::rt::SafetensorsFile &file, const std::string &path,
                    const KernelPlan &plan, const std::string &specPath,
                    std::map<std::string, Tensor> *out, std::string *error) {
  for (const PlanParam &p : plan.params) {
    const mixer::rt::TensorView *t = file.find(p.name);
    if (!t) {
      if (p.counter)
        continue;
      *error = fmt::format("{}: missing tensor '{}' of {}", path, p.name, specPath);
      return false;
    }
    if (t->shape != p.shape) {
      *error = fmt::format("{}: tensor '{}' has shape [{}], but {} needs [{}]", path, p.name,
                           fmt::join(t->shape, ", "), specPath, fmt::join(p.shape, ", "));
      return false;
    }
    Tensor v{p.counter ? "I64" : "F32", p.shape, {}, {}};
    if (p.counter) {
      if (t->dtype != "I64") {
        *error = fmt::format("{}: tensor '{}' has dtype {}, expected I64", path, p.name, t->dtype);
        return false;
      }
      v.raw.assign(t->data, t->data + t->bytes);
    } else {
      if (!mixer::rt::converts_to_f32(t->dtype)) {
        *error = fmt::format("{}: tensor '{}' has dtype {}, expected a float", path, p.name,
                             t->dtype);
        return false;
      }
      if (mixer::rt::check_f32_range(path.c_str(), *t) != MIXER_OK) {
        *error = mixer_last_error();
        return false;
      }
      v.f32.resize(t->bytes / mixer::rt::dtype_size(t->dtype));
      mixer::rt::copy_as_f32(*t, v.f32.data());
    }
    (*out)[p.name] = std::move(v);
  }
  for (const mixer::rt::TensorView &t : file.tensors) {
    // A training checkpoint's optimizer state (optimizer.step, .exp_avg.*, ...) is left behind:
    // its moments belong to A's shapes, and fine-tuning starts a new schedule anyway.
    bool known = t.name.rfind("optimizer.", 0) == 0;
    for (const PlanParam &p : plan.params)
      known = known || p.name == t.name;
    if (!known) {
      *error = fmt::format("{}: unexpected tensor '{}' (not a parameter of {})", path, t.name,
                           specPath);
      return false;
    }
  }
  return true;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && !s.compare(s.size() - suffix.size(), suffix.size(), suffix);
}

/// The token-mixing tensors of B from A's (see the file comment).
struct TokenParts {
  int64_t gah, gaw, gbw, kh, kw, ds;
  int64_t parts() const { return kh * kw; }
  int64_t tokensA() const { return gah * gaw; }
  /// B's token of A's token s in part t.
  int64_t tokenB(int64_t t, int64_t s) const {
    const int64_t u = t / kw, v = t % kw, i = s / gaw, j = s % gaw;
    return (i * kh + u) * gbw + (j * kw + v);
  }
};

std::vector<float> partTokenTensor(const std::string &name, const Tensor &a,
                                   const std::vector<int64_t> &shapeB, const TokenParts &g) {
  const int64_t elems = shapeB.size() == 2 ? shapeB[0] * shapeB[1] : shapeB[0];
  std::vector<float> b(size_t(elems), 0.0f);
  const int64_t s = g.tokensA(), ds = g.ds;
  for (int64_t t = 0; t < g.parts(); ++t) {
    if (endsWith(name, "fc1.weight")) { // [ds][s] -> [parts ds][parts s]
      for (int64_t h = 0; h < ds; ++h)
        for (int64_t k = 0; k < s; ++k)
          b[size_t((t * ds + h) * shapeB[1] + g.tokenB(t, k))] = a.f32[size_t(h * s + k)];
    } else if (endsWith(name, "fc1.bias")) {
      for (int64_t h = 0; h < ds; ++h)
        b[size_t(t * ds + h)] = a.f32[size_t(h)];
    } else if (endsWith(name, "fc2.weight")) { // [s][ds] -> [parts s][parts ds]
      for (int64_t k = 0; k < s; ++k)
        for (int64_t h = 0; h < ds; ++h)
          b[size_t(g.tokenB(t, k) * shapeB[1] + t * ds + h)] = a.f32[size_t(k * ds + h)];
    } else { // fc2.bias
      for (int64_t k = 0; k < s; ++k)
        b[size_t(g.tokenB(t, k))] = a.f32[size_t(k)];
    }
  }
  return b;
}

} // namespace

bool resizeCheckpoint(const std::string &input, const std::string &output,
                      const std::string &fromSpec, const std::string &toSpec,
                      std::string *error) {
  ModelSpec a, b;
  if (!parseSpecFile(fromSpec, &a, error) || !parseSpecFile(toSpec, &b, error))
    return false;
  int64_t kh = 1, kw = 1;
  if (!checkResizable(a, b, &kh, &kw, error))
    return false;
  KernelPlan planA, planB;
  if (!planModel(a, VectorMachine{}, &planA, error) ||
      !planModel(b, VectorMachine{}, &planB, error))
    return false;
  mixer::rt::SafetensorsFile file;
  if (mixer::rt::read_safetensors(input.c_str(), &file) != MIXER_OK) {
    *error = mixer_last_error();
    return false;
  }
  std::map<std::string, Tensor> tensors;
  if (!readParameters(file, input, planA, fromSpec, &tensors, error))
    return false;

  const TokenParts tiling{a.image_height / a.patch, a.image_width / a.patch,
                           b.image_width / b.patch, kh, kw, a.token_mlp};
  std::vector<mixer::rt::TensorToWrite> out;
  std::vector<std::vector<float>> resized; // storage for the tensors that change
  resized.reserve(planB.params.size());
  for (const PlanParam &p : planB.params) {
    auto it = tensors.find(p.name);
    if (it == tensors.end()) {
      if (p.counter)
        continue; // absent in the input, so absent in the output (both load)
      *error = fmt::format("{} has no parameter '{}' of {}", fromSpec, p.name, toSpec);
      return false;
    }
    const Tensor &t = it->second;
    if (t.shape == p.shape) {
      out.push_back({p.name, t.dtype, p.shape, t.dtype == "I64" ? (const void *)t.raw.data()
                                                                  : (const void *)t.f32.data()});
      continue;
    }
    if (p.name.find(".mlp_tokens.") == std::string::npos) {
      *error = fmt::format("internal: tensor '{}' changes shape in a resize", p.name);
      return false;
    }
    resized.push_back(partTokenTensor(p.name, t, p.shape, tiling));
    out.push_back({p.name, "F32", p.shape, resized.back().data()});
  }
  if (mixer::rt::write_safetensors(output.c_str(), out,
                                   {{"format", "pt"}, {"resized_from", a.name}}) != MIXER_OK) {
    *error = mixer_last_error();
    return false;
  }
  return true;
}

} // namespace mixerc
