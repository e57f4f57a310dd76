# Sourced by benches/tui_budget.sh in explore mode (`benches/tui_budget.sh explore`):
# `underhood explore PID` held to the live TUI's budgets, measured the same ways.
# Uses the caller's $uh, t, screen, wait_for, cpu_ticks, wakeups, status_kb, $hz,
# $work, $py, $idle_secs, $rate_secs, $oom_runs.
#
# The explored container is one of ours, headless, with a 100 MiB limit; its command
# waits on a fifo in its /tmp and runs `hog --rate 16M` (the TUI's default rate) each
# time the host writes a line to it through /proc/PID/root: nothing in it forks while
# idle, so the idle numbers are the explorer's own.

$uh run --memory 100M -- /bin/sh -c \
    'mkfifo /tmp/go; while :; do read x < /tmp/go; hog --rate 16M; done' \
    </dev/null >"$work/run.out" 2>&1 &
run_pid=$!
stop_run() { finish; trap "" TERM; kill -TERM "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null; return 0; }
trap stop_run EXIT
# The first process (the shim, the run's child) and PID 1 inside (the shim's child),
# once the fifo exists.
shim="" init=""
for _ in $(seq 300); do
    shim=$(cat /proc/$run_pid/task/*/children 2>/dev/null | awk '{print $1}' | head -n1)
    [[ -n $shim ]] && init=$(cat /proc/$shim/task/*/children 2>/dev/null | awk '{print $1}' | head -n1)
    [[ -n $init && -p /proc/$init/root/tmp/go ]] && break
    sleep 0.1
done
[[ -n $init && -p /proc/$init/root/tmp/go ]] || { echo "explore mode: the container never started" >&2; exit 1; }

t -f /dev/null new-session -d -s uh -x 120 -y 40 "exec $uh explore $shim 2>$work/stderr"
wait_for "underhood explore" 30
wait_for "OOM kills 0" 10
pid=$(t display-message -p -t uh '#{pane_pid}')
echo "== underhood explore (pid $pid) on container $shim of ours (underhood run --memory 100M), 120x40 in tmux; settling 3 s"
sleep 3

# (a) and (b)
idle_and_memory "$pid"
echo "(c) frame time: the live TUI's panes, drawn by the same code (benches/tui_budget.sh without 'explore')"

# (d): the explorer's threads by name (its loop "underhood", uh-signals, the
# session's uh-observer and uh-oom, uh-keys).
echo "(d) observer and redraw rates:"
wakeup_rates "$work/w0" "$work/w1" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" idle
if command -v strace >/dev/null; then
    log=$work/strace.idle
    timeout "$rate_secs" strace -f -qq -tt -e trace=openat,write -e signal=none -o "$log" -p "$pid" 2>/dev/null || true
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=benches "$py" - "$log" "$rate_secs" <<'EOF'
import sys
from tui_probe import traced_rates
log, secs = sys.argv[1], float(sys.argv[2])
snaps, mem, frames = traced_rates(log)
print(f"    idle traced: samples {snaps / secs:5.1f}/s (mountinfo opens), memory reads {mem / secs:5.1f}/s, "
      f"redraws {frames / secs:5.1f}/s (write bursts to the terminal) over {secs:.0f} s")
EOF
else
    echo "    strace missing: the traced counts are left out"
fi

# (e)
echo "(e) OOM kill -> screen, $oom_runs runs (hog at 16 MiB/s into 100 MiB, started from the host):"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=benches "$py" - "$sock" "$shim" "$init" "$oom_runs" <<'EOF'
import sys, time
from tui_probe import memory_counter, oom_kills, capture, KernelWatch
sock, shim, init, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
counter = memory_counter(shim)
results = []
for r in range(runs):
    base = oom_kills(counter)
    want = base + 1
    watch = KernelWatch(counter, base)
    with open(f"/proc/{init}/root/tmp/go", "w") as go:
        go.write("go\n")
    t_count = None
    caps, cap_time = 0, 0.0
    deadline = time.monotonic() + 30
    while t_count is None and time.monotonic() < deadline:
        t0 = time.monotonic()
        s = capture(sock)
        t1 = time.monotonic()
        caps += 1
        cap_time += t1 - t0
        if f"OOM kills {want}" in s:
            t_count = (t0, t1)
    watch.stop()
    if watch.at is None or t_count is None:
        print(f"    run {r + 1}: incomplete (kernel {watch.at}, counter {t_count})")
        break
    k = watch.at
    res = cap_time / caps * 1000
    c = ((t_count[0] - k) * 1000, (t_count[1] - k) * 1000)
    results.append(c)
    print(f"    run {r + 1}: 'OOM kills {want}' on screen {max(c[0], 0):6.1f}..{c[1]:6.1f} ms after the counter moved "
          f"(one capture-pane takes {res:.1f} ms)")
    time.sleep(1)
if results:
    print(f"    worst (upper bound): {max(c[1] for c in results):.1f} ms; target < 50 ms")
EOF

t send-keys -t uh q
for _ in $(seq 100); do t has-session -t uh 2>/dev/null || break; sleep 0.1; done
