// safetensors reading and atomic writing (see safetensors.h).
#include "safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "json_header.h"
#include "memory.h"

namespace mixer::rt {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20; // the format's own limit
constexpr int kMaxTensorRank = 8;

mixer_status bad_format(const char *path, const std::string &what) {
  return fail(MIXER_ERROR_FORMAT, "%s: not a valid safetensors file: %s", path, what.c_str());
}

/// Checks one header entry and fills `view`; the data slice is checked against `data_bytes`.
bool parse_entry(const std::string &name, const json::Value &entry, uint64_t data_bytes,
                 TensorView *view, std::string *why) {
  const json::Value *dtype = entry.get("dtype");
  const json::Value *shape = entry.get("shape");
  const json::Value *offsets = entry.get("data_offsets");
  if (entry.kind != json::Value::Kind::Object || !dtype || !shape || !offsets ||
      dtype->kind != json::Value::Kind::String || shape->kind != json::Value::Kind::Array ||
      offsets->kind != json::Value::Kind::Array || offsets->array.size() != 2) {
    *why = "tensor '" + name + "' lacks dtype, shape or data_offsets";
    return false;
  }
  view->name = name;
  view->dtype = dtype->string;
  if (shape->array.size() > kMaxTensorRank) {
    *why = "tensor '" + name + "' has rank above 8";
    return false;
  }
  uint64_t elements = 1;
  for (const json::Value &d : shape->array) {
    if (d.kind != json::Value::Kind::Integer || d.integer < 0 || d.integer > (int64_t(1) << 40)) {
      *why = "tensor '" + name + "' has an invalid dimension";
      return false;
    }
    view->shape.push_back(d.integer);
    elements *= uint64_t(d.integer);
    if (elements > (uint64_t(1) << 40)) {
      *why = "tensor '" + name + "' is absurdly large";
      return false;
    }
  }
  const json::Value &begin = offsets->array[0], &end = offsets->array[1];
  if (begin.kind != json::Value::Kind::Integer || end.kind != json::Value::Kind::Integer ||
      begin.integer < 0 || end.integer < begin.integer || uint64_t(end.integer) > data_bytes) {
    *why = "tensor '" + name + "' has data_offsets outside the file (truncated?)";
    return false;
  }
  size_t element_size = dtype_size(view->dtype);
  if (element_size != 0 && elements * element_size != uint64_t(end.integer - begin.integer)) {
    *why = "tensor '" + name + "' has data_offsets that disagree with its shape and dtype";
    return false;
  }
  view->bytes = size_t(end.integer - begin.integer);
  view->data = reinterpret_cast<const uint8_t *>(uintptr_t(begin.integer)); // rebased by caller
  return true;
}

/// The data layout the reference implementation (safetensors' `validate`) requires: tensors'
/// byte ranges, in offset order, tile the data section exactly: from 0, no overlap, no gap,
/// nothing after the last one. A header length that is off, or bytes appended to a file, is
/// caught here (a data section shifted by a byte reads every weight misaligned).
mixer_status check_layout(const char *path, const std::vector<TensorView> &tensors,
                          uint64_t data_bytes) {
  std::vector<const TensorView *> order;
  for (const TensorView &t : tensors)
    order.push_back(&t);
  // parse_entry parked each tensor's begin offset in its data pointer.
  auto begin = [](const TensorView *t) { return uint64_t(uintptr_t(t->data)); };
  std::stable_sort(order.begin(), order.end(), [&](const TensorView *a, const TensorView *b) {
    return begin(a) < begin(b) || (begin(a) == begin(b) && a->bytes < b->bytes);
  });
  uint64_t expected = 0;
  for (const TensorView *t : order) {
    if (begin(t) != expected)
      return bad_format(path, "tensor '" + t->name + "' starts at data byte " +
                                  std::to_string(begin(t)) + " but the tensors before it end at " +
                                  std::to_string(expected) +
                                  (begin(t) < expected ? " (overlapping tensors)" : " (a gap)"));
    expected += t->bytes;
  }
  if (expected != data_bytes)
    return bad_format(path, std::to_string(data_bytes - expected) +
                                " bytes after the last tensor's data (trailing bytes, or a header "
                                "length that is off)");
  return MIXER_OK;
}

} // namespace

size_t dtype_size(const std::string &dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64")
    return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32")
    return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16")
    return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2")
    return 1;
  return 0;
}

const TensorView *SafetensorsFile::find(const std::string &name) const {
  for (const TensorView &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

mixer_status read_safetensors(const char *path, SafetensorsFile *out) {
  FILE *file = std::fopen(path, "rb");
  if (!file)
    return fail(MIXER_ERROR_IO, "%s: cannot open: %s", path, std::strerror(errno));
  struct stat info;
  if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
    std::fclose(file);
    return fail(MIXER_ERROR_IO, "%s: not a regular file", path);
  }
  if (mixer_status s = check_fits(double(info.st_size), path, "reading the whole file")) {
    std::fclose(file);
    return s;
  }
  std::vector<uint8_t> contents;
  try {
    contents.resize(size_t(info.st_size));
  } catch (const std::bad_alloc &) {
    std::fclose(file);
    return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s: cannot hold %lld bytes", path,
                (long long)info.st_size);
  }
  size_t got = contents.empty() ? 0 : std::fread(contents.data(), 1, contents.size(), file);
  std::fclose(file);
  if (got != contents.size())
    return fail(MIXER_ERROR_IO, "%s: read failed", path);
  return parse_safetensors(std::move(contents), path, out);
}

mixer_status parse_safetensors(std::vector<uint8_t> contents, const char *path,
                               SafetensorsFile *out) {
  if (contents.size() < 8)
    return bad_format(path, "shorter than its 8-byte header length");
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i)
    header_bytes = (header_bytes << 8) | contents[size_t(i)];
  if (header_bytes > kMaxHeaderBytes || header_bytes > contents.size() - 8)
    return bad_format(path, "header length " + std::to_string(header_bytes) +
                                " exceeds the file (truncated?)");
  std::string header(reinterpret_cast<const char *>(contents.data() + 8), size_t(header_bytes));
  json::Value root;
  std::string why;
  if (!json::parse(header, &root, &why))
    return bad_format(path, why);
  if (root.kind != json::Value::Kind::Object)
    return bad_format(path, "header is not a JSON object");

  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_bytes = contents.size() - data_start;
  SafetensorsFile result;
  for (const auto &[name, entry] : root.object) {
    if (name == "__metadata__") {
      if (entry.kind != json::Value::Kind::Object)
        return bad_format(path, "__metadata__ is not an object");
      for (const auto &[key, value] : entry.object) {
        if (value.kind != json::Value::Kind::String)
          return bad_format(path, "__metadata__ value '" + key + "' is not a string");
        result.metadata[key] = value.string;
      }
      continue;
    }
    TensorView view;
    if (!parse_entry(name, entry, data_bytes, &view, &why))
      return bad_format(path, why);
    result.tensors.push_back(std::move(view));
  }
  if (mixer_status s = check_layout(path, result.tensors, data_bytes))
    return s;
  result.contents = std::move(contents);
  for (TensorView &t : result.tensors)
    t.data = result.contents.data() + data_start + uintptr_t(t.data);
  *out = std::move(result);
  return MIXER_OK;
}

namespace {

std::string directory_of(const char *path) {
  const std::string p(path);
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
}

/// "<path>.tmp.<pid>": the name a file being written gets before the rename.
std::string temporary_name(const char *path) {
  return std::string(path) + ".tmp." + std::to_string(getpid());
}

/// Removes "<path>.tmp.<pid>" files whose writer no longer runs (killed between naming its
/// file and the rename, or by an older mixerc that wrote to named temporaries throughout).
void remove_stale_temporaries(const char *path) {
  const std::string dir = directory_of(path);
  const std::string p(path);
  const std::string prefix = p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1) +
                             ".tmp.";
  DIR *entries = opendir(dir.c_str());
  if (!entries)
    return;
  while (const dirent *entry = readdir(entries)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0)
      continue;
    char *end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid > 0 && *end == '\0' && kill(pid_t(pid), 0) != 0 && errno == ESRCH)
      ::unlink((dir + "/" + name).c_str());
  }
  closedir(entries);
}

} // namespace

mixer_status write_safetensors(const char *path, const std::vector<TensorToWrite> &tensors,
                               const std::map<std::string, std::string> &metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[key, value] : metadata) {
      if (!first)
        header += ',';
      first = false;
      json::append_quoted(header, key);
      header += ':';
      json::append_quoted(header, value);
    }
    header += '}';
  }
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const TensorToWrite &t : tensors) {
    uint64_t elements = 1;
    for (int64_t d : t.shape)
      elements *= uint64_t(d);
    uint64_t bytes = elements * dtype_size(t.dtype);
    sizes.push_back(bytes);
    if (header.size() > 1)
      header += ',';
    json::append_quoted(header, t.name);
    header += ":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += '}';
  while ((8 + header.size()) % 8 != 0) // the format pads the header with spaces to 8-byte alignment
    header += ' ';

  remove_stale_temporaries(path);
  // The data goes to an unnamed file in the target's directory (O_TMPFILE), which vanishes with
  // the process if it is killed while writing; it gets a name (TEMP_NAME) only once complete,
  // for the instant before the rename. Where O_TMPFILE is unsupported, TEMP_NAME from the start.
  const std::string temp = temporary_name(path);
  const std::string dir = directory_of(path);
  bool unnamed = true;
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    unnamed = false;
    fd = ::open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  }
  if (fd < 0)
    return fail(MIXER_ERROR_IO, "%s: cannot create a temporary file beside it: %s", path,
                std::strerror(errno));
  auto write_all = [fd](const void *data, size_t n) {
    const char *p = static_cast<const char *>(data);
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return false;
      p += w;
      n -= size_t(w);
    }
    return true;
  };
  uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  bool ok = write_all(length, 8) && write_all(header.data(), header.size());
  for (size_t i = 0; ok && i < tensors.size(); ++i)
    ok = write_all(tensors[i].data, sizes[i]);
  ok = ok && fsync(fd) == 0;
  if (ok && unnamed) {
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    ::unlink(temp.c_str()); // a leftover of this pid's earlier life
    ok = linkat(AT_FDCWD, self.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW) == 0;
  }
  int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (ok)
    ok = chmod(temp.c_str(), 0644) == 0 && std::rename(temp.c_str(), path) == 0;
  if (!ok) {
    saved_errno = errno ? errno : saved_errno;
    ::unlink(temp.c_str());
    return fail(MIXER_ERROR_IO, "%s: write failed: %s", path, std::strerror(saved_errno));
  }
  return MIXER_OK;
}

} // namespace mixer::rt
