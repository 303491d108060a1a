// What the tests of tanh_mixer's generated C API share: its image size and class count, random
// images, and temporary files.
#ifndef MIXERC_TESTS_UNIT_APITESTSUPPORT_H
#define MIXERC_TESTS_UNIT_APITESTSUPPORT_H

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int64_t kImage = 1 * 40 * 24, kClasses = 5;

std::string tempPath(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("mixerc_api_" + std::to_string(getpid()) + "_" + name))
      .string();
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<float> images(int64_t batch, uint32_t seed = 1) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(size_t(batch * kImage));
  for (float &v : x)
    v = normal(random);
  return x;
}

} // namespace

#endif
