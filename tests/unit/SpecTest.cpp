// The spec parser: the shipped specs parse to the paper's shapes, and mistakes name file:line:key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "spec/Spec.h"

using mixerc::ModelSpec;
using ::testing::HasSubstr;

namespace {

bool parse(const std::string &text, ModelSpec *spec, std::string *error) {
  return mixerc::parseSpecString(text, "test.toml", spec, error);
}

const char *kValid = R"(name = "m"
family = "mlp_mixer"
[model]
image_size = [32, 48]
channels = 3
patch = 8
depth = 2
hidden = 16
token_mlp = 8
channel_mlp = 32
classes = 10
)";

TEST(Spec, PaperConfigurationsParse) {
  for (const char *name : {"mixer_s32", "mixer_s16", "mixer_b32", "mixer_b16", "mixer_l16"}) {
    ModelSpec spec;
    std::string error;
    ASSERT_TRUE(mixerc::parseSpecFile(std::string(MIXERC_SPECS_DIR) + "/" + name + ".toml", &spec,
                                      &error))
        << error;
    EXPECT_EQ(spec.name, name);
  }
}

TEST(Spec, EveryShippedSpecParsesUnderItsFileName) {
  int count = 0;
  for (const auto &entry : std::filesystem::directory_iterator(MIXERC_SPECS_DIR)) {
    if (entry.path().extension() != ".toml")
      continue;
    ModelSpec spec;
    std::string error;
    EXPECT_TRUE(mixerc::parseSpecFile(entry.path().string(), &spec, &error)) << error;
    EXPECT_EQ(spec.name, entry.path().stem().string());
    ++count;
  }
  EXPECT_GE(count, 12); // 7 MLP-Mixers, 3 ConvMixers, 2 B-MLPs
}

TEST(Spec, B16ShapesAndFlops) {
  ModelSpec spec;
  std::string error;
  ASSERT_TRUE(mixerc::parseSpecFile(std::string(MIXERC_SPECS_DIR) + "/mixer_b16.toml", &spec,
                                    &error))
      << error;
  EXPECT_EQ(spec.tokens(), 196);
  EXPECT_EQ(spec.hidden, 768);
  EXPECT_EQ(spec.token_mlp, 384);
  EXPECT_EQ(spec.channel_mlp, 3072);
  EXPECT_EQ(spec.depth, 12);
  // 12.6 G multiply-adds per image (Table 1 of the paper counts 12.61 GFLOPs as MACs).
  EXPECT_NEAR(spec.forward_flops_per_image() / 2e9, 12.6, 0.1);
  EXPECT_NEAR(double(spec.parameter_count()) / 1e6, 59.9, 0.3); // timm: 59.88 M
}

TEST(Spec, BmlpB12Width1024) {
  ModelSpec spec;
  std::string error;
  ASSERT_TRUE(mixerc::parseSpecFile(std::string(MIXERC_SPECS_DIR) + "/bmlp_b12_w1024.toml", &spec,
                                    &error))
      << error;
  EXPECT_EQ(spec.family, mixerc::Family::Bmlp);
  EXPECT_EQ(spec.image_features(), 12288);
  EXPECT_EQ(spec.hidden, 1024);
  EXPECT_EQ(spec.channel_mlp, 4096);
  EXPECT_EQ(spec.layer_norm_epsilon, 1e-5);
  // Embedding, 12 blocks of two 1024 x 4096 GEMMs, head: 114.3 M multiply-adds per image.
  EXPECT_DOUBLE_EQ(spec.forward_flops_per_image(),
                   2.0 * (12288.0 * 1024 + 12 * 2 * 1024.0 * 4096 + 1024.0 * 1000));
  EXPECT_EQ(spec.parameter_count(), 12288LL * 1024 + 1024 +
                                        12 * (2 * 1024 + 2 * 1024 * 4096 + 4096 + 1024) +
                                        2 * 1024 + 1024 * 1000 + 1000);
}

TEST(Spec, NonSquareImage) {
  ModelSpec spec;
  std::string error;
  ASSERT_TRUE(parse(kValid, &spec, &error)) << error;
  EXPECT_EQ(spec.image_height, 32);
  EXPECT_EQ(spec.image_width, 48);
  EXPECT_EQ(spec.tokens(), 24);
  EXPECT_EQ(spec.gelu, mixerc::GeluApproximation::Erf);
  EXPECT_EQ(spec.init, mixerc::InitScheme::Timm);
  EXPECT_EQ(spec.targets, std::vector<std::string>{"host"});
  std::string text = kValid;
  text += "init = \"pytorch\"\n";
  ASSERT_TRUE(parse(text, &spec, &error)) << error;
  EXPECT_EQ(spec.init, mixerc::InitScheme::Pytorch);
}

/// One edit of a valid spec and the error it must give.
struct BadEdit {
  std::string replace, with, message;
};

/// Applies each edit to `valid` alone and expects parsing to fail with its message.
void expectErrors(const std::string &valid, const std::vector<BadEdit> &edits) {
  for (const BadEdit &e : edits) {
    std::string text = valid;
    text.replace(text.find(e.replace), e.replace.size(), e.with);
    ModelSpec spec;
    std::string error;
    EXPECT_FALSE(parse(text, &spec, &error)) << e.with;
    EXPECT_THAT(error, HasSubstr(e.message));
  }
}

TEST(Spec, ErrorsNameLineAndKey) {
  expectErrors(kValid, {
      {"patch = 8", "patch = 5", "test.toml:6: model.patch: image size 32x48 is not divisible"},
      {"classes = 10", "classes = -1", "test.toml:11: model.classes: must be positive, got -1"},
      {"classes = 10", "classes = 1.5", "test.toml:11: model.classes: expected an integer"},
      {"image_size = [32, 48]", "image_size = [32]", "test.toml:4: model.image_size: expected"},
      {"family = \"mlp_mixer\"", "family = \"conv_mixer\"",
       "test.toml:10: model.channel_mlp: unknown key"}, // conv_mixer has no MLP widths
      {"name = \"m\"", "name = \"mixer\"", "test.toml:1: name: 'mixer' is reserved"},
      {"classes = 10", "classes = 10\nbogus = 1", "test.toml:12: model.bogus: unknown key"},
      {"classes = 10", "classes = 10\ninit = \"kaiming\"",
       "test.toml:12: model.init: unknown scheme 'kaiming' (expected timm or pytorch)"},
  });
}

TEST(Spec, DeepNestingIsRefusedBeforeParsing) {
  ModelSpec spec;
  std::string error;
  // A dotted table header a million levels deep crashed toml++ (stack overflow); 100,000 levels
  // overflowed it under ASan.
  std::string header = "[a";
  for (int i = 0; i < 100000; ++i)
    header += ".a";
  EXPECT_FALSE(parse(std::string(kValid) + header + "]\n", &spec, &error));
  EXPECT_THAT(error, HasSubstr("test.toml:12: tables, arrays or dotted keys nest deeper than 32"));
  for (int i = 0; i < 900000; ++i)
    header += ".a";
  EXPECT_FALSE(parse(std::string(kValid) + header + "]\n", &spec, &error));
  EXPECT_THAT(error, HasSubstr("bytes is larger than a spec can be"));
  for (const char *open : {"[", "{x = "}) {
    std::string nested = "deep = ";
    for (int i = 0; i < 100000; ++i)
      nested += open;
    EXPECT_FALSE(parse(std::string(kValid) + nested + "\n", &spec, &error)) << open;
    EXPECT_THAT(error, HasSubstr("test.toml:12: tables, arrays or dotted keys nest deeper"));
  }
  // Found by tests/fuzz: U+FEFB made toml++ reach __builtin_unreachable; non-ASCII text is
  // refused outside comments and blanked inside them.
  EXPECT_FALSE(parse("\xef\xbb\xbb", &spec, &error));
  EXPECT_THAT(error, HasSubstr("test.toml:1: non-ASCII byte 0xef outside a comment"));
  EXPECT_FALSE(parse(std::string(kValid) + "family2 = \"caf\xc3\xa9\"\n", &spec, &error));
  EXPECT_THAT(error, HasSubstr("test.toml:12: non-ASCII byte 0xc3 in a string"));
  EXPECT_TRUE(parse(std::string(kValid) + "# caf\xc3\xa9 \xef\xbb\xbb\n", &spec, &error)) << error;
  // Found by tests/fuzz: a table header opening on a character no key can start with.
  EXPECT_FALSE(parse("[^", &spec, &error));
  EXPECT_THAT(error, HasSubstr("test.toml:1: malformed TOML"));
  // Strings and comments do not count: brackets and dots inside them are text.
  EXPECT_TRUE(parse(std::string(kValid) + "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ ...........\n" +
                        "[build]\ntargets = [\"host\"] # " + std::string(40, '[') + "\n",
                    &spec, &error))
      << error;
}

const char *kConvMixer = R"(name = "c"
family = "conv_mixer"
[model]
image_size = [30, 42]
channels = 3
hidden = 16
depth = 2
kernel = 3
patch = 3
classes = 10
)";

TEST(Spec, ConvMixer768Depth32) {
  ModelSpec spec;
  std::string error;
  ASSERT_TRUE(mixerc::parseSpecFile(std::string(MIXERC_SPECS_DIR) + "/convmixer_768_32.toml",
                                    &spec, &error))
      << error;
  EXPECT_EQ(spec.family, mixerc::Family::ConvMixer);
  EXPECT_EQ(spec.tokens(), 32 * 32);
  EXPECT_EQ(spec.kernel, 7);
  EXPECT_EQ(spec.activation, mixerc::ConvActivation::Relu); // as timm's convmixer_768_32
  // timm's convmixer_768_32: 21.11 M parameters (without num_batches_tracked)
  EXPECT_NEAR(double(spec.parameter_count()) / 1e6, 21.11, 0.01);
  EXPECT_DOUBLE_EQ(spec.forward_flops_per_image(),
                   2.0 * (1024.0 * 147 * 768 + 32 * 1024.0 * 768 * (49 + 768) + 768.0 * 1000));
}

TEST(Spec, ConvMixerKeys) {
  ModelSpec spec;
  std::string error;
  ASSERT_TRUE(parse(kConvMixer, &spec, &error)) << error;
  EXPECT_EQ(spec.tokens(), 10 * 14);
  EXPECT_EQ(spec.activation, mixerc::ConvActivation::Gelu);
  expectErrors(kConvMixer, {
      {"kernel = 3", "kernel = 0", "test.toml:8: model.kernel: must be positive, got 0"},
      {"patch = 3", "patch = -2", "test.toml:9: model.patch: must be positive, got -2"},
      {"patch = 3", "patch = 4", "test.toml:9: model.patch: image size 30x42 is not divisible"},
      {"kernel = 3", "kernel = 3\nactivation = \"swish\"",
       "test.toml:9: model.activation: unknown activation 'swish' (expected gelu or relu)"},
      {"kernel = 3", "kernel = 99", "test.toml:8: model.kernel: kernel 99 is wider than"},
      {"kernel = 3\n", "", "test.toml:3: model.kernel: missing (required)"},
      {"classes = 10", "classes = 10\ntoken_mlp = 3", "test.toml:11: model.token_mlp: unknown key"},
  });
}

TEST(Spec, BuildSection) {
  std::string text = std::string(kValid) + "[build]\ntraining = \"yes\"\n";
  ModelSpec spec;
  std::string error;
  EXPECT_FALSE(parse(text, &spec, &error));
  EXPECT_THAT(error, HasSubstr("test.toml:13: build.training: expected a boolean, got a string"));
  text = std::string(kValid) + "[build]\nprecision = \"f16\"\n";
  EXPECT_FALSE(parse(text, &spec, &error));
  EXPECT_THAT(error, HasSubstr("build.precision: unsupported precision 'f16'"));
}

} // namespace
