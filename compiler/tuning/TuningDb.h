// The tuning database: every measurement `mixerc tune` makes, in one SQLite file, and the query
// `mixerc compile --tuning-db` asks (the best valid record of a kernel for a target).
//
// Records are keyed by the kernel (KernelSignature::key(): op, shapes, dtype, fused epilogue) and
// the target: the Halide target string *and* the CPU model, so a record measured on a Zen 4 is not
// applied on a Zen 5 that compiles for the same Halide target (TVM's MetaSchedule keys records by
// target but queries ignore it, apache/tvm issue 15549). The file is SQLite in WAL mode with a
// busy timeout, so two tuners may write one database and a killed tuner leaves it valid; every
// record is one transaction. PRAGMA application_id marks the file as mixerc's and user_version
// holds the schema version: a file of another application, another schema version or no
// database at all is refused with a message naming the file.
#ifndef MIXERC_TUNING_TUNINGDB_H
#define MIXERC_TUNING_TUNINGDB_H

#include <memory>
#include <string>
#include <vector>

struct sqlite3;

namespace mixerc {

/// How a trial ended. Only Ok records (checked against the default schedule's output) may win.
enum class TrialStatus { Ok, CompileError, Crash, Timeout, Wrong };
const char *trialStatusName(TrialStatus status);
bool parseTrialStatus(const std::string &text, TrialStatus *status);

struct TuningRecord {
  std::string kernel; ///< KernelSignature::key()
  std::string target; ///< Halide target string
  std::string cpu;    ///< the CPU model (hostCpuModel())
  std::string family; ///< the schedule family ("gemm", ...)
  std::string params; ///< the record's text (e.g. GemmSchedule::str())
  TrialStatus status = TrialStatus::Ok;
  double median_ms = 0;  ///< of the repeats (Ok only)
  double spread = 0;     ///< (max - min) / median of the repeats kept
  double default_ms = 0; ///< the default schedule's median, measured in the same round
  int trial = 0;         ///< the trial's index within its kernel's tune
  std::string version;   ///< mixerc's
  std::string date;      ///< ISO 8601, UTC
  std::string message;   ///< why a trial failed
};

class TuningDb {
public:
  static constexpr int kSchemaVersion = 1;
  /// PRAGMA application_id of mixerc's databases ("MXTU").
  static constexpr int kApplicationId = 0x4d585455;

  /// Opens `path`; `create` makes a new database where none exists (mixerc tune), otherwise a
  /// missing file is an error (mixerc compile). Null with a message naming the file on failure.
  static std::unique_ptr<TuningDb> open(const std::string &path, bool create, std::string *error);
  ~TuningDb();

  bool add(const TuningRecord &record, std::string *error);
  /// The Ok record of a kernel for a target and CPU that beat the default of its own round by the
/// most (median / default_ms smallest); *found false where there is none.
  bool best(const std::string &kernel, const std::string &target, const std::string &cpu,
            TuningRecord *record, bool *found, std::string *error);
  /// Every record, or those of one kernel/target/cpu (empty strings match all), oldest first.
  bool records(std::vector<TuningRecord> *out, std::string *error,
               const std::string &kernel = "", const std::string &target = "",
               const std::string &cpu = "");
  const std::string &path() const { return path_; }

private:
  TuningDb(sqlite3 *db, std::string path) : db_(db), path_(std::move(path)) {}
  /// open() on a path that exists, or (create) is made in place.
  static std::unique_ptr<TuningDb> openFile(const std::string &path, bool create,
                                            std::string *error);
  bool fail(const std::string &what, std::string *error) const;
  /// The records WHERE `where` (SQL over kColumns, with ?1..?3 bound to kernel, target, cpu).
  bool query(const std::string &where, const std::string &kernel, const std::string &target,
             const std::string &cpu, std::vector<TuningRecord> *out, std::string *error);
  sqlite3 *db_;
  std::string path_;
};

/// The CPU this process runs on, as /proc/cpuinfo names it ("AMD EPYC 9R14 96-Core Processor");
/// MIXERC_CPU_MODEL overrides it (the tests pose as another host with it).
std::string hostCpuModel();

/// Now as ISO 8601 UTC ("2026-12-07T16:20:00Z").
std::string utcNow();

} // namespace mixerc

#endif
