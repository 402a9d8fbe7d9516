// Testing your own goroutines under the simulation (goro/sim.hpp): a small
// bank with a planted check-then-act race, found by goro::sim::explore
// within a stated number of seeds, then replayed from its replay file.
//
// The bug: withdraw() checks the balance under the account's mutex, lets
// the lock go, writes an audit record to a channel, and only then debits,
// under the mutex again. Every access is locked, yet two withdrawals that
// both pass the check before either debits overdraw the account. Whether
// they do depends on where the two goroutines interleave: most schedules
// are fine. Under the simulation each seed is one schedule, and the failing
// one replays exactly.
//
// Build: link goro::sim (the runtime built with the simulation) instead of
// goro::goro. Run: sim_check_then_act [random|pct] [SEEDS] [fixed]
// With "fixed", the correct withdraw runs instead and the exit status is 0
// when no seed failed. Otherwise: exit status 0 when the race was found within SEEDS seeds (default
// 200 under random, 2000 under pct) and its replay reproduced the failure exactly; 1 otherwise.
// Measured over seeds 1..1000 at procs 2 (the sim preset, every runtime atomic a scheduling point):
// 100 of the first 300 seeds fail under random (the first: seed 10), 12 of 1000 under pct at
// depth 3 (the first: seed 31). PCT orders threads, and here the race needs the M running one
// goroutine to be demoted inside a window of a few decisions out of some 3000.
#include <goro/goro.hpp>
#include <goro/sim.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace {

class account {
 public:
  explicit account(int balance) : balance_(balance) {}
  int balance() {
    std::lock_guard lk(mu_);
    return balance_;
  }
  void debit(int amount) {
    std::lock_guard lk(mu_);
    balance_ -= amount;
  }
  bool debit_if_covered(int amount) {
    std::lock_guard lk(mu_);
    if (balance_ < amount) return false;
    balance_ -= amount;
    return true;
  }

 private:
  goro::mutex mu_;
  int balance_;
};

// The planted bug: check, then (after a channel send, where another
// goroutine may run) act.
bool withdraw(account& a, int amount, goro::chan<int>& audit) {
  if (a.balance() < amount) return false;  // check ...
  audit.send(amount);                      // any goro call lets others in
  a.debit(amount);                         // ... then act
  return true;
}

// The fix: check and act under one hold of the lock (the audit record
// after it). Only with the "fixed" argument, as a control: no seed may fail.
bool fixed = false;
bool withdraw_fixed(account& a, int amount, goro::chan<int>& audit) {
  if (!a.debit_if_covered(amount)) return false;
  audit.send(amount);
  return true;
}

// One test run: two customers withdraw 60 each from 100. The invariant:
// the balance never goes below zero.
bool bank_test() {
  account acct(100);
  goro::chan<int> audit(16);
  goro::wait_group wg;
  for (int i = 0; i < 2; i++) {
    wg.add(1);
    goro::go([&] {
      if (fixed) withdraw_fixed(acct, 60, audit);
      else withdraw(acct, 60, audit);
      wg.done();
    });
  }
  wg.wait();
  return acct.balance() >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  goro::sim::options opts;
  opts.run.procs = 2;
  opts.seeds = 200;
  if (argc > 1) {
    if (std::strcmp(argv[1], "pct") == 0) {
      opts.strat = goro::sim::strategy::pct;
      opts.seeds = 2000;
    } else if (std::strcmp(argv[1], "random") != 0) {
      std::fprintf(stderr, "usage: %s [random|pct] [SEEDS]\n", argv[0]);
      return 2;
    }
  }
  if (argc > 2) opts.seeds = std::strtoull(argv[2], nullptr, 10);
  fixed = argc > 3 && std::strcmp(argv[3], "fixed") == 0;
  if (!goro::sim::available()) {
    std::fprintf(stderr, "linked with goro::goro: link goro::sim to run this example\n");
    return 2;
  }
  goro::sim::report found = goro::sim::explore(opts, bank_test);
  // GORO_SIM_SEED or GORO_SIM_REPLAY may have chosen another strategy.
  const char* strat = found.strat == goro::sim::strategy::pct ? "pct" : "random";
  if (!found.failed) {
    std::printf("%s: no overdraft in %llu seeds%s\n", strat,
                static_cast<unsigned long long>(found.runs), fixed ? " (fixed)" : "");
    return fixed ? 0 : 1;
  }
  if (fixed) return 1;  // the control failed: the fix is not a fix, or the check is wrong
  std::printf("%s: overdraft found by seed %llu (run %llu of at most %llu): %s\n", strat,
              static_cast<unsigned long long>(found.seed),
              static_cast<unsigned long long>(found.runs),
              static_cast<unsigned long long>(opts.seeds), found.why.c_str());
  if (found.checked) {
    // GORO_SIM_REPLAY: explore() was the replay.
    std::printf("replay: %s\n", found.reproduced ? "reproduced exactly"
                                                 : ("NOT reproduced: " + found.mismatch).c_str());
    return found.reproduced ? 0 : 1;
  }
  std::printf("replay file: %s\n", found.replay_file.c_str());
  if (found.replay_file.empty()) return 1;

  // The replay: the same schedule, so the same overdraft, checked against
  // the file's decision count and log hash.
  goro::sim::report again = goro::sim::replay(found.replay_file, bank_test);
  std::printf(
      "replay: %s, %s (%llu decisions)\n", again.failed ? "failed again" : "passed",
      again.reproduced ? "reproduced exactly" : ("NOT reproduced: " + again.mismatch).c_str(),
      static_cast<unsigned long long>(again.decisions));
  return again.failed && again.reproduced ? 0 : 1;
}
