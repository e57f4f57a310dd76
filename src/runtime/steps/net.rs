//! The network namespace (network_namespaces(7)): the subject unshares CLONE_NEWNET
//! and brings `lo` up. With a veth pair, the controller then creates it from outside
//! with the peer end already in the container's namespace (`ip link add ... netns
//! PID`: netlink, there is no ioctl for it), addresses the host end, and the subject
//! configures its end (`Request::ConfigureVeth`). Teardown deletes the host end if the
//! kernel has not already (it does when the namespace goes).

use std::net::Ipv4Addr;
use std::path::Path;

use crate::runtime::launch_error::{Ctx, Error, Result};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{Inside, Outcome, Outside, Part, Shape, unshare};
use crate::ns::Ns;
use crate::runtime::protocol::Request;
use crate::runtime::report::Report;
use crate::runtime::sys::Sys;

/// A veth pair between the host and the container, `/30` addresses on both ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth {
    pub host_name: String,
    /// The peer's name while it is created on the host; renamed to `eth0` inside.
    pub peer_name: String,
    pub host_addr: Ipv4Addr,
    pub container_addr: Ipv4Addr,
    pub prefix: u8,
}

pub struct Net<'a> {
    pub veth: Option<&'a Veth>,
}

impl Part for Net<'_> {
    fn name(&self) -> &'static str {
        "net"
    }

    fn title(&self) -> String {
        match self.veth {
            None => "network namespace".into(),
            Some(_) => "network namespace + veth pair".into(),
        }
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::Net)
    }

    fn shape(&self) -> Shape {
        match self.veth {
            None => Shape::Subject,
            Some(_) => Shape::ControllerBetween,
        }
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        let (sys, r) = (&mut *cx.sys, &mut *cx.report);
        unshare(sys, r, Ns::Net)?;
        let res = sys.link_up("lo");
        r.call("ioctl", "SIOCSIFFLAGS, \"lo\", IFF_UP", res)?;
        r.shell("ip link set lo up");
        r.note("a new network namespace has only a loopback device, and it starts down");
        Ok(Outcome::Done)
    }

    fn outside(&self, o: &mut Outside, r: &mut Report) -> Result<()> {
        let Some(v) = self.veth else {
            return Ok(());
        };
        o.session.record(|s| s.veths.push(v.host_name.clone()))?;
        add_veth(o.sys, r, v, *o.subject)?;
        o.link
            .ask_into(
                &Request::ConfigureVeth(v.clone()),
                r,
                "configuring eth0 inside failed",
            )
            .map(drop)
    }
}

/// The host's part: the pair, the peer end in `pid`'s network namespace, the host
/// end addressed and up.
pub fn add_veth(sys: &mut dyn Sys, r: &mut Report, v: &Veth, pid: i32) -> Result<()> {
    let pid = pid.to_string();
    let host_cidr = format!("{}/{}", v.host_addr, v.prefix);
    let cmds: [Vec<&str>; 3] = [
        vec![
            "link",
            "add",
            &v.host_name,
            "type",
            "veth",
            "peer",
            "name",
            &v.peer_name,
            "netns",
            &pid,
        ],
        vec!["addr", "add", &host_cidr, "dev", &v.host_name],
        vec!["link", "set", &v.host_name, "up"],
    ];
    for args in cmds {
        let shown = format!("ip {}", args.join(" "));
        let res = sys.ip(&args);
        r.shell(shown.clone());
        r.io("netlink", shown, res)
            .ctx(|| "creating the veth pair (is iproute2 installed?)")?;
    }
    Ok(())
}

/// The container's end of the veth pair, once the controller has moved it in:
/// renamed to eth0, addressed, up, with a default route via the host's end
/// (netdevice(7) ioctls, route(7)).
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

/// Deletes a host-side veth of ours if it still exists (it usually vanishes with the
/// container's network namespace).
pub fn delete_veth(sys: &mut dyn Sys, name: &str, report: &mut Report) -> Result<()> {
    if !name.starts_with("uh") {
        return Err(Error::Refused(format!(
            "refusing to delete link {name:?}: not one of ours"
        )));
    }
    let link = Path::new("/sys/class/net").join(name);
    if !sys.exists(&link) {
        return Ok(());
    }
    let res = match sys.ip(&["link", "del", name]) {
        Ok(()) => Ok(()),
        // The kernel deletes the pair itself when the container's network namespace
        // goes away, which may happen between our check and `ip link del`.
        Err(_) if !sys.exists(&link) => return Ok(()),
        Err(e) => Err(e),
    };
    report.shell(format!("ip link del {name}"));
    report
        .io("netlink", format!("ip link del {name}"), res)
        .ctx(|| format!("deleting veth {name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};

    #[test]
    fn net_brings_lo_up() {
        let mut sys = Recorder::default();
        inside(&Step::Net { veth: None }, &mut sys, false)
            .1
            .unwrap();
        assert_eq!(sys.calls[1], Call::LinkUp("lo".into()));
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

    #[test]
    fn the_host_end_is_made_with_its_peer_in_the_subjects_namespace() {
        let v = crate::runtime::plan::veth_for("0a0b0c0d");
        let mut sys = Recorder::default();
        let mut r = Report::new("veth");
        add_veth(&mut sys, &mut r, &v, 4242).unwrap();
        let Call::Ip(first) = &sys.calls[0] else {
            panic!("{:?}", sys.calls)
        };
        assert_eq!(first[..3], ["link", "add", v.host_name.as_str()]);
        assert_eq!(first[first.len() - 2..], ["netns", "4242"]);
        assert_eq!(sys.calls.len(), 3);
        assert_eq!(r.shell.len(), 3);
    }

    #[test]
    fn only_our_links_are_deleted() {
        let mut sys = Recorder::default();
        let mut r = Report::new("teardown");
        assert!(delete_veth(&mut sys, "eth0", &mut r).is_err());
        assert!(sys.calls.is_empty());
        delete_veth(&mut sys, "uhabc", &mut r).unwrap();
        assert_eq!(
            sys.calls,
            vec![Call::Ip(vec!["link".into(), "del".into(), "uhabc".into()])]
        );
    }
}
