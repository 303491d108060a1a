// Image classification datasets for mixerc train and eval: IDX (MNIST, Fashion-MNIST; gzipped or
// not) and the CIFAR-10 binary format. Every file is checked before training starts: magic,
// dimensions, truncation, labels in range, image size against the model. Images are standardised
// with the training split's per-channel mean and standard deviation.
#ifndef MIXERC_DRIVER_DATASET_H
#define MIXERC_DRIVER_DATASET_H

#include <cstdint>
#include <string>
#include <vector>

namespace mixerc {

struct Split {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<float> images; ///< count x channels x height x width, standardised
  std::vector<int32_t> labels;
  int64_t imageElements() const { return channels * height * width; }
};

struct Dataset {
  std::string description; ///< e.g. "Fashion-MNIST (IDX) in /usr/share/datasets/fashion-mnist"
  Split train, test;
  std::vector<float> mean, std; ///< per channel, of the training split's [0, 1] pixels
};

/// The readers' stages, for the fuzzers (tests/fuzz): a file's bytes gunzipped when they are gzip
/// (at most kMaxDecodedBytes), an IDX file of `rank` dimensions of unsigned bytes, CIFAR-10
/// records (appended to labels and pixels). Each names `name` in its error.
inline constexpr size_t kMaxDecodedBytes = size_t(16) << 30;
inline constexpr size_t kCifarRecordBytes = 1 + 3 * 32 * 32;
bool decodeFile(const std::vector<uint8_t> &bytes, const std::string &name,
                std::vector<uint8_t> *out, std::string *error);
bool parseIdx(const std::vector<uint8_t> &bytes, const std::string &name, int rank,
              std::vector<uint8_t> *data, std::vector<int64_t> *dims, std::string *error);
bool parseCifar(const std::vector<uint8_t> &bytes, const std::string &name,
                std::vector<int32_t> *labels, std::vector<uint8_t> *pixels, std::string *error);

/// Loads `where`: "fashion-mnist" (Debian's dataset-fashion-mnist), "cifar10" (the CIFAR-10 binary
/// files in $MIXERC_CIFAR10 or ./cifar-10-batches-bin) or a directory with either format. Checks
/// labels against `classes` and the image shape against channels x height x width.
bool loadDataset(const std::string &where, int64_t classes, int64_t channels, int64_t height,
                 int64_t width, Dataset *out, std::string *error);

} // namespace mixerc

#endif
