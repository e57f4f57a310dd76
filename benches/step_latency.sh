#!/usr/bin/env bash
# The TUI's step latency (issue 16, item 2), measured on the real release binary in
# tmux as a person drives it, as root: for every step forward (→) and every step back
# (←, a teardown and a replay of the steps before it on a fresh container), the time
# from the key sent to the first screen whose header shows the new step count. A step
# is taken synchronously between two samples of the kernel's state and the screen is
# drawn from one `App`, so the frame that shows the new count shows the step's panes
# (syscall log, namespaces, processes, mounts) too. A benchmark that prints numbers,
# not a test (target: p99 under 50 ms for each).
#
# The screen is read with `tmux capture-pane` in a loop; the loop's resolution (one
# capture, a few ms) is printed with the results and is included in every figure.
#
# Usage: benches/step_latency.sh [ROUNDS]    (default 5; each round: all steps
#        forward, then all back)
# Env:   WIDTH HEIGHT (200 50)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "step_latency.sh: needs root (the TUI builds a real container)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "step_latency.sh: needs tmux" >&2; exit 2; }
py=$(command -v python3)
rounds=${1:-5}

cargo build --release --quiet --bin underhood
uh=$PWD/target/release/underhood

name=step_latency.sh
# shellcheck source=../scripts/tui-driver.sh
source scripts/tui-driver.sh

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
t -f /dev/null new-session -d -s uh -x "${WIDTH:-200}" -y "${HEIGHT:-50}" "exec $uh 2>$work/stderr"
wait_for "Step 0/" 120
n=$(screen | grep -o 'Step 0/[0-9]*' | head -1 | cut -d/ -f2)
echo "== $n steps, $rounds rounds, at ${WIDTH:-200}x${HEIGHT:-50} in tmux"

"$py" - "$sock" "$n" "$rounds" <<'EOF'
import subprocess, sys, time

sock, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tmux = ["tmux", "-L", sock]

def screen():
    return subprocess.run(tmux + ["capture-pane", "-p", "-t", "uh"],
                          capture_output=True, text=True).stdout

def key_to(key, want, timeout=30.0):
    """Sends `key`; returns the seconds until the screen shows `want`."""
    t0 = time.monotonic()
    subprocess.run(tmux + ["send-keys", "-t", "uh", key], check=True)
    while True:
        if want in screen():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            sys.exit(f"step_latency.sh: no '{want}' after {key} in {timeout} s:\n{screen()}")

# The resolution: how long one capture takes here.
caps = []
for _ in range(50):
    t0 = time.monotonic()
    screen()
    caps.append(time.monotonic() - t0)
caps.sort()

fwd = {k: [] for k in range(1, n + 1)}
back = {k: [] for k in range(0, n)}
for _ in range(rounds):
    for k in range(1, n + 1):
        fwd[k].append(key_to("Right", f" step {k}/{n} "))
    for k in range(n - 1, -1, -1):
        back[k].append(key_to("Left", f" step {k}/{n} "))

def p99(xs):
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * 99 // 100) - 1)]

ms = lambda s: s * 1000
print(f"capture-pane loop resolution: median {ms(caps[len(caps)//2]):.1f} ms, max {ms(caps[-1]):.1f} ms")
print(f"{'':<22}{'median':>8}{'p99':>8}{'max':>8}  ms")
worst = 0.0
for label, table in (("→ to step", fwd), ("← back to step", back)):
    for k, xs in sorted(table.items()):
        xs = sorted(xs)
        worst = max(worst, p99(xs))
        print(f"{label + ' ' + str(k):<22}{ms(xs[len(xs)//2]):>8.1f}{ms(p99(xs)):>8.1f}{ms(xs[-1]):>8.1f}")
every = [x for t in (fwd, back) for xs in t.values() for x in xs]
print(f"all {len(every)} keys: median {ms(sorted(every)[len(every)//2]):.1f} ms, p99 {ms(p99(every)):.1f} ms; "
      f"worst per-step p99 {ms(worst):.1f} ms (target < 50 ms: {'met' if worst < 0.05 else 'NOT met'})")
EOF
