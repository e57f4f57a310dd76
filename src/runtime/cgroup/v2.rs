//! Limits and usage in the cgroup v2 hierarchy (Documentation/admin-guide/cgroup-v2.rst).
//!
//! Our own small code: cgroups-rs 0.5 has no `memory.events` or `memory.peak`, reads
//! the v1 `memory.oom_control` for OOM notification even on v2, and ignores errors when
//! writing `cgroup.subtree_control`.

use std::path::Path;

use super::error::{Error, Result};

use super::layout::Controller;
use super::{MemoryFiles, MemoryUsage, files};
use crate::runtime::report::Report;

pub const MEMORY_FILES: MemoryFiles = MemoryFiles {
    current: "memory.current",
    limit: "memory.max",
    peak: "memory.peak",
    oom_kills: "memory.events",
};

/// Makes `wanted` controllers available to the children of the cgroup at `parent` by
/// writing `+name` to its `cgroup.subtree_control` ("Enabling and Disabling" in
/// cgroup-v2.rst: a child only gets `memory.max` etc. when its parent enables memory).
///
/// Only controllers not enabled yet are written, one write each, so one refusal does not
/// hide the others and each outcome is recorded. We never disable them afterwards:
/// enabling is idempotent, systemd enables them at boot anyway, and other cgroups may
/// have come to rely on them meanwhile. A failure is an error for a controller in
/// `required` (a limit was asked for) and a note otherwise.
///
/// Returns the controllers usable in children.
pub fn enable_controllers(
    parent: &Path,
    wanted: &[Controller],
    required: &[Controller],
    report: &mut Report,
) -> Result<Vec<Controller>> {
    let path = parent.join("cgroup.subtree_control");
    let enabled = files::read(&path)?;
    let mut usable = Vec::new();
    for &c in wanted {
        if enabled.split_whitespace().any(|n| n == c.name()) {
            usable.push(c);
            continue;
        }
        match files::write(report, &path, &format!("+{}", c.name())) {
            Ok(()) => {
                report.note(format!(
                    "{} was not enabled for child cgroups; wrote +{} to {}. This change to \
                     {} stays: it is idempotent and other cgroups may rely on it now",
                    c.name(),
                    c.name(),
                    path.display(),
                    parent.display()
                ));
                usable.push(c);
            }
            Err(e) if required.contains(&c) => return Err(e),
            Err(e) => report.note(format!(
                "{e}; continuing without the {} controller",
                c.name()
            )),
        }
    }
    Ok(usable)
}

/// `memory.max`, then `memory.swap.max` = 0: in v2 swap is limited separately, so 0 swap
/// holds memory+swap to the memory limit and a hog is OOM-killed instead of swapping.
pub fn set_memory(dir: &Path, bytes: u64, report: &mut Report) -> Result<()> {
    files::write(report, &dir.join("memory.max"), &bytes.to_string())?;
    let swap = dir.join("memory.swap.max");
    if swap.exists() {
        files::write(report, &swap, "0")?;
    } else {
        report.note(format!(
            "{} is missing (kernel without swap accounting), so a hog may swap \
             instead of being OOM-killed",
            swap.display()
        ));
    }
    Ok(())
}

/// `pids.max`: fork() and clone() fail with EAGAIN beyond it.
pub fn set_pids(dir: &Path, max: u64, report: &mut Report) -> Result<()> {
    files::write(report, &dir.join("pids.max"), &max.to_string())
}

/// `cpu.max` = "$MAX $PERIOD": the group may run $MAX µs in each $PERIOD µs.
pub fn set_cpu(dir: &Path, quota: u64, period: u64, report: &mut Report) -> Result<()> {
    files::write(report, &dir.join("cpu.max"), &format!("{quota} {period}"))
}

/// Usage, limit, peak and OOM kills from the v2 memory files.
pub fn memory(dir: &Path) -> Result<MemoryUsage> {
    let f = MEMORY_FILES;
    let peak_file = dir.join(f.peak);
    // memory.peak arrived in Linux 5.19.
    let peak = if peak_file.exists() {
        files::read_max(&peak_file)?
    } else {
        None
    };
    Ok(MemoryUsage {
        current: files::read_u64(&dir.join(f.current))?,
        limit: files::read_max(&dir.join(f.limit))?,
        peak,
        oom_kills: oom_kills(&dir.join(f.oom_kills))?,
        files: f,
    })
}

/// The `oom_kill` count of `memory.events`: processes of this cgroup (and below)
/// killed by the OOM killer.
pub fn oom_kills(events: &Path) -> Result<u64> {
    let text = files::read(events)?;
    files::keyed(&text, "oom_kill").ok_or_else(|| {
        Error::Malformed(format!(
            "{}: no oom_kill line in {text:?}",
            events.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::fixture::Fixture;

    #[test]
    fn enables_only_missing_controllers_and_notes_it() {
        let fx = Fixture::v2();
        fx.file("cgroup.subtree_control", "cpu io\n");
        let mut r = Report::new("t");
        let usable = enable_controllers(fx.root(), &Controller::ALL, &[Controller::Memory], &mut r);
        assert_eq!(usable.ok(), Some(Controller::ALL.to_vec()));
        let args: Vec<_> = r.calls.iter().map(|c| c.args.clone()).collect();
        let path = fx.root().join("cgroup.subtree_control");
        // A plain file keeps only the last write; the kernel would have merged them.
        assert_eq!(
            args,
            vec![
                format!("{} <- +memory", path.display()),
                format!("{} <- +pids", path.display())
            ]
        );
        assert_eq!(r.notes.len(), 2);
        assert!(r.notes[0].contains("stays"), "{:?}", r.notes);
    }

    #[test]
    fn nothing_written_when_all_enabled() {
        let fx = Fixture::v2();
        let mut r = Report::new("t");
        let usable = enable_controllers(fx.root(), &Controller::ALL, &Controller::ALL, &mut r);
        assert_eq!(usable.ok(), Some(Controller::ALL.to_vec()));
        assert!(r.calls.is_empty() && r.notes.is_empty());
    }

    #[test]
    fn subtree_control_write_errors_are_reported() {
        // A file that reads fine but refuses writes, as the kernel refuses `+cpu` with
        // EBUSY or EINVAL: /proc/version answers EIO to root and EACCES to others.
        let fx = Fixture::v2();
        let parent = fx.root().join("refusing");
        std::fs::create_dir_all(&parent).expect("dir");
        std::os::unix::fs::symlink("/proc/version", parent.join("cgroup.subtree_control"))
            .expect("symlink");
        let path = parent.join("cgroup.subtree_control");

        let mut r = Report::new("t");
        let err = enable_controllers(
            &parent,
            &[Controller::Memory],
            &[Controller::Memory],
            &mut r,
        );
        let err = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.starts_with(&format!("writing \"+memory\" to {}: E", path.display())),
            "{err}"
        );
        assert!(
            r.calls[0].result.is_err(),
            "the failed write is recorded: {:?}",
            r.calls
        );

        // Not required (no cpu limit asked): carry on without it, and say so.
        let mut r = Report::new("t");
        let usable = enable_controllers(&parent, &[Controller::Cpu], &[], &mut r);
        assert_eq!(usable.ok(), Some(vec![]));
        assert!(
            r.notes[0].contains("continuing without the cpu controller"),
            "{:?}",
            r.notes
        );
        assert!(r.calls[0].result.is_err());
    }

    #[test]
    fn writes_v2_limits() {
        let fx = Fixture::v2();
        fx.v2_child("underhood-t");
        let dir = fx.root().join("underhood-t");
        let mut r = Report::new("t");
        set_memory(&dir, 33554432, &mut r).expect("memory");
        set_pids(&dir, 20, &mut r).expect("pids");
        set_cpu(&dir, 50000, 100000, &mut r).expect("cpu");
        assert_eq!(fx.read("underhood-t/memory.max"), "33554432");
        assert_eq!(fx.read("underhood-t/memory.swap.max"), "0");
        assert_eq!(fx.read("underhood-t/pids.max"), "20");
        assert_eq!(fx.read("underhood-t/cpu.max"), "50000 100000");
        assert_eq!(
            r.shell[3],
            format!("echo 50000 100000 > {}", dir.join("cpu.max").display())
        );
    }

    #[test]
    fn reads_usage_from_real_v2_content() {
        let fx = Fixture::v2();
        fx.v2_child("underhood-t");
        let dir = fx.root().join("underhood-t");
        fx.file("underhood-t/memory.current", "33513472\n");
        fx.file("underhood-t/memory.max", "33554432\n");
        fx.file("underhood-t/memory.peak", "33554432\n");
        // Pasted from a Debian 6.12 kernel after a hog was OOM-killed.
        fx.file(
            "underhood-t/memory.events",
            "low 0\nhigh 0\nmax 1167\noom 1\noom_kill 1\noom_group_kill 0\n",
        );
        let m = memory(&dir).expect("usage");
        assert_eq!(
            (m.current, m.limit, m.peak, m.oom_kills),
            (33513472, Some(33554432), Some(33554432), 1)
        );
        assert_eq!(m.files.oom_kills, "memory.events");

        fx.file("underhood-t/memory.max", "max\n");
        let _ = std::fs::remove_file(dir.join("memory.peak"));
        let m = memory(&dir).expect("usage");
        assert_eq!((m.limit, m.peak), (None, None));

        fx.file("underhood-t/memory.events", "low 0\n");
        assert!(memory(&dir).is_err());
    }
}
