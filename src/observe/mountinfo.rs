//! The mount table of a process's mount namespace, from `/proc/<pid>/mountinfo` (proc(5)).
//!
//! One line per mount:
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//! ```
//!
//! (1) mount id, (2) parent id, (3) major:minor of the filesystem, (4) root of the mount inside
//! its filesystem, (5) mount point relative to the reader's root, (6) per-mount options,
//! (7) zero or more optional fields ended by (8) a lone `-`, (9) filesystem type, (10) source,
//! (11) per-superblock options.
//!
//! The kernel escapes space, tab, newline and backslash in paths as `\040`, `\011`, `\012`,
//! `\134`, so that fields can be split on spaces. `procfs` hands those escapes through; we
//! decode them in root, mount point and source so a learner sees the path they typed.
//!
//! The optional fields carry mount propagation (mount_namespaces(7), "Shared subtrees"):
//! `shared:N` (a member of peer group N), `master:N` (a slave receiving from peer group N),
//! `propagate_from:N` (the nearest dominant peer group visible from the reader's root) and
//! `unbindable`. No field at all means private. This is what a lesson checks after making the
//! tree `rslave`/`rprivate`, and why a fresh mount namespace on a systemd host leaks mounts.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

use super::fsread::read_text;

/// How mount and unmount events propagate to and from a mount (mount_namespaces(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Propagation {
    /// No optional field: events neither leave nor arrive.
    Private,
    /// `shared:N`: events propagate both ways within peer group N.
    Shared(u32),
    /// `master:N`: events arrive from peer group N but do not go back.
    Slave(u32),
    /// `shared:N master:M`: a slave of M that also shares with its own peer group N.
    SharedAndSlave { shared: u32, master: u32 },
    /// `unbindable`: private, and cannot be the source of a bind mount.
    Unbindable,
}

impl Propagation {
    /// One sentence for a learner.
    pub fn explain(&self) -> &'static str {
        match self {
            Propagation::Private => "private: mounts here stay here, and none arrive",
            Propagation::Shared(_) => {
                "shared: mounts and unmounts propagate both ways with its peer group"
            }
            Propagation::Slave(_) => {
                "slave: receives mounts from its master peer group, sends nothing back"
            }
            Propagation::SharedAndSlave { .. } => {
                "shared and slave: receives from its master, shares with its own peers"
            }
            Propagation::Unbindable => "unbindable: private, and cannot be bind-mounted",
        }
    }

    /// True for the states in which mounts made below can reach other namespaces.
    pub fn sends_events(&self) -> bool {
        matches!(
            self,
            Propagation::Shared(_) | Propagation::SharedAndSlave { .. }
        )
    }
}

impl fmt::Display for Propagation {
    /// In mountinfo's own words: `shared:12`, `master:3`, `shared:12 master:3`, `private`,
    /// `unbindable`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Propagation::Private => f.write_str("private"),
            Propagation::Shared(n) => write!(f, "shared:{n}"),
            Propagation::Slave(n) => write!(f, "master:{n}"),
            Propagation::SharedAndSlave { shared, master } => {
                write!(f, "shared:{shared} master:{master}")
            }
            Propagation::Unbindable => f.write_str("unbindable"),
        }
    }
}

/// One line of `/proc/<pid>/mountinfo`, decoded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// (1) Unique within the namespace; reused after unmount, new in every namespace copy.
    pub mount_id: u32,
    /// (2) The mount this one sits on (itself, or one not listed, for the namespace's root).
    pub parent_id: u32,
    /// (3) The device of the filesystem (`st_dev`).
    pub major: u32,
    pub minor: u32,
    /// (4) Which directory of the filesystem is mounted: `/` normally, `/a` for a bind of `a`.
    pub root: PathBuf,
    /// (5) Where it is mounted, relative to the reading process's root directory.
    pub mount_point: PathBuf,
    /// (6) Per-mount options: `rw`, `nosuid`, `relatime`...
    pub mount_options: Vec<String>,
    /// (7) The propagation state from `shared:`/`master:`/`unbindable`.
    pub propagation: Propagation,
    /// (7) `propagate_from:N`, shown for slaves whose master is not visible from our root.
    pub propagate_from: Option<u32>,
    /// (7) Optional fields this parser does not know; proc(5) tells parsers to ignore them,
    /// we keep them to show.
    pub other_optional: Vec<String>,
    /// (9) `ext4`, `tmpfs`, `overlay`, `fuse.sshfs`...
    pub fs_type: String,
    /// (10) Filesystem-specific: a device, `tmpfs`, `overlay`, or `none`.
    pub source: String,
    /// (11) Per-superblock options (still escaped as the kernel wrote them).
    pub super_options: Vec<String>,
}

impl Mount {
    /// Whether the mount itself is read-only (`ro` in the per-mount options).
    pub fn is_read_only(&self) -> bool {
        self.mount_options.iter().any(|o| o == "ro")
    }
}

/// Decodes the kernel's `\ooo` octal escapes (proc(5); the kernel escapes space, tab,
/// newline and backslash). A backslash not followed by three octal digits is kept as is:
/// the kernel never writes one, and a lenient decode loses nothing.
pub fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(&[a, b, c]) = bytes.get(i + 1..i + 4)
            && [a, b, c].iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let value = u32::from(a - b'0') * 64 + u32::from(b - b'0') * 8 + u32::from(c - b'0');
            // \400 and above do not fit a byte and are never written; keep them literal.
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn unescape_path(field: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

fn number(field: &str, what: &str, index: usize) -> Result<u32> {
    field
        .parse()
        .map_err(|_| Error::Malformed(format!("field {index} ({what}): {field:?} is not a number")))
}

fn options(field: &str) -> Vec<String> {
    field.split(',').map(str::to_string).collect()
}

/// Parses one mountinfo line (no trailing newline needed). Errors name the bad field.
pub fn parse_mountinfo_line(line: &str) -> Result<Mount> {
    let fields: Vec<&str> = line.trim_end_matches('\n').split(' ').collect();
    let Some(dash) = fields.iter().position(|f| *f == "-") else {
        return Err(Error::Malformed(
            "no \" - \" separator before the filesystem type (field 8)".to_string(),
        ));
    };
    if dash < 6 {
        return Err(Error::Malformed(format!(
            "only {dash} fields before the \" - \" separator, expected at least 6"
        )));
    }
    if fields.len() < dash + 4 {
        return Err(Error::Malformed(format!(
            "only {} fields after the \" - \" separator, expected fs type, source and super options",
            fields.len() - dash - 1
        )));
    }
    let mount_id = number(fields[0], "mount id", 1)?;
    let parent_id = number(fields[1], "parent id", 2)?;
    let (major, minor) = fields[2].split_once(':').ok_or_else(|| {
        Error::Malformed(format!("field 3 (major:minor): {:?} has no ':'", fields[2]))
    })?;
    let major = number(major, "major", 3)?;
    let minor = number(minor, "minor", 3)?;

    let mut shared = None;
    let mut master = None;
    let mut unbindable = false;
    let mut propagate_from = None;
    let mut other_optional = Vec::new();
    for tag in &fields[6..dash] {
        let peer = |v: &str| -> Result<u32> {
            v.parse().map_err(|_| {
                Error::Malformed(format!(
                    "field 7 (optional): {tag:?} has a bad peer group id"
                ))
            })
        };
        match tag.split_once(':') {
            Some(("shared", v)) => shared = Some(peer(v)?),
            Some(("master", v)) => master = Some(peer(v)?),
            Some(("propagate_from", v)) => propagate_from = Some(peer(v)?),
            None if *tag == "unbindable" => unbindable = true,
            _ => other_optional.push(tag.to_string()),
        }
    }
    let propagation = match (shared, master, unbindable) {
        (Some(shared), Some(master), _) => Propagation::SharedAndSlave { shared, master },
        (Some(n), None, _) => Propagation::Shared(n),
        (None, Some(n), _) => Propagation::Slave(n),
        (None, None, true) => Propagation::Unbindable,
        (None, None, false) => Propagation::Private,
    };

    // Splitting on single spaces (not runs of whitespace) keeps an empty source, which the
    // kernel prints as nothing between two spaces. The super options are joined back in case
    // a future kernel ever lets them contain a space.
    Ok(Mount {
        mount_id,
        parent_id,
        major,
        minor,
        root: unescape_path(fields[3]),
        mount_point: unescape_path(fields[4]),
        mount_options: options(fields[5]),
        propagation,
        propagate_from,
        other_optional,
        fs_type: String::from_utf8_lossy(&unescape(fields[dash + 1])).into_owned(),
        source: String::from_utf8_lossy(&unescape(fields[dash + 2])).into_owned(),
        super_options: options(&fields[dash + 3..].join(" ")),
    })
}

/// Parses a whole mountinfo file. Blank lines are skipped; an error names the 1-based line
/// number, the line, and the bad field.
pub fn parse_mountinfo(text: &str) -> Result<Vec<Mount>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            parse_mountinfo_line(line)
                .map_err(|e| Error::Malformed(format!("mountinfo line {}: {line:?}: {e}", i + 1)))
        })
        .collect()
}

/// Reads and parses `<proc_root>/<pid>/mountinfo`: the mounts of `pid`'s mount namespace, with
/// mount points relative to `pid`'s root directory (proc(5)).
pub fn read_mountinfo(proc_root: &Path, pid: i32) -> Result<Vec<Mount>> {
    let path = proc_root.join(pid.to_string()).join("mountinfo");
    let text = read_text(&path)?;
    parse_mountinfo(&text).map_err(|e| Error::parse(&path, e))
}

/// The visible mount at `mount_point`: the last one listed there, since later mounts stack on
/// top of earlier ones at the same point.
pub fn mount_at<'a>(mounts: &'a [Mount], mount_point: &Path) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.mount_point == mount_point)
}

/// A mount present on both sides whose propagation or options changed (e.g. after
/// `mount --make-rslave /`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountChange {
    pub before: Mount,
    pub after: Mount,
}

/// What changed between two mount tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountDiff {
    pub added: Vec<Mount>,
    pub removed: Vec<Mount>,
    /// Same mount on both sides, but a different root, options or propagation.
    pub changed: Vec<MountChange>,
}

impl MountDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

type MountKey<'a> = (&'a Path, &'a str, &'a str);

fn key(m: &Mount) -> MountKey<'_> {
    (
        m.mount_point.as_path(),
        m.source.as_str(),
        m.fs_type.as_str(),
    )
}

/// Compares two mount tables, matching mounts by (mount point, source, fs type) rather than
/// by mount id: a new mount namespace copies every mount under new ids (mount_namespaces(7)),
/// and ids are reused after unmount. The same key may appear several times (stacked mounts,
/// like two devpts on /dev/pts); such mounts are matched in order, so one extra copy shows as
/// one addition. Output keeps the order of the input tables.
pub fn diff(before: &[Mount], after: &[Mount]) -> MountDiff {
    let mut unmatched: HashMap<MountKey<'_>, VecDeque<usize>> = HashMap::new();
    for (i, m) in before.iter().enumerate() {
        unmatched.entry(key(m)).or_default().push_back(i);
    }
    let mut result = MountDiff::default();
    let mut matched = vec![false; before.len()];
    for m in after {
        match unmatched.get_mut(&key(m)).and_then(VecDeque::pop_front) {
            Some(i) => {
                matched[i] = true;
                let old = &before[i];
                if old.root != m.root
                    || old.propagation != m.propagation
                    || old.propagate_from != m.propagate_from
                    || old.mount_options != m.mount_options
                    || old.super_options != m.super_options
                {
                    result.changed.push(MountChange {
                        before: old.clone(),
                        after: m.clone(),
                    });
                }
            }
            None => result.added.push(m.clone()),
        }
    }
    result.removed = before
        .iter()
        .zip(matched)
        .filter(|(_, was_matched)| !was_matched)
        .map(|(m, _)| m.clone())
        .collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/self/mountinfo` on the development machine (Debian 12 userland, Linux 6.18,
    /// no systemd: everything private, cgroup v1 hierarchies plus an unused v2 one, /dev/pts
    /// and /dev/shm each mounted twice).
    const HOST: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k,nr_inodes=3083608,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683652k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
28 27 0:25 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime - tmpfs model_tools_unavailable ro,size=4k,mode=755
29 26 0:26 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683652k
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// The same machine, inside a throwaway `unshare --mount --propagation unchanged` shell
    /// that ran `mount --make-rshared /`, mounted a tmpfs on /mnt, then below it: a tmpfs on
    /// "with space" (source "my src"), a bind of /mnt/a made slave on /mnt/b, a bind made
    /// shared+slave on /mnt/c, tmpfs mounts on names with a tab, a backslash and a newline,
    /// and an unbindable tmpfs on /mnt/u.
    const LAB: &str = r"43 42 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
44 43 0:25 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime shared:2 - tmpfs model_tools_unavailable ro,size=4k,mode=755
45 43 0:21 / /proc rw,relatime shared:3 - proc proc rw
46 43 0:22 / /sys rw,relatime shared:4 - sysfs sysfs rw
47 46 0:28 / /sys/fs/cgroup rw,relatime shared:5 - tmpfs tmpfs rw,mode=755
48 47 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:6 - cgroup cgroup rw,cpu
49 47 0:30 / /sys/fs/cgroup/cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpuacct
50 47 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:8 - cgroup cgroup rw,cpuset
51 47 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
52 47 0:33 / /sys/fs/cgroup/devices rw,relatime shared:10 - cgroup cgroup rw,devices
53 47 0:34 / /sys/fs/cgroup/freezer rw,relatime shared:11 - cgroup cgroup rw,freezer
54 47 0:35 / /sys/fs/cgroup/blkio rw,relatime shared:12 - cgroup cgroup rw,blkio
55 47 0:36 / /sys/fs/cgroup/pids rw,relatime shared:13 - cgroup cgroup rw,pids
56 47 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:14 - cgroup cgroup rw,name=systemd
57 47 0:38 / /sys/fs/cgroup/unified rw,relatime shared:15 - cgroup2 cgroup2 rw
58 43 0:6 / /dev rw,relatime shared:16 - devtmpfs devtmpfs rw,size=12334432k,nr_inodes=3083608,mode=755
59 58 0:23 / /dev/shm rw,relatime shared:17 - tmpfs tmpfs rw,size=24683652k
60 59 0:27 / /dev/shm rw,relatime shared:18 - tmpfs tmpfs rw,size=24683652k
61 58 0:24 / /dev/pts rw,relatime shared:19 - devpts devpts rw,mode=600,ptmxmode=000
62 61 0:26 / /dev/pts rw,relatime shared:20 - devpts devpts rw,mode=600,ptmxmode=000
63 43 0:39 / /mnt rw,relatime shared:21 - tmpfs uh-lab rw
64 63 0:40 / /mnt/with\040space rw,relatime shared:22 - tmpfs my\040src rw
65 63 0:39 /a /mnt/b rw,relatime master:21 - tmpfs uh-lab rw
66 63 0:39 /a /mnt/c rw,relatime shared:23 master:21 - tmpfs uh-lab rw
67 63 0:41 / /mnt/tab\011x rw,relatime shared:24 - tmpfs t rw
68 63 0:42 / /mnt/back\134slash rw,relatime shared:25 - tmpfs t rw
69 63 0:43 / /mnt/nl\012x rw,relatime shared:26 - tmpfs t rw
70 63 0:44 / /mnt/u rw,relatime unbindable - tmpfs u rw
";

    fn at<'a>(mounts: &'a [Mount], point: &str) -> &'a Mount {
        mount_at(mounts, Path::new(point)).unwrap_or_else(|| panic!("no mount at {point:?}"))
    }

    #[test]
    fn parses_real_host_table() {
        let mounts = parse_mountinfo(HOST).expect("real mountinfo parses");
        assert_eq!(mounts.len(), 20);
        let root = at(&mounts, "/");
        assert_eq!((root.mount_id, root.parent_id), (27, 1));
        assert_eq!((root.major, root.minor), (254, 0));
        assert_eq!(root.root, Path::new("/"));
        assert_eq!(root.fs_type, "ext4");
        assert_eq!(root.source, "/dev/vda");
        assert_eq!(root.propagation, Propagation::Private);
        assert_eq!(root.mount_options, ["rw", "relatime"]);
        assert_eq!(root.super_options[0], "rw");
        assert!(root.super_options.contains(&"resgid=65534".to_string()));
        assert!(!root.is_read_only());
        let tools = at(&mounts, "/mnt/sandboxing/model_tools_env/v1/python");
        assert!(tools.is_read_only());
        assert_eq!(tools.source, "model_tools_unavailable");
        // Stacked: the visible /dev/pts is the later one, sitting on the earlier one.
        let pts = at(&mounts, "/dev/pts");
        assert_eq!((pts.mount_id, pts.parent_id, pts.minor), (29, 26, 26));
        assert!(mounts.iter().all(|m| m.propagation == Propagation::Private));
        assert!(mounts.iter().all(|m| m.other_optional.is_empty()));
    }

    #[test]
    fn parses_real_propagation_and_escapes() {
        let mounts = parse_mountinfo(LAB).expect("lab mountinfo parses");
        assert_eq!(mounts.len(), 28);
        assert_eq!(at(&mounts, "/").propagation, Propagation::Shared(1));
        assert_eq!(at(&mounts, "/mnt").propagation, Propagation::Shared(21));

        let b = at(&mounts, "/mnt/b");
        assert_eq!(b.propagation, Propagation::Slave(21));
        assert_eq!(
            b.root,
            Path::new("/a"),
            "a bind mount shows the bound directory"
        );
        let c = at(&mounts, "/mnt/c");
        assert_eq!(
            c.propagation,
            Propagation::SharedAndSlave {
                shared: 23,
                master: 21
            }
        );
        assert_eq!(at(&mounts, "/mnt/u").propagation, Propagation::Unbindable);

        let spaced = at(&mounts, "/mnt/with space");
        assert_eq!(spaced.source, "my src");
        assert_eq!(spaced.mount_id, 64);
        at(&mounts, "/mnt/tab\tx");
        at(&mounts, "/mnt/back\\slash");
        at(&mounts, "/mnt/nl\nx");
    }

    #[test]
    fn parses_every_optional_field_by_hand() {
        let line = r"71 63 0:45 /dir\040a /mnt/x\040y ro,nosuid master:5 propagate_from:2 future:9 - fuse.sshfs me@host:/srv\134x rw,user_id=0";
        let m = parse_mountinfo_line(line).expect("parses");
        assert_eq!(m.propagation, Propagation::Slave(5));
        assert_eq!(m.propagate_from, Some(2));
        assert_eq!(m.other_optional, ["future:9"]);
        assert_eq!(m.root, Path::new("/dir a"));
        assert_eq!(m.mount_point, Path::new("/mnt/x y"));
        assert_eq!(m.source, "me@host:/srv\\x");
        assert_eq!(m.fs_type, "fuse.sshfs");
        assert_eq!(m.mount_options, ["ro", "nosuid"]);
        assert_eq!(m.super_options, ["rw", "user_id=0"]);
        assert!(m.is_read_only());

        let both = parse_mountinfo_line("1 0 0:1 / / rw master:3 shared:7 - t s rw")
            .expect("order of optional fields does not matter");
        assert_eq!(
            both.propagation,
            Propagation::SharedAndSlave {
                shared: 7,
                master: 3
            }
        );
        let unb = parse_mountinfo_line("1 0 0:1 / / rw unbindable - t s rw").expect("parses");
        assert_eq!(unb.propagation, Propagation::Unbindable);
    }

    #[test]
    fn keeps_an_empty_source() {
        // `mount -t tmpfs "" /mnt` in a throwaway mount namespace on the development machine.
        let m = parse_mountinfo_line("63 43 0:39 / /mnt rw,relatime - tmpfs  rw").expect("parses");
        assert_eq!(m.source, "");
        assert_eq!(m.fs_type, "tmpfs");
        assert_eq!(m.super_options, ["rw"]);
    }

    #[test]
    fn unescape_decodes_only_octal_triplets() {
        assert_eq!(unescape(r"a\040b\011c\012d\134e"), b"a b\tc\nd\\e");
        assert_eq!(unescape(r"plain"), b"plain");
        // Not an escape the kernel writes: kept literally.
        assert_eq!(unescape(r"a\04"), br"a\04");
        assert_eq!(unescape(r"a\9990"), br"a\9990");
        assert_eq!(unescape(r"a\400"), br"a\400");
        assert_eq!(unescape(r"\"), br"\");
        // Non-UTF-8 bytes survive into the path.
        assert_eq!(unescape(r"\377"), [0xff]);
    }

    #[test]
    fn propagation_displays_like_mountinfo() {
        assert_eq!(Propagation::Shared(12).to_string(), "shared:12");
        assert_eq!(Propagation::Slave(3).to_string(), "master:3");
        assert_eq!(Propagation::Private.to_string(), "private");
        assert_eq!(Propagation::Unbindable.to_string(), "unbindable");
        assert_eq!(
            Propagation::SharedAndSlave {
                shared: 12,
                master: 3
            }
            .to_string(),
            "shared:12 master:3"
        );
        assert!(Propagation::Shared(1).sends_events());
        assert!(!Propagation::Slave(1).sends_events());
        assert!(Propagation::Private.explain().starts_with("private"));
    }

    fn error_of(text: &str) -> String {
        match parse_mountinfo(text) {
            Ok(m) => panic!("{text:?} parsed as {m:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn errors_name_line_and_field() {
        let good = "22 27 0:21 / /proc rw,relatime - proc proc rw\n";
        let cases = [
            ("x 27 0:21 / /proc rw - proc proc rw", "field 1 (mount id)"),
            (
                "22 -1 0:21 / /proc rw - proc proc rw",
                "field 2 (parent id)",
            ),
            (
                "22 27 021 / /proc rw - proc proc rw",
                "field 3 (major:minor)",
            ),
            ("22 27 0:x / /proc rw - proc proc rw", "field 3 (minor)"),
            (
                "22 27 0:21 / /proc rw shared:x - proc proc rw",
                "field 7 (optional)",
            ),
            ("22 27 0:21 / /proc rw proc proc rw", "separator"),
            ("22 27 0:21 /proc - proc proc rw", "at least 6"),
            ("22 27 0:21 / /proc rw - proc proc", "super options"),
        ];
        for (bad, field) in cases {
            let err = error_of(&format!("{good}\n{bad}\n"));
            assert!(err.contains("mountinfo line 3"), "{err}");
            assert!(err.contains(field), "{bad:?} gave {err}");
        }
    }

    #[test]
    fn diff_ignores_new_ids_and_sees_propagation_changes() {
        let host = parse_mountinfo(HOST).expect("host");
        let lab = parse_mountinfo(LAB).expect("lab");
        let d = diff(&host, &lab);
        // Every host mount was copied into the new namespace under a new id: none removed.
        assert!(d.removed.is_empty(), "{:?}", d.removed);
        let added: Vec<&Path> = d.added.iter().map(|m| m.mount_point.as_path()).collect();
        assert_eq!(
            added,
            [
                "/mnt",
                "/mnt/with space",
                "/mnt/b",
                "/mnt/c",
                "/mnt/tab\tx",
                "/mnt/back\\slash",
                "/mnt/nl\nx",
                "/mnt/u"
            ]
            .map(Path::new)
        );
        // All 20 copies went from private to shared by `mount --make-rshared /`.
        assert_eq!(d.changed.len(), 20);
        assert!(
            d.changed
                .iter()
                .all(|c| c.before.propagation == Propagation::Private
                    && matches!(c.after.propagation, Propagation::Shared(_)))
        );

        assert!(diff(&lab, &lab).is_empty());
        let back = diff(&lab, &host);
        assert_eq!(back.removed.len(), 8);
        assert!(back.added.is_empty());
    }

    #[test]
    fn diff_counts_stacked_duplicates() {
        let host = parse_mountinfo(HOST).expect("host");
        // Unmount the upper /dev/pts (id 29): one of the two identical keys goes away.
        let fewer: Vec<Mount> = host.iter().filter(|m| m.mount_id != 29).cloned().collect();
        let d = diff(&host, &fewer);
        assert_eq!(d.added, []);
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].mount_point, Path::new("/dev/pts"));
        assert!(d.changed.is_empty());
    }

    #[test]
    fn live_self_mountinfo_parses() {
        let mounts = read_mountinfo(Path::new("/proc"), std::process::id() as i32)
            .expect("reading /proc/self/mountinfo");
        assert!(mount_at(&mounts, Path::new("/")).is_some());
        assert!(mounts.iter().any(|m| m.fs_type == "proc"));
    }

    #[test]
    fn read_error_keeps_path_and_errno() {
        let err = match read_mountinfo(Path::new("/proc"), i32::MAX) {
            Ok(_) => panic!("no such pid, yet mountinfo was read"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains(&format!("/proc/{}/mountinfo", i32::MAX)),
            "{err}"
        );
        assert!(err.contains("os error 2"), "{err}");
    }
}
