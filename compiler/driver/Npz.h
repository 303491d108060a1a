// NumPy's .npz archives (np.savez / np.savez_compressed, as Google's Flax checkpoints of the
// MLP-Mixer are published): a zip file of .npy arrays, stored or deflated, zip64 sizes included.
// Float arrays (f2, f4, f8, little-endian, C order) are read as f32; anything else is an error
// naming the array.
#ifndef MIXERC_DRIVER_NPZ_H
#define MIXERC_DRIVER_NPZ_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mixerc {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> values; ///< C order
};

/// Reads every array of `path` by name (the member's name without ".npy"); false with a
/// message naming the file and the member otherwise.
bool readNpz(const std::string &path, std::map<std::string, NpyArray> *arrays,
             std::string *error);

/// The same over a file's bytes (the fuzzers and readNpz).
bool parseNpz(const std::vector<uint8_t> &bytes, const std::string &name,
              std::map<std::string, NpyArray> *arrays, std::string *error);

} // namespace mixerc

#endif
