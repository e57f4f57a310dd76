//! What the subject does for each step, through the `Sys` trait so the sequences are
//! tested without root. The PID fork and the exec are process control and live in
//! `subject.rs`; the controller's half of each step lives in `controller.rs`.

use std::path::Path;

use nix::errno::Errno;

use super::mounts;
use super::namespaces::{Ns, flag_names};
use super::report::Report;
use super::security;
use super::step::{Step, Veth};
use super::sys::Sys;

/// unshare(2) of one namespace type, recorded with its unshare(1) equivalent.
pub fn unshare(sys: &mut dyn Sys, r: &mut Report, ns: Ns) -> nix::Result<()> {
    let res = sys.unshare(ns.flag());
    r.call("unshare", flag_names(ns.flag()), res)?;
    r.shell(format!("unshare {}", ns.unshare_option()));
    Ok(())
}

/// Performs the subject's part of `step`. `in_userns` says whether a user namespace
/// was made earlier in this launch (overlayfs needs to know).
pub fn perform(
    sys: &mut dyn Sys,
    r: &mut Report,
    step: &Step,
    in_userns: bool,
) -> Result<(), Errno> {
    match step {
        Step::User { .. } => {
            unshare(sys, r, Ns::User)?;
            r.note(
                "until the controller writes uid_map, every id here shows as the overflow id 65534",
            );
        }
        Step::Uts { hostname } => {
            unshare(sys, r, Ns::Uts)?;
            let res = sys.sethostname(hostname);
            r.call("sethostname", format!("{hostname:?}"), res)?;
            r.shell(format!("hostname {hostname}"));
            r.note("the host keeps its own name: only this namespace changed");
        }
        Step::Ipc => {
            unshare(sys, r, Ns::Ipc)?;
            r.note("System V message queues, semaphores and shared memory of the host are gone from view");
        }
        Step::Net { .. } => {
            unshare(sys, r, Ns::Net)?;
            let res = sys.link_up("lo");
            r.call("ioctl", "SIOCSIFFLAGS, \"lo\", IFF_UP", res)?;
            r.shell("ip link set lo up");
            r.note("a new network namespace has only a loopback device, and it starts down");
        }
        Step::Mount => {
            unshare(sys, r, Ns::Mount)?;
            mounts::make_rslave(sys, r)?;
        }
        Step::CgroupNs => {
            unshare(sys, r, Ns::Cgroup)?;
            r.note("/proc/self/cgroup now shows the container's cgroup as /");
        }
        Step::Time { offset_secs } => {
            unshare(sys, r, Ns::Time)?;
            // Offsets apply to the children that enter time_for_children; they can be
            // written only before the first one does (time_namespaces(7)).
            let content = format!("monotonic {offset_secs} 0\nboottime {offset_secs} 0\n");
            let path = Path::new("/proc/self/timens_offsets");
            let res = sys.write_file(path, &content);
            r.call(
                "write",
                format!("\"/proc/self/timens_offsets\", {content:?}"),
                res,
            )?;
            r.shell(format!(
                "unshare --time --monotonic {offset_secs} --boottime {offset_secs}"
            ));
        }
        Step::Rootfs(spec) => mounts::rootfs(sys, r, spec, in_userns)?,
        Step::EnterRoot { mode, new_root } => mounts::enter_root(sys, r, *mode, new_root)?,
        Step::Security { keep, deny } => {
            let keep = match security::parse_caps(keep) {
                Ok(k) => k,
                Err(e) => {
                    r.note(e.to_string());
                    return Err(Errno::EINVAL);
                }
            };
            let program = match security::filter(deny) {
                Ok(p) => p,
                Err(e) => {
                    r.note(e.to_string());
                    return Err(Errno::EINVAL);
                }
            };
            security::apply(sys, r, &keep, &program, deny)?;
        }
        Step::Cgroup { .. } | Step::Pid | Step::Exec { .. } => {
            // Done by the controller, or by subject.rs as process control.
            return Err(Errno::ENOTSUP);
        }
    }
    Ok(())
}

/// After the controller wrote the id maps: become uid/gid 0 *inside*. Our process
/// keeps its old ids until it sets them, and when it was started by root with a map
/// like `0 100000 65536` its old uid 0 has no mapping in the namespace at all, which
/// overlayfs and others refuse (EACCES). setgroups(2) is allowed only when the
/// controller did not write `deny` to /proc/<pid>/setgroups (i.e. when it is root).
pub fn become_root(sys: &mut dyn Sys, r: &mut Report, can_setgroups: bool) -> nix::Result<()> {
    if can_setgroups {
        let res = sys.clear_groups();
        r.call("setgroups", "0, []", res)?;
    }
    let res = sys.setresgid(0);
    r.call("setresgid", "0, 0, 0", res)?;
    let res = sys.setresuid(0);
    r.call("setresuid", "0, 0, 0", res)?;
    // Changing ids clears the dumpable flag, which makes /proc/self owned by the
    // host's root (unmapped here): we could no longer write timens_offsets.
    let res = sys.set_dumpable();
    r.call("prctl", "PR_SET_DUMPABLE, 1", res)?;
    r.note("root inside the user namespace now; on the host these are the mapped ids");
    Ok(())
}

/// The container's end of the veth pair, once the controller has moved it in:
/// renamed to eth0, addressed, up, with a default route via the host's end.
pub fn configure_veth(sys: &mut dyn Sys, r: &mut Report, veth: &Veth) -> nix::Result<()> {
    let res = sys.rename_link(&veth.peer_name, "eth0");
    r.call(
        "ioctl",
        format!("SIOCSIFNAME, {:?} -> \"eth0\"", veth.peer_name),
        res,
    )?;
    let res = sys.set_addr("eth0", veth.container_addr, veth.prefix);
    r.call(
        "ioctl",
        format!(
            "SIOCSIFADDR+SIOCSIFNETMASK, \"eth0\", {}/{}",
            veth.container_addr, veth.prefix
        ),
        res,
    )?;
    let res = sys.link_up("eth0");
    r.call("ioctl", "SIOCSIFFLAGS, \"eth0\", IFF_UP", res)?;
    let res = sys.default_route(veth.host_addr);
    r.call(
        "ioctl",
        format!("SIOCADDRT, default via {}", veth.host_addr),
        res,
    )?;
    r.shell(format!(
        "ip link set {} name eth0 && ip addr add {}/{} dev eth0 && ip link set eth0 up && ip route add default via {}",
        veth.peer_name, veth.container_addr, veth.prefix, veth.host_addr
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sys::{Call, Recorder};
    use nix::sched::CloneFlags;

    #[test]
    fn uts_unshares_then_sets_the_name() {
        let mut sys = Recorder::default();
        let mut r = Report::new("uts");
        perform(
            &mut sys,
            &mut r,
            &Step::Uts {
                hostname: "box".into(),
            },
            false,
        )
        .unwrap();
        assert_eq!(
            sys.calls,
            vec![
                Call::Unshare(CloneFlags::CLONE_NEWUTS),
                Call::SetHostname("box".into())
            ]
        );
        assert_eq!(r.shell, vec!["unshare --uts", "hostname box"]);
    }

    #[test]
    fn mount_step_makes_the_tree_rslave() {
        let mut sys = Recorder::default();
        let mut r = Report::new("mount");
        perform(&mut sys, &mut r, &Step::Mount, false).unwrap();
        assert_eq!(sys.calls[0], Call::Unshare(CloneFlags::CLONE_NEWNS));
        match &sys.calls[1] {
            Call::Mount { target, flags, .. } => {
                assert_eq!(target, Path::new("/"));
                assert!(
                    flags.contains(nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn time_writes_offsets_after_unshare() {
        let mut sys = Recorder::default();
        let mut r = Report::new("time");
        perform(&mut sys, &mut r, &Step::Time { offset_secs: 86400 }, false).unwrap();
        assert_eq!(sys.calls[0], Call::Unshare(Ns::Time.flag()));
        assert_eq!(
            sys.calls[1],
            Call::WriteFile(
                "/proc/self/timens_offsets".into(),
                "monotonic 86400 0\nboottime 86400 0\n".into()
            )
        );
    }

    #[test]
    fn net_brings_lo_up() {
        let mut sys = Recorder::default();
        let mut r = Report::new("net");
        perform(&mut sys, &mut r, &Step::Net { veth: None }, false).unwrap();
        assert_eq!(sys.calls[1], Call::LinkUp("lo".into()));
    }

    #[test]
    fn an_unshare_failure_is_reported_with_its_errno() {
        let mut sys = Recorder {
            fail: Some((|c| matches!(c, Call::Unshare(_)), Errno::EPERM)),
            ..Default::default()
        };
        let mut r = Report::new("ipc");
        assert_eq!(
            perform(&mut sys, &mut r, &Step::Ipc, false),
            Err(Errno::EPERM)
        );
        assert_eq!(r.calls[0].args, "CLONE_NEWIPC");
        assert!(r.render().contains("-1 EPERM"));
    }

    #[test]
    fn veth_inside_is_renamed_addressed_and_routed() {
        let v = crate::runtime::plan::veth_for("0a0b0c0d");
        let mut sys = Recorder::default();
        let mut r = Report::new("veth");
        configure_veth(&mut sys, &mut r, &v).unwrap();
        assert_eq!(
            sys.calls[0],
            Call::RenameLink(v.peer_name.clone(), "eth0".into())
        );
        assert_eq!(sys.calls[3], Call::DefaultRoute(v.host_addr));
    }
}
