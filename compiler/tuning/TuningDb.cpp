// The tuning database (see TuningDb.h).
#include "tuning/TuningDb.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

namespace mixerc {
namespace {

constexpr const char *kSchema = R"(
CREATE TABLE records (
  id INTEGER PRIMARY KEY,
  kernel TEXT NOT NULL,
  target TEXT NOT NULL,
  cpu TEXT NOT NULL,
  family TEXT NOT NULL,
  params TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'compile_error', 'crash', 'timeout', 'wrong')),
  median_ms REAL NOT NULL,
  spread REAL NOT NULL,
  default_ms REAL NOT NULL,
  trial INTEGER NOT NULL,
  mixerc_version TEXT NOT NULL,
  date TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX records_by_kernel ON records (kernel, target, cpu, status, median_ms);
)";

constexpr const char *kColumns = "kernel, target, cpu, family, params, status, median_ms, spread, "
                                 "default_ms, trial, mixerc_version, date, message";

/// A prepared statement, finalized on scope exit.
class Statement {
public:
  Statement(sqlite3 *db, const char *sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Statement() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt *get() const { return s_; }
  void bind(int i, const std::string &v) {
    sqlite3_bind_text(s_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  void bind(int i, int v) { sqlite3_bind_int(s_, i, v); }
  std::string text(int i) const {
    const unsigned char *t = sqlite3_column_text(s_, i);
    return t ? reinterpret_cast<const char *>(t) : "";
  }

private:
  sqlite3_stmt *s_ = nullptr;
  int rc_;
};

/// The first column of the first row of `sql` as an integer.
bool queryInt(sqlite3 *db, const char *sql, int64_t *out) {
  Statement s(db, sql);
  if (!s.ok() || sqlite3_step(s.get()) != SQLITE_ROW)
    return false;
  *out = sqlite3_column_int64(s.get(), 0);
  return true;
}

bool exec(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

} // namespace

const char *trialStatusName(TrialStatus status) {
  switch (status) {
  case TrialStatus::Ok:
    return "ok";
  case TrialStatus::CompileError:
    return "compile_error";
  case TrialStatus::Crash:
    return "crash";
  case TrialStatus::Timeout:
    return "timeout";
  case TrialStatus::Wrong:
    return "wrong";
  }
  return "?";
}

bool parseTrialStatus(const std::string &text, TrialStatus *status) {
  for (TrialStatus s : {TrialStatus::Ok, TrialStatus::CompileError, TrialStatus::Crash,
                        TrialStatus::Timeout, TrialStatus::Wrong})
    if (text == trialStatusName(s)) {
      *status = s;
      return true;
    }
  return false;
}

std::unique_ptr<TuningDb> TuningDb::open(const std::string &path, bool create,
                                         std::string *error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (create && !fs::exists(path, ec)) {
    // A new database is made beside the target and linked into place, so that two tuners
    // starting on a missing file at once never both initialise one file (one of them lost its
    // records so); the second link fails and that tuner opens the first one's database.
    const std::string fresh = fmt::format("{}.new.{}", path, getpid());
    fs::remove(fresh, ec);
    if (!openFile(fresh, true, error)) {
      fs::remove(fresh, ec);
      return nullptr;
    }
    const bool linked = link(fresh.c_str(), path.c_str()) == 0 || errno == EEXIST;
    const int linkErrno = errno;
    fs::remove(fresh, ec);
    if (!linked) {
      *error = fmt::format("{}: cannot create: {}", path, std::strerror(linkErrno));
      return nullptr;
    }
  }
  return openFile(path, create, error);
}

std::unique_ptr<TuningDb> TuningDb::openFile(const std::string &path, bool create,
                                             std::string *error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!create && !fs::exists(path, ec)) {
    *error = fmt::format("{}: no such tuning database (mixerc tune --db {} makes one)", path, path);
    return nullptr;
  }
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec)) {
    *error = fmt::format("{}: not a regular file", path);
    return nullptr;
  }
  sqlite3 *raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &raw, flags, nullptr) != SQLITE_OK) {
    *error = fmt::format("{}: cannot open: {}", path, raw ? sqlite3_errmsg(raw) : "out of memory");
    sqlite3_close(raw);
    return nullptr;
  }
  std::unique_ptr<TuningDb> db(new TuningDb(raw, path));
  sqlite3_busy_timeout(raw, 30000); // another tuner's transaction is short; wait for it
  // The file may come from anywhere: no schema-level SQL (triggers, views, generated columns)
  // may call functions with side effects, and no SQL may corrupt the file deliberately.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  auto refuse = [&](const std::string &why) {
    *error = fmt::format("{}: {}", path, why);
    return nullptr;
  };
  // Read before anything is written: a foreign file must be left exactly as it is.
  int64_t application = 0, version = 0, tables = 0;
  if (!queryInt(raw, "PRAGMA application_id", &application) ||
      !queryInt(raw, "PRAGMA user_version", &version) ||
      !queryInt(raw, "SELECT count(*) FROM sqlite_master", &tables))
    return refuse(fmt::format("not a mixerc tuning database ({})", sqlite3_errmsg(raw)));
  const bool fresh = application == 0 && version == 0 && tables == 0;
  if (!fresh && application != kApplicationId)
    return refuse(fmt::format("a SQLite database of another application (application_id "
                              "{:#x}), not a mixerc tuning database",
                              application));
  if (!fresh && version != kSchemaVersion)
    return refuse(fmt::format("tuning database schema version {}, but this mixerc reads version "
                              "{} (tune anew into another file)",
                              version, kSchemaVersion));
  if (fresh && !create)
    return refuse("an empty database, not a mixerc tuning database");
  if (!fresh) {
    Statement check(raw, "PRAGMA quick_check");
    if (!check.ok() || sqlite3_step(check.get()) != SQLITE_ROW || check.text(0) != "ok")
      return refuse(fmt::format("corrupt tuning database ({})", check.ok() ? check.text(0)
                                                                           : sqlite3_errmsg(raw)));
  }
  // WAL: readers never block the writer and a killed writer's transaction is rolled back.
  {
    Statement wal(raw, "PRAGMA journal_mode=WAL");
    if (!wal.ok() || sqlite3_step(wal.get()) != SQLITE_ROW)
      return refuse(fmt::format("cannot use WAL mode: {}", sqlite3_errmsg(raw)));
  }
  if (fresh) {
    // Two tuners may create the file at once: the second waits here, then finds the schema.
    if (!exec(raw, "BEGIN IMMEDIATE"))
      return refuse(fmt::format("cannot lock: {}", sqlite3_errmsg(raw)));
    int64_t now = 0;
    if (!queryInt(raw, "PRAGMA application_id", &now)) {
      exec(raw, "ROLLBACK");
      return refuse(sqlite3_errmsg(raw));
    }
    if (now == 0) {
      const std::string pragmas = fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {};",
                                              kApplicationId, kSchemaVersion);
      if (!exec(raw, kSchema) || !exec(raw, pragmas.c_str())) {
        const std::string why = sqlite3_errmsg(raw);
        exec(raw, "ROLLBACK");
        return refuse(fmt::format("cannot create the schema: {}", why));
      }
    }
    if (!exec(raw, "COMMIT"))
      return refuse(fmt::format("cannot create the schema: {}", sqlite3_errmsg(raw)));
  }
  return db;
}

TuningDb::~TuningDb() { sqlite3_close(db_); }

bool TuningDb::fail(const std::string &what, std::string *error) const {
  *error = fmt::format("{}: {}: {}", path_, what, sqlite3_errmsg(db_));
  return false;
}

bool TuningDb::add(const TuningRecord &r, std::string *error) {
  Statement s(db_, fmt::format("INSERT INTO records ({}) VALUES "
                               "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                               kColumns)
                       .c_str());
  if (!s.ok())
    return fail("cannot record a trial", error);
  s.bind(1, r.kernel);
  s.bind(2, r.target);
  s.bind(3, r.cpu);
  s.bind(4, r.family);
  s.bind(5, r.params);
  s.bind(6, std::string(trialStatusName(r.status)));
  s.bind(7, r.median_ms);
  s.bind(8, r.spread);
  s.bind(9, r.default_ms);
  s.bind(10, r.trial);
  s.bind(11, r.version);
  s.bind(12, r.date);
  s.bind(13, r.message);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    return fail("cannot record a trial", error);
  return true;
}

namespace {
/// One row of a query over kColumns. A hostile or damaged file may hold any value in any column
/// (SQLite columns take any type); what the compile relies on is checked here.
bool readRow(const Statement &s, const std::string &path, TuningRecord *r, std::string *error) {
  r->kernel = s.text(0);
  r->target = s.text(1);
  r->cpu = s.text(2);
  r->family = s.text(3);
  r->params = s.text(4);
  if (!parseTrialStatus(s.text(5), &r->status)) {
    *error = fmt::format("{}: a record has status '{}'", path, s.text(5));
    return false;
  }
  r->median_ms = sqlite3_column_double(s.get(), 6);
  r->spread = sqlite3_column_double(s.get(), 7);
  r->default_ms = sqlite3_column_double(s.get(), 8);
  r->trial = sqlite3_column_int(s.get(), 9);
  r->version = s.text(10);
  r->date = s.text(11);
  r->message = s.text(12);
  const bool timesValid = std::isfinite(r->median_ms) && std::isfinite(r->default_ms) &&
                          std::isfinite(r->spread) && r->median_ms >= 0 && r->default_ms >= 0 &&
                          r->spread >= 0 && (r->status != TrialStatus::Ok || r->median_ms > 0);
  if (!timesValid) {
    *error = fmt::format("{}: a record of kernel {} has invalid times (median {} ms, default {} "
                         "ms, spread {})",
                         path, r->kernel, r->median_ms, r->default_ms, r->spread);
    return false;
  }
  return true;
}
} // namespace

bool TuningDb::query(const std::string &where, const std::string &kernel,
                     const std::string &target, const std::string &cpu,
                     std::vector<TuningRecord> *out, std::string *error) {
  Statement s(db_, fmt::format("SELECT {} FROM records WHERE {}", kColumns, where).c_str());
  if (!s.ok())
    return fail("cannot query", error);
  s.bind(1, kernel);
  s.bind(2, target);
  s.bind(3, cpu);
  out->clear();
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out->emplace_back();
    if (!readRow(s, path_, &out->back(), error))
      return false;
  }
  if (rc != SQLITE_DONE)
    return fail("cannot query", error);
  return true;
}

bool TuningDb::best(const std::string &kernel, const std::string &target, const std::string &cpu,
                    TuningRecord *record, bool *found, std::string *error) {
  std::vector<TuningRecord> rows;
  if (!query("kernel = ?1 AND target = ?2 AND cpu = ?3 AND status = 'ok' AND default_ms > 0 "
             "ORDER BY median_ms / default_ms, id LIMIT 1",
             kernel, target, cpu, &rows, error))
    return false;
  *found = !rows.empty();
  if (*found)
    *record = rows[0];
  return true;
}

bool TuningDb::records(std::vector<TuningRecord> *out, std::string *error,
                       const std::string &kernel, const std::string &target,
                       const std::string &cpu) {
  return query("(?1 = '' OR kernel = ?1) AND (?2 = '' OR target = ?2) AND (?3 = '' OR cpu = ?3) "
               "ORDER BY id",
               kernel, target, cpu, out, error);
}

std::string hostCpuModel() {
  if (const char *forced = std::getenv("MIXERC_CPU_MODEL"); forced && *forced)
    return forced;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(colon + 1);
        name.erase(0, name.find_first_not_of(" \t"));
        return name;
      }
    }
  return "unknown cpu";
}

std::string utcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

} // namespace mixerc
