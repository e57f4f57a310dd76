#!/usr/bin/env bash
# Instructor follow's budget (issue: "the followers reach each step the instructor
# takes within 200 ms"), measured, not asserted: a benchmark that prints numbers and
# fails only if following itself fails.
#
# It runs the end-to-end test tests/follow.rs (one instructor publishing on loopback
# TCP, three followers, each with its own container, all in tmux) with
# UNDERHOOD_FOLLOW_BENCH=N extra instructor moves: forward to the lesson's end, back to
# its start, and again. The lag of a move is, per follower, the time between the
# instructor's new position and the follower's, both read by the test from each
# session's own @underhood/<pid> socket (so the reading cost cancels out). Forward
# moves make the followers take one step; backward moves make them tear the container
# down and replay the steps before (as the instructor does).
#
# Measured 2026-11-29 on the 2-core dev VM (shared, load ~2), dev profile, MOVES=100:
#   forward (followers take a step)  168 samples, p50 28 ms, p90 34 ms, max 63 ms
#   back (followers rebuild)         153 samples, p50 15 ms, p90 26 ms, max 37 ms
#   all                              321 samples, p50 22 ms, max 63 ms: 0 over 200 ms
# Not measured here: a lesson change (followers tear down and start the new lesson's
# container; the test prints it, about 1 s, mostly the 1 s reconnection retry when the
# instructor restarts) and a real classroom network.
#
# Usage: benches/follow_latency.sh              (as root; tmux)
# Env:   MOVES (40), PROFILE (dev; "release" measures an optimised build, a long build)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "follow_latency.sh: needs root (each session builds a real container)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "follow_latency.sh: needs tmux" >&2; exit 2; }
moves=${MOVES:-40}
profile=()
[[ ${PROFILE:-dev} == release ]] && profile=(--release)

echo "follow latency: ${moves} extra moves, 3 followers, profile ${PROFILE:-dev}, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(UNDERHOOD_FOLLOW_BENCH=$moves cargo test --quiet "${profile[@]}" --test follow 2>&1) || {
    echo "$out" >&2
    echo "follow_latency.sh: the follow test failed" >&2
    exit 1
}
echo "$out" | grep -E '^follow lag' || true
echo "budget: 200 ms per move (p50 and max above; 'over' counts follower moves past it)"
