//! Passing a file descriptor over the control socket (SCM_RIGHTS, unix(7)): the
//! controller opens a pseudo-terminal and hands its slave end to PID 1, which makes it
//! the controlling terminal of a shell inside the container.

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
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor for us.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(Errno::EBADMSG)
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
}
