// libFuzzer target: the tuning database reader of mixerc compile --tuning-db and mixerc tune
// --show/--resume on any file: SQLite's own file format, then mixerc's checks (application id,
// schema version, quick_check, the records' columns and values) and the GEMM record parser the
// compile applies to a record's text. Each input is written to a file of this process's own
// (SQLite reads files, and a WAL-mode header makes it look for the -wal and -shm files beside it).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "schedule/DepthwiseSchedule.h"
#include "schedule/GemmSchedule.h"
#include "tuning/TuningDb.h"

namespace {
std::string scratchPath() {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/mixerc-fuzz-tuning-" +
         std::to_string(getpid()) + ".db";
}

void removeDatabase(const std::string &path) {
  for (const char *suffix : {"", "-wal", "-shm", "-journal"})
    std::remove((path + suffix).c_str());
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path = scratchPath();
  removeDatabase(path);
  if (FILE *f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    __builtin_trap();
  }
  std::string error;
  if (auto db = mixerc::TuningDb::open(path, /*create=*/false, &error)) {
    std::vector<mixerc::TuningRecord> records;
    if (db->records(&records, &error)) {
      for (const mixerc::TuningRecord &r : records) {
        // What the reader accepts is what the compile relies on.
        if (r.status == mixerc::TrialStatus::Ok &&
            !(std::isfinite(r.median_ms) && r.median_ms > 0 && std::isfinite(r.default_ms)))
          __builtin_trap();
        mixerc::GemmSchedule gemm;
        mixerc::DepthwiseSchedule depthwise;
        if (r.family == "depthwise")
          mixerc::parseDepthwiseSchedule(r.params, &depthwise, &error);
        else
          mixerc::parseGemmSchedule(r.params, &gemm, &error);
      }
      if (!records.empty()) {
        mixerc::TuningRecord best;
        bool found = false;
        db->best(records[0].kernel, records[0].target, records[0].cpu, &best, &found, &error);
      }
    }
  }
  removeDatabase(path);
  return 0;
}
