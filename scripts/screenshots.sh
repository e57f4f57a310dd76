#!/usr/bin/env bash
# Pictures of the real TUI for README.md, as root: runs `underhood` in tmux at 120x40,
# drives it like a learner and renders each screen (with its colours) to a PNG:
#   screenshots/start.png               the first screen
#   screenshots/mounts-before-pivot.png the mount table (zoomed) just before pivot_root
#   screenshots/mounts-after-pivot.png  the same just after: the host's mounts are gone
#   screenshots/namespaces.png          after all steps, the namespaces pane focused
#   screenshots/oom.png                 the memory hog's OOM kill on the graph
#   screenshots/shells.png              a shell inside (s) beside one that entered it (e)
#   screenshots/present.png             presenter mode (--present) at 100x30, after pivot_root
#   screenshots/notes.png               `underhood notes` following it, at 80x24
# Usage: scripts/screenshots.sh [OUT_DIR]   (default: screenshots)
# Env: UNDERHOOD_BIN to use a built binary instead of `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-screenshots}
[[ $EUID -eq 0 ]] || { echo "screenshots.sh: needs root (the TUI builds a real container)" >&2; exit 2; }

# Pillow and the font, from Debian's packages (the system python3).
py=/usr/bin/python3
if ! "$py" -c 'import PIL' 2>/dev/null || [[ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ]] \
    || ! command -v tmux >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3 python3-pil fonts-dejavu-core tmux
fi

if [[ -z ${UNDERHOOD_BIN:-} ]]; then
    cargo build --release --quiet
    UNDERHOOD_BIN=$PWD/target/release/underhood
fi

cols=120 rows=40
name=screenshots.sh
# shellcheck source=tui-driver.sh
source scripts/tui-driver.sh

# shot NAME [SESSION COLS ROWS]: capture with colours and render.
shot() {
    sleep 0.4 # let the observer's next sample land
    t capture-pane -e -p -t "${2:-uh}" >"$work/$1.ans"
    "$py" scripts/ansi_to_png.py "$work/$1.ans" "$out/$1.png" --cols "${3:-$cols}" --rows "${4:-$rows}"
    echo "screenshots.sh: $out/$1.png"
}

# The panes in Tab order, from the step pane where the TUI starts.
panes=(Step Syscalls Namespaces Processes Mounts Memory)
focused=0
focus() {
    local i
    for i in "${!panes[@]}"; do [[ ${panes[$i]} == "$1" ]] && break; done
    while ((focused != i)); do
        t send-keys -t uh Tab
        focused=$(((focused + 1) % ${#panes[@]}))
    done
}

mkdir -p "$out"
t -f /dev/null new-session -d -s uh -x $cols -y $rows "$UNDERHOOD_BIN 2>$work/stderr"
wait_for "Step 0/" 120
n=$(screen | grep -o 'Step 0/[0-9]*' | head -1 | cut -d/ -f2)
shot start

step() { # step K: take step K and wait for it
    t send-keys -t uh Right
    wait_for " step $1/$n " # the header: the step pane may be hidden by a zoom
}

k=0
# Up to just before pivot_root: the step pane names it as the next one.
until screen | grep -qF "): pivot_root"; do
    ((k < n)) || { echo "screenshots.sh: no pivot_root step" >&2; exit 1; }
    k=$((k + 1))
    step $k
done
focus Mounts
t send-keys -t uh z
shot mounts-before-pivot
k=$((k + 1))
step $k
shot mounts-after-pivot
t send-keys -t uh z

while ((k < n)); do
    k=$((k + 1))
    step $k
done
focus Namespaces
shot namespaces

t send-keys -t uh m
wait_for "OOM kills 1" 30
focus Memory
shot oom

# The two shells: one PID 1 started inside, one that entered from outside with setns.
t send-keys -t uh s
wait_for "[container] #"
t send-keys -t uh 'clear; hostname; ps -o pid,comm' Enter
wait_for "PID"
t send-keys -t uh C-]
t send-keys -t uh e
wait_for "Entered with setns"
sleep 1
t send-keys -t uh 'clear; readlink /proc/self/ns/pid /proc/1/ns/pid' Enter
shot shells

t send-keys -t uh C-]
t send-keys -t uh q
for _ in $(seq 100); do t has-session -t uh 2>/dev/null || break; sleep 0.1; done

# Presenter mode at 100x30, with the speaker's notes following it at 80x24.
t new-session -d -s pr -x 100 -y 30 "$UNDERHOOD_BIN --present --lesson pivot-root 2>$work/stderr-present"
for _ in $(seq 300); do t capture-pane -p -t pr | grep -qF "of " && break; sleep 0.1; done
t new-session -d -s nt -x 80 -y 24 "$UNDERHOOD_BIN notes 2>$work/stderr-notes"
# Step until the title names pivot_root (the presenter's "Step K of N · pivot_root").
for _ in $(seq 20); do
    t capture-pane -p -t pr | grep -qF "· pivot_root" && break
    t send-keys -t pr Right
    sleep 1
done
t capture-pane -p -t pr | grep -qF "· pivot_root" || { echo "screenshots.sh: presenter never reached pivot_root" >&2; exit 1; }
shot present pr 100 30
shot notes nt 80 24
t send-keys -t nt q
t send-keys -t pr q
for _ in $(seq 100); do t has-session -t pr 2>/dev/null || break; sleep 0.1; done
