#!/usr/bin/env bash
# Class progress: the time from a learner's check changing to the instructor's grid
# model showing it (issue 17: "a benchmark reports ... p50, max"). Measured, not
# asserted: it prints numbers and fails only if the class itself fails (a learner
# dropped, a change never shown).
#
# Runs examples/class_latency.rs (release build, no root): an instructor's publisher
# on 127.0.0.1, LEARNERS learners with the learner's own code (report::Outbox over
# subscribe, as `--follow` does), and `underhood class`'s view on the session's unix
# socket. The clock starts when a learner hands its new progress line to its outbox
# and stops when the watcher's ClassView has applied it. Two patterns: one change at a
# time, and the whole room at once; ROUNDS of each.
#
# Measured 2026-12-07 on the 2-core dev VM (shared with other builds, load 5-6):
#   20 learners, 100 rounds: one at a time  n=2000 p50 0.059 ms p99 2.942 ms max  8.093 ms
#                            all at once    n=2000 p50 0.814 ms p99 2.366 ms max  5.739 ms
#   60 learners,  30 rounds: one at a time  n=1800 p50 0.064 ms p99 2.138 ms max 16.013 ms
#                            all at once    n=1800 p50 2.322 ms p99 3.477 ms max  3.630 ms
#
# Usage: benches/class_latency.sh [LEARNERS] [ROUNDS]   (default 20 100)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example class_latency >&2
exec target/release/examples/class_latency "${1:-20}" "${2:-100}"
