// mixerc convert (see Convert.h): Google's Flax MLP-Mixer checkpoints to timm's safetensors.
//
// Flax (google-research/vision_transformer, vit_jax/models_mixer.py) names and lays out the
// parameters as stem/kernel [p][p][in][C] (HWIO), MixerBlock_<i>/LayerNorm_{0,1}/{scale,bias},
// MixerBlock_<i>/{token,channel}_mixing/Dense_{0,1}/{kernel,bias} with kernels [in][out],
// pre_head_layer_norm/{scale,bias} and head/{kernel,bias}; timm's MlpMixer holds the same
// numbers as stem.proj.weight [C][in][p][p] (OIHW) and nn.Linear weights [out][in].
#include "driver/Convert.h"

#include <cstdio>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "driver/Args.h"
#include "driver/Npz.h"
#include "driver/Resize.h"
#include "safetensors.h" // the runtime's atomic writer
#include "spec/Spec.h"

namespace mixerc {
namespace {

constexpr const char *kUsage = R"(usage: mixerc convert IN.npz -o OUT.safetensors --spec SPEC
       mixerc convert IN.safetensors -o OUT.safetensors --resize-from SPEC_A --to SPEC_B

Converts a Flax MLP-Mixer checkpoint (the .npz files of google-research/vision_transformer,
e.g. imagenet21k_Mixer-B_16.npz) into a safetensors file with timm's names and layouts, which a
library compiled from SPEC (an mlp_mixer spec of the same shapes) loads. Every array must be
there with the shape SPEC implies, and nothing else; float16/32/64 arrays are read as float32.

With --resize-from, IN holds the weights of SPEC_A and OUT gets them for SPEC_B, which differs
from SPEC_A in its image size only (fine-tuning at a higher resolution). MLP-Mixer: SPEC_B's
patch grid must be KH x KW times SPEC_A's and its token_mlp KH*KW times SPEC_A's; each
token-mixing MLP becomes block diagonal (the paper's appendix C): one copy of SPEC_A's per
strided part of the grid (tokens (KH i + u, KW j + v) for each u, v), so SPEC_B on an image
whose patches are SPEC_A's each repeated KH x KW times gives SPEC_A's logits. ConvMixer: the weights carry over unchanged. B-MLP: refused (its embedding is the image).
Optimizer state in IN (a mixerc train checkpoint) is left out: OUT is a starting point.
)";

/// How a Flax array becomes timm's tensor.
enum class Layout { Copy, Transpose, HwioToOihw };

struct Mapping {
  std::string timm, flax;
  std::vector<int64_t> shape; ///< timm's
  Layout layout;
};

std::vector<Mapping> mixerMappings(const ModelSpec &s) {
  const int64_t c = s.hidden, tokens = s.tokens(), ds = s.token_mlp, dc = s.channel_mlp;
  std::vector<Mapping> m = {
      {"stem.proj.weight", "stem/kernel", {c, s.channels, s.patch, s.patch}, Layout::HwioToOihw},
      {"stem.proj.bias", "stem/bias", {c}, Layout::Copy}};
  auto dense = [&](const std::string &timm, const std::string &flax, int64_t out, int64_t in) {
    m.push_back({timm + ".weight", flax + "/kernel", {out, in}, Layout::Transpose});
    m.push_back({timm + ".bias", flax + "/bias", {out}, Layout::Copy});
  };
  auto norm = [&](const std::string &timm, const std::string &flax) {
    m.push_back({timm + ".weight", flax + "/scale", {c}, Layout::Copy});
    m.push_back({timm + ".bias", flax + "/bias", {c}, Layout::Copy});
  };
  for (int64_t i = 0; i < s.depth; ++i) {
    const std::string t = fmt::format("blocks.{}.", i), f = fmt::format("MixerBlock_{}/", i);
    norm(t + "norm1", f + "LayerNorm_0");
    dense(t + "mlp_tokens.fc1", f + "token_mixing/Dense_0", ds, tokens);
    dense(t + "mlp_tokens.fc2", f + "token_mixing/Dense_1", tokens, ds);
    norm(t + "norm2", f + "LayerNorm_1");
    dense(t + "mlp_channels.fc1", f + "channel_mixing/Dense_0", dc, c);
    dense(t + "mlp_channels.fc2", f + "channel_mixing/Dense_1", c, dc);
  }
  norm("norm", "pre_head_layer_norm");
  dense("head", "head", s.classes, c);
  return m;
}

/// Flax's shape of a timm tensor.
std::vector<int64_t> flaxShape(const Mapping &m) {
  if (m.layout == Layout::Transpose)
    return {m.shape[1], m.shape[0]};
  if (m.layout == Layout::HwioToOihw)
    return {m.shape[2], m.shape[3], m.shape[1], m.shape[0]};
  return m.shape;
}

std::vector<float> relayout(const Mapping &m, const std::vector<float> &in) {
  if (m.layout == Layout::Copy)
    return in;
  std::vector<float> out(in.size());
  if (m.layout == Layout::Transpose) {
    const int64_t rows = m.shape[0], cols = m.shape[1]; // out [rows][cols] = in [cols][rows]
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k)
        out[size_t(r * cols + k)] = in[size_t(k * rows + r)];
    return out;
  }
  const int64_t o = m.shape[0], i = m.shape[1], h = m.shape[2], w = m.shape[3];
  for (int64_t a = 0; a < o; ++a)
    for (int64_t b = 0; b < i; ++b)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          out[size_t(((a * i + b) * h + y) * w + x)] = in[size_t(((y * w + x) * i + b) * o + a)];
  return out;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

int fail(const std::string &message) {
  fmt::print(stderr, "mixerc convert: {}\n", message);
  return 2;
}

} // namespace

int convertVerb(int argc, char **argv) {
  std::string input, output, specPath, resizeFrom, resizeTo, error;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (isHelp(argv[i])) {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "-o" || arg == "--output") {
      if (!takeValue(argc, argv, i, &output, &error))
        return fail(error);
    } else if (arg == "--spec") {
      if (!takeValue(argc, argv, i, &specPath, &error))
        return fail(error);
    } else if (arg == "--resize-from") {
      if (!takeValue(argc, argv, i, &resizeFrom, &error))
        return fail(error);
    } else if (arg == "--to") {
      if (!takeValue(argc, argv, i, &resizeTo, &error))
        return fail(error);
    } else if (!arg.empty() && arg[0] == '-') {
      return fail(fmt::format("unknown option '{}'", arg));
    } else if (input.empty()) {
      input = arg;
    } else {
      return fail(fmt::format("unexpected argument '{}'", arg));
    }
  }
  if (!resizeFrom.empty() || !resizeTo.empty()) {
    if (input.empty() || output.empty() || resizeFrom.empty() || resizeTo.empty() ||
        !specPath.empty())
      return fail("a resize needs IN.safetensors, -o OUT.safetensors, --resize-from SPEC_A and "
                  "--to SPEC_B, and no --spec (see mixerc convert --help)");
    if (!resizeCheckpoint(input, output, resizeFrom, resizeTo, &error))
      return fail(error);
    fmt::print(stderr, "mixerc convert: {} ({}) -> {} ({})\n", input, resizeFrom, output,
               resizeTo);
    return 0;
  }
  if (input.empty() || output.empty() || specPath.empty())
    return fail("needs IN.npz, -o OUT.safetensors and --spec SPEC (see mixerc convert --help)");
  ModelSpec spec;
  if (!parseSpecFile(specPath, &spec, &error))
    return fail(error);
  if (spec.family != Family::MlpMixer)
    return fail(fmt::format("{} is not an mlp_mixer spec: Flax checkpoints are converted for "
                            "MLP-Mixer only",
                            specPath));
  std::map<std::string, NpyArray> arrays;
  if (!readNpz(input, &arrays, &error))
    return fail(error);

  const std::vector<Mapping> mappings = mixerMappings(spec);
  std::vector<std::vector<float>> converted;
  for (const Mapping &m : mappings) {
    auto it = arrays.find(m.flax);
    if (it == arrays.end())
      return fail(fmt::format("{}: missing array '{}' (timm's '{}' of {})", input, m.flax, m.timm,
                              specPath));
    if (it->second.shape != flaxShape(m))
      return fail(fmt::format("{}: array '{}' has shape {}, but {} needs {}", input, m.flax,
                              shapeText(it->second.shape), specPath, shapeText(flaxShape(m))));
    converted.push_back(relayout(m, it->second.values));
  }
  for (const auto &[name, array] : arrays) {
    bool known = false;
    for (const Mapping &m : mappings)
      known = known || m.flax == name;
    if (!known)
      return fail(fmt::format("{}: unexpected array '{}' (not a parameter of {}'s MLP-Mixer)",
                              input, name, specPath));
  }
  std::vector<mixer::rt::TensorToWrite> tensors;
  for (size_t i = 0; i < mappings.size(); ++i)
    tensors.push_back({mappings[i].timm, "F32", mappings[i].shape, converted[i].data()});
  if (mixer::rt::write_safetensors(output.c_str(), tensors,
                                   {{"format", "pt"}, {"converted_from", "flax npz"}}) !=
      MIXER_OK)
    return fail(mixer_last_error());
  fmt::print(stderr, "mixerc convert: {} -> {} ({} tensors in timm's layout for {})\n", input,
             output, tensors.size(), spec.name);
  return 0;
}

} // namespace mixerc
