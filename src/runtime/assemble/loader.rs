//! Where the host's dynamic loader looks for libraries, so that a copy finds what the
//! loader would (ld.so(8), "Shared libraries are searched in this order"): DT_RPATH,
//! LD_LIBRARY_PATH, DT_RUNPATH, `/etc/ld.so.cache` (made from `/etc/ld.so.conf`), and
//! last the loader's own *system search path*, compiled into it. `lddtree` knows the
//! first ones and the generic `/lib`, `/usr/lib`, but not the system search path, which
//! on Debian and Ubuntu is the multiarch pair `/lib/<triplet>`, `/usr/lib/<triplet>`:
//! on a host without `/etc/ld.so.conf` (minimal images) libc.so.6 is only there.
//!
//! The loader says its own path: `ld.so --help` (glibc 2.33 and later) lists each
//! directory with "(system search path)". Where it cannot tell (older glibc, musl, a
//! loader that does not run), the multiarch directories of this architecture stand in.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The system search path of the loader `interp` (a path under `root`), as directories
/// under `root`, in the loader's order.
pub(crate) fn system_dirs(root: &Path, interp: &Path) -> Vec<PathBuf> {
    let inside = |d: &str| root.join(d.trim_start_matches('/'));
    let listed = Command::new(inside(&interp.to_string_lossy()))
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| parse_help(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default();
    let dirs = if listed.is_empty() {
        fallback(std::env::consts::ARCH)
    } else {
        listed
    };
    dirs.iter().map(|d| inside(d)).collect()
}

/// The directories `ld.so --help` marks "(system search path)", in order.
pub(crate) fn parse_help(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_suffix("(system search path)"))
        .map(|d| d.trim().to_string())
        .filter(|d| d.starts_with('/'))
        .collect()
}

/// Debian's multiarch directories for `arch` (Rust's name), then the generic ones: what
/// glibc's configure makes the system search path on multiarch distributions.
pub(crate) fn fallback(arch: &str) -> Vec<String> {
    let triplet = match arch {
        "x86_64" => Some("x86_64-linux-gnu"),
        "aarch64" => Some("aarch64-linux-gnu"),
        "arm" => Some("arm-linux-gnueabihf"),
        "x86" => Some("i386-linux-gnu"),
        "riscv64" => Some("riscv64-linux-gnu"),
        "powerpc64" => Some("powerpc64le-linux-gnu"),
        "s390x" => Some("s390x-linux-gnu"),
        _ => None,
    };
    let mut dirs = Vec::new();
    if let Some(t) = triplet {
        dirs.push(format!("/lib/{t}"));
        dirs.push(format!("/usr/lib/{t}"));
    }
    dirs.extend(["/lib64", "/usr/lib64", "/lib", "/usr/lib"].map(String::from));
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_text_gives_the_system_search_path_in_order() {
        // Pasted from Debian 12's `/lib64/ld-linux-x86-64.so.2 --help` (glibc 2.36).
        let text = "\
Shared library search path:
  (libraries located via /etc/ld.so.cache)
  /lib/x86_64-linux-gnu (system search path)
  /usr/lib/x86_64-linux-gnu (system search path)
  /lib (system search path)
  /usr/lib (system search path)

Subdirectories of glibc-hwcaps directories, in priority order:
  x86-64-v3 (supported, searched)
";
        assert_eq!(
            parse_help(text),
            [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib",
                "/usr/lib"
            ]
        );
        assert!(parse_help("ld.so: unrecognized option '--help'").is_empty());
    }

    #[test]
    fn fallback_starts_with_multiarch() {
        assert_eq!(fallback("x86_64")[0], "/lib/x86_64-linux-gnu");
        assert_eq!(fallback("mips").first().map(String::as_str), Some("/lib64"));
    }
}
