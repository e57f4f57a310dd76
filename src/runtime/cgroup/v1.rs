//! Limits and usage in cgroup v1 hierarchies (Documentation/admin-guide/cgroup-v1/).
//!
//! The writes go through cgroups-rs' v1 controllers (`MemController`, `PidController`,
//! `CpuController`), which know these file names and formats. We still record each
//! write ourselves with the real path and value, and take the errno back out of the
//! crate's error so it is not lost. Reading is our own: cgroups-rs' `memory_stat()` turns
//! every read error into 0 and parses `memory.oom_control` by position with `unwrap()`.

use std::io;
use std::path::Path;

use super::error::{Error, Result};
use cgroups_rs::fs::MaxValue;
use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::pid::PidController;

use super::files;
use super::{MemoryFiles, MemoryUsage};
use crate::runtime::report::Report;

pub const MEMORY_FILES: MemoryFiles = MemoryFiles {
    current: "memory.usage_in_bytes",
    limit: "memory.limit_in_bytes",
    peak: "memory.max_usage_in_bytes",
    oom_kills: "memory.oom_control",
};

/// cgroups-rs keeps the `io::Error` as its error's cause: take its errno back out.
fn io_result(res: cgroups_rs::fs::error::Result<()>) -> io::Result<()> {
    res.map_err(|e| {
        let errno = std::error::Error::source(&e)
            .and_then(|cause| cause.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error);
        match errno {
            Some(n) => io::Error::from_raw_os_error(n),
            None => io::Error::other(e.to_string()),
        }
    })
}

fn as_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value)
        .map_err(|e| Error::Refused(format!("{what} {value} is too large for the kernel: {e}")))
}

/// Sets the memory limit and holds memory+swap to the same value, so a hog cannot
/// escape into swap (cgroup-v1/memory.rst, 2.4 and "memory.memsw.*").
///
/// The kernel insists that memsw.limit >= limit at every moment (it answers EINVAL
/// otherwise), so when raising the limit memsw must be raised first, and when lowering
/// it must be lowered last.
pub fn set_memory(mount: &Path, dir: &Path, bytes: u64, report: &mut Report) -> Result<()> {
    let mem = MemController::new(dir.to_path_buf(), mount.to_path_buf(), false);
    let value = as_i64(bytes, "memory limit")?;
    let text = value.to_string();
    let limit_file = dir.join("memory.limit_in_bytes");
    let memsw_file = dir.join("memory.memsw.limit_in_bytes");
    if !memsw_file.exists() {
        files::record_write(report, &limit_file, &text, io_result(mem.set_limit(value)))?;
        report.note(format!(
            "{} is missing (swap accounting is off: CONFIG_MEMCG_SWAP / swapaccount=1), \
             so memory+swap is not limited and a hog may swap instead of being OOM-killed",
            memsw_file.display()
        ));
        return Ok(());
    }
    let memsw_now = files::read_u64(&memsw_file)?;
    let memsw_first = bytes > memsw_now;
    if memsw_first {
        files::record_write(
            report,
            &memsw_file,
            &text,
            io_result(mem.set_memswap_limit(value)),
        )?;
    }
    files::record_write(report, &limit_file, &text, io_result(mem.set_limit(value)))?;
    if !memsw_first {
        files::record_write(
            report,
            &memsw_file,
            &text,
            io_result(mem.set_memswap_limit(value)),
        )?;
    }
    Ok(())
}

/// `pids.max` (cgroup-v1/pids.rst): fork() and clone() fail with EAGAIN beyond it.
pub fn set_pids(mount: &Path, dir: &Path, max: u64, report: &mut Report) -> Result<()> {
    let pids = PidController::new(dir.to_path_buf(), mount.to_path_buf(), false);
    let value = as_i64(max, "pids limit")?;
    let res = io_result(pids.set_pid_max(MaxValue::Value(value)));
    files::record_write(report, &dir.join("pids.max"), &value.to_string(), res)
}

/// CFS bandwidth (scheduler/sched-bwc.rst): the group may run `quota` µs per `period` µs.
/// The period is written first: a fresh group has quota -1 (unlimited), so either order
/// is accepted, and this is the order runc uses.
pub fn set_cpu(
    mount: &Path,
    dir: &Path,
    quota: u64,
    period: u64,
    report: &mut Report,
) -> Result<()> {
    let cpu = CpuController::new(dir.to_path_buf(), mount.to_path_buf(), false);
    let res = io_result(cpu.set_cfs_period(period));
    files::record_write(
        report,
        &dir.join("cpu.cfs_period_us"),
        &period.to_string(),
        res,
    )?;
    let quota = as_i64(quota, "cpu quota")?;
    let res = io_result(cpu.set_cfs_quota(quota));
    files::record_write(
        report,
        &dir.join("cpu.cfs_quota_us"),
        &quota.to_string(),
        res,
    )
}

/// v1 has no "max": an unlimited counter reads PAGE_COUNTER_MAX pages in bytes
/// (9223372036854771712 with 4 KiB pages). Anything that large means "no limit".
fn limit_from(bytes: u64) -> Option<u64> {
    (bytes < 1 << 62).then_some(bytes)
}

/// Usage, limit, peak and OOM kills from the v1 memory files.
pub fn memory(dir: &Path) -> Result<MemoryUsage> {
    let f = MEMORY_FILES;
    let oom = files::read(&dir.join(f.oom_kills))?;
    Ok(MemoryUsage {
        current: files::read_u64(&dir.join(f.current))?,
        limit: limit_from(files::read_u64(&dir.join(f.limit))?),
        peak: Some(files::read_u64(&dir.join(f.peak))?),
        oom_kills: oom_kills(&oom),
        files: f,
    })
}

/// The `oom_kill` line of `memory.oom_control` (added in Linux 4.13; older kernels
/// only say `under_oom`, and the count reads as 0 there).
pub fn oom_kills(oom_control: &str) -> u64 {
    files::keyed(oom_control, "oom_kill").unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::fixture::{Fixture, V1_UNLIMITED};

    fn fixture() -> (Fixture, std::path::PathBuf, std::path::PathBuf) {
        let fx = Fixture::v1();
        fx.v1_child("memory/underhood-t", "memory");
        let mount = fx.root().join("memory");
        let dir = mount.join("underhood-t");
        (fx, mount, dir)
    }

    #[test]
    fn memory_limit_is_written_before_memsw_when_lowering() {
        let (fx, mount, dir) = fixture();
        let mut r = Report::new("t");
        set_memory(&mount, &dir, 33554432, &mut r).expect("set");
        let written: Vec<_> = r.calls.iter().map(|c| c.args.clone()).collect();
        assert_eq!(
            written,
            vec![
                format!(
                    "{} <- 33554432",
                    dir.join("memory.limit_in_bytes").display()
                ),
                format!(
                    "{} <- 33554432",
                    dir.join("memory.memsw.limit_in_bytes").display()
                ),
            ]
        );
        assert_eq!(
            fx.read("memory/underhood-t/memory.limit_in_bytes"),
            "33554432"
        );
        assert_eq!(
            fx.read("memory/underhood-t/memory.memsw.limit_in_bytes"),
            "33554432"
        );
        assert_eq!(
            r.shell[0],
            format!(
                "echo 33554432 > {}",
                dir.join("memory.limit_in_bytes").display()
            )
        );
    }

    #[test]
    fn memsw_is_raised_first_when_raising() {
        let (fx, mount, dir) = fixture();
        fx.file("memory/underhood-t/memory.limit_in_bytes", "33554432\n");
        fx.file(
            "memory/underhood-t/memory.memsw.limit_in_bytes",
            "33554432\n",
        );
        let mut r = Report::new("t");
        set_memory(&mount, &dir, 67108864, &mut r).expect("set");
        assert!(
            r.calls[0]
                .args
                .contains("memory.memsw.limit_in_bytes <- 67108864"),
            "{:?}",
            r.calls
        );
        assert!(
            r.calls[1]
                .args
                .contains("memory.limit_in_bytes <- 67108864"),
            "{:?}",
            r.calls
        );
    }

    #[test]
    fn missing_memsw_is_noted_not_fatal() {
        let (fx, mount, dir) = fixture();
        let _ = std::fs::remove_file(dir.join("memory.memsw.limit_in_bytes"));
        let mut r = Report::new("t");
        set_memory(&mount, &dir, 1 << 20, &mut r).expect("set");
        assert_eq!(r.calls.len(), 1);
        assert!(
            r.notes[0].contains("swap accounting is off"),
            "{:?}",
            r.notes
        );
        drop(fx);
    }

    #[test]
    fn pids_and_cpu_files() {
        let fx = Fixture::v1();
        fx.v1_child("pids/underhood-t", "pids");
        fx.v1_child("cpu,cpuacct/underhood-t", "cpu");
        let mut r = Report::new("t");
        let pids = fx.root().join("pids");
        set_pids(&pids, &pids.join("underhood-t"), 20, &mut r).expect("pids");
        let cpu = fx.root().join("cpu,cpuacct");
        set_cpu(&cpu, &cpu.join("underhood-t"), 50000, 100000, &mut r).expect("cpu");
        assert_eq!(fx.read("pids/underhood-t/pids.max"), "20");
        assert_eq!(
            fx.read("cpu,cpuacct/underhood-t/cpu.cfs_period_us"),
            "100000"
        );
        assert_eq!(fx.read("cpu,cpuacct/underhood-t/cpu.cfs_quota_us"), "50000");
        assert!(
            r.calls[2].args.ends_with("cpu.cfs_quota_us <- 50000"),
            "{:?}",
            r.calls
        );
    }

    #[test]
    fn reads_usage_from_real_v1_content() {
        let (fx, _mount, dir) = fixture();
        fx.file("memory/underhood-t/memory.usage_in_bytes", "31457280\n");
        fx.file("memory/underhood-t/memory.limit_in_bytes", "33554432\n");
        fx.file("memory/underhood-t/memory.max_usage_in_bytes", "33554432\n");
        // Pasted from this host (6.18, v1 memory) after one OOM kill.
        fx.file(
            "memory/underhood-t/memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        );
        let m = memory(&dir).expect("usage");
        assert_eq!(
            (m.current, m.limit, m.peak, m.oom_kills),
            (31457280, Some(33554432), Some(33554432), 1)
        );
        assert_eq!(m.files.current, "memory.usage_in_bytes");

        fx.file("memory/underhood-t/memory.limit_in_bytes", V1_UNLIMITED);
        assert_eq!(memory(&dir).map(|m| m.limit).ok(), Some(None));
        // A kernel before 4.13 has no oom_kill line.
        assert_eq!(oom_kills("oom_kill_disable 0\nunder_oom 1\n"), 0);
    }

    #[test]
    fn write_error_keeps_errno_through_cgroups_rs() {
        let (_fx, mount, dir) = fixture();
        let gone = dir.join("no-such-child");
        let mut r = Report::new("t");
        let err = set_pids(&mount, &gone, 20, &mut r)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no-such-child/pids.max: ENOENT"), "{err}");
        assert!(
            r.calls[0]
                .result
                .as_ref()
                .err()
                .is_some_and(|e| e.starts_with("ENOENT"))
        );
    }
}
