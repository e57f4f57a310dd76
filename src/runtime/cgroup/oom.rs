//! OOM-kill notification as a file descriptor the controller can `poll()` beside others.
//!
//! - v2: the kernel raises a file-modified event on `memory.events` whenever one of its
//!   counters changes (cgroup-v2.rst: "memory.events ... a value change in this file
//!   generates a file modified event"), so an inotify watch for IN_MODIFY serves.
//! - v1: an eventfd registered by writing "<event_fd> <fd of memory.oom_control>" to
//!   `cgroup.event_control` (cgroup-v1/memory.rst, "OOM Control"). The kernel signals it
//!   on each OOM in the group, and once more when the group is removed.
//!
//! cgroups-rs' `register_oom_event` does the v1 registration but hands back an mpsc
//! receiver fed by a thread of its own (which `unwrap()`s), not a pollable fd, and it
//! uses the v1 file on v2 too; so both sources are ours.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::{files, v1, v2};

enum Source {
    Inotify(Inotify),
    EventFd(EventFd),
}

/// A pollable OOM event source. Readable (POLLIN) after an OOM event; [`OomEvents::read`]
/// drains it and returns the cgroup's current `oom_kill` count.
pub struct OomEvents {
    source: Source,
    /// `memory.events` (v2) or `memory.oom_control` (v1): where the count is read.
    counter: PathBuf,
    how: String,
}

impl std::fmt::Debug for OomEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.how)
    }
}

fn sys<T>(what: impl FnOnce() -> String, res: nix::Result<T>) -> Result<T> {
    res.map_err(|errno| Error::Syscall {
        call: what(),
        errno,
    })
}

impl OomEvents {
    /// Watches `<dir>/memory.events` with inotify (v2).
    pub fn v2(dir: &Path) -> Result<OomEvents> {
        let counter = dir.join("memory.events");
        // Non-blocking so that read() can drain without waiting for the next event.
        let flags = InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC;
        let ino = sys(
            || "inotify_init1(IN_NONBLOCK|IN_CLOEXEC)".into(),
            Inotify::init(flags),
        )?;
        sys(
            || format!("inotify_add_watch({}, IN_MODIFY)", counter.display()),
            ino.add_watch(&counter, AddWatchFlags::IN_MODIFY),
        )?;
        Ok(OomEvents {
            source: Source::Inotify(ino),
            how: format!("inotify IN_MODIFY on {}", counter.display()),
            counter,
        })
    }

    /// Registers an eventfd for `<dir>/memory.oom_control` (v1).
    pub fn v1(dir: &Path) -> Result<OomEvents> {
        let counter = dir.join("memory.oom_control");
        let flags = EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK;
        let efd = sys(
            || "eventfd(0, EFD_CLOEXEC|EFD_NONBLOCK)".into(),
            EventFd::from_value_and_flags(0, flags),
        )?;
        // The kernel takes its own references during the write; the oom_control fd is
        // only needed until then.
        let control = File::open(&counter).map_err(|err| Error::Io {
            op: "opening",
            path: counter.clone(),
            err,
        })?;
        let line = format!("{} {}", efd.as_raw_fd(), control.as_raw_fd());
        let event_control = dir.join("cgroup.event_control");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&event_control)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()))
            .map_err(|err| Error::Write {
                path: event_control.clone(),
                value: line.clone(),
                err,
            })?;
        Ok(OomEvents {
            source: Source::EventFd(efd),
            how: format!(
                "eventfd registered with \"{line}\" in {}",
                event_control.display()
            ),
            counter,
        })
    }

    /// What is being watched, for the trace and the TUI.
    pub fn describe(&self) -> &str {
        &self.how
    }

    /// Drains pending events and returns the current `oom_kill` count. Fails once the
    /// cgroup is gone (v1 signals the eventfd on removal; v2 inotify reports IN_IGNORED):
    /// the caller should stop polling then.
    pub fn read(&self) -> Result<u64> {
        match &self.source {
            Source::Inotify(ino) => loop {
                match ino.read_events() {
                    Ok(events) if !events.is_empty() => continue,
                    Ok(_) | Err(Errno::EAGAIN) => break,
                    Err(e) => return sys(|| "reading inotify events".into(), Err(e)),
                }
            },
            // One read returns the whole counter and resets it to 0.
            Source::EventFd(efd) => match efd.read() {
                Ok(_) | Err(Errno::EAGAIN) => {}
                Err(e) => return sys(|| "reading the OOM eventfd".into(), Err(e)),
            },
        }
        match &self.source {
            Source::Inotify(_) => v2::oom_kills(&self.counter),
            Source::EventFd(_) => files::read(&self.counter).map(|t| v1::oom_kills(&t)),
        }
    }
}

impl AsFd for OomEvents {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::Inotify(i) => i.as_fd(),
            Source::EventFd(e) => e.as_fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::fixture::Fixture;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    fn readable(ev: &OomEvents, ms: u16) -> bool {
        let mut fds = [PollFd::new(ev.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 1
    }

    #[test]
    fn v2_inotify_fires_on_memory_events_change() {
        // On a plain file a write is an IN_MODIFY, exactly what the kernel raises.
        let fx = Fixture::v2();
        fx.v2_child("underhood-t");
        let ev = OomEvents::v2(&fx.root().join("underhood-t")).expect("watch");
        assert!(!readable(&ev, 0), "no event yet");
        assert_eq!(ev.read().ok(), Some(0));
        fx.file(
            "underhood-t/memory.events",
            "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n",
        );
        assert!(readable(&ev, 1000), "IN_MODIFY makes the fd readable");
        assert_eq!(ev.read().ok(), Some(1));
        assert!(!readable(&ev, 0), "read() drained the queue");
        assert!(ev.describe().starts_with("inotify IN_MODIFY on "));
    }

    #[test]
    fn v1_registration_writes_eventfd_and_control_fd() {
        let fx = Fixture::v1();
        fx.v1_child("memory/underhood-t", "memory");
        let ev = OomEvents::v1(&fx.root().join("memory/underhood-t")).expect("register");
        let line = fx.read("memory/underhood-t/cgroup.event_control");
        let fds: Vec<i32> = line.split(' ').filter_map(|n| n.parse().ok()).collect();
        assert_eq!(fds.len(), 2, "{line:?}");
        assert_eq!(fds[0], ev.as_fd().as_raw_fd());
        assert_ne!(fds[0], fds[1]);
        assert!(!readable(&ev, 0));
        assert_eq!(ev.read().ok(), Some(0));
    }

    #[test]
    fn v1_registration_error_names_the_file() {
        let fx = Fixture::v1();
        let err = OomEvents::v1(&fx.root().join("memory/missing"))
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.contains("memory/missing/memory.oom_control: ENOENT"),
            "{err}"
        );
    }
}
