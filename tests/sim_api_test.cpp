// goro::sim, the users' simulation API (goro/sim.hpp), through the public
// headers only, as a user's test would use it. Built twice: against goro::sim
// (sim_api_test: the same seed gives the same trace, a failing seed's replay
// file round-trips and reproduces the failure, fatal errors write one too,
// a replay that differs is told apart, bad options are named) and against
// goro::goro (sim_api_plain_test: every entry point refuses, naming the
// library to link).
#include <gtest/gtest.h>
#include <goro/goro.hpp>
#include <goro/sim.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>
#include <string>

namespace {

namespace fs = std::filesystem;

// A scratch directory for replay files, removed afterwards.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    char tmpl[] = "/tmp/goro_sim_api_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~scratch_dir() { fs::remove_all(path); }
};

[[maybe_unused]] std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The planted race: both withdrawals may pass the check before either
// debits (the channel send between them is a scheduling point).
[[maybe_unused]] bool bank() {
  goro::mutex mu;
  int balance = 100;
  goro::chan<int> audit(4);
  goro::wait_group wg;
  for (int i = 0; i < 2; i++) {
    wg.add(1);
    goro::go([&] {
      mu.lock();
      bool enough = balance >= 60;
      mu.unlock();
      if (enough) {
        audit.send(60);
        mu.lock();
        balance -= 60;
        mu.unlock();
      }
      wg.done();
    });
  }
  wg.wait();
  return balance >= 0;
}

// A program with more going on, which always passes: workers, channels, a
// sleep.
bool mixed() {
  goro::chan<int> work, results(4);
  goro::wait_group wg;
  for (int w = 0; w < 3; w++) {
    wg.add(1);
    goro::go([&] {
      while (auto v = work.recv()) {
        if (*v % 5 == 0) goro::sleep_for(std::chrono::microseconds(30));
        results.send(*v);
      }
      wg.done();
    });
  }
  goro::go([&] {
    for (int i = 1; i <= 20; i++) work.send(i);
    work.close();
  });
  int sum = 0;
  for (int i = 0; i < 20; i++) sum += *results.recv();
  wg.wait();
  return sum == 210;
}

[[maybe_unused]] bool env_replay() {
  const char* a = std::getenv("GORO_SIM_SEED");
  const char* b = std::getenv("GORO_SIM_REPLAY");
  return (a && *a) || (b && *b);
}

// GORO_SIM_API_PLAIN: the build against goro::goro (tests/CMakeLists.txt).
#ifdef GORO_SIM_API_PLAIN
TEST(SimApi, PlainLibraryRefuses) {
  ASSERT_FALSE(goro::sim::available());
  // The message names the fix.
  try {
    goro::sim::explore({}, mixed);
    FAIL() << "explore ran with goro::goro";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("link goro::sim"), std::string::npos) << e.what();
  }
  EXPECT_THROW(goro::sim::replay("x.replay", mixed), std::logic_error);
  EXPECT_THROW(goro::sim::replay(1, {}, mixed), std::logic_error);
}
#else
TEST(SimApi, Available) { EXPECT_TRUE(goro::sim::available()); }

class SimApiRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (env_replay()) GTEST_SKIP() << "GORO_SIM_SEED / GORO_SIM_REPLAY replace the seeds";
  }
};

TEST_F(SimApiRun, SameSeedSameTrace) {
  goro::sim::options o;
  o.run.procs = 3;
  for (goro::sim::strategy st : {goro::sim::strategy::random, goro::sim::strategy::pct}) {
    o.strat = st;
    goro::sim::report a = goro::sim::replay(42, o, mixed);
    goro::sim::report b = goro::sim::replay(42, o, mixed);
    goro::sim::report c = goro::sim::replay(43, o, mixed);
    EXPECT_FALSE(a.failed) << a.why;
    EXPECT_GT(a.decisions, 300u);
    EXPECT_EQ(a.decisions, b.decisions);
    EXPECT_EQ(a.log_hash, b.log_hash);
    EXPECT_NE(a.log_hash, c.log_hash);
  }
}

TEST_F(SimApiRun, ExploreFindsTheRaceAndTheReplayFileRoundTrips) {
  scratch_dir dir;
  for (goro::sim::strategy st : {goro::sim::strategy::random, goro::sim::strategy::pct}) {
    goro::sim::options o;
    o.strat = st;
    o.seeds = st == goro::sim::strategy::random ? 200 : 2000;
    o.replay_dir = dir.path;
    goro::sim::report r = goro::sim::explore(o, bank);
    ASSERT_TRUE(r.failed) << "no seed of " << o.seeds << " found the race";
    EXPECT_EQ(r.why, "returned false");
    EXPECT_EQ(r.seed, o.first_seed + r.runs - 1);
    ASSERT_FALSE(r.replay_file.empty());
    std::string text = slurp(r.replay_file);
    EXPECT_NE(text.find("seed " + std::to_string(r.seed) + "\n"), std::string::npos) << text;
    EXPECT_NE(text.find("decisions " + std::to_string(r.decisions) + "\n"), std::string::npos);
    EXPECT_NE(text.find("procs 2\n"), std::string::npos);
    EXPECT_NE(text.find("\nschedule "), std::string::npos);
    // The replay: the same failure, checked against the file.
    goro::sim::report again = goro::sim::replay(r.replay_file, bank);
    EXPECT_TRUE(again.checked);
    EXPECT_TRUE(again.failed);
    EXPECT_TRUE(again.reproduced) << again.mismatch;
    EXPECT_EQ(again.decisions, r.decisions);
    EXPECT_EQ(again.log_hash, r.log_hash);
    // Seed alone replays it too.
    goro::sim::report by_seed = goro::sim::replay(r.seed, o, bank);
    EXPECT_TRUE(by_seed.failed);
    EXPECT_EQ(by_seed.log_hash, r.log_hash);
  }
}

// Teeth of the replay check: a different program under the same file, and a
// file whose schedule was altered, are both reported as not reproduced.
TEST_F(SimApiRun, ReplayThatDiffersIsReported) {
  scratch_dir dir;
  goro::sim::options o;
  o.replay_dir = dir.path;
  goro::sim::report r = goro::sim::explore(o, bank);
  ASSERT_TRUE(r.failed);
  goro::sim::report other = goro::sim::replay(r.replay_file, mixed);
  EXPECT_TRUE(other.checked);
  EXPECT_FALSE(other.reproduced);
  EXPECT_NE(other.mismatch.find("first difference at decision"), std::string::npos)
      << other.mismatch;
  // Rewrite the hash: the run is the same, the file's claim is not.
  std::string text = slurp(r.replay_file);
  text = std::regex_replace(text, std::regex("\nhash [0-9a-f]+\n"), "\nhash 1234\n");
  fs::path edited = dir.path / "edited.replay";
  std::ofstream(edited) << text;
  goro::sim::report tampered = goro::sim::replay(edited.string(), bank);
  EXPECT_FALSE(tampered.reproduced);
  EXPECT_NE(tampered.mismatch.find("log hash"), std::string::npos) << tampered.mismatch;
}

// GORO_SIM_REPLAY: explore runs once, replaying the file, and says whether
// the run reproduced it.
TEST_F(SimApiRun, EnvironmentReplay) {
  scratch_dir dir;
  goro::sim::options o;
  o.replay_dir = dir.path;
  o.seeds = 200;
  goro::sim::report r = goro::sim::explore(o, bank);
  ASSERT_TRUE(r.failed);
  ::setenv("GORO_SIM_REPLAY", r.replay_file.c_str(), 1);
  o.first_seed = 1000;  // ignored: the file's seed wins
  goro::sim::report again = goro::sim::explore(o, bank);
  ::unsetenv("GORO_SIM_REPLAY");
  EXPECT_EQ(again.runs, 1u);
  EXPECT_EQ(again.seed, r.seed);
  EXPECT_TRUE(again.failed);
  EXPECT_TRUE(again.checked);
  EXPECT_TRUE(again.reproduced) << again.mismatch;
}

// Bad input is named: which option, what value, what range.
TEST_F(SimApiRun, BadInputIsNamed) {
  auto expect_error = [](auto&& call, const std::string& want) {
    try {
      call();
      ADD_FAILURE() << "no error; wanted " << want;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  goro::sim::options o;
  o.seeds = 0;
  expect_error([&] { goro::sim::explore(o, mixed); },
               "options::seeds = 0: must be in 1 .. 1000000000");
  o = {};
  o.pct_depth = 0;
  expect_error([&] { goro::sim::explore(o, mixed); }, "options::pct_depth = 0: must be in 1 .. 64");
  o = {};
  o.run.procs = 0;
  expect_error([&] { goro::sim::explore(o, mixed); },
               "options::run.procs = 0: must be in 1 .. 1024");
  o = {};
  o.first_seed = UINT64_MAX;
  o.seeds = 2;
  expect_error([&] { goro::sim::explore(o, mixed); }, "the last seed would pass 2^64 - 1");
  expect_error([] { goro::sim::replay("/nonexistent/x.replay", mixed); }, "cannot open it");
  scratch_dir dir;
  fs::path f = dir.path / "bad.replay";
  std::ofstream(f) << "goro-sim-replay 1\nseed 5\nstrategy fifo\n";
  expect_error([&] { goro::sim::replay(f.string(), mixed); },
               "line 3: strategy fifo: want random or pct");
  std::ofstream(f) << "goro-sim-replay 1\nseed 5\nstrategy pct\n";
  expect_error([&] { goro::sim::replay(f.string(), mixed); }, "no decisions line");
  std::ofstream(f) << "something else\n";
  expect_error([&] { goro::sim::replay(f.string(), mixed); }, "not a goro replay file");
}

// A goro fatal error (here: unlocking a mutex nobody holds) ends the
// process; under the simulation it first prints the replay line and writes
// the replay file, and replaying that file reproduces the fatal error at the
// same decision.
bool unlock_unlocked() {
  goro::mutex mu;
  goro::chan<int> c(1);
  goro::go([&] { c.send(1); });
  (void)c.recv();
  mu.unlock();
  return true;
}

TEST_F(SimApiRun, FatalErrorWritesAReplayFile) {
  // The default ("fast") death test style: the child is a fork of this
  // process, so it sees this scratch directory (no goro runtime, hence none
  // of its threads, is running between runs).
  scratch_dir dir;
  fs::path file = dir.path / "goro-sim-random-77.replay";
  goro::sim::options o;
  o.replay_dir = dir.path;  // fatal() uses GORO_SIM_REPLAY_DIR
  ::setenv("GORO_SIM_REPLAY_DIR", dir.path.c_str(), 1);
  EXPECT_EXIT(goro::sim::replay(77, o, unlock_unlocked), ::testing::ExitedWithCode(2),
              "fatal error: .*unlock.*\n.*replay with GORO_SIM_SEED=77 GORO_SIM_STRATEGY=random, "
              "or GORO_SIM_REPLAY=.*goro-sim-random-77.replay");
  ::unsetenv("GORO_SIM_REPLAY_DIR");
  ASSERT_TRUE(fs::exists(file));
  EXPECT_NE(slurp(file).find("reason fatal error: "), std::string::npos) << slurp(file);
  EXPECT_EXIT(goro::sim::replay(file.string(), unlock_unlocked), ::testing::ExitedWithCode(2),
              "replay of .*goro-sim-random-77.replay: reproduced exactly");
}

// The controller's no-end report (a run past GORO_SIM_MAX_DECISIONS, here
// set low) writes a replay file too, with the limit in it, and its replay
// stops at the same decision.
TEST_F(SimApiRun, NoEndReportWritesAReplayFile) {
  scratch_dir dir;
  fs::path file = dir.path / "goro-sim-pct-5.replay";
  goro::sim::options o;
  o.strat = goro::sim::strategy::pct;
  ::setenv("GORO_SIM_REPLAY_DIR", dir.path.c_str(), 1);
  ::setenv("GORO_SIM_MAX_DECISIONS", "150", 1);
  EXPECT_DEATH(goro::sim::replay(5, o, mixed),
               "no end after 150 decisions.*\n.*GORO_SIM_REPLAY=.*goro-sim-pct-5.replay");
  ::unsetenv("GORO_SIM_MAX_DECISIONS");
  ::unsetenv("GORO_SIM_REPLAY_DIR");
  ASSERT_TRUE(fs::exists(file));
  EXPECT_NE(slurp(file).find("max_decisions 150\n"), std::string::npos) << slurp(file);
  EXPECT_DEATH(goro::sim::replay(file.string(), mixed),
               "replay of .*goro-sim-pct-5.replay: reproduced exactly \\(150 decisions");
}
#endif

}  // namespace
