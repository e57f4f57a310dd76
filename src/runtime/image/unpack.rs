//! Unpacking one tar stream (a rootfs tarball or an image layer) into a directory, safely.
//!
//! An image is input from strangers. Three rules keep every write inside the layer:
//! - entry names with `..` components, or absolute ones, are refused;
//! - parents are walked one component at a time with `openat(O_NOFOLLOW|O_DIRECTORY)`, so a
//!   symlink in the archive (`etc -> /etc`, `up -> ../../..`) is never followed: an entry
//!   below one is refused, naming it;
//! - the leaf is created relative to its parent's descriptor with `O_EXCL|O_NOFOLLOW`.
//!
//! Symlinks themselves are created as they are, even absolute ones: they are only resolved
//! later, inside the container's root.
//!
//! What an archive may write is bounded ([`Budget`]): a 10 MB gzip can hold terabytes of
//! zeros, and a GNU sparse entry of a few KiB can declare a 100 GB file. Each file is
//! charged its full length (a sparse one its expanded length, `realsize`) *before* a byte
//! of it is written, plus [`ENTRY_COST`] for every entry (an archive of millions of empty
//! files fills the inode table instead), and the whole unpack fails past the limit.
//!
//! Whiteouts (`.wh.NAME`, `.wh..wh..opq`) are not files but deletions of what lower layers
//! hold. The tar crate knows nothing of them. They become overlayfs whiteouts (a 0/0
//! character device; `trusted.overlay.opaque=y`) when we stack layers as root, or are
//! recorded for [`super::flatten`] otherwise.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::runtime::image::error::{Ctx, Error, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstatat};
use nix::sys::time::TimeSpec;
use sha2::{Digest, Sha256};

use crate::runtime::assemble::cache::hex;
use crate::units::format_size;

mod at;
pub(crate) use at::{apply_dir_meta, components, open_dir_fd, open_existing_dir, remove_at};
use at::{is_dir, open_child, set_fd_meta, set_opaque};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// What to do with whiteouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whiteouts {
    /// Make overlayfs whiteouts in the layer (root only: mknod, trusted xattrs).
    Overlay,
    /// Record them in [`Unpacked`] and apply directory modes later, for flattening.
    Record,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub whiteouts: Whiteouts,
    /// Give files the owners the archive names (root only).
    pub chown: bool,
    /// The most an image may write when unpacked, in bytes (see [`Budget`]).
    pub max_bytes: u64,
}

/// What every entry costs besides its data: one tar header block, about what an inode
/// and its directory entry take on disk.
pub(crate) const ENTRY_COST: u64 = 512;

/// Bytes an unpack may still write, shared by all the layers of one image.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    used: std::cell::Cell<u64>,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Budget {
        Budget {
            limit,
            used: std::cell::Cell::new(0),
        }
    }

    /// Bytes charged so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.get()
    }

    /// Charges `bytes` for `entry` of `what`, or fails (charging nothing) past the limit.
    pub(crate) fn charge(&self, bytes: u64, what: &str, entry: &str) -> Result<()> {
        let total = self.used.get().saturating_add(bytes);
        if total > self.limit {
            return Err(Error::Refused(format!(
                "{what} unpacks to more than the image size limit of {} (--max-image-size): \
                 entry {entry:?} would bring it to {} (a decompression bomb or a huge sparse \
                 file?)",
                format_size(self.limit),
                format_size(total)
            )));
        }
        self.used.set(total);
        Ok(())
    }
}

/// What the bytes of a blob must hash to, in hex SHA-256.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Digests<'a> {
    /// The raw blob, as stored (OCI blobs are named by it).
    pub blob: Option<&'a str>,
    /// The uncompressed tar (a `docker save` config's diff_id).
    pub diff_id: Option<&'a str>,
}

/// Mode, owner and time of a directory, applied after its contents are written (a 0555
/// directory would refuse them, and writing entries changes its mtime).
#[derive(Debug, Clone)]
pub(crate) struct DirMeta {
    pub path: PathBuf,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Unpacked {
    /// Paths whose lower-layer versions are deleted (`Whiteouts::Record`).
    pub whiteouts: Vec<PathBuf>,
    /// Directories whose lower-layer contents are hidden (`Whiteouts::Record`).
    pub opaques: Vec<PathBuf>,
    /// Directory metadata still to apply (`Whiteouts::Record`).
    pub dirs: Vec<DirMeta>,
    /// Things skipped, for the learner (device nodes, ...).
    pub notes: Vec<String>,
}

/// Errors while reading the archive, as opposed to refusing an entry or failing a write.
fn corrupt(what: &str, e: impl Display) -> Error {
    Error::Refused(format!("truncated or corrupt archive {what}: {e}"))
}

/// Unpacks a tar stream, gzip-compressed or not (told by its magic bytes, not its name),
/// into the existing empty directory `dest`, charging what it writes to `budget`. `what`
/// names the archive in errors. The raw bytes and the uncompressed tar must hash to the
/// `digests` given.
pub(crate) fn unpack_blob<R: Read>(
    raw: R,
    dest: &Path,
    opts: Options,
    budget: &Budget,
    what: &str,
    digests: Digests,
) -> Result<Unpacked> {
    let mut raw_hash = Sha256::new();
    let mut tar_hash = Sha256::new();
    let mut hashed = HashingReader {
        inner: raw,
        hasher: &mut raw_hash,
    };
    let unpacked = {
        let mut buf = BufReader::with_capacity(1 << 16, &mut hashed);
        let head = buf.fill_buf().map_err(|e| corrupt(what, e))?;
        if head.is_empty() {
            return Err(corrupt(what, "the file is empty"));
        }
        if head.starts_with(&[0x1f, 0x8b]) {
            // Multi-member: pigz and some registries write several gzip members.
            let tar = HashingReader {
                inner: flate2::bufread::MultiGzDecoder::new(buf),
                hasher: &mut tar_hash,
            };
            unpack_tar(tar, dest, opts, budget, what)?
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Err(Error::Refused(format!(
                "{what} is zstd-compressed, which underhood cannot unpack yet"
            )));
        } else if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
            return Err(Error::Refused(format!(
                "{what} is bzip2- or xz-compressed; use a plain or gzip-compressed tar"
            )));
        } else {
            let tar = HashingReader {
                inner: buf,
                hasher: &mut tar_hash,
            };
            unpack_tar(tar, dest, opts, budget, what)?
        }
    };
    // Read to the end so the digest covers the whole blob.
    io::copy(&mut hashed, &mut io::sink()).map_err(|e| corrupt(what, e))?;
    drop(hashed);
    let checks = [
        (digests.blob, raw_hash, ""),
        (
            digests.diff_id,
            tar_hash,
            " (its diff_id in the image config: the SHA-256 of the uncompressed tar)",
        ),
    ];
    for (expected, hasher, whose) in checks {
        if let Some(expected) = expected {
            let got = hex(&hasher.finalize());
            if got != expected {
                return Err(Error::Refused(format!(
                    "digest mismatch for {what}: expected sha256:{expected}{whose}, got \
                     sha256:{got}"
                )));
            }
        }
    }
    Ok(unpacked)
}

struct HashingReader<'h, R> {
    inner: R,
    hasher: &'h mut Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Notes whether the stream ended. The tar crate takes an end of file where a header
/// should be as the end of the archive; a real archive ends with zero blocks instead, so
/// hitting the end there means the archive was cut.
struct EofWatch<R> {
    inner: R,
    hit_eof: bool,
}

impl<R: Read> Read for EofWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.hit_eof = true;
        }
        Ok(n)
    }
}

fn unpack_tar<R: Read>(
    reader: R,
    dest: &Path,
    opts: Options,
    budget: &Budget,
    what: &str,
) -> Result<Unpacked> {
    let root = open_dir_fd(dest)?;
    let mut layer = Layer {
        root,
        opts,
        budget,
        what,
        out: Unpacked::default(),
        made_whiteouts: HashSet::new(),
    };
    let mut archive = tar::Archive::new(EofWatch {
        inner: reader,
        hit_eof: false,
    });
    for entry in archive.entries().map_err(|e| corrupt(what, e))? {
        let mut entry = entry.map_err(|e| corrupt(what, e))?;
        layer.entry(&mut entry)?;
    }
    let mut watch = archive.into_inner();
    if watch.hit_eof {
        return Err(corrupt(what, "it ends before its end-of-archive blocks"));
    }
    // Drain: a gzip stream checks its length and CRC only at its very end.
    io::copy(&mut watch.inner, &mut io::sink()).map_err(|e| corrupt(what, e))?;
    if opts.whiteouts == Whiteouts::Overlay {
        let dirs = std::mem::take(&mut layer.out.dirs);
        apply_dir_meta(&layer.root, dirs, opts.chown)?;
    }
    Ok(layer.out)
}

struct Layer<'a> {
    root: OwnedFd,
    opts: Options,
    budget: &'a Budget,
    what: &'a str,
    out: Unpacked,
    /// Whiteout devices made in this layer: a later entry of the same name replaces one.
    made_whiteouts: HashSet<PathBuf>,
}

impl Layer<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        use tar::EntryType as T;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        self.budget.charge(ENTRY_COST, self.what, &shown)?;
        let comps = components(&raw).map_err(|why| {
            Error::Refused(format!("refusing entry {shown:?} in {}: {why}", self.what))
        })?;
        let header = entry.header();
        let mode = header.mode().map_err(|e| corrupt(self.what, e))? & 0o7777;
        // Some archivers leave these fields blank; GNU tar reads blank as 0, so do we.
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let mtime = header.mtime().unwrap_or(0) as i64;
        let rel: PathBuf = comps.iter().collect();

        let Some((name, parents)) = comps.split_last() else {
            // "./": the layer's root directory itself.
            if kind == T::Directory {
                self.out.dirs.push(DirMeta {
                    path: rel,
                    mode,
                    uid,
                    gid,
                    mtime,
                });
            }
            return Ok(());
        };

        if name.as_bytes().starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(parents, name, &shown);
        }
        if kind == T::Char
            && header.device_major().ok().flatten() == Some(0)
            && header.device_minor().ok().flatten() == Some(0)
        {
            // Already an overlayfs whiteout (images made from overlay snapshots).
            let mut as_wh = OsString::from(".wh.");
            as_wh.push(name);
            return self.whiteout(parents, &as_wh, &shown);
        }

        let parent = self.walk(parents, &shown)?;
        let replaced_whiteout = self.made_whiteouts.remove(&rel);
        match kind {
            T::Directory => {
                self.make_dir(&parent, name, &shown)?;
                if replaced_whiteout {
                    // Lower layers' NAME is deleted and this layer has its own directory:
                    // in overlayfs terms, an opaque directory.
                    let dir = self.open_child_dir(&parent, name, &shown)?;
                    set_opaque(&dir, &shown)?;
                }
                self.out.dirs.push(DirMeta {
                    path: rel,
                    mode,
                    uid,
                    gid,
                    mtime,
                });
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                // The full length, holes of a sparse file included (the tar crate gives
                // a sparse entry's expanded size, checked against its header's
                // realsize), charged before anything is written.
                let expected = entry.size();
                self.budget.charge(expected, self.what, &shown)?;
                self.clear(&parent, name, &shown)?;
                let fd = openat(
                    &parent,
                    name.as_os_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| {
                    Error::Failed(format!("cannot create {shown:?} in {}: {e}", self.what))
                })?;
                let mut file = File::from(fd);
                let got = copy_counted(entry, &mut file, expected, self.what, &shown)?;
                if got != expected {
                    return Err(corrupt(
                        self.what,
                        format!("entry {shown:?} is cut short ({got} of {expected} bytes)"),
                    ));
                }
                self.set_meta(&file, mode, uid, gid, mtime, &shown)?;
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| corrupt(self.what, format!("symlink {shown:?} has no target")))?
                    .into_owned();
                self.clear(&parent, name, &shown)?;
                nix::unistd::symlinkat(OsStr::from_bytes(&target), &parent, name.as_os_str())
                    .map_err(|e| Error::Failed(format!("cannot create symlink {shown:?}: {e}")))?;
                if self.opts.chown {
                    nix::unistd::fchownat(
                        &parent,
                        name.as_os_str(),
                        Some(nix::unistd::Uid::from_raw(uid as u32)),
                        Some(nix::unistd::Gid::from_raw(gid as u32)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| {
                        Error::Failed(format!(
                            "cannot chown symlink {shown:?} to {uid}:{gid}: {e}"
                        ))
                    })?;
                }
                let t = TimeSpec::new(mtime, 0);
                // Some filesystems refuse times on symlinks; a symlink's mtime matters little.
                let _ = nix::sys::stat::utimensat(
                    &parent,
                    name.as_os_str(),
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                );
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        corrupt(self.what, format!("hard link {shown:?} has no target"))
                    })?
                    .into_owned();
                let tshown = String::from_utf8_lossy(&target).into_owned();
                let tcomps = components(&target).map_err(|why| {
                    Error::Refused(format!(
                        "refusing hard link {shown:?} -> {tshown:?} in {}: {why}",
                        self.what
                    ))
                })?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return Err(Error::Refused(format!(
                        "refusing hard link {shown:?} to the layer's root in {}",
                        self.what
                    )));
                };
                let trel: PathBuf = tparents.iter().collect();
                let tparent = open_existing_dir(&self.root, &trel).ok_or_else(|| {
                    Error::Refused(format!(
                        "refusing hard link {shown:?} -> {tshown:?} in {}: the target's \
                         directory is missing or is a symlink",
                        self.what
                    ))
                })?;
                self.clear(&parent, name, &shown)?;
                // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
                nix::unistd::linkat(
                    &tparent,
                    tname.as_os_str(),
                    &parent,
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| {
                    Error::Failed(format!(
                        "cannot hard-link {shown:?} to {tshown:?} in {} (the target must come \
                         earlier in the same layer): {e}",
                        self.what
                    ))
                })?;
            }
            T::Fifo => {
                self.clear(&parent, name, &shown)?;
                nix::unistd::mkfifoat(&parent, name.as_os_str(), Mode::from_bits_truncate(mode))
                    .map_err(|e| Error::Failed(format!("cannot create fifo {shown:?}: {e}")))?;
            }
            T::Char | T::Block => {
                self.out.notes.push(format!(
                    "skipped device node /{shown} (devices come from the runtime's /dev)"
                ));
            }
            other => {
                self.out.notes.push(format!(
                    "skipped /{shown}: unsupported tar entry type {other:?}"
                ));
            }
        }
        Ok(())
    }

    /// `.wh.NAME` deletes NAME from lower layers; `.wh..wh..opq` hides all their contents
    /// of the directory it is in.
    fn whiteout(&mut self, parents: &[OsString], name: &OsStr, shown: &str) -> Result<()> {
        let parent_rel: PathBuf = parents.iter().collect();
        if name.as_bytes() == OPAQUE {
            match self.opts.whiteouts {
                Whiteouts::Record => self.out.opaques.push(parent_rel),
                Whiteouts::Overlay => {
                    let dir = self.walk(parents, shown)?;
                    set_opaque(&dir, shown)?;
                }
            }
            return Ok(());
        }
        let target = &name.as_bytes()[WHITEOUT_PREFIX.len()..];
        if target.is_empty() || target == b"." || target == b".." {
            return Err(Error::Refused(format!(
                "refusing whiteout {shown:?} in {}: it names no entry",
                self.what
            )));
        }
        if target.starts_with(WHITEOUT_PREFIX) {
            // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): no meaning for overlayfs.
            return Ok(());
        }
        let target = OsStr::from_bytes(target);
        let rel = parent_rel.join(target);
        match self.opts.whiteouts {
            Whiteouts::Record => self.out.whiteouts.push(rel),
            Whiteouts::Overlay => {
                let parent = self.walk(parents, shown)?;
                match fstatat(&parent, target, AtFlags::AT_SYMLINK_NOFOLLOW) {
                    Ok(st) if is_dir(&st) => {
                        // This layer has its own NAME (whiteouts affect lower layers only):
                        // its directory hides the lower one's contents.
                        let dir = self.open_child_dir(&parent, target, shown)?;
                        set_opaque(&dir, shown)?;
                    }
                    // This layer's own file hides the lower one already.
                    Ok(_) => {}
                    Err(Errno::ENOENT) => {
                        // makedev(0, 0) is 0: the device number overlayfs reads as "deleted".
                        nix::sys::stat::mknodat(&parent, target, SFlag::S_IFCHR, Mode::empty(), 0)
                            .map_err(|e| {
                                Error::Failed(format!(
                                    "cannot make the whiteout for {shown:?} in {} \
                                     (mknod needs root): {e}",
                                    self.what
                                ))
                            })?;
                        self.made_whiteouts.insert(rel);
                    }
                    Err(e) => {
                        return Err(Error::Refused(format!(
                            "cannot stat {:?} for whiteout {shown:?}: {e}",
                            rel
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Opens (creating as needed) the directories `comps` below the root, refusing to pass
    /// through anything that is not a real directory.
    fn walk(&self, comps: &[OsString], shown: &str) -> Result<OwnedFd> {
        let mut cur = nix::unistd::dup(&self.root).ctx(|| "dup")?;
        for (i, c) in comps.iter().enumerate() {
            cur = match open_child(&cur, c) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    match nix::sys::stat::mkdirat(
                        &cur,
                        c.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => {
                            return Err(Error::Refused(format!(
                                "cannot create directory for {shown:?}: {e}"
                            )));
                        }
                    }
                    open_child(&cur, c).map_err(|e| self.refuse(&cur, comps, i, shown, e))?
                }
                Err(e) => return Err(self.refuse(&cur, comps, i, shown, e)),
            };
        }
        Ok(cur)
    }

    fn refuse(&self, dir: &OwnedFd, comps: &[OsString], i: usize, shown: &str, e: Errno) -> Error {
        let prefix: PathBuf = comps[..=i].iter().collect();
        let is_link =
            fstatat(dir, comps[i].as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| {
                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
            });
        if is_link {
            Error::Refused(format!(
                "refusing entry {shown:?} in {}: {} is a symlink, and writing through it could \
                 leave the image",
                self.what,
                prefix.display()
            ))
        } else {
            Error::Refused(format!(
                "refusing entry {shown:?} in {}: {} is not a directory ({e})",
                self.what,
                prefix.display()
            ))
        }
    }

    fn open_child_dir(&self, parent: &OwnedFd, name: &OsStr, shown: &str) -> Result<OwnedFd> {
        open_child(parent, name)
            .map_err(|e| Error::Failed(format!("cannot open directory {shown:?}: {e}")))
    }

    fn make_dir(&self, parent: &OwnedFd, name: &OsStr, shown: &str) -> Result<()> {
        match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if is_dir(&st) => return Ok(()),
            Ok(_) => self.clear(parent, name, shown)?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::Refused(format!("cannot stat {shown:?}: {e}"))),
        }
        // 0700 until the end: its own mode might forbid writing its contents.
        nix::sys::stat::mkdirat(parent, name, Mode::from_bits_truncate(0o700))
            .map_err(|e| Error::Failed(format!("cannot create directory {shown:?}: {e}")))
    }

    /// Removes whatever `name` is (a later tar entry replaces an earlier one).
    fn clear(&self, parent: &OwnedFd, name: &OsStr, shown: &str) -> Result<()> {
        remove_at(parent, name)
            .map_err(|e| Error::Failed(format!("cannot replace {shown:?}: {e:#}")))
    }

    fn set_meta(
        &self,
        file: &File,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: i64,
        shown: &str,
    ) -> Result<()> {
        set_fd_meta(file, mode, uid, gid, mtime, self.opts.chown).map_err(|e| {
            Error::Failed(format!(
                "cannot set owner {uid}:{gid}, mode {mode:o} on {shown:?}: {e}"
            ))
        })
    }
}

/// Copies an entry's data, telling read errors (a cut archive) from write errors, and
/// never more than the `charged` bytes.
fn copy_counted(
    src: &mut impl Read,
    dst: &mut File,
    charged: u64,
    what: &str,
    shown: &str,
) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let room = usize::try_from(charged.saturating_sub(total) + 1).unwrap_or(usize::MAX);
        let n = match src.read(&mut buf[..room.min(1 << 16)]) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(what, format!("reading {shown:?}: {e}"))),
        };
        if total + n as u64 > charged {
            return Err(corrupt(
                what,
                format!("entry {shown:?} holds more than its {charged} bytes"),
            ));
        }
        dst.write_all(&buf[..n])
            .ctx(|| format!("cannot write {shown:?} from {what}"))?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_escapes() {
        assert!(components(b"../x").is_err());
        assert!(components(b"a/../../x").is_err());
        assert!(components(b"/etc/passwd").is_err());
        assert_eq!(
            components(b"./etc//passwd").unwrap(),
            vec![OsString::from("etc"), OsString::from("passwd")]
        );
        assert!(components(b"./").unwrap().is_empty());
        // A name that merely contains dots is fine.
        assert_eq!(components(b"a/..b/c..").unwrap().len(), 3);
    }
}
