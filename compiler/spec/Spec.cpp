// TOML spec parsing and validation (see Spec.h).
#include "spec/Spec.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace mixerc {
namespace {

// Sizes above these are refused before anything is built or allocated: no Mixer needs more.
constexpr int64_t kMaxImageSide = 8192;
constexpr int64_t kMaxWidth = 1 << 16;
constexpr int64_t kMaxDepth = 1024;
constexpr int64_t kMaxClasses = 1 << 20;
constexpr int64_t kMaxChannels = 64;
constexpr int64_t kMaxTokens = 1 << 16;
constexpr double kMaxParameters = 4e9;

struct SpecError {
  std::string message;
};

class SpecReader {
public:
  explicit SpecReader(const std::string &path) : path_(path) {}

  [[noreturn]] void error(const toml::source_region &where, const std::string &key,
                          const std::string &what) const {
    throw SpecError{fmt::format("{}:{}: {}: {}", path_, where.begin.line, key, what)};
  }
  [[noreturn]] void error(const toml::node &node, const std::string &key,
                          const std::string &what) const {
    error(node.source(), key, what);
  }

  /// Refuses keys of `table` that are not in `allowed`.
  void onlyKeys(const toml::table &table, const std::string &prefix,
                std::initializer_list<const char *> allowed) const {
    std::set<std::string> names(allowed.begin(), allowed.end());
    for (auto &&[key, node] : table)
      if (!names.count(std::string(key.str())))
        error(key.source(), prefix + std::string(key.str()), "unknown key");
  }

  const toml::node &require(const toml::table &table, const std::string &prefix,
                            const char *key) const {
    const toml::node *node = table.get(key);
    if (!node)
      error(table, prefix + key, "missing (required)");
    return *node;
  }

  int64_t positive(const toml::node &node, const std::string &key, int64_t max) const {
    if (!node.is_integer())
      error(node, key, fmt::format("expected an integer, got {}", typeName(node)));
    int64_t v = node.value<int64_t>().value();
    if (v <= 0)
      error(node, key, fmt::format("must be positive, got {}", v));
    if (v > max)
      error(node, key, fmt::format("{} is absurdly large (limit {})", v, max));
    return v;
  }

  std::string string(const toml::node &node, const std::string &key) const {
    if (!node.is_string())
      error(node, key, fmt::format("expected a string, got {}", typeName(node)));
    return node.value<std::string>().value();
  }

  /// An optional string key naming one of two choices ("unknown <what> 'x' (expected a or b)").
  template <typename Choice>
  void readChoice(const toml::table &table, const std::string &prefix, const char *name,
                  const char *what, std::pair<const char *, Choice> first,
                  std::pair<const char *, Choice> second, Choice *out) const {
    const toml::node *node = table.get(name);
    if (!node)
      return;
    const std::string key = prefix + name, value = string(*node, key);
    if (value == first.first)
      *out = first.second;
    else if (value == second.first)
      *out = second.second;
    else
      error(*node, key,
            fmt::format("unknown {} '{}' (expected {} or {})", what, value, first.first,
                        second.first));
  }

  static const char *typeName(const toml::node &node) {
    switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
    }
  }

  void read(const toml::table &root, ModelSpec *spec) const {
    onlyKeys(root, "", {"name", "family", "model", "build"});
    const toml::node &nameNode = require(root, "", "name");
    spec->name = string(nameNode, "name");
    checkIdentifier(nameNode, spec->name);

    const toml::node &familyNode = require(root, "", "family");
    std::string family = string(familyNode, "family");
    if (family == "mlp_mixer")
      spec->family = Family::MlpMixer;
    else if (family == "bmlp")
      spec->family = Family::Bmlp;
    else if (family == "conv_mixer")
      spec->family = Family::ConvMixer;
    else
      error(familyNode, "family",
            fmt::format("unknown family '{}' (expected mlp_mixer, conv_mixer or bmlp)", family));

    const toml::node &modelNode = require(root, "", "model");
    if (!modelNode.is_table())
      error(modelNode, "model", "expected a table [model]");
    switch (spec->family) {
    case Family::MlpMixer: readMlpMixer(*modelNode.as_table(), spec); break;
    case Family::ConvMixer: readConvMixer(*modelNode.as_table(), spec); break;
    case Family::Bmlp: readBmlp(*modelNode.as_table(), spec); break;
    }
    if (double(spec->parameter_count()) > kMaxParameters)
      error(modelNode, "model",
            fmt::format("{} parameters is absurdly many (limit {:.0e})", spec->parameter_count(),
                        kMaxParameters));

    if (const toml::node *buildNode = root.get("build")) {
      if (!buildNode->is_table())
        error(*buildNode, "build", "expected a table [build]");
      readBuild(*buildNode->as_table(), spec);
    }
  }

  void checkIdentifier(const toml::node &node, const std::string &name) const {
    bool ok = !name.empty() && name.size() <= 64 && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name)
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_');
    if (!ok)
      error(node, "name",
            fmt::format("'{}' is not a C identifier of at most 64 characters", name));
    if (name == "mixer")
      error(node, "name", "'mixer' is reserved for the shared runtime's symbols");
  }

  void readImageSize(const toml::node &node, ModelSpec *spec) const {
    const std::string key = "model.image_size";
    if (node.is_integer()) {
      spec->image_height = spec->image_width = positive(node, key, kMaxImageSide);
      return;
    }
    const toml::array *array = node.as_array();
    if (!array || array->size() != 2)
      error(node, key, "expected an integer or [height, width]");
    spec->image_height = positive(*array->get(0), key + "[0]", kMaxImageSide);
    spec->image_width = positive(*array->get(1), key + "[1]", kMaxImageSide);
  }

  void readMlpMixer(const toml::table &model, ModelSpec *spec) const {
    const std::string p = "model.";
    onlyKeys(model, p,
             {"image_size", "channels", "patch", "depth", "hidden", "token_mlp", "channel_mlp",
              "classes", "gelu", "init"});
    const toml::node &imageNode = require(model, p, "image_size");
    readImageSize(imageNode, spec);
    spec->channels = positive(require(model, p, "channels"), p + "channels", kMaxChannels);
    const toml::node &patchNode = require(model, p, "patch");
    spec->patch = positive(patchNode, p + "patch", kMaxImageSide);
    spec->depth = positive(require(model, p, "depth"), p + "depth", kMaxDepth);
    spec->hidden = positive(require(model, p, "hidden"), p + "hidden", kMaxWidth);
    spec->token_mlp = positive(require(model, p, "token_mlp"), p + "token_mlp", kMaxWidth);
    spec->channel_mlp = positive(require(model, p, "channel_mlp"), p + "channel_mlp", kMaxWidth);
    spec->classes = positive(require(model, p, "classes"), p + "classes", kMaxClasses);
    readGelu(model, spec);
    readChoice(model, p, "init", "scheme", std::pair{"timm", InitScheme::Timm},
               std::pair{"pytorch", InitScheme::Pytorch}, &spec->init);
    checkPatchGrid(patchNode, spec);
  }

  void checkPatchGrid(const toml::node &patchNode, const ModelSpec *spec) const {
    const std::string key = "model.patch";
    if (spec->image_height % spec->patch || spec->image_width % spec->patch)
      error(patchNode, key,
            fmt::format("image size {}x{} is not divisible by patch {}", spec->image_height,
                        spec->image_width, spec->patch));
    if (spec->tokens() > kMaxTokens)
      error(patchNode, key,
            fmt::format("{} tokens is absurdly many (limit {})", spec->tokens(), kMaxTokens));
  }

  /// ConvMixer-h/d (Trockman & Kolter): a p x p stride-p stem, d blocks of a residual depthwise
  /// k x k 'same' convolution and a pointwise one, each followed by the activation and BatchNorm.
  void readConvMixer(const toml::table &model, ModelSpec *spec) const {
    const std::string p = "model.";
    onlyKeys(model, p,
             {"image_size", "channels", "hidden", "depth", "kernel", "patch", "activation",
              "classes"});
    readImageSize(require(model, p, "image_size"), spec);
    spec->channels = positive(require(model, p, "channels"), p + "channels", kMaxChannels);
    spec->hidden = positive(require(model, p, "hidden"), p + "hidden", kMaxWidth);
    spec->depth = positive(require(model, p, "depth"), p + "depth", kMaxDepth);
    const toml::node &kernelNode = require(model, p, "kernel");
    spec->kernel = positive(kernelNode, p + "kernel", kMaxImageSide);
    const toml::node &patchNode = require(model, p, "patch");
    spec->patch = positive(patchNode, p + "patch", kMaxImageSide);
    spec->classes = positive(require(model, p, "classes"), p + "classes", kMaxClasses);
    readChoice(model, p, "activation", "activation", std::pair{"gelu", ConvActivation::Gelu},
               std::pair{"relu", ConvActivation::Relu}, &spec->activation);
    checkPatchGrid(patchNode, spec);
    const int64_t gridSide = std::max(spec->image_height, spec->image_width) / spec->patch;
    if (spec->kernel > 2 * gridSide + 1)
      error(kernelNode, p + "kernel",
            fmt::format("kernel {} is wider than twice the {}x{} patch grid", spec->kernel,
                        spec->image_height / spec->patch, spec->image_width / spec->patch));
  }

  /// B-MLP ("Scaling MLPs"): the flattened image, `width` wide, `depth` inverted bottlenecks.
  void readBmlp(const toml::table &model, ModelSpec *spec) const {
    const std::string p = "model.";
    onlyKeys(model, p, {"image_size", "channels", "width", "depth", "expansion", "classes", "gelu"});
    readImageSize(require(model, p, "image_size"), spec);
    spec->channels = positive(require(model, p, "channels"), p + "channels", kMaxChannels);
    spec->hidden = positive(require(model, p, "width"), p + "width", kMaxWidth);
    spec->depth = positive(require(model, p, "depth"), p + "depth", kMaxDepth);
    int64_t expansion = 4;
    if (const toml::node *e = model.get("expansion"))
      expansion = positive(*e, p + "expansion", 64);
    spec->channel_mlp = spec->hidden * expansion;
    spec->classes = positive(require(model, p, "classes"), p + "classes", kMaxClasses);
    spec->layer_norm_epsilon = 1e-5; // nn.LayerNorm's default, as the Scaling MLPs code uses
    readGelu(model, spec);
  }

  void readGelu(const toml::table &model, ModelSpec *spec) const {
    readChoice(model, "model.", "gelu", "form", std::pair{"erf", GeluApproximation::Erf},
               std::pair{"tanh", GeluApproximation::Tanh}, &spec->gelu);
  }

  void readBuild(const toml::table &build, ModelSpec *spec) const {
    const std::string p = "build.";
    onlyKeys(build, p, {"targets", "training", "precision"});
    if (const toml::node *targets = build.get("targets")) {
      const toml::array *array = targets->as_array();
      if (!array || array->empty())
        error(*targets, p + "targets", "expected a non-empty array of target names");
      spec->targets.clear();
      for (const toml::node &t : *array) {
        std::string target = string(t, p + "targets");
        static const std::set<std::string> known{"host", "x86-64-avx2", "x86-64-avx512"};
        if (target == "cuda")
          error(t, p + "targets", "target 'cuda' is not supported by this mixerc yet");
        if (!known.count(target))
          error(t, p + "targets",
                fmt::format("unknown target '{}' (expected host, x86-64-avx2 or x86-64-avx512)",
                            target));
        spec->targets.push_back(target);
      }
    }
    if (const toml::node *training = build.get("training")) {
      if (!training->is_boolean())
        error(*training, p + "training",
              fmt::format("expected a boolean, got {}", typeName(*training)));
      spec->training = training->value<bool>().value();
    }
    if (const toml::node *precision = build.get("precision")) {
      spec->precision = string(*precision, p + "precision");
      if (spec->precision != "f32")
        error(*precision, p + "precision",
              fmt::format("unsupported precision '{}' (expected f32)", spec->precision));
    }
  }

private:
  std::string path_;
};

} // namespace

const char *familyName(Family family) {
  switch (family) {
  case Family::MlpMixer: return "mlp_mixer";
  case Family::ConvMixer: return "conv_mixer";
  case Family::Bmlp: return "bmlp";
  }
  return "?";
}

double ModelSpec::forward_flops_per_image() const {
  const double s = double(tokens()), c = double(hidden);
  if (family == Family::ConvMixer)
    return 2.0 * (s * double(patch_features()) * c +
                  double(depth) * s * c * (double(kernel * kernel) + c) + c * double(classes));
  if (family == Family::Bmlp)
    return 2.0 * (double(image_features()) * c + double(depth) * 2.0 * c * double(channel_mlp) +
                  c * double(classes));
  double flops = 2.0 * s * double(patch_features()) * c;            // patch embedding
  flops += double(depth) * 2.0 * 2.0 * s * double(token_mlp) * c;   // token MLP: 2 GEMMs
  flops += double(depth) * 2.0 * 2.0 * s * double(channel_mlp) * c; // channel MLP: 2 GEMMs
  flops += 2.0 * c * double(classes);                               // head
  return flops;
}

int64_t ModelSpec::parameter_count() const {
  const double s = double(tokens()), c = double(hidden);
  double n;
  if (family == Family::ConvMixer) {
    // Trainable parameters, as timm counts them (BatchNorm's running statistics are buffers):
    // stem conv + BN; per block depthwise conv + BN, pointwise conv + BN.
    n = double(patch_features()) * c + c + 2 * c;
    n += double(depth) * (c * double(kernel * kernel) + c + 2 * c + c * c + c + 2 * c);
    return int64_t(std::min(9e18, n + c * double(classes) + double(classes)));
  }
  if (family == Family::Bmlp) {
    n = double(image_features()) * c + c;
    n += double(depth) * (2 * c + 2 * c * double(channel_mlp) + double(channel_mlp) + c);
  } else {
    n = double(patch_features()) * c + c;
    n += double(depth) * (4 * c + 2 * s * double(token_mlp) + double(token_mlp) + s +
                          2 * c * double(channel_mlp) + double(channel_mlp) + c);
  }
  n += 2 * c + c * double(classes) + double(classes);
  return n > 9e18 ? INT64_MAX : int64_t(n);
}

namespace {

// toml++ parses nested tables, arrays and dotted keys recursively: a header nested a million
// levels deep overflowed the stack (SIGSEGV, no message). Specs nest three levels; these bounds
// are checked on the raw text before toml++ sees it. And toml++ 3.3 reaches
// __builtin_unreachable on some non-ASCII code points (U+FEFB, found by tests/fuzz), so outside
// comments a spec must be ASCII (its keys and values are identifiers and numbers), and comments
// reach toml++ with their non-ASCII bytes blanked.
constexpr size_t kMaxSpecBytes = 1 << 20;
constexpr int kMaxNesting = 32;

/// The text toml++ may parse: refuses text whose brackets, braces or dotted keys nest deeper than
/// kMaxNesting or that has non-ASCII bytes outside comments, naming the line; blanks non-ASCII
/// bytes in comments. Dots in numbers count as nesting too, harmlessly.
bool prepareForToml(const std::string &text, const std::string &path, std::string *out,
                    std::string *error) {
  if (text.size() > kMaxSpecBytes) {
    *error = fmt::format("{}: {} bytes is larger than a spec can be ({} at most)", path,
                         text.size(), kMaxSpecBytes);
    return false;
  }
  *out = text;
  int line = 1, depth = 0, dots = 0;
  for (size_t i = 0; i < out->size(); ++i) {
    const char c = (*out)[i];
    if (c == '\n') {
      ++line;
      dots = 0;
    } else if (c == '#') {
      for (; i + 1 < out->size() && (*out)[i + 1] != '\n'; ++i)
        if (static_cast<unsigned char>((*out)[i + 1]) >= 0x80)
          (*out)[i + 1] = ' ';
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      *error = fmt::format("{}:{}: non-ASCII byte 0x{:02x} outside a comment (a spec's keys and "
                           "values are ASCII)",
                           path, line, static_cast<unsigned char>(c));
      return false;
    } else if (c == '"' || c == '\'') {
      const bool triple = out->compare(i, 3, std::string(3, c)) == 0;
      const std::string close = triple ? std::string(3, c) : std::string(1, c);
      for (i += close.size(); i < out->size() && out->compare(i, close.size(), close) != 0; ++i) {
        if ((*out)[i] == '\n')
          ++line;
        else if (static_cast<unsigned char>((*out)[i]) >= 0x80) {
          *error = fmt::format("{}:{}: non-ASCII byte 0x{:02x} in a string (a spec's values "
                               "are ASCII)",
                               path, line, static_cast<unsigned char>((*out)[i]));
          return false;
        } else if ((*out)[i] == '\\' && c == '"')
          ++i; // an escaped character
      }
      i += close.size() - 1;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    } else if (c == '.') {
      ++dots;
    }
    if (depth > kMaxNesting || dots > kMaxNesting) {
      *error = fmt::format("{}:{}: tables, arrays or dotted keys nest deeper than {} levels (a "
                           "spec needs 3)",
                           path, line, kMaxNesting);
      return false;
    }
  }
  return true;
}

} // namespace

bool parseSpecString(const std::string &text, const std::string &path, ModelSpec *spec,
                     std::string *error) {
  ModelSpec result;
  result.path = path;
  std::string ascii;
  if (!prepareForToml(text, path, &ascii, error))
    return false;
  try {
    toml::table root = toml::parse(ascii, path);
    SpecReader(path).read(root, &result);
  } catch (const toml::parse_error &e) {
    *error = fmt::format("{}:{}: malformed TOML: {}", path, e.source().begin.line,
                         std::string(e.description()));
    return false;
  } catch (const SpecError &e) {
    *error = e.message;
    return false;
  }
  *spec = std::move(result);
  return true;
}

bool parseSpecFile(const std::string &path, ModelSpec *spec, std::string *error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = fmt::format("{}: cannot open spec file", path);
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseSpecString(text.str(), path, spec, error);
}

} // namespace mixerc
