//! The test double of [`Sys`]: records every call as a [`Call`] and succeeds, except
//! for one call that can be made to fail with a chosen errno.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;

use super::{Call, Fork, Gate, Kind, Sys, resolve_in_root};

/// Picks the call a `Recorder` makes fail.
pub type CallMatcher = fn(&Call) -> bool;

/// A test double: records every call and succeeds, except for one call that can be
/// made to fail with a chosen errno (error injection for step plans).
#[derive(Default)]
pub struct Recorder {
    pub calls: Vec<Call>,
    /// Fail the first call for which this returns true.
    pub fail: Option<(CallMatcher, Errno)>,
    /// What `kind` answers for these paths; any other path is `Kind::Other`.
    pub kinds: Vec<(PathBuf, Option<Kind>)>,
    /// Which side `fork` plays: the parent of pid 4242 unless told otherwise.
    pub fork_as: Fork,
    /// Fail the call with this index (counted from 0 over every call made).
    pub fail_at: Option<(usize, Errno)>,
    /// Where every call is copied as well, for a double moved into another owner.
    pub log: Option<Arc<Mutex<Vec<Call>>>>,
    /// What `is_root` answers.
    pub root: bool,
}

impl Default for Fork {
    fn default() -> Fork {
        Fork::Parent(4242)
    }
}

impl Recorder {
    fn push(&mut self, call: Call) -> nix::Result<()> {
        let fails = matches!(&self.fail, Some((f, _)) if f(&call));
        let index = self.calls.len();
        if let Some(log) = &self.log
            && let Ok(mut log) = log.lock()
        {
            log.push(call.clone());
        }
        self.calls.push(call);
        if fails {
            let errno = self.fail.take().map(|(_, e)| e).unwrap_or(Errno::EIO);
            return Err(errno);
        }
        if let Some((at, errno)) = self.fail_at
            && at == index
        {
            return Err(errno);
        }
        Ok(())
    }
}

impl Sys for Recorder {
    fn unshare(&mut self, flags: CloneFlags) -> nix::Result<()> {
        self.push(Call::Unshare(flags))
    }
    fn sethostname(&mut self, name: &str) -> nix::Result<()> {
        self.push(Call::SetHostname(name.to_string()))
    }
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.push(Call::Mount {
            source: source.map(str::to_string),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        })
    }
    fn umount2(&mut self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        self.push(Call::Umount2(target.to_path_buf(), flags))
    }
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.push(Call::PivotRoot(
            new_root.to_path_buf(),
            put_old.to_path_buf(),
        ))
    }
    fn chroot(&mut self, path: &Path) -> nix::Result<()> {
        self.push(Call::Chroot(path.to_path_buf()))
    }
    fn chdir(&mut self, path: &Path) -> nix::Result<()> {
        self.push(Call::Chdir(path.to_path_buf()))
    }
    fn mkdir(&mut self, path: &Path) -> nix::Result<()> {
        self.push(Call::Mkdir(path.to_path_buf()))
    }
    fn create_file(&mut self, path: &Path) -> nix::Result<()> {
        self.push(Call::CreateFile(path.to_path_buf()))
    }
    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()> {
        self.push(Call::Symlink(target.to_string(), link.to_path_buf()))
    }
    fn write_file(&mut self, path: &Path, content: &str) -> nix::Result<()> {
        self.push(Call::WriteFile(path.to_path_buf(), content.to_string()))
    }
    fn link_up(&mut self, name: &str) -> nix::Result<()> {
        self.push(Call::LinkUp(name.to_string()))
    }
    fn set_addr(&mut self, name: &str, addr: std::net::Ipv4Addr, prefix: u8) -> nix::Result<()> {
        self.push(Call::SetAddr(name.to_string(), addr, prefix))
    }
    fn rename_link(&mut self, from: &str, to: &str) -> nix::Result<()> {
        self.push(Call::RenameLink(from.to_string(), to.to_string()))
    }
    fn default_route(&mut self, gateway: std::net::Ipv4Addr) -> nix::Result<()> {
        self.push(Call::DefaultRoute(gateway))
    }
    fn drop_bounding(&mut self, cap: caps::Capability) -> nix::Result<()> {
        self.push(Call::DropBounding(cap))
    }
    fn set_caps(&mut self, keep: &caps::CapsHashSet) -> nix::Result<()> {
        self.push(Call::SetCaps(keep.clone()))
    }
    fn no_new_privs(&mut self) -> nix::Result<()> {
        self.push(Call::NoNewPrivs)
    }
    fn seccomp(&mut self, filter: &seccompiler::BpfProgram) -> nix::Result<()> {
        self.push(Call::Seccomp(filter.len()))
    }
    fn clear_groups(&mut self) -> nix::Result<()> {
        self.push(Call::SetGroups)
    }
    fn setresgid(&mut self, gid: u32) -> nix::Result<()> {
        self.push(Call::SetResGid(gid))
    }
    fn setresuid(&mut self, uid: u32) -> nix::Result<()> {
        self.push(Call::SetResUid(uid))
    }
    fn set_dumpable(&mut self) -> nix::Result<()> {
        self.push(Call::SetDumpable)
    }
    fn exists(&mut self, _path: &Path) -> bool {
        true
    }
    fn resolve_in_root(&mut self, root: &Path, path: &Path) -> nix::Result<PathBuf> {
        resolve_in_root(root, path)
    }
    fn kind(&mut self, path: &Path) -> Option<Kind> {
        self.kinds
            .iter()
            .find(|(p, _)| p == path)
            .map_or(Some(Kind::Other), |(_, k)| *k)
    }
    fn mount_setattr(&mut self, target: &Path, recursive: bool, attr_set: u64) -> nix::Result<()> {
        self.push(Call::MountSetattr {
            target: target.to_path_buf(),
            recursive,
            attr_set,
        })
    }
    fn mounts_below(&mut self, target: &Path) -> nix::Result<Vec<PathBuf>> {
        Ok(vec![target.to_path_buf()])
    }
    fn mount_flags(&mut self, _path: &Path) -> nix::Result<MsFlags> {
        Ok(MsFlags::empty())
    }
    fn gate(&mut self) -> nix::Result<Gate> {
        self.push(Call::Gate).map(|()| Gate::default())
    }
    fn fork(&mut self) -> nix::Result<Fork> {
        self.push(Call::Fork).map(|()| self.fork_as)
    }
    fn die_with_parent(&mut self) -> nix::Result<()> {
        self.push(Call::DieWithParent)
    }
    fn wait_gate(&mut self, _gate: Gate) {
        let _ = self.push(Call::WaitGate);
    }
    fn kill(&mut self, pid: i32, sig: Signal) -> nix::Result<()> {
        self.push(Call::Kill(pid, sig))
    }
    fn ip(&mut self, args: &[&str]) -> std::io::Result<()> {
        self.push(Call::Ip(args.iter().map(|a| a.to_string()).collect()))
            .map_err(std::io::Error::from)
    }
    fn setns(&mut self, _fd: BorrowedFd<'_>, kind: CloneFlags) -> nix::Result<()> {
        self.push(Call::Setns(kind))
    }
    fn is_root(&mut self) -> bool {
        self.root
    }
    fn chown(&mut self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> nix::Result<()> {
        self.push(Call::Chown(path.to_path_buf(), uid, gid))
    }
    fn chmod(&mut self, path: &Path, mode: u32) -> nix::Result<()> {
        self.push(Call::Chmod(path.to_path_buf(), mode))
    }
}
