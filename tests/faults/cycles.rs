//! See tests/faults.rs. Many launch/teardown cycles: everything stays flat.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::{assert_no_descendants, full_config, me, strs, volume_dir};

pub fn trials() -> Vec<Trial> {
    root_trials![root_many_launch_teardown_cycles_stay_flat,]
}

fn count_lines(path: &str) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Cgroups of ours in a snapshot: another developer's live session may hold some.
fn our_cgroups(r: &Residue) -> usize {
    let foreign = foreign_live_sessions();
    r.cgroups
        .iter()
        .filter(|c| session_of("cgroup", c).is_none_or(|id| !foreign.contains_key(&id)))
        .count()
}

fn cache_entries() -> BTreeSet<String> {
    std::fs::read_dir("/var/cache/underhood")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn root_many_launch_teardown_cycles_stay_flat() {
    let cycles: usize = std::env::var("UNDERHOOD_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let vol = volume_dir();
    let mut args = vec!["run".to_string()];
    args.extend(full_config(vol.path()));
    args.extend(["--", "/bin/sh", "-c", "cat /data/hello > /dev/null"].map(String::from));
    let args = strs(&args);
    // One warm-up run: the first one may assemble the rootfs or the tools layer.
    let o = underhood(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let before = residue();
    let cache_before = cache_entries();
    let mounts_before = count_lines("/proc/self/mountinfo");
    let zombies_before = zombies_on_host();
    let fds_before = fd_count();
    let mut times = Vec::with_capacity(cycles);
    let mut mounts = Vec::with_capacity(cycles);
    let mut cgroups = Vec::with_capacity(cycles);
    let mut immediate_residue = 0;
    let mut our_zombies = 0;
    for i in 0..cycles {
        let t0 = Instant::now();
        let o = underhood(&args);
        times.push(t0.elapsed());
        assert_eq!(o.status.code(), Some(0), "cycle {i}: {}", stderr(&o));
        let now = residue();
        if !residue_changes(&before, &now).is_empty() {
            // The host end of a veth goes with the network namespace, which the kernel
            // frees asynchronously: allow a moment, but count it.
            immediate_residue += 1;
            assert_no_residue_of_ours(&before);
        }
        mounts.push(count_lines("/proc/self/mountinfo"));
        cgroups.push(our_cgroups(&now));
        our_zombies += descendants_of(me())
            .iter()
            .filter(|(_, _, s)| *s == 'Z')
            .count();
    }
    let total: Duration = times.iter().sum();
    let mut sorted = times.clone();
    sorted.sort();
    let tenth = (cycles / 10).max(1);
    let mean = |s: &[Duration]| s.iter().sum::<Duration>() / s.len().max(1) as u32;
    let cache_after = cache_entries();
    let cache_added: Vec<_> = cache_after.difference(&cache_before).collect();
    eprintln!(
        "launch/teardown cycles: {cycles} (memory+pids cgroup, veth, volume, overlay, pivot_root)"
    );
    eprintln!(
        "  time per cycle: mean {}, median {}, p95 {}, max {}; first {tenth} mean {}, last {tenth} mean {}; total {:.1} s",
        ms(mean(&times)),
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.95)),
        ms(percentile(&sorted, 1.0)),
        ms(mean(&times[..tenth.min(times.len())])),
        ms(mean(&times[times.len().saturating_sub(tenth)..])),
        total.as_secs_f64()
    );
    eprintln!(
        "  host mounts: {mounts_before} before, min {} max {} during, {} after",
        mounts.iter().min().unwrap_or(&0),
        mounts.iter().max().unwrap_or(&0),
        count_lines("/proc/self/mountinfo")
    );
    eprintln!(
        "  cgroups of ours: {} before, max {} after any cycle (others' live sessions left out)",
        our_cgroups(&before),
        cgroups.iter().max().unwrap_or(&0)
    );
    eprintln!(
        "  zombies: {our_zombies} below the test over all cycles; host-wide {zombies_before} before, {} after",
        zombies_on_host()
    );
    eprintln!(
        "  state dirs on the machine: {} before, {} after; cache entries {} before, {} after; test fds {fds_before} -> {}",
        before.state_dirs.len(),
        session_ids().len(),
        cache_before.len(),
        cache_after.len(),
        fd_count()
    );
    eprintln!(
        "  cycles whose residue needed the grace period: {immediate_residue}; residue after it: 0"
    );
    assert_eq!(our_zombies, 0);
    // The cache is shared with every underhood binary on the machine: another
    // developer's build may add its own tools layer meanwhile. One per cycle is ours.
    assert!(
        cache_added.len() <= 2
            && cache_added
                .iter()
                .all(|n| n.starts_with("tools-") || n.starts_with("rootfs-")),
        "the cache grew: {cache_added:?}"
    );
    assert_no_residue_of_ours(&before);
    assert_no_descendants("cycles");
}
