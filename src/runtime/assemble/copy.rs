//! Copying host programs, with the shared libraries they load, into a directory tree.
//!
//! A dynamically linked program names its ELF interpreter by absolute path
//! (`/lib64/ld-linux-x86-64.so.2`), and the interpreter finds the libraries by name in its
//! default directories. So a copy runs inside another root only if the interpreter sits at
//! the very same path there, and the libraries in a directory that interpreter searches.
//! `lddtree` reads the ELF files (it does not run them, unlike `ldd`) to find both.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::runtime::assemble::error::{Ctx, Error, Result};

use super::loader;

/// Top-level directories that merged-/usr systems (Debian 12, Fedora, Arch) keep under `/usr`.
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Where copies land inside the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Everything under `usr/` (`/lib/x/libc.so.6` -> `usr/lib/x/libc.so.6`); the tree
    /// gets `bin -> usr/bin` style links, so both spellings work inside.
    MergedUsr,
    /// Libraries under `usr/`, but the interpreter at its exact path: the tools layer is
    /// laid over foreign roots and must not create a top-level `lib/` that would hide theirs.
    Overlay,
}

pub(crate) struct Copier {
    root: PathBuf,
    placement: Placement,
    /// Every file gets this mode instead of the host's (the tools layer: 0555).
    fixed_mode: Option<u32>,
    /// Real host file -> where its first copy lives (relative to `root`). Further names
    /// for the same host file become hard links: multi-call binaries cost one copy.
    copies: HashMap<PathBuf, PathBuf>,
}

impl Copier {
    pub(crate) fn new(root: &Path, placement: Placement, fixed_mode: Option<u32>) -> Copier {
        Copier {
            root: root.to_path_buf(),
            placement,
            fixed_mode,
            copies: HashMap::new(),
        }
    }

    /// Copies the real file behind `host` (following symlinks) to `inside`, a path relative
    /// to the tree. An `inside` path that exists already is left alone: first one wins.
    pub(crate) fn copy_file(&mut self, host: &Path, inside: &Path) -> Result<()> {
        let inside = relative(inside)?;
        let dest = self.root.join(&inside);
        if fs::symlink_metadata(&dest).is_ok() {
            return Ok(());
        }
        let real = fs::canonicalize(host)
            .ctx(|| format!("cannot resolve host file {}", host.display()))?;
        if let Some(parent) = inside.parent() {
            make_dirs(&self.root, parent)?;
        }
        if let Some(first) = self.copies.get(&real) {
            let first = self.root.join(first);
            fs::hard_link(&first, &dest)
                .ctx(|| format!("cannot hard-link {} to {}", first.display(), dest.display()))?;
            return Ok(());
        }
        fs::copy(&real, &dest)
            .ctx(|| format!("cannot copy {} to {}", real.display(), dest.display()))?;
        let host_mode = fs::metadata(&real)
            .ctx(|| format!("cannot stat {}", real.display()))?
            .permissions()
            .mode();
        // setuid/setgid bits are dropped: inside the container nothing needs them, and a
        // setuid copy in the cache would be one more privileged file on the host.
        let mode = self.fixed_mode.unwrap_or(host_mode & 0o777);
        fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
            .ctx(|| format!("cannot chmod {mode:o} {}", dest.display()))?;
        self.copies.insert(real, inside);
        Ok(())
    }

    /// Copies a program and, if it is a dynamically linked ELF file, its interpreter and
    /// every library it loads. Scripts and static binaries are copied alone.
    pub(crate) fn copy_program(&mut self, host: &Path, inside: &Path) -> Result<()> {
        // Resolve the libraries first, so a program whose libraries are missing leaves no
        // half-copied trace behind.
        let libs = if is_elf(host)? {
            libraries(host)?
        } else {
            Vec::new()
        };
        self.copy_file(host, inside)?;
        for (path, kind) in libs {
            let inside = self.inside(&path, kind);
            self.copy_file(&path, &inside)?;
        }
        Ok(())
    }

    /// Where a host library or interpreter goes inside the tree.
    pub(crate) fn inside(&self, host: &Path, kind: LibKind) -> PathBuf {
        match (self.placement, kind) {
            (Placement::Overlay, LibKind::Interpreter) => {
                host.strip_prefix("/").unwrap_or(host).to_path_buf()
            }
            _ => merged_usr(host),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LibKind {
    Interpreter,
    Library,
}

/// The interpreter and libraries of an ELF program, as host paths (as the host's loader
/// would find them; the caller copies the real files behind them).
pub(crate) fn libraries(program: &Path) -> Result<Vec<(PathBuf, LibKind)>> {
    libraries_in(Path::new("/"), program)
}

/// [`libraries`] for a program of the tree at `root` (a host path), with paths as seen
/// inside that tree. A library `lddtree` does not find in the places it knows is looked
/// for again in the loader's own system search path ([`loader`]).
pub(crate) fn libraries_in(root: &Path, program: &Path) -> Result<Vec<(PathBuf, LibKind)>> {
    let analyze = |extra: Vec<PathBuf>| {
        lddtree::DependencyAnalyzer::new(root.to_path_buf())
            .library_paths(extra)
            .analyze(program)
            .ctx(|| format!("cannot read the ELF dependencies of {}", program.display()))
    };
    let mut tree = analyze(Vec::new())?;
    if let Some(interp) = &tree.interpreter
        && tree.libraries.values().any(|l| l.realpath.is_none())
    {
        tree = analyze(loader::system_dirs(root, Path::new(interp)))?;
    }
    // Paths inside the tree: lddtree gives the extra directories' hits as host paths.
    let inside = |p: &Path| -> PathBuf {
        match p.strip_prefix(root) {
            Ok(rel) if root != Path::new("/") => Path::new("/").join(rel),
            _ => p.to_path_buf(),
        }
    };
    let mut out = Vec::new();
    let mut interp_real = None;
    if let Some(interp) = &tree.interpreter {
        let interp = PathBuf::from(interp);
        let on_host = root.join(interp.strip_prefix("/").unwrap_or(&interp));
        interp_real = Some(fs::canonicalize(&on_host).ctx(|| {
            format!(
                "{} needs the interpreter {}, which is missing",
                program.display(),
                interp.display()
            )
        })?);
        out.push((interp, LibKind::Interpreter));
    }
    let mut libs: Vec<_> = tree.libraries.values().collect();
    libs.sort_by(|a, b| a.name.cmp(&b.name));
    for lib in libs {
        let Some(real) = &lib.realpath else {
            return Err(Error::Missing(format!(
                "{} needs the library {}, which the loader's search path does not hold on \
                 this host",
                program.display(),
                lib.name
            )));
        };
        // libc names the interpreter too; it is loaded already and needs no second place.
        if Some(real) == interp_real.as_ref() {
            continue;
        }
        out.push((inside(&lib.path), LibKind::Library));
    }
    Ok(out)
}

/// True when the file starts with the ELF magic.
pub(crate) fn is_elf(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 4];
    let mut file = fs::File::open(path).ctx(|| format!("cannot open {}", path.display()))?;
    match file.read_exact(&mut magic) {
        Ok(()) => Ok(&magic == b"\x7fELF"),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e).ctx(|| format!("cannot read {}", path.display())),
    }
}

/// True for an ELF program that needs neither interpreter nor libraries.
pub(crate) fn is_static(path: &Path) -> bool {
    matches!(is_elf(path), Ok(true)) && matches!(libraries(path), Ok(libs) if libs.is_empty())
}

/// `/lib/x/libc.so.6` -> `usr/lib/x/libc.so.6`; `/usr/bin/ls` -> `usr/bin/ls`.
pub(crate) fn merged_usr(host: &Path) -> PathBuf {
    let rel = host.strip_prefix("/").unwrap_or(host);
    let first = rel.components().next().and_then(|c| c.as_os_str().to_str());
    match first {
        Some(f) if MERGED.contains(&f) => Path::new("usr").join(rel),
        _ => rel.to_path_buf(),
    }
}

/// A path relative to the tree, with no `..` (these paths are ours, but a slip here would
/// write into the host).
fn relative(inside: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in inside.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::Refused(format!(
                    "refusing path {} inside the tree",
                    inside.display()
                )));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(Error::Refused("empty path inside the tree".to_string()));
    }
    Ok(out)
}

/// `mkdir -p root/rel` with 0755 directories, whatever the umask.
pub(crate) fn make_dirs(root: &Path, rel: &Path) -> Result<()> {
    let mut dir = root.to_path_buf();
    for c in relative_or_empty(rel)?.components() {
        dir.push(c);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(Error::Refused(format!(
                    "{} exists and is not a directory",
                    dir.display()
                )));
            }
            Err(_) => {
                fs::create_dir(&dir)
                    .ctx(|| format!("cannot create directory {}", dir.display()))?;
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                    .ctx(|| format!("cannot chmod 0755 {}", dir.display()))?;
            }
        }
    }
    Ok(())
}

fn relative_or_empty(rel: &Path) -> Result<PathBuf> {
    if rel.as_os_str().is_empty() {
        Ok(PathBuf::new())
    } else {
        relative(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_usr_moves_top_level_dirs() {
        assert_eq!(
            merged_usr(Path::new("/lib/x86_64-linux-gnu/libc.so.6")),
            Path::new("usr/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(
            merged_usr(Path::new("/lib64/ld-linux-x86-64.so.2")),
            Path::new("usr/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(
            merged_usr(Path::new("/usr/bin/ls")),
            Path::new("usr/bin/ls")
        );
        assert_eq!(merged_usr(Path::new("/bin/sh")), Path::new("usr/bin/sh"));
        assert_eq!(merged_usr(Path::new("/opt/x")), Path::new("opt/x"));
    }

    #[test]
    fn relative_refuses_parent_components() {
        assert!(relative(Path::new("usr/../../etc")).is_err());
        assert_eq!(
            relative(Path::new("/usr/bin")).unwrap(),
            Path::new("usr/bin")
        );
    }

    #[test]
    fn copies_program_with_libraries_and_dedups_by_hard_link() {
        let t = tempfile::tempdir().unwrap();
        let sh = fs::canonicalize("/bin/sh").unwrap();
        let mut c = Copier::new(t.path(), Placement::MergedUsr, None);
        c.copy_program(&sh, Path::new("usr/bin/sh")).unwrap();
        c.copy_program(&sh, Path::new("usr/bin/other-sh")).unwrap();
        let a = fs::metadata(t.path().join("usr/bin/sh")).unwrap();
        let b = fs::metadata(t.path().join("usr/bin/other-sh")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(a.ino(), b.ino(), "second name is a hard link");
        assert_ne!(
            a.ino(),
            fs::metadata(&sh).unwrap().ino(),
            "a copy, not the host file"
        );
        for (lib, kind) in libraries(&sh).unwrap() {
            let inside = c.inside(&lib, kind);
            assert!(
                t.path().join(&inside).exists(),
                "{} missing",
                inside.display()
            );
            assert!(inside.starts_with("usr"), "{}", inside.display());
        }
    }

    /// A tree laid out like a minimal multiarch image: the loader and libc where Debian
    /// puts them, and no /etc/ld.so.conf. lddtree alone looks only in /lib, /usr/lib,
    /// /lib64 and /usr/lib64 there; the loader's system search path has the rest.
    #[test]
    fn finds_libraries_without_ld_so_conf_as_the_loader_does() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let sh = fs::canonicalize("/bin/sh").unwrap();
        let host_libs = libraries(&sh).unwrap();
        for (lib, _) in &host_libs {
            let dest = root.join(lib.strip_prefix("/").unwrap());
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(lib, &dest).unwrap();
        }
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::copy(&sh, root.join("bin/sh")).unwrap();
        assert!(!root.join("etc/ld.so.conf").exists());
        let found = libraries_in(root, &root.join("bin/sh")).unwrap();
        assert_eq!(found, host_libs, "the same libraries at the same paths");
    }

    #[test]
    fn overlay_placement_keeps_interpreter_path() {
        let c = Copier::new(Path::new("/x"), Placement::Overlay, Some(0o555));
        assert_eq!(
            c.inside(
                Path::new("/lib64/ld-linux-x86-64.so.2"),
                LibKind::Interpreter
            ),
            Path::new("lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(
            c.inside(Path::new("/lib/x/libc.so.6"), LibKind::Library),
            Path::new("usr/lib/x/libc.so.6")
        );
    }

    #[test]
    fn scripts_are_not_elf() {
        let t = tempfile::tempdir().unwrap();
        let s = t.path().join("s");
        fs::write(&s, "#!/bin/sh\necho\n").unwrap();
        assert!(!is_elf(&s).unwrap());
        assert!(!is_static(&s));
        assert!(is_elf(&fs::canonicalize("/bin/sh").unwrap()).unwrap());
    }
}
