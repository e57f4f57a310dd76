//! The kernel calls the subject makes, behind a trait so that step plans can be
//! unit-tested without root against a recording double (`Recorder`), the way
//! youki's `Syscall` trait does, but with a typed `Call` instead of `Box<dyn Any>`.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use std::os::fd::{BorrowedFd, OwnedFd};

mod recorder;
pub use recorder::{CallMatcher, Recorder};

/// The calls a step can make, as plain data (what the double records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Unshare(CloneFlags),
    SetHostname(String),
    Mount {
        source: Option<String>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount2(PathBuf, MntFlags),
    PivotRoot(PathBuf, PathBuf),
    Chroot(PathBuf),
    Chdir(PathBuf),
    Mkdir(PathBuf),
    CreateFile(PathBuf),
    Symlink(String, PathBuf),
    WriteFile(PathBuf, String),
    LinkUp(String),
    SetAddr(String, std::net::Ipv4Addr, u8),
    RenameLink(String, String),
    DefaultRoute(std::net::Ipv4Addr),
    DropBounding(caps::Capability),
    SetCaps(caps::CapsHashSet),
    NoNewPrivs,
    Seccomp(usize),
    SetGroups,
    SetResGid(u32),
    SetResUid(u32),
    SetDumpable,
    MountSetattr {
        target: PathBuf,
        recursive: bool,
        attr_set: u64,
    },
    /// The go-ahead pipe of the PID step.
    Gate,
    Fork,
    /// prctl(PR_SET_PDEATHSIG, SIGKILL).
    DieWithParent,
    /// The PID step's child waits for its parent's go-ahead.
    WaitGate,
    Kill(i32, Signal),
    /// `ip ARGS...` (netlink by way of iproute2), run from outside.
    Ip(Vec<String>),
    Setns(CloneFlags),
    /// chown(2); `None` leaves that id as it is (-1).
    Chown(PathBuf, Option<u32>, Option<u32>),
    Chmod(PathBuf, u32),
}

/// What fork(2) returned, on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// We are the parent; the child's pid as we see it.
    Parent(i32),
    Child,
}

/// A pipe whose write end the parent of a fork holds until it may let the child go
/// on: the child's read(2) returns 0 (end of file) once every write end is closed, by
/// the parent closing it or dying. Both ends are close-on-exec.
#[derive(Debug, Default)]
pub struct Gate {
    rd: Option<OwnedFd>,
    wr: Option<OwnedFd>,
}

impl Gate {
    /// The parent's side: the read end is closed, the write end kept until dropped.
    pub fn hold(mut self) -> Gate {
        self.rd = None;
        self
    }
}

/// What lstat(2) says a path is (symlinks are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Symlink,
    /// A regular file, a device, a socket, a FIFO.
    Other,
}

/// mount_setattr(2) attributes (linux/mount.h): `MOUNT_ATTR_RDONLY` and friends.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

pub trait Sys {
    fn unshare(&mut self, flags: CloneFlags) -> nix::Result<()>;
    fn sethostname(&mut self, name: &str) -> nix::Result<()>;
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount2(&mut self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chroot(&mut self, path: &Path) -> nix::Result<()>;
    fn chdir(&mut self, path: &Path) -> nix::Result<()>;
    /// mkdir -p, mode 0755.
    fn mkdir(&mut self, path: &Path) -> nix::Result<()>;
    /// An empty file to bind-mount a file onto (as `touch`).
    fn create_file(&mut self, path: &Path) -> nix::Result<()>;
    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()>;
    fn write_file(&mut self, path: &Path, content: &str) -> nix::Result<()>;
    /// SIOCGIFFLAGS + SIOCSIFFLAGS with IFF_UP, see netdevice(7).
    fn link_up(&mut self, name: &str) -> nix::Result<()>;
    /// SIOCSIFADDR + SIOCSIFNETMASK, see netdevice(7).
    fn set_addr(&mut self, name: &str, addr: std::net::Ipv4Addr, prefix: u8) -> nix::Result<()>;
    /// SIOCSIFNAME (the link must be down).
    fn rename_link(&mut self, from: &str, to: &str) -> nix::Result<()>;
    /// SIOCADDRT 0.0.0.0/0 via gateway, see route(7)... the legacy ioctl still works.
    fn default_route(&mut self, gateway: std::net::Ipv4Addr) -> nix::Result<()>;
    fn drop_bounding(&mut self, cap: caps::Capability) -> nix::Result<()>;
    /// Sets the effective, permitted and inheritable sets to `keep` (and clears ambient).
    fn set_caps(&mut self, keep: &caps::CapsHashSet) -> nix::Result<()>;
    fn no_new_privs(&mut self) -> nix::Result<()>;
    fn seccomp(&mut self, filter: &seccompiler::BpfProgram) -> nix::Result<()>;
    /// setgroups(2) with an empty list.
    fn clear_groups(&mut self) -> nix::Result<()>;
    fn setresgid(&mut self, gid: u32) -> nix::Result<()>;
    fn setresuid(&mut self, uid: u32) -> nix::Result<()>;
    /// prctl(PR_SET_DUMPABLE, 1).
    fn set_dumpable(&mut self) -> nix::Result<()>;
    /// Whether a path exists (lstat(2)); the double says yes.
    fn exists(&mut self, path: &Path) -> bool;
    /// Resolves `path` as if `root` were `/` (symlinks, absolute ones included, and
    /// `..` never leave it), like openat2(2)'s RESOLVE_IN_ROOT.
    fn resolve_in_root(&mut self, root: &Path, path: &Path) -> nix::Result<PathBuf>;
    /// Whether overlayfs takes the `volatile` option (Linux 5.10+); the double says no.
    fn overlay_volatile(&mut self) -> bool {
        false
    }
    /// lstat(2): what `path` is, `None` when it does not exist.
    fn kind(&mut self, path: &Path) -> Option<Kind>;
    /// mount_setattr(2) with `attr_set` (MOUNT_ATTR_*) on the mount at `target`, and on
    /// every mount below it when `recursive` (AT_RECURSIVE). ENOSYS before Linux 5.12.
    fn mount_setattr(&mut self, target: &Path, recursive: bool, attr_set: u64) -> nix::Result<()>;
    /// The mount points at `target` and below it in our mount namespace, parents first
    /// (from /proc/self/mountinfo): what a recursive remount must visit one by one.
    fn mounts_below(&mut self, target: &Path) -> nix::Result<Vec<PathBuf>>;
    /// The flags of the mount holding `path` that a bind remount must repeat
    /// (statvfs(2) f_flag: ro, nosuid, nodev, noexec and the atime ones). In a user
    /// namespace the kernel locks them (mount(2), EPERM): a remount may add flags, never
    /// drop one.
    fn mount_flags(&mut self, path: &Path) -> nix::Result<MsFlags>;
    /// pipe2(2) with O_CLOEXEC, as a [`Gate`].
    fn gate(&mut self) -> nix::Result<Gate>;
    /// fork(2). Only in a single-threaded process: the child may then run any code.
    fn fork(&mut self) -> nix::Result<Fork>;
    /// prctl(PR_SET_PDEATHSIG, SIGKILL): die when the parent (thread) dies.
    fn die_with_parent(&mut self) -> nix::Result<()>;
    /// The child's side of a [`Gate`]: closes the write end and blocks until every
    /// write end is closed.
    fn wait_gate(&mut self, gate: Gate);
    fn kill(&mut self, pid: i32, sig: Signal) -> nix::Result<()>;
    /// Runs `ip ARGS...` (iproute2): creating a veth pair has no ioctl, only netlink.
    /// The error is ip's own message on stderr.
    fn ip(&mut self, args: &[&str]) -> std::io::Result<()>;
    /// setns(2) into the namespace `fd` refers to (any type).
    fn setns(&mut self, fd: BorrowedFd<'_>, kind: CloneFlags) -> nix::Result<()>;
    /// Whether we run as root (geteuid(2) is 0): decides how the controller writes id
    /// maps and who owns the writable layer. The double says no unless told.
    fn is_root(&mut self) -> bool;
    fn chown(&mut self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> nix::Result<()>;
    fn chmod(&mut self, path: &Path, mode: u32) -> nix::Result<()>;
}

/// Whether a `uname -r` release string is at least `major.minor`.
pub fn release_at_least(release: &str, major: u32, minor: u32) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (ma, mi) >= (major, minor)
}

fn cpath(p: &Path) -> nix::Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)
}

fn io_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO)
}

fn caps_errno(_e: caps::errors::CapsError) -> Errno {
    // The caps crate keeps only a message; the errno of the failed prctl/capset
    // is still in errno right after the call.
    match Errno::last() {
        Errno::UnknownErrno => Errno::EPERM,
        e => e,
    }
}

/// The real kernel.
#[derive(Default)]
pub struct Linux;

impl Sys for Linux {
    fn overlay_volatile(&mut self) -> bool {
        nix::sys::utsname::uname()
            .is_ok_and(|u| release_at_least(&u.release().to_string_lossy(), 5, 10))
    }
    fn unshare(&mut self, flags: CloneFlags) -> nix::Result<()> {
        nix::sched::unshare(flags)
    }
    fn sethostname(&mut self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }
    fn umount2(&mut self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }
    fn chroot(&mut self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }
    fn chdir(&mut self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }
    fn mkdir(&mut self, path: &Path) -> nix::Result<()> {
        std::fs::create_dir_all(path).map_err(io_errno)
    }
    fn create_file(&mut self, path: &Path) -> nix::Result<()> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(drop)
            .map_err(io_errno)
    }
    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()> {
        match std::os::unix::fs::symlink(target, link) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other.map_err(io_errno),
        }
    }
    fn write_file(&mut self, path: &Path, content: &str) -> nix::Result<()> {
        // One write(2) call: proc files such as timens_offsets and uid_map must get
        // their whole content in a single write.
        let c = cpath(path)?;
        let fd = nix::fcntl::open(
            c.as_c_str(),
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        let n = nix::unistd::write(&fd, content.as_bytes())?;
        if n != content.len() {
            return Err(Errno::EIO);
        }
        Ok(())
    }
    fn link_up(&mut self, name: &str) -> nix::Result<()> {
        super::netdev::link_up(name)
    }
    fn set_addr(&mut self, name: &str, addr: std::net::Ipv4Addr, prefix: u8) -> nix::Result<()> {
        super::netdev::set_addr(name, addr, prefix)
    }
    fn rename_link(&mut self, from: &str, to: &str) -> nix::Result<()> {
        super::netdev::rename(from, to)
    }
    fn default_route(&mut self, gateway: std::net::Ipv4Addr) -> nix::Result<()> {
        super::netdev::default_route(gateway)
    }
    fn drop_bounding(&mut self, cap: caps::Capability) -> nix::Result<()> {
        caps::drop(None, caps::CapSet::Bounding, cap).map_err(caps_errno)
    }
    fn set_caps(&mut self, keep: &caps::CapsHashSet) -> nix::Result<()> {
        // Inheritable first (it may not exceed permitted), then effective before
        // permitted: lowering permitted below effective fails with EPERM.
        caps::clear(None, caps::CapSet::Ambient).map_err(caps_errno)?;
        caps::set(None, caps::CapSet::Inheritable, keep).map_err(caps_errno)?;
        caps::set(None, caps::CapSet::Effective, keep).map_err(caps_errno)?;
        caps::set(None, caps::CapSet::Permitted, keep).map_err(caps_errno)
    }
    fn no_new_privs(&mut self) -> nix::Result<()> {
        nix::sys::prctl::set_no_new_privs()
    }
    fn seccomp(&mut self, filter: &seccompiler::BpfProgram) -> nix::Result<()> {
        seccompiler::apply_filter(filter).map_err(|e| match e {
            seccompiler::Error::Seccomp(io) => io_errno(io),
            _ => Errno::EINVAL,
        })
    }
    fn clear_groups(&mut self) -> nix::Result<()> {
        nix::unistd::setgroups(&[])
    }
    fn setresgid(&mut self, gid: u32) -> nix::Result<()> {
        let g = nix::unistd::Gid::from_raw(gid);
        nix::unistd::setresgid(g, g, g)
    }
    fn setresuid(&mut self, uid: u32) -> nix::Result<()> {
        let u = nix::unistd::Uid::from_raw(uid);
        nix::unistd::setresuid(u, u, u)
    }
    fn set_dumpable(&mut self) -> nix::Result<()> {
        nix::sys::prctl::set_dumpable(true)
    }
    fn exists(&mut self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }
    fn resolve_in_root(&mut self, root: &Path, path: &Path) -> nix::Result<PathBuf> {
        resolve_in_root(root, path)
    }
    fn kind(&mut self, path: &Path) -> Option<Kind> {
        let m = std::fs::symlink_metadata(path).ok()?;
        let t = m.file_type();
        Some(if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        })
    }
    fn mount_setattr(&mut self, target: &Path, recursive: bool, attr_set: u64) -> nix::Result<()> {
        // struct mount_attr from linux/mount.h (MOUNT_ATTR_SIZE_VER0 = 32 bytes).
        #[repr(C)]
        struct MountAttr {
            attr_set: u64,
            attr_clr: u64,
            propagation: u64,
            userns_fd: u64,
        }
        let attr = MountAttr {
            attr_set,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        let c = cpath(target)?;
        let flags = if recursive { libc::AT_RECURSIVE } else { 0 };
        // SAFETY: `c` is a NUL-terminated path and `attr` a live struct of the size
        // passed; the kernel only reads them (mount_setattr(2)).
        let res = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                c.as_ptr(),
                flags as libc::c_uint,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        Errno::result(res).map(drop)
    }
    fn mounts_below(&mut self, target: &Path) -> nix::Result<Vec<PathBuf>> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(io_errno)?;
        Ok(mount_points_below(&text, target))
    }
    fn mount_flags(&mut self, path: &Path) -> nix::Result<MsFlags> {
        use nix::sys::statvfs::FsFlags;
        let f = nix::sys::statvfs::statvfs(path)?.flags();
        let pairs = [
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ];
        Ok(pairs
            .iter()
            .filter(|(st, _)| f.contains(*st))
            .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms))
    }
    fn gate(&mut self) -> nix::Result<Gate> {
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(Gate {
            rd: Some(rd),
            wr: Some(wr),
        })
    }
    fn fork(&mut self) -> nix::Result<Fork> {
        // SAFETY: the callers (the subject, `__enter`) are single-threaded, so the child
        // may run any code (fork(2), signal-safety(7)).
        Ok(match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Parent { child } => Fork::Parent(child.as_raw()),
            nix::unistd::ForkResult::Child => Fork::Child,
        })
    }
    fn die_with_parent(&mut self) -> nix::Result<()> {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
    }
    fn wait_gate(&mut self, gate: Gate) {
        let Gate { rd, wr } = gate;
        drop(wr);
        if let Some(rd) = rd {
            let mut byte = [0u8; 1];
            while let Err(Errno::EINTR) = nix::unistd::read(&rd, &mut byte) {}
        }
    }
    fn kill(&mut self, pid: i32, sig: Signal) -> nix::Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
    }
    fn ip(&mut self, args: &[&str]) -> std::io::Result<()> {
        match std::process::Command::new("ip").args(args).output() {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(std::io::Error::other(
                String::from_utf8_lossy(&o.stderr).trim().to_string(),
            )),
            Err(e) => Err(e),
        }
    }
    fn setns(&mut self, fd: BorrowedFd<'_>, kind: CloneFlags) -> nix::Result<()> {
        nix::sched::setns(fd, kind)
    }
    fn is_root(&mut self) -> bool {
        nix::unistd::geteuid().is_root()
    }
    fn chown(&mut self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> nix::Result<()> {
        std::os::unix::fs::chown(path, uid, gid).map_err(io_errno)
    }
    fn chmod(&mut self, path: &Path, mode: u32) -> nix::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_errno)
    }
}

/// The mount points of a /proc/self/mountinfo text at `target` or below it, in the
/// order listed (a parent before what is mounted on it). The mount point is field 5,
/// with space, tab, newline and backslash written as octal escapes (proc(5)).
pub fn mount_points_below(mountinfo: &str, target: &Path) -> Vec<PathBuf> {
    fn unescape(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\'
                && i + 3 < b.len()
                && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
            {
                let d = |k: usize| u32::from(b[i + k] - b'0');
                out.push((d(1) * 64 + d(2) * 8 + d(3)) as u8);
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some(point) = line.split(' ').nth(4) else {
            continue;
        };
        let p = PathBuf::from(unescape(point));
        if p.starts_with(target) && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// See `Sys::resolve_in_root`. Components that do not exist yet are kept as they are
/// (they will be created, as plain directories, under the resolved parent).
pub fn resolve_in_root(root: &Path, path: &Path) -> nix::Result<PathBuf> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;
    fn parts(p: &Path) -> VecDeque<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    }
    let mut todo = parts(path);
    let mut cur = PathBuf::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            // At the root, `..` stays at the root.
            cur.pop();
            continue;
        }
        let candidate = root.join(&cur).join(&c);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(Errno::ELOOP);
                }
                let target = std::fs::read_link(&candidate).map_err(io_errno)?;
                if target.is_absolute() {
                    cur = PathBuf::new();
                }
                let mut next = parts(&target);
                next.extend(todo);
                todo = next;
            }
            _ => cur.push(&c),
        }
    }
    Ok(root.join(cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_never_leave_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/tmp/outside", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("rel")).unwrap();
        std::os::unix::fs::symlink("real", root.join("ok")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let r = |p: &str| resolve_in_root(&root, Path::new(p));
        assert_eq!(r("/abs/f").unwrap(), root.join("tmp/outside/f"));
        assert_eq!(r("/rel/passwd").unwrap(), root.join("etc/passwd"));
        assert_eq!(r("/ok/x").unwrap(), root.join("real/x"));
        assert_eq!(r("/new/dir").unwrap(), root.join("new/dir"));
        assert_eq!(r("/loop").unwrap_err(), Errno::ELOOP);
    }

    #[test]
    fn mount_points_below_a_target_are_unescaped_and_ordered() {
        let mi = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
30 29 0:40 / /s/merged/v rw - tmpfs t rw
31 30 0:41 / /s/merged/v/a\\040b rw - tmpfs t rw
32 29 0:42 / /s/merged/vv rw - tmpfs t rw
";
        assert_eq!(
            mount_points_below(mi, Path::new("/s/merged/v")),
            vec![
                PathBuf::from("/s/merged/v"),
                PathBuf::from("/s/merged/v/a b")
            ]
        );
    }

    #[test]
    fn kernel_release_comparison() {
        assert!(release_at_least("6.18.0-1-cloud-amd64", 5, 10));
        assert!(release_at_least("5.10.0", 5, 10));
        assert!(!release_at_least("5.4.0-150-generic", 5, 10));
        assert!(!release_at_least("4.19.0", 5, 10));
        assert!(!release_at_least("garbage", 5, 10));
    }
}
