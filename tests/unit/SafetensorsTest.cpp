// safetensors I/O: round trips, atomic writes, and every malformed file refused with a message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "convert.h"
#include "safetensors.h"

using namespace mixer::rt;
using ::testing::HasSubstr;

namespace {

std::string tempPath(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("mixerc_st_" + std::to_string(getpid()) + "_" + name))
      .string();
}

void writeRaw(const std::string &path, const std::string &header, size_t dataBytes) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char *>(&n), 8);
  out << header << std::string(dataBytes, '\0');
}

TEST(Safetensors, RoundTrip) {
  std::string path = tempPath("ok.safetensors");
  float a[6] = {1, 2, 3, 4, 5, 6};
  int64_t b[1] = {42};
  ASSERT_EQ(write_safetensors(path.c_str(), {{"a", "F32", {2, 3}, a}, {"n.b", "I64", {}, b}},
                              {{"format", "pt"}}),
            MIXER_OK);
  SafetensorsFile file;
  ASSERT_EQ(read_safetensors(path.c_str(), &file), MIXER_OK) << mixer_last_error();
  ASSERT_EQ(file.tensors.size(), 2u);
  const TensorView *t = file.find("a");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(t->data, a, sizeof a), 0);
  EXPECT_EQ(file.find("n.b")->bytes, 8u);
  EXPECT_EQ(file.metadata["format"], "pt");
  // The header is padded so that the data starts 8-byte aligned, as the format recommends.
  EXPECT_EQ((t->data - file.contents.data()) % 8, 0);
  std::remove(path.c_str());
}

TEST(Safetensors, RefusesMalformedFiles) {
  struct Case {
    std::string header;
    size_t data;
    std::string message;
  } cases[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside the file"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "disagree"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks dtype, shape or data_offsets"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "invalid dimension"},
      {"{\"a\": [1, 2", 0, "JSON header"},
      {"[1, 2]", 0, "not a JSON object"},
      {"{\"a\":1,\"a\":2}", 0, "duplicate key"},
  };
  for (const Case &c : cases) {
    std::string path = tempPath("bad.safetensors");
    writeRaw(path, c.header, c.data);
    SafetensorsFile file;
    EXPECT_EQ(read_safetensors(path.c_str(), &file), MIXER_ERROR_FORMAT) << c.header;
    EXPECT_THAT(mixer_last_error(), HasSubstr(c.message)) << c.header;
    EXPECT_THAT(mixer_last_error(), HasSubstr(path));
    std::remove(path.c_str());
  }
}

TEST(Safetensors, RefusesDataThatDoesNotTileTheFile) {
  const std::string a = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":";
  const std::string b = "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":";
  struct Case {
    std::string header;
    size_t data;
    std::string message;
  } cases[] = {
      {"{" + a + "[0,8]}," + b + "[4,8]}}", 8, "tensor 'b' starts at data byte 4 but the tensors "
                                              "before it end at 8 (overlapping tensors)"},
      {"{" + a + "[4,12]}," + b + "[12,16]}}", 16, "tensor 'a' starts at data byte 4"},
      {"{" + a + "[0,8]}}", 9, "1 bytes after the last tensor's data"},
  };
  for (const Case &c : cases) {
    std::string path = tempPath("layout.safetensors");
    writeRaw(path, c.header, c.data);
    SafetensorsFile file;
    EXPECT_EQ(read_safetensors(path.c_str(), &file), MIXER_ERROR_FORMAT) << c.header;
    EXPECT_THAT(mixer_last_error(), HasSubstr(c.message)) << c.header;
    std::remove(path.c_str());
  }
}

TEST(Safetensors, RefusesAHeaderLengthOneByteShort) {
  // The writer pads the header with spaces, so a length one short still parses as JSON: the
  // data section then starts a byte early and every tensor would read shifted.
  std::string path = tempPath("shifted.safetensors");
  float a[2] = {1, 2};
  ASSERT_EQ(write_safetensors(path.c_str(), {{"a", "F32", {2}, a}}, {}), MIXER_OK);
  std::fstream patch(path, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t n = 0;
  patch.read(reinterpret_cast<char *>(&n), 8);
  --n;
  patch.seekp(0);
  patch.write(reinterpret_cast<const char *>(&n), 8);
  patch.close();
  SafetensorsFile file;
  EXPECT_EQ(read_safetensors(path.c_str(), &file), MIXER_ERROR_FORMAT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("1 bytes after the last tensor's data"));
  std::remove(path.c_str());
}

TEST(Safetensors, RefusesTruncatedHeaderLength) {
  std::string path = tempPath("short.safetensors");
  std::ofstream(path, std::ios::binary) << "abc";
  SafetensorsFile file;
  EXPECT_EQ(read_safetensors(path.c_str(), &file), MIXER_ERROR_FORMAT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("shorter than its 8-byte header length"));
  writeRaw(path, "{}", 0);
  std::fstream patch(path, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t huge = 1ull << 40;
  patch.write(reinterpret_cast<const char *>(&huge), 8);
  patch.close();
  EXPECT_EQ(read_safetensors(path.c_str(), &file), MIXER_ERROR_FORMAT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("exceeds the file"));
  std::remove(path.c_str());
}

/// A view of `bytes` as a tensor of `dtype`.
TensorView view(const std::string &dtype, const std::vector<uint8_t> &bytes) {
  TensorView t;
  t.name = "w";
  t.dtype = dtype;
  t.data = bytes.data();
  t.bytes = bytes.size();
  return t;
}

TEST(Convert, HalfAndBfloat16WidenExactly) {
  // F16: 1, the smallest subnormal 2^-24, the largest normal -65504, +infinity (little-endian).
  const std::vector<uint8_t> half = {0x00, 0x3c, 0x01, 0x00, 0xff, 0xfb, 0x00, 0x7c};
  float out[4];
  copy_as_f32(view("F16", half), out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[2], -65504.0f);
  EXPECT_TRUE(std::isinf(out[3]) && out[3] > 0);
  const std::vector<uint8_t> bf16 = {0x80, 0x3f, 0x49, 0xc0}; // 1, -3.140625
  copy_as_f32(view("BF16", bf16), out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.140625f);
}

TEST(Convert, F64BeyondTheF32RangeIsRefused) {
  for (double v : {0.1, 1e39}) {
    std::vector<uint8_t> bytes(16, 0);
    std::memcpy(bytes.data() + 8, &v, 8);
    const mixer_status status = check_f32_range("f.safetensors", view("F64", bytes));
    if (v < 1) {
      EXPECT_EQ(status, MIXER_OK);
      float out[2];
      copy_as_f32(view("F64", bytes), out);
      EXPECT_EQ(out[1], 0.1f); // rounded to nearest
    } else {
      EXPECT_EQ(status, MIXER_ERROR_FORMAT);
      EXPECT_THAT(mixer_last_error(),
                  HasSubstr("f.safetensors: tensor 'w' element 1 is 1e+39, beyond the f32 range"));
    }
  }
}

TEST(Safetensors, MissingFileIsIoError) {
  SafetensorsFile file;
  EXPECT_EQ(read_safetensors("/nonexistent/w.safetensors", &file), MIXER_ERROR_IO);
  EXPECT_THAT(mixer_last_error(), HasSubstr("/nonexistent/w.safetensors: cannot open"));
}

/// Names in `dir` that contain ".tmp.".
std::vector<std::string> temporaries(const std::filesystem::path &dir) {
  std::vector<std::string> names;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos)
      names.push_back(entry.path().filename().string());
  return names;
}

TEST(Safetensors, WritesLeaveNoTemporaryAndRemoveDeadWritersOnes) {
  const std::filesystem::path dir = tempPath("dir");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "w.safetensors").string();
  // A writer killed after naming its file (or an older mixerc's named temporary) left one; so
  // did a writer that still runs, whose file must stay.
  const pid_t dead = fork();
  if (dead == 0)
    _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string stale = path + ".tmp." + std::to_string(dead);
  const std::string live = path + ".tmp." + std::to_string(getppid());
  std::ofstream(stale) << "partial";
  std::ofstream(live) << "in progress";
  float a[2] = {1, 2};
  ASSERT_EQ(write_safetensors(path.c_str(), {{"a", "F32", {2}, a}}, {}), MIXER_OK)
      << mixer_last_error();
  EXPECT_EQ(temporaries(dir), std::vector<std::string>{std::filesystem::path(live).filename()});
  std::remove(live.c_str());
  ASSERT_EQ(write_safetensors(path.c_str(), {{"a", "F32", {2}, a}}, {}), MIXER_OK);
  EXPECT_TRUE(temporaries(dir).empty());
  SafetensorsFile file;
  EXPECT_EQ(read_safetensors(path.c_str(), &file), MIXER_OK);
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, FailedWriteLeavesNothingBehind) {
  float a[1] = {1};
  EXPECT_EQ(write_safetensors("/nonexistent/dir/w.safetensors", {{"a", "F32", {1}, a}}, {}),
            MIXER_ERROR_IO);
  EXPECT_THAT(mixer_last_error(), HasSubstr("cannot create a temporary file"));
}

} // namespace
