// Command-line value parsing shared by the verbs: every failure is a message naming the flag.
#ifndef MIXERC_DRIVER_ARGS_H
#define MIXERC_DRIVER_ARGS_H

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace mixerc {

inline bool isHelp(const char *arg) {
  return !std::strcmp(arg, "--help") || !std::strcmp(arg, "-h");
}

/// The value after flag argv[i] (advancing i); false with a message when there is none.
inline bool takeValue(int argc, char **argv, int &i, std::string *value, std::string *error) {
  if (i + 1 >= argc) {
    *error = fmt::format("{} needs a value", argv[i]);
    return false;
  }
  *value = argv[++i];
  return true;
}

inline bool parseInt(const std::string &flag, const std::string &text, int64_t lo, int64_t *out,
                     std::string *error) {
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || v < lo) {
    *error = fmt::format("{}: '{}' is not an integer >= {}", flag, text, lo);
    return false;
  }
  *out = v;
  return true;
}

/// A finite number in [lo, hi].
inline bool parseNumber(const std::string &flag, const std::string &text, double lo, double hi,
                        double *out, std::string *error) {
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(v) || v < lo || v > hi) {
    *error = fmt::format("{}: '{}' is not a number in [{:g}, {:g}]", flag, text, lo, hi);
    return false;
  }
  *out = v;
  return true;
}

} // namespace mixerc

#endif
