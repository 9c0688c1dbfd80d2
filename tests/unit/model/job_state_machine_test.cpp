// The job state machine, pair by pair: all 64 (from, to) combinations are asserted
// against the table written out below, independently of the one in the implementation.

#include "model/job_state_machine.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace pirus {
namespace {

using S = JobStatus;

const std::vector<S> kAll = {S::kWaiting,    S::kInitializing, S::kRunning,  S::kPause,
                             S::kFinalizing, S::kDone,         S::kCanceled, S::kError};

// The documented machine (job_state_machine.hpp), transcribed.
const std::map<S, std::set<S>> kLegal = {
    {S::kWaiting, {S::kInitializing, S::kCanceled, S::kError}},
    {S::kInitializing, {S::kRunning, S::kWaiting, S::kCanceled, S::kError}},
    {S::kRunning, {S::kPause, S::kFinalizing, S::kCanceled, S::kError}},
    {S::kPause, {S::kRunning, S::kCanceled, S::kError}},
    {S::kFinalizing, {S::kDone, S::kError}},
    {S::kDone, {}},
    {S::kCanceled, {}},
    {S::kError, {}},
};

std::string pair_name(S from, S to) {
  return std::string(to_string(from)) + " -> " + std::string(to_string(to));
}

TEST(JobStateMachine, EveryPairIsLegalExactlyWhenTheTableSaysSo) {
  int legal = 0;
  int checked = 0;
  for (S from : kAll) {
    for (S to : kAll) {
      const bool want = kLegal.at(from).count(to) > 0;
      EXPECT_EQ(is_legal_transition(from, to), want) << pair_name(from, to);
      legal += want ? 1 : 0;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 64);
  EXPECT_EQ(legal, 16);
}

TEST(JobStateMachine, CheckTransitionAcceptsEveryLegalPairAndRefusesEveryOther) {
  for (S from : kAll) {
    for (S to : kAll) {
      Status st = check_transition(from, to, "a reason");
      if (kLegal.at(from).count(to) > 0) {
        EXPECT_TRUE(st.is_ok()) << pair_name(from, to) << ": " << st.to_string();
      } else {
        EXPECT_EQ(st.code(), Code::kConflict) << pair_name(from, to);
        EXPECT_FALSE(st.message().empty()) << pair_name(from, to);
      }
    }
  }
}

TEST(JobStateMachine, LegalTargetsListsTheTableRowInStatusOrder) {
  for (S from : kAll) {
    std::vector<S> want;
    for (S to : kAll) {
      if (kLegal.at(from).count(to) > 0) want.push_back(to);
    }
    EXPECT_EQ(legal_targets(from), want) << to_string(from);
  }
}

TEST(JobStateMachine, DoneCanceledAndErrorAreTerminal) {
  for (S s : kAll) {
    const bool terminal = s == S::kDone || s == S::kCanceled || s == S::kError;
    EXPECT_EQ(is_terminal(s), terminal) << to_string(s);
    EXPECT_EQ(legal_targets(s).empty(), terminal) << to_string(s);
  }
}

TEST(JobStateMachine, LeavingATerminalStatusSaysItIsFinal) {
  for (S from : {S::kDone, S::kCanceled, S::kError}) {
    for (S to : kAll) {
      Status st = check_transition(from, to, "a reason");
      EXPECT_EQ(st.code(), Code::kConflict) << pair_name(from, to);
      EXPECT_NE(st.message().find(std::string(to_string(from))), std::string::npos) << st.message();
      EXPECT_NE(st.message().find("final"), std::string::npos) << st.message();
    }
  }
}

TEST(JobStateMachine, AnIllegalMoveNamesBothStatuses) {
  Status st = check_transition(S::kWaiting, S::kRunning, "");
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_NE(st.message().find("waiting"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("running"), std::string::npos) << st.message();
}

TEST(JobStateMachine, EnteringErrorNeedsAReason) {
  for (S from : kAll) {
    if (!is_legal_transition(from, S::kError)) continue;
    Status without = check_transition(from, S::kError, "");
    EXPECT_EQ(without.code(), Code::kInvalid) << to_string(from);
    EXPECT_TRUE(check_transition(from, S::kError, "disk full").is_ok()) << to_string(from);
  }
  // Other targets do not need one.
  EXPECT_TRUE(check_transition(S::kRunning, S::kCanceled, "").is_ok());
  EXPECT_TRUE(check_transition(S::kFinalizing, S::kDone, "").is_ok());
  // A terminal job stays terminal whatever the reason: the conflict wins.
  EXPECT_EQ(check_transition(S::kDone, S::kError, "").code(), Code::kConflict);
}

TEST(JobStateMachine, EveryStatusIsReachableFromWaiting) {
  std::set<S> seen = {S::kWaiting};
  std::vector<S> frontier = {S::kWaiting};
  while (!frontier.empty()) {
    S s = frontier.back();
    frontier.pop_back();
    for (S next : legal_targets(s)) {
      if (seen.insert(next).second) frontier.push_back(next);
    }
  }
  EXPECT_EQ(seen.size(), kAll.size());
}

}  // namespace
}  // namespace pirus
