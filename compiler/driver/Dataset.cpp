// See Dataset.h. IDX: a big-endian magic 0x0000 08 <dims> (unsigned bytes), one u32 per dimension,
// then the data (http://yann.lecun.com/exdb/mnist/). CIFAR-10 binary: records of one label byte
// and 3 x 32 x 32 pixel bytes, channel-planar (https://www.cs.toronto.edu/~kriz/cifar.html).
#include "driver/Dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <zlib.h>

namespace fs = std::filesystem;

namespace mixerc {
namespace {

uint32_t bigEndian(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

/// The whole file, gunzipped if it is gzip.
bool readFile(const fs::path &path, std::vector<uint8_t> *out, std::string *error) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  FILE *file = ec ? nullptr : std::fopen(path.c_str(), "rb");
  if (!file) {
    *error = fmt::format("{}: cannot open", path.string());
    return false;
  }
  if (size > kMaxDecodedBytes) {
    std::fclose(file);
    *error = fmt::format("{}: {} bytes is larger than a dataset file can be ({})", path.string(),
                         size, kMaxDecodedBytes);
    return false;
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  const bool read = std::fread(bytes.data(), 1, bytes.size(), file) == bytes.size();
  std::fclose(file);
  if (!read) {
    *error = fmt::format("{}: read error", path.string());
    return false;
  }
  if (bytes.size() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b) { // not gzip: as it is
    *out = std::move(bytes);
    return true;
  }
  return decodeFile(bytes, path.string(), out, error);
}

} // namespace

bool decodeFile(const std::vector<uint8_t> &bytes, const std::string &name,
                std::vector<uint8_t> *out, std::string *error) {
  if (bytes.size() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b) {
    *out = bytes;
    return true;
  }
  // gzip: inflated in memory, at most kMaxDecodedBytes (a small file can claim terabytes).
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    *error = fmt::format("{}: cannot start gunzip", name);
    return false;
  }
  stream.next_in = const_cast<Bytef *>(bytes.data());
  stream.avail_in = uInt(std::min<size_t>(bytes.size(), UINT32_MAX));
  out->clear();
  uint8_t buffer[1 << 16];
  int code = Z_OK;
  while (code == Z_OK) {
    stream.next_out = buffer;
    stream.avail_out = sizeof(buffer);
    code = inflate(&stream, Z_NO_FLUSH);
    out->insert(out->end(), buffer, buffer + (sizeof(buffer) - stream.avail_out));
    if (out->size() > kMaxDecodedBytes) {
      inflateEnd(&stream);
      *error = fmt::format("{}: inflates to more than {} bytes", name, kMaxDecodedBytes);
      return false;
    }
    if (code == Z_BUF_ERROR && stream.avail_in == 0)
      break; // input ended before the stream did
  }
  inflateEnd(&stream);
  if (code != Z_STREAM_END) {
    *error = fmt::format("{}: not a complete gzip stream ({})", name,
                         stream.msg ? stream.msg : "truncated");
    return false;
  }
  return true;
}

bool parseIdx(const std::vector<uint8_t> &bytes, const std::string &name, int rank,
              std::vector<uint8_t> *data, std::vector<int64_t> *dims, std::string *error) {
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != rank) {
    *error = fmt::format("{}: not an IDX file of {}-D unsigned bytes (magic {:02x}{:02x}{:02x}{:02x},"
                         " expected 000008{:02x})",
                         name, rank, bytes.size() > 0 ? bytes[0] : 0, bytes.size() > 1 ? bytes[1] : 0,
                         bytes.size() > 2 ? bytes[2] : 0, bytes.size() > 3 ? bytes[3] : 0, rank);
    return false;
  }
  size_t header = 4 + 4 * size_t(rank);
  if (bytes.size() < header) {
    *error = fmt::format("{}: truncated header", name);
    return false;
  }
  // The product of the dimensions, stopped once it exceeds the data (it could wrap around).
  uint64_t count = 1;
  dims->clear();
  for (int d = 0; d < rank; ++d) {
    dims->push_back(bigEndian(&bytes[4 + 4 * size_t(d)]));
    count = count > bytes.size() ? count : count * uint64_t(dims->back());
  }
  if (bytes.size() - header != count) {
    *error = fmt::format("{}: {} data bytes, but its dimensions need {}{} ({})", name,
                         bytes.size() - header, count > bytes.size() ? "more than " : "",
                         std::min<uint64_t>(count, bytes.size()),
                         bytes.size() - header < count ? "truncated" : "trailing bytes");
    return false;
  }
  data->assign(bytes.begin() + long(header), bytes.end());
  return true;
}

bool parseCifar(const std::vector<uint8_t> &bytes, const std::string &name,
                std::vector<int32_t> *labels, std::vector<uint8_t> *pixels, std::string *error) {
  if (bytes.empty() || bytes.size() % kCifarRecordBytes) {
    *error = fmt::format("{}: {} bytes is not a whole number of {}-byte CIFAR-10 records", name,
                         bytes.size(), kCifarRecordBytes);
    return false;
  }
  for (size_t r = 0; r < bytes.size() / kCifarRecordBytes; ++r) {
    labels->push_back(bytes[r * kCifarRecordBytes]);
    pixels->insert(pixels->end(), bytes.begin() + long(r * kCifarRecordBytes + 1),
                   bytes.begin() + long((r + 1) * kCifarRecordBytes));
  }
  return true;
}

namespace {

/// Reads and parses an IDX file of unsigned bytes with `rank` dimensions.
bool readIdx(const fs::path &path, int rank, std::vector<uint8_t> *data, std::vector<int64_t> *dims,
             std::string *error) {
  std::vector<uint8_t> bytes;
  return readFile(path, &bytes, error) && parseIdx(bytes, path.string(), rank, data, dims, error);
}

/// The file `stem` or `stem.gz` in `dir`.
fs::path findFile(const fs::path &dir, const std::string &stem) {
  if (fs::exists(dir / stem))
    return dir / stem;
  return dir / (stem + ".gz");
}

bool loadIdxSplit(const fs::path &dir, const std::string &prefix, Split *split,
                  std::vector<uint8_t> *pixels, std::string *error) {
  std::vector<uint8_t> labels;
  std::vector<int64_t> imageDims, labelDims;
  fs::path images = findFile(dir, prefix + "-images-idx3-ubyte");
  fs::path labelFile = findFile(dir, prefix + "-labels-idx1-ubyte");
  if (!readIdx(images, 3, pixels, &imageDims, error) ||
      !readIdx(labelFile, 1, &labels, &labelDims, error))
    return false;
  if (imageDims[0] != labelDims[0]) {
    *error = fmt::format("{} has {} images but {} has {} labels", images.string(), imageDims[0],
                         labelFile.string(), labelDims[0]);
    return false;
  }
  split->count = imageDims[0];
  split->channels = 1;
  split->height = imageDims[1];
  split->width = imageDims[2];
  split->labels.assign(labels.begin(), labels.end());
  return true;
}

bool loadCifarSplit(const fs::path &dir, const std::vector<std::string> &files, Split *split,
                    std::vector<uint8_t> *pixels, std::string *error) {
  split->channels = 3;
  split->height = split->width = 32;
  pixels->clear();
  for (const std::string &name : files) {
    std::vector<uint8_t> bytes;
    if (!readFile(dir / name, &bytes, error) ||
        !parseCifar(bytes, (dir / name).string(), &split->labels, pixels, error))
      return false;
  }
  split->count = int64_t(split->labels.size());
  return true;
}

void standardise(const std::vector<uint8_t> &pixels, const Dataset &d, Split *split) {
  const int64_t plane = split->height * split->width;
  split->images.resize(pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i) {
    size_t c = (i / size_t(plane)) % size_t(split->channels);
    split->images[i] = (float(pixels[i]) / 255.0f - d.mean[c]) / d.std[c];
  }
}

} // namespace

bool loadDataset(const std::string &where, int64_t classes, int64_t channels, int64_t height,
                 int64_t width, Dataset *out, std::string *error) {
  fs::path dir = where;
  if (where == "fashion-mnist")
    dir = "/usr/share/datasets/fashion-mnist";
  else if (where == "cifar10")
    dir = std::getenv("MIXERC_CIFAR10") ? std::getenv("MIXERC_CIFAR10") : "cifar-10-batches-bin";
  if (!fs::is_directory(dir)) {
    *error = fmt::format("--data {}: {} is not a directory{}", where, dir.string(),
                         where == "fashion-mnist"
                             ? " (install Debian's dataset-fashion-mnist: tools/install-deps.sh)"
                             : "");
    return false;
  }
  std::vector<uint8_t> trainPixels, testPixels;
  bool cifar = fs::exists(dir / "data_batch_1.bin");
  if (cifar) {
    out->description = fmt::format("CIFAR-10 (binary) in {}", dir.string());
    if (!loadCifarSplit(dir,
                        {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                         "data_batch_4.bin", "data_batch_5.bin"},
                        &out->train, &trainPixels, error) ||
        !loadCifarSplit(dir, {"test_batch.bin"}, &out->test, &testPixels, error))
      return false;
  } else {
    if (!fs::exists(findFile(dir, "train-images-idx3-ubyte"))) {
      *error = fmt::format("--data {}: {} has neither IDX files (train-images-idx3-ubyte[.gz], ...)"
                           " nor CIFAR-10 binaries (data_batch_1.bin, ...)",
                           where, dir.string());
      return false;
    }
    out->description = fmt::format("IDX in {}", dir.string());
    if (!loadIdxSplit(dir, "train", &out->train, &trainPixels, error) ||
        !loadIdxSplit(dir, "t10k", &out->test, &testPixels, error))
      return false;
  }
  for (Split *split : {&out->train, &out->test}) {
    if (split->channels != channels || split->height != height || split->width != width) {
      *error = fmt::format("{}: images are {}x{}x{} (CxHxW) but the model takes {}x{}x{}",
                           out->description, split->channels, split->height, split->width,
                           channels, height, width);
      return false;
    }
    for (size_t i = 0; i < split->labels.size(); ++i)
      if (split->labels[i] >= classes) {
        *error = fmt::format("{}: {} label {} is {}, but the model has {} classes",
                             out->description, split == &out->train ? "training" : "test", i,
                             split->labels[i], classes);
        return false;
      }
  }
  if (out->train.count == 0 || out->test.count == 0) {
    *error = fmt::format("{}: a split is empty", out->description);
    return false;
  }
  // Per-channel statistics of the training pixels in [0, 1], in double.
  const int64_t plane = out->train.height * out->train.width;
  out->mean.assign(size_t(channels), 0.0f);
  out->std.assign(size_t(channels), 1.0f);
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0, squares = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < out->train.count; ++i)
      for (int64_t p = 0; p < plane; ++p) {
        double v = trainPixels[size_t((i * channels + c) * plane + p)] / 255.0;
        sum += v;
        squares += v * v;
        ++n;
      }
    double mean = sum / double(n);
    out->mean[size_t(c)] = float(mean);
    out->std[size_t(c)] = float(std::sqrt(std::max(squares / double(n) - mean * mean, 1e-12)));
  }
  standardise(trainPixels, *out, &out->train);
  standardise(testPixels, *out, &out->test);
  return true;
}

} // namespace mixerc
