// libFuzzer target: the dataset readers of mixerc train and eval. The first byte picks the reader
// (IDX of rank 1 or 3, or CIFAR-10 records); the rest is a file's bytes, gunzipped first when it
// is gzip, as the readers do. Accepted IDX data must hold exactly what its dimensions say.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "driver/Dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  std::vector<uint8_t> bytes(data + 1, data + size), decoded, pixels;
  std::string error;
  if (!mixerc::decodeFile(bytes, "fuzz", &decoded, &error))
    return 0;
  if (data[0] % 3 == 2) {
    std::vector<int32_t> labels;
    mixerc::parseCifar(decoded, "fuzz", &labels, &pixels, &error);
    if (pixels.size() != labels.size() * (mixerc::kCifarRecordBytes - 1))
      __builtin_trap();
    return 0;
  }
  const int rank = data[0] % 3 == 0 ? 1 : 3;
  std::vector<int64_t> dims;
  if (!mixerc::parseIdx(decoded, "fuzz", rank, &pixels, &dims, &error))
    return 0;
  uint64_t count = 1;
  for (int64_t d : dims)
    count *= uint64_t(d);
  if (count != pixels.size())
    __builtin_trap();
  return 0;
}
