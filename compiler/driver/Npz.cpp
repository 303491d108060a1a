// .npz reading (see Npz.h): the zip central directory (PKWARE APPNOTE 4.3.12, zip64 extra field
// 4.5.3), each member stored or raw-deflated (zlib), then NumPy's .npy header (format 1.0-3.0).
#include "driver/Npz.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <zlib.h>

#include "convert.h" // the runtime's exact f16 -> f32

namespace mixerc {
namespace {

constexpr uint64_t kMaxMemberBytes = uint64_t(16) << 30;

uint64_t little(const std::vector<uint8_t> &b, uint64_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = v << 8 | b[at + uint64_t(i)];
  return v;
}

struct Reader {
  const std::vector<uint8_t> &bytes;
  const std::string &name;
  std::string *error;
  bool fail(const std::string &what) const {
    *error = fmt::format("{}: not a valid .npz file: {}", name, what);
    return false;
  }
  bool has(uint64_t at, uint64_t n) const { return at <= bytes.size() && n <= bytes.size() - at; }
};

/// The member's bytes, inflated when deflated.
bool memberData(const Reader &r, const std::string &member, uint64_t local, uint64_t compressed,
                uint64_t size, int method, std::vector<uint8_t> *out) {
  if (!r.has(local, 30) || little(r.bytes, local, 4) != 0x04034b50)
    return r.fail(fmt::format("'{}' has no local header", member));
  const uint64_t data =
      local + 30 + little(r.bytes, local + 26, 2) + little(r.bytes, local + 28, 2);
  if (!r.has(data, compressed))
    return r.fail(fmt::format("'{}' extends past the end of the file (truncated?)", member));
  // Deflate expands at most 1032:1, so a larger claim is a lie (a small file could otherwise
  // make the reader allocate gigabytes before inflating anything).
  if (size > kMaxMemberBytes || (method == 8 && size > compressed * 1032 + 1024))
    return r.fail(fmt::format("'{}' claims {} bytes from {} compressed", member, size,
                              compressed));
  if (method == 0) {
    if (compressed != size)
      return r.fail(fmt::format("'{}' is stored with sizes that disagree", member));
    out->assign(r.bytes.begin() + long(data), r.bytes.begin() + long(data + size));
    return true;
  }
  if (method != 8)
    return r.fail(fmt::format("'{}' uses compression method {} (only stored and deflate)",
                              member, method));
  out->assign(size_t(size), 0);
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)
    return r.fail("cannot start inflate");
  stream.next_in = const_cast<Bytef *>(r.bytes.data() + data);
  stream.avail_in = uInt(std::min<uint64_t>(compressed, UINT32_MAX));
  stream.next_out = out->data();
  stream.avail_out = uInt(std::min<uint64_t>(size, UINT32_MAX));
  const int code = inflate(&stream, Z_FINISH);
  const bool whole = code == Z_STREAM_END && stream.total_out == size;
  inflateEnd(&stream);
  if (!whole)
    return r.fail(fmt::format("'{}' does not inflate to its {} bytes", member, size));
  return true;
}

/// The value of `key` in a .npy header's dict literal, up to the next top-level ',' or '}'.
std::string headerValue(const std::string &header, const std::string &key) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos)
    return "";
  size_t begin = header.find(':', at);
  if (begin == std::string::npos)
    return "";
  ++begin;
  int depth = 0;
  size_t end = begin;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  std::string value = header.substr(begin, end - begin);
  value.erase(std::remove(value.begin(), value.end(), ' '), value.end());
  return value;
}

bool parseNpy(const Reader &r, const std::string &member, const std::vector<uint8_t> &b,
              NpyArray *array) {
  auto bad = [&](const std::string &what) { return r.fail(fmt::format("'{}': {}", member, what)); };
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    return bad("not a .npy array");
  const int major = b[6];
  const uint64_t lengthBytes = major == 1 ? 2 : 4;
  if (major < 1 || major > 3 || b.size() < 8 + lengthBytes)
    return bad(fmt::format(".npy format {} is not 1, 2 or 3", major));
  const uint64_t start = 8 + lengthBytes, length = little(b, 8, int(lengthBytes));
  if (length > b.size() - start)
    return bad("header extends past the array");
  const std::string header(b.begin() + long(start), b.begin() + long(start + length));
  const std::string descr = headerValue(header, "descr");
  const std::string order = headerValue(header, "fortran_order");
  std::string shape = headerValue(header, "shape");
  int itemBytes = descr == "'<f2'" ? 2 : descr == "'<f4'" ? 4 : descr == "'<f8'" ? 8 : 0;
  if (!itemBytes)
    return bad(fmt::format("dtype {} (expected little-endian float16, float32 or float64)",
                           descr.empty() ? "missing" : descr));
  if (order != "False")
    return bad("Fortran order (expected C order)");
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')')
    return bad("no shape");
  uint64_t count = 1;
  array->shape.clear();
  shape = shape.substr(1, shape.size() - 2);
  for (size_t at = 0; at < shape.size();) {
    size_t next = shape.find(',', at);
    const std::string dim = shape.substr(at, next == std::string::npos ? next : next - at);
    if (!dim.empty()) {
      if (dim.size() > 12 || dim.find_first_not_of("0123456789") != std::string::npos)
        return bad(fmt::format("shape entry '{}'", dim));
      array->shape.push_back(std::stoll(dim));
      count *= uint64_t(array->shape.back());
      if (count > kMaxMemberBytes)
        return bad("absurd shape");
    }
    at = next == std::string::npos ? shape.size() : next + 1;
  }
  const uint64_t data = start + length;
  if (b.size() - data != count * uint64_t(itemBytes))
    return bad(fmt::format("{} data bytes for {} elements of {} bytes", b.size() - data, count,
                           itemBytes));
  array->values.resize(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t at = data + i * uint64_t(itemBytes);
    if (itemBytes == 2) {
      array->values[i] = mixer::rt::half_to_float(uint16_t(little(b, at, 2)));
    } else if (itemBytes == 4) {
      std::memcpy(&array->values[i], &b[at], 4);
    } else {
      double v;
      std::memcpy(&v, &b[at], 8);
      array->values[i] = float(v);
    }
  }
  return true;
}

} // namespace

bool parseNpz(const std::vector<uint8_t> &bytes, const std::string &name,
              std::map<std::string, NpyArray> *arrays, std::string *error) {
  const Reader r{bytes, name, error};
  // The end-of-central-directory record: the last signature within a maximal comment's reach.
  if (bytes.size() < 22)
    return r.fail("shorter than a zip directory");
  uint64_t eocd = bytes.size() - 22;
  const uint64_t lowest = bytes.size() > 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
  while (eocd > lowest && little(bytes, eocd, 4) != 0x06054b50)
    --eocd;
  if (little(bytes, eocd, 4) != 0x06054b50)
    return r.fail("no zip directory (not a zip file)");
  uint64_t entries = little(bytes, eocd + 10, 2), directory = little(bytes, eocd + 16, 4);
  if ((entries == 0xFFFF || directory == 0xFFFFFFFF) && eocd >= 20 &&
      little(bytes, eocd - 20, 4) == 0x07064b50) { // zip64: the record the locator points to
    const uint64_t record = little(bytes, eocd - 20 + 8, 8);
    if (!r.has(record, 56) || little(bytes, record, 4) != 0x06064b50)
      return r.fail("bad zip64 directory record");
    entries = little(bytes, record + 32, 8);
    directory = little(bytes, record + 48, 8);
  }
  uint64_t at = directory;
  for (uint64_t e = 0; e < entries; ++e) {
    if (!r.has(at, 46) || little(bytes, at, 4) != 0x02014b50)
      return r.fail(fmt::format("directory entry {} is damaged", e));
    const int method = int(little(bytes, at + 10, 2));
    uint64_t compressed = little(bytes, at + 20, 4), size = little(bytes, at + 24, 4);
    const uint64_t nameLength = little(bytes, at + 28, 2), extra = little(bytes, at + 30, 2),
                   comment = little(bytes, at + 32, 2);
    uint64_t local = little(bytes, at + 42, 4);
    if (!r.has(at + 46, nameLength + extra + comment))
      return r.fail(fmt::format("directory entry {} is damaged", e));
    const std::string member(bytes.begin() + long(at + 46),
                             bytes.begin() + long(at + 46 + nameLength));
    // zip64 sizes and offset, in this order, for the fields that hold 0xFFFFFFFF.
    for (uint64_t x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extra;) {
      const uint64_t id = little(bytes, x, 2), length = little(bytes, x + 2, 2);
      uint64_t field = x + 4;
      if (id == 0x0001)
        for (uint64_t *value : {&size, &compressed, &local})
          if (*value == 0xFFFFFFFF && field + 8 <= x + 4 + length) {
            *value = little(bytes, field, 8);
            field += 8;
          }
      x += 4 + length;
    }
    at += 46 + nameLength + extra + comment;
    if (member.size() < 5 || member.compare(member.size() - 4, 4, ".npy") != 0)
      continue; // not an array
    std::vector<uint8_t> data;
    NpyArray array;
    if (!memberData(r, member, local, compressed, size, method, &data) ||
        !parseNpy(r, member, data, &array))
      return false;
    (*arrays)[member.substr(0, member.size() - 4)] = std::move(array);
  }
  return true;
}

bool readNpz(const std::string &path, std::map<std::string, NpyArray> *arrays,
             std::string *error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = fmt::format("{}: cannot open", path);
    return false;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  return parseNpz(bytes, path, arrays, error);
}

} // namespace mixerc
