//! Small facts about the host for a header line, and the reasons a lesson may fail before it
//! starts: no overlayfs, user namespaces disabled or restricted by AppArmor.
//!
//! Every file is read under an injectable root ([`HostRoots`]) and every parser takes text,
//! so the logic is tested on fixtures. A knob that does not exist on this kernel is `None`
//! (not an error); a file that exists but cannot be read is recorded in
//! [`HostFacts::problems`] with its path and errno, and the other facts are still gathered.

use std::path::{Path, PathBuf};

use super::error::{Error, Result};

use super::fsread::read_optional_text;

/// Where the host facts are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoots {
    /// Normally `/proc`.
    pub proc_root: PathBuf,
    /// Normally `/sys`.
    pub sys_root: PathBuf,
    /// Normally `/lib/modules`.
    pub modules_root: PathBuf,
}

impl HostRoots {
    /// The real locations, with the proc root taken from the runtime's paths.
    pub fn from_proc_root(proc_root: &Path) -> HostRoots {
        HostRoots {
            proc_root: proc_root.to_path_buf(),
            sys_root: PathBuf::from("/sys"),
            modules_root: PathBuf::from("/lib/modules"),
        }
    }

    pub fn host() -> HostRoots {
        HostRoots::from_proc_root(Path::new("/proc"))
    }
}

/// Whether `mount -t overlay` can work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// Listed in `/proc/filesystems`: built in, or its module is loaded.
    Available,
    /// Not listed, but `overlay.ko` is in `modules.dep`: the kernel loads it on the first
    /// overlay mount (as root), or `modprobe overlay` does.
    Module,
    /// Neither: lessons must fall back to a plain copied rootfs.
    Missing,
}

/// The filesystem type names in `/proc/filesystems` (proc(5)): lines of an optional `nodev`
/// flag and a name, separated by a tab.
pub fn parse_filesystems(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_whitespace().last())
        .map(str::to_string)
        .collect()
}

/// Whether `modules.dep` (from depmod(8)) has a line for the module file `<name>.ko`,
/// compressed or not. Each line is `path: dependencies...`, one per module.
pub fn modules_dep_has(text: &str, name: &str) -> bool {
    let wanted = format!("{name}.ko");
    text.lines().any(|line| {
        let path = line.split_once(':').map_or(line, |(p, _)| p);
        path.rsplit('/')
            .next()
            .is_some_and(|file| file == wanted || file.starts_with(&format!("{wanted}.")))
    })
}

/// The active LSMs from `/sys/kernel/security/lsm`: comma-separated, e.g.
/// `lockdown,capability,landlock,yama,apparmor`.
pub fn parse_lsm_list(text: &str) -> Vec<String> {
    text.trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A numeric sysctl file's content.
pub fn parse_sysctl_number(text: &str) -> Result<u64> {
    let t = text.trim();
    t.parse()
        .map_err(|_| Error::Malformed(format!("expected a number, found {t:?}")))
}

/// The knobs that decide whether an unprivileged user may create a user namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsernsKnobs {
    /// `/proc/sys/user/max_user_namespaces`: 0 disables user namespaces for everyone
    /// (namespaces(7), "The /proc/sys/user directory").
    pub max_user_namespaces: Option<u64>,
    /// `/proc/sys/kernel/unprivileged_userns_clone`: a Debian/Ubuntu kernel patch; 0 allows
    /// user namespaces only to privileged processes. Absent on other kernels.
    pub unprivileged_userns_clone: Option<bool>,
    /// `/proc/sys/kernel/apparmor_restrict_unprivileged_userns`: Ubuntu 23.10+. When 1 and
    /// AppArmor is active, an unconfined unprivileged process may create a user namespace but
    /// gets no capabilities in it, so the failure shows up later as EPERM on `uid_map` or
    /// `mount`.
    pub apparmor_restrict_unprivileged_userns: Option<bool>,
}

/// The verdict for unprivileged (rootless) use. Root is not affected by any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsernsVerdict {
    Allowed,
    /// No unprivileged user namespaces at all.
    Disabled {
        reason: String,
        remedy: String,
    },
    /// Created, but powerless, unless an AppArmor profile allows `userns`.
    RestrictedByAppArmor {
        reason: String,
        remedy: String,
    },
}

impl UsernsVerdict {
    pub fn remedy(&self) -> Option<&str> {
        match self {
            UsernsVerdict::Allowed => None,
            UsernsVerdict::Disabled { remedy, .. }
            | UsernsVerdict::RestrictedByAppArmor { remedy, .. } => Some(remedy),
        }
    }

    pub fn is_allowed(&self) -> bool {
        matches!(self, UsernsVerdict::Allowed)
    }
}

/// An AppArmor profile that lets `binary` create user namespaces with capabilities in them,
/// the way Ubuntu's own profiles for browsers and podman do. Install it as
/// `/etc/apparmor.d/underhood` and load it with `sudo apparmor_parser -r` on that file.
pub fn apparmor_profile(binary: &Path) -> String {
    format!(
        "abi <abi/4.0>,\ninclude <tunables/global>\n\nprofile underhood {} flags=(unconfined) {{\n  userns,\n}}\n",
        binary.display()
    )
}

impl UsernsKnobs {
    /// Decides from the knobs and, if known, the active LSMs: the AppArmor knob only bites
    /// when AppArmor is active, so a known LSM list without `apparmor` overrides it.
    pub fn verdict(&self, lsms: Option<&[String]>) -> UsernsVerdict {
        if self.max_user_namespaces == Some(0) {
            return UsernsVerdict::Disabled {
                reason: "user.max_user_namespaces is 0: no process may create a user namespace"
                    .to_string(),
                remedy:
                    "run `sudo sysctl user.max_user_namespaces=15000`, or run underhood as root"
                        .to_string(),
            };
        }
        if self.unprivileged_userns_clone == Some(false) {
            return UsernsVerdict::Disabled {
                reason:
                    "kernel.unprivileged_userns_clone is 0: only root may create user namespaces"
                        .to_string(),
                remedy:
                    "run `sudo sysctl kernel.unprivileged_userns_clone=1`, or run underhood as root"
                        .to_string(),
            };
        }
        let apparmor_active = lsms.is_none_or(|l| l.iter().any(|m| m == "apparmor"));
        if self.apparmor_restrict_unprivileged_userns == Some(true) && apparmor_active {
            return UsernsVerdict::RestrictedByAppArmor {
                reason:
                    "kernel.apparmor_restrict_unprivileged_userns is 1: a user namespace can be \
                         created but gets no capabilities, so writing uid_map or mounting fails \
                         later with EPERM"
                        .to_string(),
                remedy: "run `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0` (until \
                         reboot), or install an AppArmor profile for underhood that allows \
                         `userns,` (a file in /etc/apparmor.d/, loaded with \
                         `sudo apparmor_parser -r FILE`), or run underhood as root"
                    .to_string(),
            };
        }
        UsernsVerdict::Allowed
    }
}

/// Facts for the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// From uname(2): the hostname of the *caller's* UTS namespace.
    pub hostname: String,
    pub kernel_release: String,
    /// Effective uid 0.
    pub is_root: bool,
    pub overlay: Overlay,
    pub userns: UsernsKnobs,
    /// `None` when `/sys/kernel/security/lsm` is absent (securityfs not mounted).
    pub lsms: Option<Vec<String>>,
    /// Files that exist but could not be read or parsed, with path and errno.
    pub problems: Vec<String>,
}

impl HostFacts {
    pub fn userns_verdict(&self) -> UsernsVerdict {
        self.userns.verdict(self.lsms.as_deref())
    }
}

/// Reads an optional file and parses it; absence is `None`, failures go to `problems`.
fn optional<T>(
    path: &Path,
    problems: &mut Vec<String>,
    parse: impl Fn(&str) -> Result<T>,
) -> Option<T> {
    match read_optional_text(path) {
        Ok(Some(text)) => match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(format!("parsing {}: {e:#}", path.display()));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            problems.push(format!("{e:#}"));
            None
        }
    }
}

/// Gathers the host facts. Never fails as a whole; see [`HostFacts::problems`].
pub fn read_host_facts(roots: &HostRoots) -> HostFacts {
    let mut problems = Vec::new();
    let (hostname, kernel_release) = match nix::sys::utsname::uname() {
        Ok(u) => (
            u.nodename().to_string_lossy().into_owned(),
            u.release().to_string_lossy().into_owned(),
        ),
        Err(e) => {
            problems.push(format!("uname: {e:?}: {}", e.desc()));
            (String::new(), String::new())
        }
    };

    let fs_path = roots.proc_root.join("filesystems");
    let filesystems = optional(&fs_path, &mut problems, |t| Ok(parse_filesystems(t)));
    let overlay = if filesystems.is_some_and(|f| f.iter().any(|n| n == "overlay")) {
        Overlay::Available
    } else {
        let dep = roots.modules_root.join(&kernel_release).join("modules.dep");
        match optional(&dep, &mut problems, |t| Ok(modules_dep_has(t, "overlay"))) {
            Some(true) => Overlay::Module,
            _ => Overlay::Missing,
        }
    };

    let sys = roots.proc_root.join("sys");
    let flag = |t: &str| parse_sysctl_number(t).map(|n| n != 0);
    let userns = UsernsKnobs {
        max_user_namespaces: optional(
            &sys.join("user/max_user_namespaces"),
            &mut problems,
            parse_sysctl_number,
        ),
        unprivileged_userns_clone: optional(
            &sys.join("kernel/unprivileged_userns_clone"),
            &mut problems,
            flag,
        ),
        apparmor_restrict_unprivileged_userns: optional(
            &sys.join("kernel/apparmor_restrict_unprivileged_userns"),
            &mut problems,
            flag,
        ),
    };
    let lsms = optional(
        &roots.sys_root.join("kernel/security/lsm"),
        &mut problems,
        |t| Ok(parse_lsm_list(t)),
    );

    HostFacts {
        hostname,
        kernel_release,
        is_root: nix::unistd::geteuid().is_root(),
        overlay,
        userns,
        lsms,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/filesystems` on the development machine.
    const FILESYSTEMS: &str = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tcgroup\nnodev\tcgroup2\nnodev\tcpuset\nnodev\tdevtmpfs\nnodev\tbinfmt_misc\nnodev\tdebugfs\nnodev\ttracefs\nnodev\tsecurityfs\nnodev\tsockfs\nnodev\tbpf\nnodev\tpipefs\nnodev\tramfs\nnodev\thugetlbfs\nnodev\tdevpts\n\text3\n\text2\n\text4\n\tsquashfs\nnodev\tautofs\n\tfuseblk\nnodev\tfuse\nnodev\tfusectl\nnodev\toverlay\n\txfs\n\terofs\nnodev\tmqueue\n\tbtrfs\nnodev\tpstore\n";

    /// Lines in the format of Debian's `modules.dep` (this machine has no /lib/modules).
    const MODULES_DEP: &str = "kernel/fs/overlayfs/overlay.ko.xz:\nkernel/drivers/net/veth.ko.xz:\nkernel/fs/fuse/cuse.ko.xz: kernel/fs/fuse/fuse.ko.xz\n";

    #[test]
    fn parses_filesystems_and_modules() {
        let names = parse_filesystems(FILESYSTEMS);
        assert_eq!(names.len(), 31);
        assert!(names.contains(&"overlay".to_string()));
        assert!(names.contains(&"ext4".to_string()));
        assert!(!names.contains(&"nodev".to_string()));
        assert!(modules_dep_has(MODULES_DEP, "overlay"));
        assert!(modules_dep_has(MODULES_DEP, "veth"));
        // Only a module's own line counts (every module has one); dependencies do not.
        assert!(!modules_dep_has(MODULES_DEP, "fuse"));
        assert!(modules_dep_has(
            "kernel/fs/overlayfs/overlay.ko:\n",
            "overlay"
        ));
        assert!(!modules_dep_has(MODULES_DEP, "over"));
        assert!(!modules_dep_has("kernel/x/overlayfoo.ko:\n", "overlay"));
    }

    #[test]
    fn parses_lsm_and_sysctl() {
        // Ubuntu 24.04's list.
        assert_eq!(
            parse_lsm_list("lockdown,capability,landlock,yama,apparmor\n"),
            ["lockdown", "capability", "landlock", "yama", "apparmor"]
        );
        assert!(parse_lsm_list("").is_empty());
        // This machine's max_user_namespaces.
        assert_eq!(parse_sysctl_number("96364\n").expect("number"), 96364);
        let err = parse_sysctl_number("yes\n").unwrap_err().to_string();
        assert!(err.contains("\"yes\""), "{err}");
    }

    fn lsms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn userns_verdicts() {
        let open = UsernsKnobs {
            max_user_namespaces: Some(96364),
            ..Default::default()
        };
        assert_eq!(open.verdict(None), UsernsVerdict::Allowed);

        let zero = UsernsKnobs {
            max_user_namespaces: Some(0),
            ..open
        };
        assert!(matches!(zero.verdict(None), UsernsVerdict::Disabled { .. }));
        assert!(
            zero.verdict(None)
                .remedy()
                .is_some_and(|r| r.contains("max_user_namespaces="))
        );

        let debian = UsernsKnobs {
            unprivileged_userns_clone: Some(false),
            ..open
        };
        assert!(
            debian
                .verdict(None)
                .remedy()
                .is_some_and(|r| r.contains("unprivileged_userns_clone=1"))
        );

        let ubuntu = UsernsKnobs {
            unprivileged_userns_clone: Some(true),
            apparmor_restrict_unprivileged_userns: Some(true),
            ..open
        };
        let v = ubuntu.verdict(Some(&lsms(&["lockdown", "capability", "apparmor"])));
        assert!(matches!(v, UsernsVerdict::RestrictedByAppArmor { .. }));
        assert!(v.remedy().is_some_and(|r| {
            r.contains("sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0")
                && r.contains("AppArmor profile")
        }));
        // Unknown LSMs: assume the knob bites. Known LSMs without AppArmor: it does not.
        assert!(!ubuntu.verdict(None).is_allowed());
        assert!(
            ubuntu
                .verdict(Some(&lsms(&["capability", "selinux"])))
                .is_allowed()
        );
    }

    #[test]
    fn profile_allows_userns_for_the_binary() {
        let p = apparmor_profile(Path::new("/usr/local/bin/underhood"));
        assert!(p.contains("profile underhood /usr/local/bin/underhood flags=(unconfined) {"));
        assert!(p.contains("  userns,\n"));
    }

    /// A fake /proc, /sys and /lib/modules, removed on drop.
    struct Fake(PathBuf);

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(path: &Path, text: &str) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("fixture dir");
        }
        std::fs::write(path, text).expect("fixture file");
    }

    #[test]
    fn reads_facts_from_an_injected_root() {
        let base = std::env::temp_dir().join(format!("underhood-host-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let fake = Fake(base.clone());
        let roots = HostRoots {
            proc_root: base.join("proc"),
            sys_root: base.join("sys"),
            modules_root: base.join("modules"),
        };
        let release = nix::sys::utsname::uname()
            .expect("uname")
            .release()
            .to_string_lossy()
            .into_owned();
        // An Ubuntu-like host: overlay not loaded yet but available as a module, AppArmor
        // restricting user namespaces, and a garbled knob to show problems are kept.
        write(
            &roots.proc_root.join("filesystems"),
            "nodev\tproc\n\text4\n",
        );
        write(
            &roots.modules_root.join(&release).join("modules.dep"),
            MODULES_DEP,
        );
        write(
            &roots.proc_root.join("sys/user/max_user_namespaces"),
            "garbage\n",
        );
        write(
            &roots
                .proc_root
                .join("sys/kernel/apparmor_restrict_unprivileged_userns"),
            "1\n",
        );
        write(
            &roots.sys_root.join("kernel/security/lsm"),
            "lockdown,capability,landlock,yama,apparmor",
        );
        let facts = read_host_facts(&roots);
        assert_eq!(facts.overlay, Overlay::Module);
        assert_eq!(facts.userns.max_user_namespaces, None);
        assert_eq!(facts.userns.unprivileged_userns_clone, None, "absent knob");
        assert_eq!(
            facts.userns.apparmor_restrict_unprivileged_userns,
            Some(true)
        );
        assert!(matches!(
            facts.userns_verdict(),
            UsernsVerdict::RestrictedByAppArmor { .. }
        ));
        assert_eq!(facts.problems.len(), 1, "{:?}", facts.problems);
        assert!(
            facts.problems[0].contains("max_user_namespaces")
                && facts.problems[0].contains("garbage")
        );

        std::fs::remove_dir_all(roots.modules_root.join(&release)).expect("removing modules");
        assert_eq!(read_host_facts(&roots).overlay, Overlay::Missing);
        drop(fake);
    }

    #[test]
    fn live_host_facts() {
        let facts = read_host_facts(&HostRoots::host());
        let u = nix::sys::utsname::uname().expect("uname");
        assert_eq!(facts.kernel_release, u.release().to_string_lossy());
        assert!(!facts.hostname.is_empty());
        assert_eq!(facts.is_root, nix::unistd::geteuid().is_root());
        // /proc/sys/user/max_user_namespaces exists since Linux 4.9.
        assert!(facts.userns.max_user_namespaces.is_some(), "{facts:?}");
        assert!(facts.problems.is_empty(), "{:?}", facts.problems);
    }
}
