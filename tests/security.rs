//! Security checks made visible (issue 5): after the security step the container's
//! capability sets, seccomp mode and no_new_privs are what we claim, a blocked syscall
//! really fails, mounting fails, the contained process cannot raise its own cgroup limit,
//! and what is host-wide stays out of reach. Each check runs as real root and, where it
//! differs, with `--userns` (root inside = uid 100000 outside).
//!
//! Probes used inside: the default rootfs's copies of the host's `cat`, `unshare` and
//! `mount` (util-linux), `sh`'s own redirections, and the host's `mknod` bound in
//! read-only as a volume. Nothing here writes to a host-wide setting: write access is
//! tested by opening for writing (O_APPEND) and closing without a write.
//!
//! Root only: as non-root every test is reported ignored. One that this host cannot
//! make meaningful is reported ignored too, with the reason (`common::skip`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use underhood::observe::ptree::{SeccompMode, Status, cap_names, parse_status};
use underhood::runtime::plan::DEFAULT_CAPS;

fn main() -> std::process::ExitCode {
    run(root_trials![
        root_caps_seccomp_and_no_new_privs_are_what_we_claim,
        root_a_blocked_syscall_really_fails,
        root_mount_inside_fails_with_eperm,
        root_the_container_cannot_raise_its_own_cgroup_limit,
        root_host_wide_kernel_settings_are_out_of_reach,
        root_a_device_node_made_inside_cannot_open_the_host_disk,
        root_chroot_escape_in_a_user_namespace_too
    ])
}

const MODES: [&[&str]; 2] = [&[], &["--userns"]];

/// The documented capability set as a mask, bit N for capability number N.
fn documented_mask() -> u64 {
    DEFAULT_CAPS.iter().fold(0, |m, name| {
        let cap: caps::Capability = name.parse().expect("a capability name caps knows");
        m | cap.bitmask()
    })
}

fn run_ok(mode: &[&str], script: &str) -> String {
    let mut args = vec!["run"];
    args.extend_from_slice(mode);
    args.extend_from_slice(&["--", "/bin/sh", "-c", script]);
    let o = underhood(&args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn check_status(who: &str, st: &Status) {
    let want = documented_mask();
    let show = |m: Option<u64>| m.map(cap_names).unwrap_or_default().join(",");
    assert_eq!(
        st.cap_eff,
        Some(want),
        "{who}: CapEff {} is not the documented {}",
        show(st.cap_eff),
        show(Some(want))
    );
    assert_eq!(st.cap_bnd, Some(want), "{who}: CapBnd {}", show(st.cap_bnd));
    assert_eq!(st.cap_prm, Some(want), "{who}: CapPrm {}", show(st.cap_prm));
    assert_eq!(st.cap_amb, Some(0), "{who}: CapAmb {}", show(st.cap_amb));
    assert_eq!(st.seccomp, Some(SeccompMode::Filter), "{who}: Seccomp");
    assert!(st.seccomp_filters.unwrap_or(0) >= 1, "{who}: no filter");
    assert_eq!(st.no_new_privs, Some(true), "{who}: NoNewPrivs");
}

fn root_caps_seccomp_and_no_new_privs_are_what_we_claim() {
    let before = residue();
    for mode in MODES {
        // Inside: the command reads its own status.
        let st = parse_status(&run_ok(mode, "cat /proc/self/status"));
        check_status(&format!("{mode:?} inside"), &st);
        // Outside: the host reads the status of the container's init and of its command.
        let r = Running::start(mode, &[], "echo ready; exec sleep 60");
        std::thread::sleep(Duration::from_millis(200));
        let init = r.state().subjects.last().expect("init").pid;
        let command = descendants_of(init)
            .into_iter()
            .find(|(_, comm, _)| comm == "sleep")
            .map(|(pid, _, _)| pid)
            .expect("the command below init");
        for (who, pid) in [("init", init), ("command", command)] {
            let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
            check_status(
                &format!("{mode:?} {who} (host pid {pid})"),
                &parse_status(&text),
            );
        }
        r.stop();
        eprintln!(
            "{mode:?}: CapEff = CapBnd = CapPrm = {{{}}}, CapAmb empty, Seccomp 2 (filter), NoNewPrivs 1 — inside, and for init and command seen from the host",
            cap_names(documented_mask()).join(",")
        );
    }
    // The trace says the same.
    let o = underhood(&["run", "--trace", "--", "true"]);
    let claim = format!("kept {} capabilities", DEFAULT_CAPS.len());
    assert!(stderr(&o).contains(&claim), "{}", stderr(&o));
    assert_no_residue_of_ours(&before);
}

fn root_a_blocked_syscall_really_fails() {
    let before = residue();
    // On the host the same command works: the kernel allows it, the filter does not.
    let host = Command::new("unshare")
        .args(["-U", "true"])
        .output()
        .expect("unshare on the host");
    assert!(
        host.status.success(),
        "unshare -U fails on the host too: {}",
        stderr(&host)
    );
    for mode in MODES {
        let out = run_ok(
            mode,
            "command -v unshare >/dev/null || { echo no-unshare; exit 0; }; \
             unshare -U true 2>&1; echo rc=$?",
        );
        assert!(
            !out.contains("no-unshare"),
            "the rootfs has no unshare to probe with"
        );
        assert!(
            out.contains("Operation not permitted") && !out.contains("rc=0"),
            "{mode:?}: unshare(CLONE_NEWUSER) was not blocked: {out}"
        );
        eprintln!(
            "{mode:?}: unshare -U inside: {}",
            out.lines().next().unwrap_or_default()
        );
    }
    assert_no_residue_of_ours(&before);
}

fn count_mounts_at(mountinfo: &str, point: &str) -> usize {
    mountinfo
        .lines()
        .filter(|l| l.split_whitespace().nth(4) == Some(point))
        .count()
}

fn root_mount_inside_fails_with_eperm() {
    let before = residue();
    for mode in MODES {
        let out = run_ok(
            mode,
            "cat /proc/self/mountinfo; echo ==; \
             mount -t tmpfs x /tmp 2>&1; echo rc=$?; echo ==; cat /proc/self/mountinfo",
        );
        let parts: Vec<&str> = out.split("==\n").collect();
        assert_eq!(parts.len(), 3, "{out}");
        // util-linux says "permission denied" for EPERM (mount(8), exit 32); busybox's
        // mount (the VM tier's rootfs) says the same and exits 1.
        let refused = parts[1]
            .lines()
            .find_map(|l| l.strip_prefix("rc="))
            .is_some_and(|rc| rc.trim() != "0");
        let lower = parts[1].to_lowercase();
        assert!(
            refused
                && (lower.contains("permission denied")
                    || lower.contains("operation not permitted")),
            "{mode:?}: mount was not refused: {}",
            parts[1]
        );
        assert_eq!(
            count_mounts_at(parts[0], "/tmp"),
            count_mounts_at(parts[2], "/tmp"),
            "{mode:?}: a mount appeared on /tmp"
        );
        eprintln!(
            "{mode:?}: mount -t tmpfs inside: {}",
            parts[1].lines().next().unwrap_or_default()
        );
    }
    assert_no_residue_of_ours(&before);
}

fn root_the_container_cannot_raise_its_own_cgroup_limit() {
    let before = residue();
    // The ways in: a cgroupfs somewhere in its tree, mounting one (v1 memory, v2), writing
    // where the host keeps the files.
    let script = "\
        echo found: $(find / -xdev \\( -name memory.max -o -name memory.limit_in_bytes \\) 2>/dev/null | head -3); \
        mkdir -p /mnt/cg; \
        mount -t cgroup -o memory cg /mnt/cg 2>/dev/null; echo v1=$?; \
        mount -t cgroup2 cg /mnt/cg 2>/dev/null; echo v2=$?; \
        echo 1073741824 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; echo w1=$?; \
        echo max > /sys/fs/cgroup/memory.max 2>/dev/null; echo w2=$?; \
        echo cgroup: $(cat /proc/self/cgroup | tr '\\n' ' '); \
        echo ready; exec sleep 60";
    for mode in MODES {
        let r = Running::start(mode, &["--memory", "32M"], script);
        let said = r.lines.join("\n");
        let limit = r.cgroup_file(&["memory.max", "memory.limit_in_bytes"]);
        r.stop();
        assert!(
            said.lines().any(|l| l == "found:"),
            "{mode:?}: a cgroup file is reachable: {said}"
        );
        for attempt in ["v1=", "v2=", "w1=", "w2="] {
            assert!(
                said.lines()
                    .any(|l| l.starts_with(attempt) && l != format!("{attempt}0")),
                "{mode:?}: {attempt} succeeded: {said}"
            );
        }
        assert_eq!(
            limit.as_deref(),
            Some("33554432"),
            "{mode:?}: the limit moved: {said}"
        );
        eprintln!(
            "{mode:?}: no cgroupfs inside, mounting one fails, limit still 32 MiB seen from the host"
        );
    }
    assert_no_residue_of_ours(&before);
}

fn root_host_wide_kernel_settings_are_out_of_reach() {
    let before = residue();
    // Opening for writing is the whole check: nothing is ever written. kernel.core_pattern
    // is the classic escape (a `|program` there runs as root on the host at the next
    // crash); vm.drop_caches and sysrq-trigger act on the whole machine.
    let files = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/kernel/hostname",
        "/proc/sysrq-trigger",
    ];
    let script = files
        .iter()
        .map(|f| format!("if (exec 3>>{f}) 2>/dev/null; then echo '{f} writable'; else echo '{f} refused'; fi"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut open = Vec::new();
    for mode in MODES {
        let out = run_ok(mode, &script);
        for l in out.lines() {
            // The hostname sysctl belongs to the container's own UTS namespace: fine.
            if l.ends_with(" writable") && !l.contains("/kernel/hostname") {
                open.push(format!("{mode:?}: {l}"));
            }
        }
        eprintln!("{mode:?}: {}", out.lines().collect::<Vec<_>>().join("; "));
    }
    assert_no_residue_of_ours(&before);
    assert!(
        open.is_empty(),
        "host-wide settings writable from inside (Docker mounts /proc/sys read-only and masks /proc/sysrq-trigger):\n{}",
        open.join("\n")
    );
}

fn root_a_device_node_made_inside_cannot_open_the_host_disk() {
    // CAP_MKNOD is given back here (the default set drops it), so root inside may make
    // a node for the host's disk; nodev on every writable filesystem must still refuse
    // it (Docker refuses it through the devices cgroup). Only meaningful where root on
    // the host may open that disk itself.
    let Some((maj, min)) = host_root_device() else {
        skip(
            "this host refuses even its own root to open the root block device, so a refusal inside proves nothing",
        );
    };
    let Some(mknod) = ["/usr/bin/mknod", "/bin/mknod"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        skip("no mknod on the host to bind in");
    };
    let before = residue();
    let v = format!("{mknod}:/usr/local/bin/mknod:ro");
    let script = format!(
        "mknod /disk b {maj} {min} && echo made; \
         if (exec 3</disk) 2>/dev/null; then echo opened; else echo refused; fi"
    );
    let o = underhood(&[
        "run",
        "--cap-add",
        "CAP_MKNOD",
        "-v",
        &v,
        "--",
        "/bin/sh",
        "-c",
        &script,
    ]);
    let out = stdout(&o);
    assert_no_residue_of_ours(&before);
    assert!(
        !out.contains("opened"),
        "a node for the host's disk {maj}:{min}, made inside, could be opened: {out}"
    );
}

fn root_chroot_escape_in_a_user_namespace_too() {
    // tests/run.rs shows it as real root; here the same with a user namespace, where
    // CAP_SYS_CHROOT is the namespace's: chroot still leaves the host reachable,
    // pivot_root does not. Root inside is uid 100000 outside: it may see that the
    // host's /run/underhood exists (ls -d), but not list it (0711, root's only).
    let before = residue();
    let probe = ["underhood", "chroot-escape", "ls", "-d", "/run/underhood"];
    let mut args = vec!["run", "--userns", "--chroot", "--"];
    args.extend_from_slice(&probe);
    let o = underhood(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen: BTreeSet<String> = stdout(&o).lines().map(str::to_string).collect();
    assert!(
        seen.contains("/run/underhood"),
        "the host's /run/underhood was not seen: {seen:?}"
    );
    let mut args = vec!["run", "--userns", "--"];
    args.extend_from_slice(&probe);
    let o = underhood(&args);
    assert_ne!(
        o.status.code(),
        Some(0),
        "escaped after pivot_root: {}",
        stdout(&o)
    );
    assert_no_residue_of_ours(&before);
    eprintln!("--userns: chroot escaped to the host (saw its /run/underhood); pivot_root did not");
}
