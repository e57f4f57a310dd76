//! Network interface set-up inside the container's network namespace with the classic
//! socket ioctls of netdevice(7) and route(7): no netlink library and no `ip` binary are
//! needed inside the container. Each function acts on the calling process's netns.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

fn control_socket() -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
}

fn ifreq(name: &str) -> nix::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(Errno::EINVAL);
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size (16 bytes) on Linux and
    // the kernel reads this as the family-tagged sockaddr it is.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

fn ioctl(fd: &OwnedFd, request: libc::c_ulong, arg: *mut libc::c_void) -> nix::Result<()> {
    // SAFETY: every caller passes a pointer to a live, correctly typed request struct.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    Errno::result(rc).map(drop)
}

/// `ip link set NAME up`: SIOCGIFFLAGS then SIOCSIFFLAGS with IFF_UP (netdevice(7)).
pub fn link_up(name: &str) -> nix::Result<()> {
    let fd = control_socket()?;
    let mut req = ifreq(name)?;
    ioctl(
        &fd,
        libc::SIOCGIFFLAGS,
        (&mut req as *mut libc::ifreq).cast(),
    )?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    ioctl(
        &fd,
        libc::SIOCSIFFLAGS,
        (&mut req as *mut libc::ifreq).cast(),
    )
}

/// `ip addr add ADDR/PREFIX dev NAME`: SIOCSIFADDR then SIOCSIFNETMASK.
pub fn set_addr(name: &str, addr: Ipv4Addr, prefix: u8) -> nix::Result<()> {
    if prefix > 32 {
        return Err(Errno::EINVAL);
    }
    let fd = control_socket()?;
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_addr = sockaddr_in(addr);
    ioctl(
        &fd,
        libc::SIOCSIFADDR,
        (&mut req as *mut libc::ifreq).cast(),
    )?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_netmask = sockaddr_in(Ipv4Addr::from(mask));
    ioctl(
        &fd,
        libc::SIOCSIFNETMASK,
        (&mut req as *mut libc::ifreq).cast(),
    )
}

/// `ip link set FROM name TO`: SIOCSIFNAME; the link must be down.
pub fn rename(from: &str, to: &str) -> nix::Result<()> {
    let fd = control_socket()?;
    let mut req = ifreq(from)?;
    let new = ifreq(to)?;
    req.ifr_ifru.ifru_newname = new.ifr_name;
    ioctl(
        &fd,
        libc::SIOCSIFNAME,
        (&mut req as *mut libc::ifreq).cast(),
    )
}

/// The kernel's `struct rtentry` (include/uapi/linux/route.h); the libc crate has it
/// only for musl.
#[repr(C)]
struct RtEntry {
    rt_pad1: libc::c_ulong,
    rt_dst: libc::sockaddr,
    rt_gateway: libc::sockaddr,
    rt_genmask: libc::sockaddr,
    rt_flags: libc::c_ushort,
    rt_pad2: libc::c_short,
    rt_pad3: libc::c_ulong,
    rt_pad4: *mut libc::c_void,
    rt_metric: libc::c_short,
    rt_dev: *mut libc::c_char,
    rt_mtu: libc::c_ulong,
    rt_window: libc::c_ulong,
    rt_irtt: libc::c_ushort,
}

/// `ip route add default via GATEWAY`: SIOCADDRT (route(7)'s legacy ioctl).
pub fn default_route(gateway: Ipv4Addr) -> nix::Result<()> {
    let fd = control_socket()?;
    let mut rt = RtEntry {
        rt_pad1: 0,
        rt_dst: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        rt_gateway: sockaddr_in(gateway),
        rt_genmask: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        rt_flags: libc::RTF_UP | libc::RTF_GATEWAY,
        rt_pad2: 0,
        rt_pad3: 0,
        rt_pad4: std::ptr::null_mut(),
        rt_metric: 0,
        rt_dev: std::ptr::null_mut(),
        rt_mtu: 0,
        rt_window: 0,
        rt_irtt: 0,
    };
    ioctl(&fd, libc::SIOCADDRT, (&mut rt as *mut RtEntry).cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(ifreq("").err(), Some(Errno::EINVAL));
        assert_eq!(ifreq("a-name-that-is-too-long").err(), Some(Errno::EINVAL));
        assert!(ifreq("eth0").is_ok());
    }

    #[test]
    fn rtentry_has_the_kernel_size() {
        // include/uapi/linux/route.h on x86_64: 120 bytes.
        #[cfg(target_arch = "x86_64")]
        assert_eq!(std::mem::size_of::<RtEntry>(), 120);
    }
}
