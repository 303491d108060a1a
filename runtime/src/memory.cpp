// Memory limits of the process (see memory.h).
#include "memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "error.h"

namespace mixer::rt {
namespace {

/// The first number in `path` (a cgroup limit, /proc/self/statm), or -1 ("max", absent).
double read_number(const char *path) {
  FILE *file = std::fopen(path, "r");
  if (!file)
    return -1;
  double value = -1;
  if (std::fscanf(file, "%lf", &value) != 1)
    value = -1;
  std::fclose(file);
  return value;
}

} // namespace

double available_memory_bytes() {
  const double page = double(sysconf(_SC_PAGESIZE));
  double bytes = double(sysconf(_SC_PHYS_PAGES)) * page;
  const double cgroup = read_number("/sys/fs/cgroup/memory.max");
  if (cgroup > 0)
    bytes = std::min(bytes, cgroup);
  struct rlimit limit;
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const double mapped = std::max(0.0, read_number("/proc/self/statm")) * page;
    bytes = std::min(bytes, std::max(0.0, double(limit.rlim_cur) - mapped));
  }
  return bytes;
}

mixer_status check_fits(double bytes, const char *who, const char *what) {
  const double available = available_memory_bytes();
  if (bytes <= available)
    return MIXER_OK;
  return fail(MIXER_ERROR_OUT_OF_MEMORY,
              "%s: %s needs %.2f GB, more than the %.2f GB this process can have", who, what,
              bytes * 1e-9, available * 1e-9);
}

} // namespace mixer::rt
