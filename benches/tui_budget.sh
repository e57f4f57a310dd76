#!/usr/bin/env bash
# The TUI's budgets (issue 3), measured on the real release binary, as root. A
# benchmark that prints numbers, not a test: nothing here fails on a slow machine.
#
#   (a) CPU of the TUI with all panes live and the container idle, from
#       /proc/<pid>/stat utime+stime over IDLE_SECS (target < 1% of one core);
#   (b) its resident memory, VmRSS and VmHWM from /proc/<pid>/status (target < 30 MiB);
#   (c) the time to render a full frame at 200x50 (examples/frame_time.rs; < 2 ms);
#   (d) the observer's sampling rate, idle and while the hog runs (targets: >= 4 Hz
#       idle, >= 10 Hz for the memory graph during the hog), two ways:
#       - untraced: how often each thread was scheduled in (/proc/<pid>/task/<tid>/
#         schedstat, 3rd field), each thread by its name (session::spawn_named); a
#         wake-up of the observer is at most a sample, so this is an upper bound;
#       - with strace(1) attached (which slows every syscall: lower bounds): opens of
#         the subject's mountinfo (one per snapshot), of the cgroup's memory file, and
#         bursts of write(2) to the terminal (one per redraw);
#   (e) OOM-to-screen latency: a poller reads the cgroup's oom_kill counter
#       (memory.oom_control on v1, memory.events on v2) every 1 ms while another thread
#       runs `tmux capture-pane` in a loop; reported: kernel increment -> first screen
#       showing the kill (target < 50 ms), with the capture loop's resolution.
#
# Explore mode (`benches/tui_budget.sh explore`, issue 14): the same budgets for
# `underhood explore PID` on a container of ours started headless (`underhood run
# --memory 100M`), whose hog is started from the host (a file dropped in its /tmp):
# (a) idle CPU, (b) memory, (d) wake-ups and traced sample/redraw rates, (e) the
# kernel's OOM count -> "OOM kills N" on the explorer's memory pane.
#
# Usage: benches/tui_budget.sh [explore]  (as root; tmux, python3; strace optional)
# Env:   IDLE_SECS (30), RATE_SECS (5), OOM_RUNS (5), FRAMES (5000)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "tui_budget.sh: needs root (the TUI builds a real container)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "tui_budget.sh: needs tmux" >&2; exit 2; }
py=$(command -v python3)
idle_secs=${IDLE_SECS:-30}
rate_secs=${RATE_SECS:-5}
oom_runs=${OOM_RUNS:-5}
frames=${FRAMES:-5000}

mode=${1:-tui}
if [[ $mode == explore ]]; then
    cargo build --release --quiet --bin underhood
else
    cargo build --release --quiet --bin underhood --example frame_time
fi
uh=$PWD/target/release/underhood

name=tui_budget.sh
# shellcheck source=../scripts/tui-driver.sh
source scripts/tui-driver.sh

cpu_ticks() { # utime + stime of the whole process (all threads), in clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
# wakeups PID: "tid:comm count" for each thread (times scheduled in, schedstat(5)
# field 3); our threads are named (session::spawn_named: uh-observer, uh-oom,
# uh-subject, uh-signals, uh-keys, uh-shell), the main loop is "underhood".
wakeups() {
    local t
    for t in $(ls "/proc/$1/task" | sort -n); do
        echo "$t:$(cat "/proc/$1/task/$t/comm" 2>/dev/null || echo gone) $(cut -d' ' -f3 "/proc/$1/task/$t/schedstat" 2>/dev/null || echo 0)"
    done
}
# wakeup_rates BEFORE AFTER SECONDS LABEL: each thread's rate, by name (summed over
# threads of one name), for the threads that lived through the window.
wakeup_rates() {
    join "$1" "$2" | awk -v s="$3" -v label="$4" '
        { split($1, id, ":"); name = id[2]; if (!(name in r)) order[++n] = name; r[name] += ($3 - $2) / s }
        END {
            line = ""
            for (i = 1; i <= n; i++) {
                shown = order[i]
                if (shown == "uh-observer") shown = "observer"
                else if (shown == "underhood") shown = "main loop"
                else if (shown == "uh-keys") shown = "keyboard"
                else if (shown == "uh-oom") shown = "OOM watcher"
                else if (shown == "uh-subject") shown = "subject watch"
                else if (shown == "uh-signals") shown = "signals"
                line = line (i > 1 ? ", " : "") sprintf("%s %.1f", shown, r[order[i]])
            }
            printf "    %-5s untraced wake-ups/s: %s (schedstat over %.1f s)\n", label, line, s
        }'
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
# (a) and (b) for PID: CPU over $idle_secs idle seconds (and each thread's wake-ups,
# in $work/w0 and $work/w1, and the window in $s0 and $s1, for the caller), then its memory.
idle_and_memory() {
    local pid=$1 c0 c1
    c0=$(cpu_ticks "$pid")
    s0=$(date +%s.%N)
    wakeups "$pid" >"$work/w0"
    sleep "$idle_secs"
    c1=$(cpu_ticks "$pid")
    s1=$(date +%s.%N)
    wakeups "$pid" >"$work/w1"
    awk -v c="$((c1 - c0))" -v hz="$hz" -v s0="$s0" -v s1="$s1" 'BEGIN {
        secs = s1 - s0
        printf "(a) CPU idle: %d ticks in %.1f s = %.3f%% of one core (resolution: 1 tick = %.0f ms = %.3f%% over this window; target < 1%%)\n",
            c, secs, 100 * c / hz / secs, 1000 / hz, 100 / hz / secs
    }'
    echo "(b) memory: VmRSS $(status_kb "$pid" VmRSS) kB, VmHWM (peak) $(status_kb "$pid" VmHWM) kB, threads $(status_kb "$pid" Threads) (target < 30 MiB = 30720 kB)"
}

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
if [[ $mode == explore ]]; then
    # shellcheck source=explore_budget.sh
    source benches/explore_budget.sh
    exit 0
fi

t -f /dev/null new-session -d -s uh -x 120 -y 40 "exec $uh 2>$work/stderr"
wait_for "Step 0/" 120
n=$(screen | grep -o 'Step 0/[0-9]*' | head -1 | cut -d/ -f2)
for k in $(seq 1 "$n"); do
    t send-keys -t uh Right
    wait_for " step $k/$n "
done
pid=$(t display-message -p -t uh '#{pane_pid}')
echo "== the TUI (pid $pid) after all $n steps, at 120x40 in tmux; settling 3 s"
sleep 3

# (a) and (b)
idle_and_memory "$pid"

# (c)
echo "(c) frame time:"
target/release/examples/frame_time "$frames" | sed 's/^/    /'

# (d), traced
count_rates() { # count_rates LABEL SECONDS
    local log=$work/strace.$1
    timeout "$2" strace -f -qq -tt -e trace=openat,write -e signal=none -o "$log" -p "$pid" 2>/dev/null || true
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=benches "$py" - "$log" "$2" "$1" <<'EOF'
import sys
from tui_probe import traced_rates
log, secs, label = sys.argv[1], float(sys.argv[2]), sys.argv[3]
snaps, mem, frames = traced_rates(log)
print(f"    {label:<5} traced: snapshots {snaps / secs:5.1f}/s (mountinfo opens), memory reads {mem / secs:5.1f}/s, "
      f"redraws {frames / secs:5.1f}/s (write bursts to the terminal) over {secs:.0f} s")
EOF
}
echo "(d) observer and redraw rates:"
wakeup_rates "$work/w0" "$work/w1" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" idle
if command -v strace >/dev/null; then
    count_rates idle "$rate_secs"
else
    echo "    strace missing: the traced counts are left out"
fi
c0=$(cpu_ticks "$pid")
s0=$(date +%s.%N)
t send-keys -t uh m
wait_for "hog running" 5
sleep 0.5
wakeups "$pid" >"$work/w0"
h0=$(date +%s.%N)
sleep 3
wakeups "$pid" >"$work/w1"
h1=$(date +%s.%N)
c1=$(cpu_ticks "$pid")
s1=$(date +%s.%N)
wakeup_rates "$work/w0" "$work/w1" "$(awk -v a="$h0" -v b="$h1" 'BEGIN { print b - a }')" hog
awk -v c="$((c1 - c0))" -v hz="$hz" -v s0="$s0" -v s1="$s1" 'BEGIN {
    printf "    CPU while the hog climbs (untraced): %d ticks in %.1f s = %.2f%% of one core\n",
        c, s1 - s0, 100 * c / hz / (s1 - s0) }'
if command -v strace >/dev/null; then
    count_rates hog 2
fi
wait_for "OOM kills 1" 30
done_kills=1
sleep 2

# (e)
echo "(e) OOM kill -> screen, $oom_runs runs (hog at the TUI's default 16 MiB/s into 100 MiB):"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=benches "$py" - "$sock" "$pid" "$oom_runs" "$done_kills" <<'EOF'
import os, subprocess, sys, time
from tui_probe import memory_counter, oom_kills, capture, KernelWatch
sock, pid, runs, kills = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def children(p):
    out = []
    for tid in os.listdir(f"/proc/{p}/task"):
        try:
            out += [int(c) for c in open(f"/proc/{p}/task/{tid}/children").read().split()]
        except OSError:
            pass
    return out

# The container's memory cgroup, from its first process's /proc/<pid>/cgroup.
shim = children(pid)[0]
counter = memory_counter(shim)
results = []
for r in range(runs):
    base = oom_kills(counter)
    want = kills + 1
    watch = KernelWatch(counter, base)
    subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "uh", "m"])
    # Until the key is handled the last run's message may still be on screen.
    while "hog running" not in capture(sock):
        time.sleep(0.01)
    t_msg = t_count = None
    caps, cap_time = 0, 0.0
    deadline = time.monotonic() + 30
    while (t_msg is None or t_count is None) and time.monotonic() < deadline:
        t0 = time.monotonic()
        s = capture(sock)
        t1 = time.monotonic()
        caps += 1
        cap_time += t1 - t0
        # A capture shows the screen as of some moment within [t0, t1].
        if t_msg is None and ("OOM killer fired" in s or "OOM kill:" in s):
            t_msg = (t0, t1)
        if t_count is None and f"OOM kills {want}" in s:
            t_count = (t0, t1)
    watch.stop()
    if watch.at is None or t_msg is None or t_count is None:
        print(f"    run {r + 1}: incomplete (kernel {watch.at}, message {t_msg}, counter {t_count})")
        break
    k = watch.at
    res = cap_time / caps * 1000
    m = ((t_msg[0] - k) * 1000, (t_msg[1] - k) * 1000)
    c = ((t_count[0] - k) * 1000, (t_count[1] - k) * 1000)
    results.append((m, c, res))
    print(f"    run {r + 1}: message on screen {max(m[0], 0):6.1f}..{m[1]:6.1f} ms, "
          f"'OOM kills {want}' {max(c[0], 0):6.1f}..{c[1]:6.1f} ms after the counter moved "
          f"(one capture-pane takes {res:.1f} ms)")
    kills = want
    time.sleep(1)
if results:
    worst_m = max(r[0][1] for r in results)
    worst_c = max(r[1][1] for r in results)
    print(f"    worst (upper bounds): message {worst_m:.1f} ms, counter {worst_c:.1f} ms; target < 50 ms")
EOF

t send-keys -t uh q
for _ in $(seq 100); do t has-session -t uh 2>/dev/null || break; sleep 0.1; done
