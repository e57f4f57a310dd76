#!/bin/sh
# The size of a recording of one minute of a live session (issue 16, item 4): as root,
# in tmux at 120x40, `underhood --record FILE`, every step (Right), then m for the
# memory hog, then wait until a minute has passed since the start (the OOM kill comes
# on the way), then q. Prints the file's size and KB per minute.
# Usage: benches/record_size.sh BINARY OUT.jsonl   (run it under the root tests' flock:
#   flock /tmp/underhood-roottests.lock benches/record_size.sh target/release/underhood /tmp/r.jsonl)
set -eu
bin=$1
out=$2
rm -f "$out"
s=underhood-recsize-$$
start=$(date +%s)
tmux new-session -d -s "$s" -x 120 -y 40 "$bin --record $out; sleep 2"
# The first screen, then every step a second apart.
sleep 3
for _ in $(seq 1 20); do tmux send-keys -t "$s" Right; sleep 1; done
tmux send-keys -t "$s" m
while [ $(( $(date +%s) - start )) -lt 60 ]; do sleep 1; done
tmux send-keys -t "$s" q
sleep 3
tmux kill-session -t "$s" 2>/dev/null || true
elapsed=$(( $(date +%s) - start ))
size=$(stat -c %s "$out")
echo "$out: $size bytes over ${elapsed} s: $(( size * 60 / elapsed / 1024 )) KB per minute"
grep -c '"kind":"snapshot"' "$out" | sed 's/^/snapshot events: /'
grep -q 'OOM\|oom' "$out" && echo "the OOM kill is in it" || echo "no OOM kill in it"
