# Sourced by scripts that drive the real TUI in tmux as a person would (benches/
# tui_budget.sh, scripts/screenshots.sh). Set `name` (for messages and temp files)
# first. Gives: a private tmux server `t` (killed on exit, with the work dir $work),
# `screen` (the pane's text) and `wait_for TEXT [SECONDS]`.
sock=uh-${name%.sh}-$$
work=$(mktemp -d "/tmp/underhood-${name%.sh}.XXXXXX")
t() { tmux -L "$sock" "$@"; }
finish() {
    t kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap finish EXIT

screen() { t capture-pane -p -t uh; }

# wait_for TEXT [SECONDS]: until the screen shows TEXT; else the screen and the TUI's
# stderr ($work/stderr, where the scripts send it) and exit 1.
wait_for() {
    local deadline=$((SECONDS + ${2:-30}))
    until screen | grep -qF -- "$1"; do
        if ((SECONDS > deadline)); then
            echo "$name: timed out waiting for '$1'; the screen:" >&2
            screen >&2
            cat "$work/stderr" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.1
    done
}
