"""What benches/tui_budget.sh and benches/explore_budget.sh share: the rates read from
an strace log of the TUI (snapshots, memory reads, redraws), and, to time an OOM kill
from the kernel's counter to the screen, the container's memory counter file, its
oom_kill count, a capture of the tmux pane and a thread that notes when the count
moves. Imported by their python parts (PYTHONPATH=benches)."""
import os, re, subprocess, sys, threading, time


def traced_rates(log):
    """From `strace -f -tt -e trace=openat,write` of the TUI: how many snapshots
    (mountinfo opens), memory reads, and redraws (bursts of writes to the terminal,
    5 ms apart is a new one)."""
    snaps = mem = 0
    frames = []
    for line in open(log, errors="replace"):
        m = re.match(r"\d+\s+(\d+):(\d+):([\d.]+) (\w+)\((.*)", line)
        if not m:
            continue
        t = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        call, args = m[4], m[5]
        if call == "openat" and "/mountinfo" in args:
            snaps += 1
        elif call == "openat" and ("memory.usage_in_bytes" in args or "memory.current" in args):
            mem += 1
        elif call == "write" and args.startswith("1,"):
            if not frames or t - frames[-1][1] > 0.005:
                frames.append([t, t])
            else:
                frames[-1][1] = t
    return snaps, mem, len(frames)


def memory_counter(pid):
    """The file whose oom_kill line counts the OOM kills of `pid`'s memory cgroup
    (memory.oom_control on v1, memory.events on v2), from /proc/<pid>/cgroup; printed.
    Without one the bench cannot go on: exits."""
    counter = None
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrls, path = line.strip().split(":", 2)
        if "memory" in ctrls.split(","):
            counter = f"/sys/fs/cgroup/memory{path}/memory.oom_control"
        elif ctrls == "" and counter is None and os.path.exists(f"/sys/fs/cgroup{path}/memory.events"):
            counter = f"/sys/fs/cgroup{path}/memory.events"
    if counter is None:
        sys.exit("    no memory cgroup found")
    print(f"    counter: {counter}")
    return counter


def oom_kills(counter):
    for l in open(counter):
        k, v = l.split()
        if k == "oom_kill":
            return int(v)
    return 0


def capture(sock):
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "uh"],
                          capture_output=True, text=True).stdout


class KernelWatch:
    """Polls the counter every millisecond from a thread; `at` is the monotonic time
    it first went past `base` (None until then)."""

    def __init__(self, counter, base):
        self.at = None
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._poll, args=(counter, base))
        self._th.start()

    def _poll(self, counter, base):
        while not self._stop.is_set():
            if oom_kills(counter) > base:
                self.at = time.monotonic()
                return
            time.sleep(0.001)

    def stop(self):
        self._stop.set()
        self._th.join()
