//! Crash-only bookkeeping. Before a session creates anything on the host it records
//! it in `<state_dir>/<session id>/state.json`; a later `underhood cleanup` (and every
//! start) removes exactly what dead sessions recorded, and nothing else.
//!
//! A pid alone does not identify a process (pids are reused), so each is stored with
//! its start time (field 22 of /proc/<pid>/stat, proc(5)).

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::launch_error::{Ctx, Error, Result};
use serde::{Deserialize, Serialize};

use super::paths::{PREFIX, Paths};

pub const STATE_FILE: &str = "state.json";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcId {
    pub pid: i32,
    pub start_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub session_id: String,
    pub controller: Option<ProcId>,
    /// Every subject process (the first, then PID 1 after the PID step).
    pub subjects: Vec<ProcId>,
    /// The cgroup name used in every hierarchy (`underhood-<id>`), recorded before mkdir.
    pub cgroup_name: Option<String>,
    /// Cgroup directories created.
    pub cgroups: Vec<PathBuf>,
    /// Host-side veth ends.
    pub veths: Vec<String>,
}

/// Parses the start time (clock ticks since boot) out of /proc/<pid>/stat. The command
/// name (field 2) may hold spaces and parentheses, so split after the last `)`.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 (state) on; starttime is field 22.
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

pub fn proc_id(proc_root: &Path, pid: i32) -> Option<ProcId> {
    let stat = fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    Some(ProcId {
        pid,
        start_time: parse_start_time(&stat)?,
    })
}

/// Whether the recorded process still runs (same pid *and* same start time). A zombie
/// (state Z or X) has ended: it only waits for its parent to reap it.
pub fn is_alive(proc_root: &Path, id: ProcId) -> bool {
    let Ok(stat) = fs::read_to_string(proc_root.join(id.pid.to_string()).join("stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    parse_start_time(&stat) == Some(id.start_time) && !matches!(state, Some("Z" | "X" | "x"))
}

/// A fresh session id: 8 hex digits from the kernel's random pool.
pub fn new_session_id() -> Result<String> {
    let mut buf = [0u8; 4];
    let mut f = fs::File::open("/dev/urandom").ctx(|| "opening /dev/urandom")?;
    std::io::Read::read_exact(&mut f, &mut buf).ctx(|| "reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn is_session_id(name: &str) -> bool {
    name.len() == 8 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One live session's record on disk.
#[derive(Debug)]
pub struct Session {
    pub dir: PathBuf,
    pub state: State,
    /// Length of the record on disk, once written (see [`Session::save`]).
    written: usize,
}

impl Session {
    /// Creates `<state_dir>/<id>/` and records the calling process as controller.
    pub fn create(paths: &Paths) -> Result<Session> {
        Session::create_with(paths, |_| {})
    }

    /// Like [`Session::create`], with `init` applied to the first record: what already
    /// exists (a subject started ahead) goes into the same write.
    pub fn create_with(paths: &Paths, init: impl FnOnce(&mut State)) -> Result<Session> {
        let id = new_session_id()?;
        let dir = paths.state_dir.join(&id);
        // The parent is removed when its last session goes (remove_state_root), so another
        // session ending at the same moment may take it away under us: retry then.
        let mut tries = 0;
        loop {
            state_root(&paths.state_dir)?;
            // 0700: the upper layer below holds whatever the container made (setuid
            // copies, device nodes) on a host filesystem that is neither nosuid nor
            // nodev; no other host user may reach it. See `let_group_enter` for the
            // one exception, a container whose root is another uid outside.
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 5 => tries += 1,
                Err(e) => return Err(e).ctx(|| format!("creating {}", dir.display())),
            }
        }
        // mkdir(2) applies the umask; chmod(2) does not.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .ctx(|| format!("chmod 0700 {}", dir.display()))?;
        let me = std::process::id() as i32;
        let mut s = Session {
            dir,
            state: State {
                version: FORMAT_VERSION,
                session_id: id,
                controller: proc_id(&paths.proc_root, me),
                ..Default::default()
            },
            written: 0,
        };
        init(&mut s.state);
        if let Err(e) = s.save() {
            // A full /run (ENOSPC) must not leave a session directory that names no
            // process for cleanup to judge by.
            let _ = remove_session_dir(&s.dir);
            return Err(e);
        }
        Ok(s)
    }

    pub fn id(&self) -> &str {
        &self.state.session_id
    }

    pub fn name(&self) -> String {
        format!("{PREFIX}-{}", self.state.session_id)
    }

    /// Changes the record and writes it before the caller creates the thing recorded.
    pub fn record(&mut self, change: impl FnOnce(&mut State)) -> Result<()> {
        change(&mut self.state);
        self.save()
    }

    /// Writes the record. The first time, to a temporary file renamed over
    /// `state.json` (rename(2) is atomic: a crash leaves no record or the whole one).
    /// After that, in place: one pwrite(2) of the new record at offset 0, padded with
    /// blanks (which JSON allows) to the old one's length, where both fit in one page.
    /// A write within one page is done whole or not at all, even when SIGKILL comes,
    /// and needs no new block, so no ENOSPC either. It is also far cheaper on a disk
    /// filesystem: a rename over a file makes ext4 allocate the new one's blocks at
    /// once (`auto_da_alloc`) and free the old one's, and where it discards freed
    /// blocks synchronously (`-o discard`) each free waits for the device; a record
    /// rewritten in place and removed within seconds may never get a block at all.
    fn save(&mut self) -> Result<()> {
        const ONE_PAGE: usize = 4096;
        let path = self.dir.join(STATE_FILE);
        let mut body = serde_json::to_vec_pretty(&self.state).ctx(|| "encoding state")?;
        if self.written > 0 && body.len().max(self.written) <= ONE_PAGE {
            body.resize(body.len().max(self.written), b' ');
            if overwrite(&path, &body).is_ok() {
                self.written = body.len();
                return Ok(());
            }
            // Otherwise (the file replaced under us?) a whole new one, as the first time.
        }
        let tmp = self.dir.join("state.json.tmp");
        let written = fs::write(&tmp, &body)
            .ctx(|| format!("writing {}", tmp.display()))
            .and_then(|()| {
                fs::rename(&tmp, &path).ctx(|| format!("renaming to {}", path.display()))
            });
        if written.is_err() {
            // A full filesystem (ENOSPC) leaves a cut temporary file: the record on disk
            // stays the previous one, whole.
            let _ = fs::remove_file(&tmp);
        } else {
            self.written = body.len();
        }
        written
    }

    /// Removes the session directory (upper layer included) once all else is gone, and
    /// the state directory itself when no other session is left in it.
    pub fn remove_dir(&self) -> Result<()> {
        remove_session_dir(&self.dir)?;
        if let Some(root) = self.dir.parent() {
            remove_state_root(root);
        }
        Ok(())
    }
}

/// pwrite(2) of `body` at offset 0 of the existing file `path` (never through a
/// symlink), whole or an error.
fn overwrite(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let f = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    match f.write_at(body, 0)? {
        n if n == body.len() => Ok(()),
        n => Err(std::io::Error::other(format!(
            "short write: {n} of {} bytes",
            body.len()
        ))),
    }
}

/// Mode of the state directory (`/run/underhood`): its owner may do anything, others
/// may only pass through to a session directory they are let into (a container's root
/// mapped to another uid); they cannot list the sessions.
pub const STATE_ROOT_MODE: u32 = 0o711;

/// Creates the state directory, or checks the one there: a real directory (not a
/// symlink) owned by us and writable by no one else, since everything of every session
/// goes below it. Rootless, it may sit in a shared place such as /tmp, where another
/// user could have made it first.
pub fn state_root(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    }
    match fs::DirBuilder::new().mode(STATE_ROOT_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).ctx(|| format!("creating {}", dir.display())),
    }
    let meta = fs::symlink_metadata(dir).ctx(|| format!("lstat {}", dir.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() {
        return Err(Error::StateDir(format!(
            "refusing the state directory {}: it is not a directory (a symlink?)",
            dir.display()
        )));
    }
    if meta.uid() != me {
        return Err(Error::StateDir(format!(
            "refusing the state directory {}: it belongs to uid {}, not to us (uid {me})",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o7777 != STATE_ROOT_MODE {
        fs::set_permissions(dir, fs::Permissions::from_mode(STATE_ROOT_MODE))
            .ctx(|| format!("chmod {STATE_ROOT_MODE:o} {}", dir.display()))?;
    }
    Ok(())
}

/// Lets group `gid` enter the session directory `dir` (chown :gid, chmod 0710): root
/// inside a user namespace that root outside made is uid/gid 100000 on the host, and
/// its overlay mount must reach `upper/` and `work/` below here. Others still may not.
pub fn let_group_enter(dir: &Path, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(dir, None, Some(gid))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o710))
}

/// rmdir(2) of the state directory: it fails (and is left) while any session is in it,
/// so a live session is never disturbed.
pub fn remove_state_root(root: &Path) {
    let _ = fs::remove_dir(root);
}

/// Deletes a session directory, refusing anything that is not `<...>/<8 hex digits>`.
pub fn remove_session_dir(dir: &Path) -> Result<()> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !is_session_id(name) {
        return Err(Error::Refused(format!(
            "refusing to delete {}: not a session directory",
            dir.display()
        )));
    }
    match remove_tree_parallel(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            // overlayfs leaves `work/work` with mode 0; rootless, we own it but cannot
            // list it until we give ourselves permission back.
            open_up(dir);
            fs::remove_dir_all(dir).ctx(|| format!("removing {}", dir.display()))
        }
    }
}

/// `rm -rf dir`, sibling directories in parallel (scoped threads). Where the
/// filesystem discards freed blocks synchronously (ext4 mounted `-o discard` without a
/// journal: every unlink(2)/rmdir(2) that frees a block waits for the device, ~0.3 ms
/// on this project's test host), the session's nine or so removals one after another
/// are most of a teardown; in parallel the device waits overlap. Never follows
/// symlinks: a symlink is removed, not entered (the entry's own type, lstat(2)).
fn remove_tree_parallel(dir: &Path) -> std::io::Result<()> {
    let mut dirs = Vec::new();
    let mut others = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            dirs.push(e.path());
        } else {
            others.push(e.path());
        }
    }
    let gone_ok = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    let mut results = Vec::new();
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut inline = Vec::new();
        for (i, d) in dirs.iter().enumerate() {
            // The first in this thread; a thread that cannot start is done here too.
            let spawned = (i > 0).then(|| {
                std::thread::Builder::new().spawn_scoped(scope, move || remove_tree_parallel(d))
            });
            match spawned {
                Some(Ok(h)) => handles.push(h),
                _ => inline.push(d),
            }
        }
        for d in inline {
            results.push(remove_tree_parallel(d));
        }
        for f in &others {
            results.push(fs::remove_file(f));
        }
        for h in handles {
            results.push(
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("removal thread panicked"))),
            );
        }
    });
    for r in results {
        gone_ok(r)?;
    }
    fs::remove_dir(dir)
}

/// chmod u+rwx every directory below `dir`, never following symlinks.
fn open_up(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode() | 0o700;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode));
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            open_up(&e.path());
        }
    }
}

/// Every session directory with its state (or why it could not be read).
pub fn list(paths: &Paths) -> Vec<(PathBuf, Result<State>)> {
    let Ok(entries) = fs::read_dir(&paths.state_dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_session_id(&name) {
            continue;
        }
        let path = e.path();
        let file = path.join(STATE_FILE);
        let read = || {
            fs::read(&file)
                .ctx(|| format!("reading {}", file.display()))
                .and_then(|b| {
                    serde_json::from_slice::<State>(&b)
                        .ctx(|| format!("parsing {}", file.display()))
                })
        };
        // A record being rewritten in place (`Session::save`) may be read half old,
        // half new: once more, and it is whole.
        let state = read().or_else(|_| read());
        out.push((path, state));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A session is stale when its controller is gone (or its pid now belongs to another
/// process). A session dir without a readable state file is stale when it is older
/// than a minute (a crash between mkdir and the first write).
pub fn is_stale(paths: &Paths, dir: &Path, state: &Result<State>) -> bool {
    match state {
        Ok(s) => match s.controller {
            Some(c) => !is_alive(&paths.proc_root, c),
            None => true,
        },
        Err(_) => fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_survives_odd_command_names() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345678 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_start_time(line), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn own_process_is_alive_and_a_changed_start_time_is_not() {
        let proc_root = Path::new("/proc");
        let me = proc_id(proc_root, std::process::id() as i32).unwrap();
        assert!(is_alive(proc_root, me));
        let reused = ProcId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!is_alive(proc_root, reused));
    }

    fn paths_in(dir: &Path) -> Paths {
        Paths {
            proc_root: "/proc".into(),
            cgroup_root: dir.join("cg"),
            state_dir: dir.join("state"),
            cache_dir: dir.join("cache"),
        }
    }

    #[test]
    fn session_records_and_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = paths_in(tmp.path());
        let mut s = Session::create(&paths).unwrap();
        s.record(|st| st.veths.push("uh0000000h".into())).unwrap();
        let all = list(&paths);
        assert_eq!(all.len(), 1);
        let st = all[0].1.as_ref().unwrap();
        assert_eq!(st.veths, vec!["uh0000000h".to_string()]);
        assert!(!is_stale(&paths, &all[0].0, &all[0].1), "we are alive");
        s.remove_dir().unwrap();
        assert!(list(&paths).is_empty());
    }

    #[test]
    fn later_records_are_rewritten_in_place_and_read_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = paths_in(tmp.path());
        let mut s = Session::create(&paths).unwrap();
        let file = s.dir.join(STATE_FILE);
        let inode = || fs::metadata(&file).unwrap().ino();
        let first = inode();
        s.record(|st| st.veths.extend(["uh1h".into(), "uh2h".into()]))
            .unwrap();
        assert_eq!(inode(), first, "the same file, written over");
        let long = fs::metadata(&file).unwrap().len();
        // Shorter than what is on disk: padded with blanks, still one whole record.
        s.record(|st| st.veths.clear()).unwrap();
        assert_eq!(fs::metadata(&file).unwrap().len(), long);
        let all = list(&paths);
        assert_eq!(all[0].1.as_ref().unwrap(), &s.state);
        assert!(!s.dir.join("state.json.tmp").exists());
        s.remove_dir().unwrap();
    }

    #[test]
    fn session_dirs_are_closed_to_others() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = paths_in(tmp.path());
        let s = Session::create(&paths).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&paths.state_dir), 0o711);
        assert_eq!(mode(&s.dir), 0o700);
        let me = nix::unistd::getegid().as_raw();
        let_group_enter(&s.dir, me).unwrap();
        assert_eq!(mode(&s.dir), 0o710);
        s.remove_dir().unwrap();
    }

    #[test]
    fn a_state_root_that_is_a_symlink_or_too_open_is_handled() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = state_root(&link).unwrap_err();
        assert!(matches!(err, Error::StateDir(_)), "{err:?}");
        assert!(err.to_string().contains("not a directory"), "{err}");
        fs::set_permissions(&real, fs::Permissions::from_mode(0o777)).unwrap();
        state_root(&real).unwrap();
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o7777,
            0o711
        );
    }

    #[test]
    fn refuses_to_delete_foreign_directories() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(remove_session_dir(tmp.path()).is_err());
        assert!(tmp.path().exists());
    }
}
