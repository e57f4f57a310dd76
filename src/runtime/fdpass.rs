//! Passing a file descriptor over a unix socket (SCM_RIGHTS, unix(7)): PID 1 (or
//! `__enter`) makes a pseudo-terminal inside the container (runtime/console.rs) and
//! hands its master end out to the controller.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, UnixAddr, recvmsg, sendmsg};

/// Sends one byte carrying `fd`.
pub fn send_fd(sock: RawFd, fd: &OwnedFd) -> nix::Result<()> {
    let raw = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let iov = [IoSlice::new(b"F")];
    sendmsg::<UnixAddr>(sock, &iov, &cmsg, MsgFlags::empty(), None).map(drop)
}

/// Receives the byte sent by `send_fd` and the descriptor it carried.
pub fn recv_fd(sock: RawFd) -> nix::Result<OwnedFd> {
    match recv_byte(sock)? {
        (_, Some(fd)) => Ok(fd),
        _ => Err(Errno::EBADMSG),
    }
}

/// Receives one byte and the descriptor it carried, if any (close-on-exec); `None`
/// for the byte at the end of the stream. Descriptors beyond the first are closed.
pub fn recv_byte(sock: RawFd) -> nix::Result<(Option<u8>, Option<OwnedFd>)> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            r => break r?,
        }
    };
    let got = msg.bytes;
    let mut first = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel just installed this descriptor for us.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                first.get_or_insert(fd);
            }
        }
    }
    Ok(((got == 1).then_some(byte[0]), first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_pipe_end_crosses_the_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        let (rd, wr) = nix::unistd::pipe().unwrap();
        send_fd(a.as_raw_fd(), &wr).unwrap();
        drop(wr);
        let got = recv_fd(b.as_raw_fd()).unwrap();
        let mut w = std::fs::File::from(got);
        w.write_all(b"hello").unwrap();
        drop(w);
        let mut s = String::new();
        std::fs::File::from(rd).read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }

    #[test]
    fn a_plain_byte_carries_no_descriptor_and_the_end_is_none() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"{").unwrap();
        drop(a);
        let (byte, fd) = recv_byte(b.as_raw_fd()).unwrap();
        assert_eq!(byte, Some(b'{'));
        assert!(fd.is_none());
        let (byte, fd) = recv_byte(b.as_raw_fd()).unwrap();
        assert_eq!(byte, None);
        assert!(fd.is_none());
    }
}
