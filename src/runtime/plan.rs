//! From options to the ordered list of steps of one launch.
//!
//! The order is forced by the kernel:
//! - the user namespace first: every namespace made after it is owned by it, so root
//!   inside has capabilities over them (user_namespaces(7));
//! - the cgroup is joined before `unshare(CLONE_NEWCGROUP)`, so that the container's
//!   own cgroup is what it sees as `/` (cgroup_namespaces(7));
//! - the time namespace before the PID fork: it applies to children only and its
//!   offsets must be written before the first child enters it (time_namespaces(7));
//! - the PID namespace applies to children only, so the subject forks right after
//!   it and the child, PID 1, carries on (pid_namespaces(7));
//! - /proc is mounted after that fork, so it shows the new PID namespace;
//! - security last, because the earlier steps need the capabilities it drops.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::step::{IdMap, LimitSpec, RootMode, RootfsSpec, Step, Veth, Volume};
use crate::ns::Ns;

/// The capabilities the command keeps: Docker's default set less CAP_MKNOD.
/// CAP_SYS_ADMIN (mount, and much more), CAP_NET_ADMIN, CAP_SYS_PTRACE,
/// CAP_SYS_MODULE, CAP_SYS_TIME and the rest are dropped from every set, the bounding
/// set included.
///
/// Why not CAP_MKNOD: Docker keeps it because its device cgroup (v1 `devices`, a v2
/// eBPF program) decides which device nodes open. We have no device cgroup; what
/// stands instead is nodev on every filesystem the container can write (overlay root,
/// /dev, /dev/shm, /tmp, every volume) and, second, no CAP_MKNOD: mknod(2) of a device
/// fails with EPERM (capabilities(7)). `run --cap-add CAP_MKNOD` gives it back (the
/// escape suite does, to show that nodev alone still holds).
pub const DEFAULT_CAPS: [&str; 13] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The names of the steps, in launch order, as lesson files write them.
pub const STEP_NAMES: [&str; 14] = [
    "user",
    "uts",
    "ipc",
    "net",
    "mount",
    "cgroup",
    "cgroupns",
    "time",
    "pid",
    "rootfs",
    "pivot_root",
    "chroot",
    "security",
    "exec",
];

#[derive(Debug, Clone, PartialEq)]
pub enum NetMode {
    None,
    Veth,
}

/// What the user asked for (the `run` flags, or a lesson's settings).
#[derive(Debug, Clone)]
pub struct Options {
    pub hostname: String,
    pub limits: LimitSpec,
    pub volumes: Vec<Volume>,
    pub net: NetMode,
    /// Namespaces kept shared with the host.
    pub share: BTreeSet<Ns>,
    /// Add a user namespace even as root (always added when not root).
    pub userns: bool,
    pub root_mode: RootMode,
    pub time_offset_secs: i64,
    /// Syscalls the seccomp filter blocks besides the defaults (a lesson's own).
    pub extra_deny: Vec<String>,
    /// Capabilities to keep instead of `DEFAULT_CAPS` (a lesson's own).
    pub keep_caps: Option<Vec<String>>,
    pub argv: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hostname: "underhood".into(),
            limits: LimitSpec::default(),
            volumes: Vec::new(),
            net: NetMode::None,
            share: BTreeSet::new(),
            userns: false,
            root_mode: RootMode::PivotRoot,
            time_offset_secs: 0,
            extra_deny: Vec::new(),
            keep_caps: None,
            argv: vec!["/bin/sh".into()],
        }
    }
}

/// What the controller knows when it plans: who runs it and where this session lives.
#[derive(Debug, Clone)]
pub struct Context {
    pub session_id: String,
    pub euid: u32,
    pub egid: u32,
    /// Read-only layers, top first.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    pub term: Option<String>,
}

impl Options {
    pub fn uses(&self, ns: Ns, ctx: &Context) -> bool {
        if ns == Ns::User {
            return ctx.euid != 0 || self.userns;
        }
        !self.share.contains(&ns)
    }
}

/// The host uid range root inside maps to when root asks for a user namespace.
pub const ROOT_USERNS_BASE: u32 = 100_000;

pub fn id_maps(ctx: &Context) -> (IdMap, IdMap) {
    if ctx.euid == 0 {
        let m = IdMap {
            inside: 0,
            outside: ROOT_USERNS_BASE,
            count: 65536,
        };
        (m, m)
    } else {
        // An unprivileged process may map only its own ids, one each (user_namespaces(7)).
        (
            IdMap {
                inside: 0,
                outside: ctx.euid,
                count: 1,
            },
            IdMap {
                inside: 0,
                outside: ctx.egid,
                count: 1,
            },
        )
    }
}

/// veth names fit IFNAMSIZ (15): `uh` + 8 hex digits + `h`/`c`.
pub fn veth_for(session_id: &str) -> Veth {
    let short: String = session_id.chars().take(8).collect();
    let bytes = u32::from_str_radix(&short, 16).unwrap_or(0).to_be_bytes();
    let third = bytes[0];
    let fourth = (bytes[1] & 0x3f) << 2;
    Veth {
        host_name: format!("uh{short}h"),
        peer_name: format!("uh{short}c"),
        host_addr: Ipv4Addr::new(10, 213, third, fourth + 1),
        container_addr: Ipv4Addr::new(10, 213, third, fourth + 2),
        prefix: 30,
    }
}

pub fn build(opts: &Options, ctx: &Context) -> Vec<Step> {
    let mut steps = Vec::new();
    if opts.uses(Ns::User, ctx) {
        let (uid, gid) = id_maps(ctx);
        steps.push(Step::User { uid, gid });
    }
    if opts.uses(Ns::Uts, ctx) {
        steps.push(Step::Uts {
            hostname: opts.hostname.clone(),
        });
    }
    if opts.uses(Ns::Ipc, ctx) {
        steps.push(Step::Ipc);
    }
    if opts.uses(Ns::Net, ctx) {
        let veth = (opts.net == NetMode::Veth).then(|| veth_for(&ctx.session_id));
        steps.push(Step::Net { veth });
    }
    let own_mounts = opts.uses(Ns::Mount, ctx);
    if own_mounts {
        steps.push(Step::Mount);
    }
    let l = &opts.limits;
    if l.memory.is_some() || l.pids.is_some() || l.cpus.is_some() {
        steps.push(Step::Cgroup {
            limits: opts.limits.clone(),
        });
    }
    if opts.uses(Ns::Cgroup, ctx) {
        steps.push(Step::CgroupNs);
    }
    if opts.uses(Ns::Time, ctx) {
        steps.push(Step::Time {
            offset_secs: opts.time_offset_secs,
        });
    }
    if opts.uses(Ns::Pid, ctx) {
        steps.push(Step::Pid);
    }
    // Without a mount namespace of its own the container would mount onto the
    // host's tree: no root filesystem then, the command sees the host's files.
    if own_mounts {
        steps.push(Step::Rootfs(RootfsSpec {
            lower: ctx.lower.clone(),
            upper: ctx.upper.clone(),
            work: ctx.work.clone(),
            merged: ctx.merged.clone(),
            volumes: opts.volumes.clone(),
            scratch: None,
        }));
        steps.push(Step::EnterRoot {
            mode: opts.root_mode,
            new_root: ctx.merged.clone(),
        });
    }
    let mut deny: Vec<String> = super::security::DEFAULT_DENY
        .iter()
        .map(|c| c.to_string())
        .collect();
    for d in &opts.extra_deny {
        if !deny.contains(d) {
            deny.push(d.clone());
        }
    }
    steps.push(Step::Security {
        keep: opts
            .keep_caps
            .clone()
            .unwrap_or_else(|| DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()),
        deny,
    });
    let mut env = vec![
        (
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ),
        ("HOME".to_string(), "/root".to_string()),
        ("HOSTNAME".to_string(), opts.hostname.clone()),
        ("container".to_string(), "underhood".to_string()),
    ];
    if let Some(term) = &ctx.term {
        env.push(("TERM".to_string(), term.clone()));
    }
    steps.push(Step::Exec {
        argv: opts.argv.clone(),
        env,
    });
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(euid: u32) -> Context {
        Context {
            session_id: "0a1b2c3d".into(),
            euid,
            egid: euid,
            lower: vec!["/cache/tools".into(), "/cache/rootfs".into()],
            upper: "/run/underhood/0a1b2c3d/upper".into(),
            work: "/run/underhood/0a1b2c3d/work".into(),
            merged: "/run/underhood/0a1b2c3d/merged".into(),
            term: None,
        }
    }

    fn titles(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| {
                let t = s.title();
                t.split(' ').next().unwrap_or_default().to_string()
            })
            .collect()
    }

    #[test]
    fn root_default_order() {
        let mut o = Options::default();
        o.limits.memory = Some(32 << 20);
        let steps = build(&o, &ctx(0));
        assert_eq!(
            titles(&steps),
            [
                "UTS",
                "IPC",
                "network",
                "mount",
                "cgroup",
                "cgroup",
                "time",
                "PID",
                "root",
                "pivot_root",
                "security",
                "exec"
            ]
        );
    }

    #[test]
    fn rootless_starts_with_user_namespace_mapping_own_ids() {
        let steps = build(&Options::default(), &ctx(1000));
        match &steps[0] {
            Step::User { uid, gid } => {
                assert_eq!((uid.inside, uid.outside, uid.count), (0, 1000, 1));
                assert_eq!(gid.outside, 1000);
            }
            other => panic!("first step is {other:?}"),
        }
        // No limits asked: no cgroup step.
        assert!(!steps.iter().any(|s| matches!(s, Step::Cgroup { .. })));
    }

    #[test]
    fn share_keeps_namespaces_and_mount_sharing_skips_rootfs() {
        let o = Options {
            share: [Ns::Net, Ns::Mount].into_iter().collect(),
            ..Default::default()
        };
        let steps = build(&o, &ctx(0));
        assert!(!steps.iter().any(|s| s.namespace() == Some(Ns::Net)));
        assert!(!steps.iter().any(|s| matches!(s, Step::Rootfs(_))));
        assert!(!steps.iter().any(|s| matches!(s, Step::EnterRoot { .. })));
    }

    #[test]
    fn cgroup_joined_before_cgroupns_and_time_before_pid() {
        let mut o = Options::default();
        o.limits.pids = Some(10);
        let steps = build(&o, &ctx(0));
        let pos = |f: &dyn Fn(&Step) -> bool| steps.iter().position(f).unwrap();
        assert!(pos(&|s| matches!(s, Step::Cgroup { .. })) < pos(&|s| *s == Step::CgroupNs));
        assert!(pos(&|s| matches!(s, Step::Time { .. })) < pos(&|s| *s == Step::Pid));
        assert!(pos(&|s| *s == Step::Pid) < pos(&|s| matches!(s, Step::Rootfs(_))));
    }

    #[test]
    fn veth_names_fit_ifnamsiz_and_addresses_pair_up() {
        let v = veth_for("ffffffff99");
        assert!(v.host_name.len() <= 15 && v.peer_name.len() <= 15);
        let h = u32::from(v.host_addr);
        let c = u32::from(v.container_addr);
        assert_eq!(h >> 2, c >> 2, "same /30");
        assert_ne!(h & 3, 0);
        assert_ne!(c & 3, 3);
    }
}
