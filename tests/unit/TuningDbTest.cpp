// The tuning database: round trip, the best-record query (target and CPU are part of the key),
// refusal of foreign, corrupt and other-version files without touching them, two writers at
// once, and a writer killed with SIGKILL in the middle of its inserts.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tuning/TuningDb.h"

namespace mixerc {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TuningDbTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mixerc-tuningdb-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char *name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TuningRecord record(const std::string &params, double ms, double defaultMs,
                    TrialStatus status = TrialStatus::Ok) {
  TuningRecord r;
  r.kernel = "dense_channels/n64_m49_k32_rows49_panel64/bias/f32";
  r.target = "x86-64-linux-avx512";
  r.cpu = "Test CPU";
  r.family = "gemm";
  r.params = params;
  r.status = status;
  r.median_ms = ms;
  r.spread = 0.01;
  r.default_ms = defaultMs;
  r.trial = 1;
  r.version = "0.1.0";
  r.date = "2026-12-07T00:00:00Z";
  return r;
}

TEST_F(TuningDbTest, RecordsRoundTripAndTheBestIsTheLargestGainOverItsRoundsDefault) {
  std::string error;
  auto db = TuningDb::open(path("t.db"), true, &error);
  ASSERT_TRUE(db) << error;
  ASSERT_TRUE(db->add(record("a", 1.0, 1.1), &error)) << error;
  ASSERT_TRUE(db->add(record("b", 0.9, 1.2), &error)) << error; // 1.33x: the best
  ASSERT_TRUE(db->add(record("c", 0.5, 0.0, TrialStatus::Wrong), &error)) << error;
  TuningRecord other = record("d", 0.1, 1.0);
  other.cpu = "Another CPU";
  ASSERT_TRUE(db->add(other, &error)) << error;
  db.reset();

  db = TuningDb::open(path("t.db"), false, &error);
  ASSERT_TRUE(db) << error;
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->records(&all, &error)) << error;
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[2].params, "c");
  EXPECT_EQ(all[2].status, TrialStatus::Wrong);
  EXPECT_EQ(all[1].default_ms, 1.2);
  TuningRecord best;
  bool found = false;
  ASSERT_TRUE(db->best(all[0].kernel, all[0].target, "Test CPU", &best, &found, &error));
  ASSERT_TRUE(found);
  EXPECT_EQ(best.params, "b");
  ASSERT_TRUE(db->best(all[0].kernel, "x86-64-linux-avx2", "Test CPU", &best, &found, &error));
  EXPECT_FALSE(found) << "a record of another target is never applied";
  ASSERT_TRUE(db->best(all[0].kernel, all[0].target, "Zen 9", &best, &found, &error));
  EXPECT_FALSE(found) << "a record of another CPU is never applied";
  ASSERT_TRUE(db->records(&all, &error, "", "", "Another CPU"));
  EXPECT_EQ(all.size(), 1u);
}

TEST_F(TuningDbTest, MissingFileIsAnErrorUnlessCreating) {
  std::string error;
  EXPECT_FALSE(TuningDb::open(path("none.db"), false, &error));
  EXPECT_THAT(error, HasSubstr("no such tuning database"));
  EXPECT_FALSE(fs::exists(path("none.db")));
}

std::string contents(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(TuningDbTest, ForeignFilesAreRefusedAndLeftAlone) {
  std::string error;
  { std::ofstream(path("text.db")) << "not a database at all, just some text\n"; }
  const std::string before = contents(path("text.db"));
  EXPECT_FALSE(TuningDb::open(path("text.db"), true, &error));
  EXPECT_THAT(error, HasSubstr("not a mixerc tuning database"));
  EXPECT_EQ(contents(path("text.db")), before);

  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(path("other.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hi');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  const std::string other = contents(path("other.db"));
  EXPECT_FALSE(TuningDb::open(path("other.db"), true, &error));
  EXPECT_THAT(error, HasSubstr("another application"));
  EXPECT_EQ(contents(path("other.db")), other);
}

TEST_F(TuningDbTest, AnotherSchemaVersionIsRefused) {
  std::string error;
  ASSERT_TRUE(TuningDb::open(path("v.db"), true, &error)) << error;
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(path("v.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 7", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_FALSE(TuningDb::open(path("v.db"), false, &error));
  EXPECT_THAT(error, HasSubstr("schema version 7, but this mixerc reads version 1"));
}

TEST_F(TuningDbTest, CorruptFileIsRefused) {
  std::string error;
  {
    auto db = TuningDb::open(path("c.db"), true, &error);
    ASSERT_TRUE(db) << error;
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE(db->add(record("p" + std::to_string(i) + std::string(200, 'x'), 1, 1), &error));
  }
  // Overwrite pages in the middle of the file (past the header, so it is still SQLite).
  std::string bytes = contents(path("c.db"));
  ASSERT_GT(bytes.size(), 16384u);
  for (size_t i = 4096; i < bytes.size() - 4096; i += 7)
    bytes[i] = char(i * 31);
  { std::ofstream(path("c.db"), std::ios::binary) << bytes; }
  auto db = TuningDb::open(path("c.db"), false, &error);
  std::vector<TuningRecord> all;
  EXPECT_TRUE(!db || !db->records(&all, &error));
  EXPECT_THAT(error, HasSubstr(path("c.db")));
}

/// A child that adds `count` records; returns its pid.
pid_t writer(const std::string &path, const std::string &tag, int count) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::string error;
    auto db = TuningDb::open(path, true, &error);
    if (!db)
      _exit(10);
    for (int i = 0; i < count; ++i)
      if (!db->add(record(tag + std::to_string(i), 1, 1), &error))
        _exit(11);
    _exit(0);
  }
  return pid;
}

TEST_F(TuningDbTest, TwoWritersAtOnceBothLand) {
  const pid_t a = writer(path("w.db"), "a", 300), b = writer(path("w.db"), "b", 300);
  int sa = 0, sb = 0;
  waitpid(a, &sa, 0);
  waitpid(b, &sb, 0);
  EXPECT_TRUE(WIFEXITED(sa) && WEXITSTATUS(sa) == 0) << sa;
  EXPECT_TRUE(WIFEXITED(sb) && WEXITSTATUS(sb) == 0) << sb;
  std::string error;
  auto db = TuningDb::open(path("w.db"), false, &error);
  ASSERT_TRUE(db) << error;
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->records(&all, &error)) << error;
  EXPECT_EQ(all.size(), 600u);
}

TEST_F(TuningDbTest, AWriterKilledMidwayLeavesAValidDatabase) {
  std::string error;
  ASSERT_TRUE(TuningDb::open(path("k.db"), true, &error)) << error;
  for (int round = 0; round < 5; ++round) {
    const pid_t pid = writer(path("k.db"), "r" + std::to_string(round) + "_", 100000);
    usleep(30000 + 20000 * round);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    auto db = TuningDb::open(path("k.db"), false, &error);
    ASSERT_TRUE(db) << "after kill " << round << ": " << error;
    std::vector<TuningRecord> all;
    ASSERT_TRUE(db->records(&all, &error)) << error;
    ASSERT_TRUE(db->add(record("after", 1, 1), &error)) << error;
  }
}

} // namespace
} // namespace mixerc
