// A validated model spec: what one specs/*.toml file says, checked for every kind of mistake.
//
// parseSpecFile/parseSpecString read TOML with toml++, refuse unknown keys, wrong types, missing
// keys, non-positive or absurd sizes and impossible shapes, and name file:line:key in the message.
// The result is plain data: the dialect builder turns it into IR, nothing here knows MLIR.
#ifndef MIXERC_SPEC_SPEC_H
#define MIXERC_SPEC_SPEC_H

#include <cstdint>
#include <string>
#include <vector>

namespace mixerc {

enum class Family { MlpMixer, ConvMixer, Bmlp };
enum class GeluApproximation { Erf, Tanh };
/// The activation of a conv_mixer (timm's convmixer_768_32 uses ReLU, the others GELU).
enum class ConvActivation { Gelu, Relu };
/// An mlp_mixer's initial weights: timm's MlpMixer init (lecun-normal stem, xavier-uniform MLPs
/// with N(0, 1e-6) biases, zero head), or PyTorch's module defaults (every conv and linear weight
/// and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))), what a plain PyTorch model starts from.
enum class InitScheme { Timm, Pytorch };

struct ModelSpec {
  std::string path; ///< where it was read from, for messages
  std::string name; ///< C identifier; prefixes every exported symbol
  Family family = Family::MlpMixer;

  // [model]
  int64_t image_height = 0, image_width = 0, channels = 0;
  int64_t patch = 0;  ///< mlp_mixer and conv_mixer
  int64_t kernel = 0; ///< conv_mixer: the depthwise kernel size
  int64_t depth = 0;
  int64_t hidden = 0; ///< C of mlp_mixer; the width W of bmlp; h of conv_mixer
  int64_t token_mlp = 0;   ///< D_S (mlp_mixer)
  int64_t channel_mlp = 0; ///< D_C (mlp_mixer); W x expansion (bmlp)
  int64_t classes = 0;
  GeluApproximation gelu = GeluApproximation::Erf;
  ConvActivation activation = ConvActivation::Gelu;
  InitScheme init = InitScheme::Timm; ///< mlp_mixer
  double layer_norm_epsilon = 1e-6;
  double batch_norm_epsilon = 1e-5; ///< conv_mixer: nn.BatchNorm2d's default

  // [build]
  std::vector<std::string> targets{"host"};
  bool training = false;
  std::string precision = "f32";

  /// Patches of an mlp_mixer or conv_mixer; 1 for bmlp, whose one token is the flattened image.
  int64_t tokens() const {
    return patch ? (image_height / patch) * (image_width / patch) : 1;
  }
  int64_t image_features() const { return channels * image_height * image_width; }
  int64_t patch_features() const { return channels * patch * patch; }
  /// Multiply-adds of one forward pass, counted as 2 FLOPs each.
  double forward_flops_per_image() const;
  int64_t parameter_count() const;
};

/// Parses and validates; on failure returns false and sets `error` to "file:line: key: problem".
bool parseSpecFile(const std::string &path, ModelSpec *spec, std::string *error);
bool parseSpecString(const std::string &text, const std::string &path, ModelSpec *spec,
                     std::string *error);

const char *familyName(Family family);

} // namespace mixerc

#endif
