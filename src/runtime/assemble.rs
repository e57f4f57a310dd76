//! Root filesystems we assemble ourselves: the default rootfs (a skeleton compiled into the
//! binary plus a shell and basic tools from the host) and the tools layer (a copy of our own
//! binary, laid over every container's root so `hog` and `underhood` exist inside).
//!
//! Both are cached under `Paths::cache_dir`, built beside their final name and renamed into
//! place (see [`cache`]), so a later start costs a few `stat`s.

pub mod cache;
pub(crate) mod copy;
pub mod error;
pub(crate) mod loader;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::runtime::assemble::error::{Ctx, Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runtime::paths::Paths;
use copy::{Copier, Placement, merged_usr};

/// Bump when the way a rootfs is put together changes, so caches rebuild.
const RECIPE_VERSION: &str = "rootfs-recipe-2";
/// Bump when the layout of the tools layer changes.
const TOOLS_VERSION: &str = "tools-recipe-1";

/// The skeleton in the repository's `rootfs/` directory, compiled in. `include_bytes!` makes
/// cargo rebuild when a file changes; a test checks this list against the directory, so a
/// file added there without being listed here fails the tests.
macro_rules! skeleton {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs/", $path)) as &[u8])),*]
    };
}
const SKELETON: &[(&str, &[u8])] = skeleton!(
    "dev/.keep",
    "etc/group",
    "etc/hostname",
    "etc/hosts",
    "etc/motd",
    "etc/nsswitch.conf",
    "etc/os-release",
    "etc/passwd",
    "etc/profile",
    "etc/shells",
    "home/.keep",
    "mnt/.keep",
    "opt/.keep",
    "proc/.keep",
    "root/.bashrc",
    "run/.keep",
    "srv/.keep",
    "sys/.keep",
    "tmp/.keep",
    "usr/bin/.keep",
    "usr/lib/.keep",
    "usr/lib64/.keep",
    "usr/local/bin/.keep",
    "usr/local/lib/.keep",
    "usr/local/sbin/.keep",
    "usr/sbin/.keep",
    "usr/share/.keep",
    "var/lib/.keep",
    "var/log/.keep",
    "var/tmp/.keep",
);

/// Git keeps no empty directory; this file stands in for one and is not copied.
const KEEP: &str = ".keep";

/// Symlinks made in the default rootfs: merged-/usr links (tools live under `usr/`), and
/// `/etc/mtab`, which `mount` and `df` read and every distribution points at the kernel's
/// own table.
const LINKS: &[(&str, &str)] = &[
    ("bin", "usr/bin"),
    ("sbin", "usr/sbin"),
    ("lib", "usr/lib"),
    ("lib64", "usr/lib64"),
    ("etc/mtab", "../proc/self/mounts"),
];

/// Host tools copied when there is no busybox, if the host has them. The shell is separate.
const HOST_TOOLS: &[&str] = &[
    "bash", "ls", "cat", "echo", "mkdir", "rmdir", "rm", "cp", "mv", "ln", "touch", "chmod",
    "chown", "id", "hostname", "uname", "sleep", "ps", "top", "pstree", "mount", "umount", "ip",
    "grep", "sed", "head", "tail", "wc", "sort", "cut", "tr", "tee", "xargs", "env", "true",
    "false", "kill", "free", "df", "du", "stat", "readlink", "printf", "dmesg", "whoami", "find",
    "date", "pwd", "tty", "clear", "less", "more", "vi", "which", "basename", "dirname", "nproc",
    "seq", "yes", "dd", "lsns", "nsenter", "unshare", "chroot",
];

/// Shells tried, in order, when there is no busybox: `sh` is whatever the host made it.
const SHELLS: &[&str] = &["sh", "dash", "bash", "ash"];

/// Terminal descriptions copied so `top`, `less`, `clear` and bash's line editing work.
const TERMS: &[&str] = &[
    "dumb",
    "linux",
    "vt100",
    "vt220",
    "xterm",
    "xterm-color",
    "xterm-256color",
    "screen",
    "screen-256color",
    "tmux",
    "tmux-256color",
];
const TERMINFO_DIRS: &[&str] = &["/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"];

/// Directories searched for programs besides `$PATH` (sudo and services may trim it).
const STANDARD_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// What the default rootfs was made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembled {
    /// The root directory.
    pub dir: PathBuf,
    /// `"busybox"` or `"host tools"`.
    pub source: String,
    /// The shell to start inside: `/bin/sh`, or `/bin/bash` when there is one (it edits lines).
    pub shell: String,
    /// Tools copied or linked, by name.
    pub tools: Vec<String>,
    /// Tools found on the host but left out, with the reason.
    pub skipped: Vec<String>,
}

/// The environment variable that chooses the default rootfs's [`Flavour`]:
/// `busybox`, `host-tools` or `auto` (the default).
pub const FLAVOUR_ENV: &str = "UNDERHOOD_ROOTFS_FLAVOUR";

/// What the default rootfs's tools are. Lessons and tests must work on both, whatever
/// the host has installed, so each can be asked for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// busybox when the host has one, else the host's tools.
    Auto,
    /// busybox (static if the host has a static one); an error without one.
    Busybox,
    /// The host's own shell and tools (coreutils, util-linux...) with their libraries,
    /// even where busybox is installed.
    HostTools,
}

impl Flavour {
    /// From [`FLAVOUR_ENV`]; unset or empty is `auto`.
    pub fn from_env() -> Result<Flavour> {
        match std::env::var(FLAVOUR_ENV) {
            Ok(v) => Flavour::parse(&v).ctx(|| format!("{FLAVOUR_ENV}={v:?}")),
            Err(std::env::VarError::NotPresent) => Ok(Flavour::Auto),
            Err(e) => Err(Error::Refused(format!("{FLAVOUR_ENV}: {e}"))),
        }
    }

    pub fn parse(text: &str) -> Result<Flavour> {
        Ok(match text.trim() {
            "" | "auto" => Flavour::Auto,
            "busybox" => Flavour::Busybox,
            "host-tools" | "host" => Flavour::HostTools,
            other => {
                return Err(Error::Refused(format!(
                    "unknown rootfs flavour {other:?}: say busybox, host-tools or auto"
                )));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Flavour::Auto => "auto",
            Flavour::Busybox => "busybox",
            Flavour::HostTools => "host-tools",
        }
    }
}

/// The default root filesystem, assembled at first use; see [`assemble_default`].
pub fn default_rootfs(paths: &Paths) -> Result<PathBuf> {
    Ok(assemble_default(paths)?.dir)
}

/// Assembles (or finds in the cache) the default rootfs of the flavour [`FLAVOUR_ENV`]
/// asks for: the embedded skeleton plus busybox when the host has one, otherwise the
/// host's own shell and tools with their libraries. Lives at
/// `<cache_dir>/rootfs-<hash>/rootfs`; the hash covers the skeleton, this recipe and the
/// host programs chosen, so any change builds a new one.
pub fn assemble_default(paths: &Paths) -> Result<Assembled> {
    assemble_flavour(paths, Flavour::from_env()?)
}

/// [`assemble_default`] of a given flavour.
pub fn assemble_flavour(paths: &Paths, flavour: Flavour) -> Result<Assembled> {
    assemble_with(paths, &host_search_dirs(), flavour)
}

/// How the tools get into the rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Recipe {
    Busybox(PathBuf),
    HostTools {
        shell: PathBuf,
        tools: Vec<(String, PathBuf)>,
    },
}

fn assemble_with(paths: &Paths, search: &[PathBuf], flavour: Flavour) -> Result<Assembled> {
    let mut hasher = Sha256::new();
    hasher.update(RECIPE_VERSION);
    hasher.update(flavour.name());
    for (path, bytes) in SKELETON {
        hasher.update(path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    // Choosing the recipe stats every tool name in every search directory (hundreds of
    // stat(2) calls, the bulk of a warm start's cost). The index answers without them
    // while no search directory has changed since it was written.
    let index = paths.cache_dir.join(INDEX_FILE);
    let fingerprint = search_fingerprint(&hasher, search);
    if let Some(dir) = read_index(&index, &fingerprint)
        && let Ok(found) = read_assembled(&paths.cache_dir.join(dir))
    {
        return Ok(found);
    }
    let recipe = choose(search, flavour)?;
    hasher.update(format!("{recipe:?}"));
    let key = &cache::hex(&hasher.finalize())[..16];
    let name = format!("rootfs-{key}");
    let final_dir = paths.cache_dir.join(&name);
    let built = cache::build_atomically(&final_dir, |tmp| -> Result<()> {
        let root = tmp.join("rootfs");
        let mut assembled = build_rootfs(&root, &recipe)?;
        assembled.dir = final_dir.join("rootfs");
        let json = serde_json::to_vec_pretty(&assembled)?;
        let meta = tmp.join("assembled.json");
        fs::write(&meta, json).ctx(|| format!("cannot write {}", meta.display()))
    })?;
    let assembled = read_assembled(&built)?;
    // Best effort: without an index the next start scans again, nothing worse.
    let _ = write_index(&index, &fingerprint, &name);
    Ok(assembled)
}

/// The `assembled.json` of a built rootfs directory.
fn read_assembled(built: &Path) -> Result<Assembled> {
    let meta_file = built.join("assembled.json");
    let json = fs::read(&meta_file).ctx(|| format!("cannot read {}", meta_file.display()))?;
    let mut assembled: Assembled = serde_json::from_slice(&json).ctx(|| {
        format!(
            "corrupt {}; remove {}",
            meta_file.display(),
            built.display()
        )
    })?;
    assembled.dir = built.join("rootfs");
    Ok(assembled)
}

/// Remembers which cached rootfs the last full scan chose: `<fingerprint> <dir name>`.
const INDEX_FILE: &str = "default-rootfs.idx";

/// What the recipe depends on, cheaply: the skeleton and recipe version (`base`), and
/// each search directory with its inode and mtime. Adding, removing or renaming a file
/// in a directory changes the directory's mtime (inode(7)), and package managers
/// replace programs by rename, so any change that can alter which tools are found
/// changes this. (Only a chmod of a tool in place goes unseen; the rootfs it indexes
/// was complete when built, so the launch still works.)
fn search_fingerprint(base: &Sha256, search: &[PathBuf]) -> String {
    let mut h = base.clone();
    for dir in search {
        h.update(dir.as_os_str().as_encoded_bytes());
        h.update([0]);
        match fs::metadata(dir) {
            Ok(m) => {
                for n in [m.dev(), m.ino(), m.mtime() as u64, m.mtime_nsec() as u64] {
                    h.update(n.to_le_bytes());
                }
            }
            Err(_) => h.update(b"-"),
        }
    }
    cache::hex(&h.finalize())
}

/// The directory name the index holds for `fingerprint`, if it is a plain `rootfs-` name.
fn read_index(index: &Path, fingerprint: &str) -> Option<String> {
    let text = fs::read_to_string(index).ok()?;
    let (fp, dir) = text.trim_end().split_once(' ')?;
    let plain = dir.starts_with("rootfs-") && cache::check_plain_name(dir).is_ok();
    (fp == fingerprint && plain).then(|| dir.to_string())
}

/// Writes the index atomically (a temporary file renamed over it, rename(2)).
fn write_index(index: &Path, fingerprint: &str, dir: &str) -> Result<()> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = index.with_extension(format!("idx.tmp-{}-{seq}", std::process::id()));
    fs::write(&tmp, format!("{fingerprint} {dir}\n"))
        .ctx(|| format!("cannot write {}", tmp.display()))?;
    let res = fs::rename(&tmp, index);
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.ctx(|| format!("cannot rename {} to {}", tmp.display(), index.display()))
}

/// Picks busybox when the flavour allows it and the host has one (a static one first),
/// else the host's tools.
fn choose(search: &[PathBuf], flavour: Flavour) -> Result<Recipe> {
    let busyboxes = if flavour == Flavour::HostTools {
        Vec::new()
    } else {
        find_all("busybox", search)
    };
    if flavour == Flavour::Busybox && busyboxes.is_empty() {
        return Err(Error::Missing(format!(
            "{FLAVOUR_ENV}=busybox, but there is no busybox in {}: install it \
             (`sudo apt install busybox-static`) or unset {FLAVOUR_ENV}",
            search
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        )));
    }
    if !busyboxes.is_empty() {
        // Checking for a static build reads the ELF file: only worth it with a choice.
        let pick = if busyboxes.len() > 1 {
            busyboxes
                .iter()
                .find(|b| copy::is_static(b))
                .unwrap_or(&busyboxes[0])
        } else {
            &busyboxes[0]
        };
        return Ok(Recipe::Busybox(pick.clone()));
    }
    let shell = SHELLS
        .iter()
        .find_map(|s| find_all(s, search).into_iter().next())
        .ctx(|| {
            format!(
                "no shell for the default rootfs: neither busybox nor any of {} found in {}",
                SHELLS.join(", "),
                search
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            )
        })?;
    let tools = HOST_TOOLS
        .iter()
        .filter_map(|name| {
            find_all(name, search)
                .into_iter()
                .next()
                .map(|p| (name.to_string(), p))
        })
        .collect();
    Ok(Recipe::HostTools { shell, tools })
}

fn build_rootfs(root: &Path, recipe: &Recipe) -> Result<Assembled> {
    write_skeleton(root)?;
    let mut copier = Copier::new(root, Placement::MergedUsr, None);
    let mut tools = Vec::new();
    let mut skipped = Vec::new();
    let (source, shell) = match recipe {
        Recipe::Busybox(busybox) => {
            copier
                .copy_program(busybox, Path::new("usr/bin/busybox"))
                .ctx(|| format!("cannot copy busybox {}", busybox.display()))?;
            tools = link_applets(root, busybox)?;
            // The applet links point at /bin/busybox, absolute: not followed here.
            if fs::symlink_metadata(root.join("usr/bin/sh")).is_err() {
                return Err(Error::Missing(format!(
                    "busybox {} has no sh applet",
                    busybox.display()
                )));
            }
            ("busybox", "/bin/sh")
        }
        Recipe::HostTools {
            shell,
            tools: host_tools,
        } => {
            copier
                .copy_program(shell, Path::new("usr/bin/sh"))
                .ctx(|| format!("cannot copy the shell {}", shell.display()))?;
            tools.push("sh".to_string());
            for (name, host) in host_tools {
                match copier.copy_program(host, &tool_place(name, host)) {
                    Ok(()) => tools.push(name.clone()),
                    Err(e) => skipped.push(format!("{name}: {e:#}")),
                }
            }
            copy_terminfo(&mut copier)?;
            let shell = if tools.iter().any(|t| t == "bash") {
                "/bin/bash"
            } else {
                "/bin/sh"
            };
            ("host tools", shell)
        }
    };
    for (link, target) in LINKS {
        let path = root.join(link);
        std::os::unix::fs::symlink(target, &path)
            .ctx(|| format!("cannot create symlink {} -> {target}", path.display()))?;
    }
    Ok(Assembled {
        dir: root.to_path_buf(),
        source: source.to_string(),
        shell: shell.to_string(),
        tools,
        skipped,
    })
}

fn write_skeleton(root: &Path) -> Result<()> {
    fs::create_dir(root).ctx(|| format!("cannot create {}", root.display()))?;
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))
        .ctx(|| format!("cannot chmod 0755 {}", root.display()))?;
    for (path, bytes) in SKELETON {
        let rel = Path::new(path);
        if let Some(parent) = rel.parent() {
            copy::make_dirs(root, parent)?;
        }
        if rel.file_name().is_some_and(|n| n == KEEP) {
            continue;
        }
        let dest = root.join(rel);
        fs::write(&dest, bytes).ctx(|| format!("cannot write {}", dest.display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o644))
            .ctx(|| format!("cannot chmod 0644 {}", dest.display()))?;
    }
    // Everyone may write to the temporary directories (sticky, as on any system);
    // root's home is root's.
    for (dir, mode) in [("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o700)] {
        let path = root.join(dir);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .ctx(|| format!("cannot chmod {mode:o} {}", path.display()))?;
    }
    Ok(())
}

/// Where a host tool goes: its own directory if that is a standard one (so `ip` stays in
/// sbin), `usr/bin` otherwise (`~/.cargo/bin` means nothing inside).
fn tool_place(name: &str, host: &Path) -> PathBuf {
    let standard = host
        .parent()
        .is_some_and(|d| STANDARD_DIRS.iter().any(|s| Path::new(s) == d));
    if standard {
        merged_usr(host)
    } else {
        Path::new("usr/bin").join(name)
    }
}

/// `busybox --list-full` (or `--list`) names every applet; each becomes a symlink to
/// `/bin/busybox`, which picks the applet from the name it was started under.
fn link_applets(root: &Path, busybox: &Path) -> Result<Vec<String>> {
    let list = |flag: &str| -> Option<String> {
        let out = Command::new(busybox)
            .arg(flag)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then_some(text)
    };
    let text = list("--list-full")
        .or_else(|| list("--list"))
        .ctx(|| format!("{} --list printed no applets", busybox.display()))?;
    let mut applets = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (dir, name) = match line.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("usr/bin", line),
        };
        // The list comes from a program: accept only plain names in the usual directories.
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-[".contains(c))
            && name != "."
            && name != "..";
        let known_dir = ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin"].contains(&dir);
        if !plain || !known_dir || name == "busybox" {
            continue;
        }
        let inside = merged_usr(&Path::new("/").join(dir).join(name));
        let dest = root.join(&inside);
        if fs::symlink_metadata(&dest).is_ok() {
            continue;
        }
        if let Some(parent) = inside.parent() {
            copy::make_dirs(root, parent)?;
        }
        std::os::unix::fs::symlink("/bin/busybox", &dest)
            .ctx(|| format!("cannot create applet link {}", dest.display()))?;
        applets.push(name.to_string());
    }
    Ok(applets)
}

fn copy_terminfo(copier: &mut Copier) -> Result<()> {
    for dir in TERMINFO_DIRS {
        for term in TERMS {
            let Some(first) = term.chars().next() else {
                continue;
            };
            let host = Path::new(dir).join(first.to_string()).join(term);
            if host.is_file() {
                copier.copy_file(&host, &merged_usr(&host))?;
            }
        }
    }
    Ok(())
}

/// `$PATH` then the standard directories, absolute ones only, each once.
fn host_search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path).chain(STANDARD_DIRS.iter().map(PathBuf::from)) {
        if d.is_absolute() && !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

/// Every executable file called `name` in the search directories, in order.
fn find_all(name: &str, search: &[PathBuf]) -> Vec<PathBuf> {
    search
        .iter()
        .map(|d| d.join(name))
        .filter(|p| {
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect()
}

/// Our own binary, copied (never the host file itself: a container that could write to it
/// would own the host, the CVE-2019-5736 class) with its libraries, as
/// `<cache_dir>/tools-<key>/usr/local/bin/{underhood,hog}`, mode 0555. Meant as the top
/// read-only lower layer of every container. The key follows the binary's identity, so a
/// rebuilt binary gets a new layer; layers of older binaries are pruned once unused.
///
/// A dynamically linked binary brings its interpreter at its exact path
/// (`lib64/ld-linux-x86-64.so.2`) and its libraries under `usr/lib/...`: enough inside an
/// Alpine (musl) root. Over a glibc image, though, these copies hide the image's own loader
/// and libc: harmless when the host's glibc is at least as new as the image's, fatal for
/// the image's programs when it is older. A static build (`-C target-feature=+crt-static`)
/// needs no libraries, and then the layer holds the binary alone.
pub fn tools_layer(paths: &Paths) -> Result<PathBuf> {
    let exe = std::env::current_exe().ctx(|| "cannot find our own executable")?;
    // After an upgrade the running file may be deleted ("... (deleted)"); the kernel still
    // serves it through /proc/self/exe.
    let exe = if exe.exists() {
        exe
    } else {
        paths.proc_root.join("self/exe")
    };
    tools_layer_for(paths, &exe)
}

/// Names of tools layers: `tools-` and 16 hex digits. Only these are ever pruned.
const TOOLS_DIR_PREFIX: &str = "tools-";
/// A tools layer unused for this long, and mounted nowhere, is removed.
const TOOLS_PRUNE_AFTER: Duration = Duration::from_secs(10 * 60);

fn tools_layer_for(paths: &Paths, exe: &Path) -> Result<PathBuf> {
    let meta = fs::metadata(exe).ctx(|| format!("cannot stat {}", exe.display()))?;
    let identity = format!(
        "{TOOLS_VERSION} {} {} {} {}.{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let key = &cache::hex(&Sha256::digest(identity.as_bytes()))[..16];
    let final_dir = paths.cache_dir.join(format!("{TOOLS_DIR_PREFIX}{key}"));
    let existed = final_dir.is_dir();
    let dir = cache::build_atomically(&final_dir, |tmp| -> Result<()> {
        let mut copier = Copier::new(tmp, Placement::Overlay, Some(0o555));
        copier
            .copy_program(exe, Path::new("usr/local/bin/underhood"))
            .ctx(|| format!("cannot copy {} into the tools layer", exe.display()))?;
        // One binary, many names: `hog` is the memory-hog demo of the same executable.
        copier.copy_file(exe, Path::new("usr/local/bin/hog"))?;
        Ok(())
    })?;
    // The directory's mtime records its last use, for pruning.
    cache::touch(&dir);
    if !existed {
        prune_tools(paths, &dir);
    }
    Ok(dir)
}

/// Removes tools layers of older binaries: only directories named like ours, unused for a
/// while, and not named in any mount table (a running container may still stack it).
fn prune_tools(paths: &Paths, keep: &Path) {
    let Ok(entries) = fs::read_dir(&paths.cache_dir) else {
        return;
    };
    let mut mounts: Option<String> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = name
            .strip_prefix(TOOLS_DIR_PREFIX)
            .is_some_and(|k| k.len() == 16 && k.bytes().all(|b| b.is_ascii_hexdigit()));
        if !ours || path == keep {
            continue;
        }
        let idle = fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.is_dir())
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= TOOLS_PRUNE_AFTER);
        if !idle {
            continue;
        }
        let mounts = mounts.get_or_insert_with(|| cache::all_mount_tables(&paths.proc_root));
        if mounts.contains(name) {
            continue;
        }
        let _ = cache::remove_tree(&path);
    }
}

#[cfg(test)]
mod tests;
