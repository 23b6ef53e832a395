//! Batched UDP I/O for the load engine: `recvmmsg`/`sendmmsg` on one non-blocking socket,
//! ICMP errors read from the socket's error queue (`IP_RECVERR`), and `ppoll` to wait.
//!
//! Linux only (the calls exist nowhere else in this form). Every system call goes through a
//! safe wrapper of the `nix` crate: the pointer work stays there, none of it is here.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Duration;

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::socket::{
    getsockopt, recvmmsg, recvmsg, sendmmsg, setsockopt, sockopt, ControlMessage, MsgFlags,
    MultiHeaders, SockaddrStorage,
};
use nix::sys::time::TimeSpec;

/// Datagrams read or written per system call.
pub const BATCH: usize = 32;
/// The largest datagram read whole (bigger ones are cut and counted).
const MAX_DATAGRAM: usize = 65536;

pub struct Socket {
    sock: UdpSocket,
    bufs: Vec<Vec<u8>>,
}

/// A v4 or v6 address as std's (None for any other family).
fn from_sockaddr(s: &SockaddrStorage) -> Option<SocketAddr> {
    match (s.as_sockaddr_in(), s.as_sockaddr_in6()) {
        (Some(sin), _) => Some(SocketAddr::V4((*sin).into())),
        (_, Some(sin6)) => Some(SocketAddr::V6((*sin6).into())),
        _ => None,
    }
}

/// What one receive pass got.
#[derive(Default)]
pub struct Received {
    /// (bytes, source) of each whole datagram.
    pub datagrams: Vec<(Vec<u8>, SocketAddr)>,
    /// Datagrams larger than the buffer (cut, dropped).
    pub truncated: u64,
    /// The socket reported a pending ICMP error: read the error queue.
    pub error_pending: bool,
}

impl Socket {
    pub fn bind(addr: SocketAddr, buffer: usize) -> io::Result<Socket> {
        let sock = UdpSocket::bind(addr)?;
        sock.set_nonblocking(true)?;
        // ICMP errors (port unreachable) queued with the destination they concern.
        if matches!(addr.ip(), IpAddr::V6(_)) {
            setsockopt(&sock, sockopt::Ipv6RecvErr, &true)?;
        } else {
            setsockopt(&sock, sockopt::Ipv4RecvErr, &true)?;
        }
        // Bursts of thousands of datagrams a second: room in both queues (the kernel caps
        // this at net.core.rmem_max / wmem_max; a failure leaves the default). The option
        // is a C int: clamp rather than let nix's cast wrap.
        let size = buffer.min(i32::MAX as usize);
        let _ = setsockopt(&sock, sockopt::RcvBuf, &size);
        let _ = setsockopt(&sock, sockopt::SndBuf, &size);
        Ok(Socket {
            sock,
            bufs: (0..BATCH).map(|_| vec![0u8; MAX_DATAGRAM]).collect(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// The receive and send buffer sizes the kernel granted.
    pub fn buffers(&self) -> (usize, usize) {
        (
            getsockopt(&self.sock, sockopt::RcvBuf).unwrap_or(0),
            getsockopt(&self.sock, sockopt::SndBuf).unwrap_or(0),
        )
    }

    /// Up to `BATCH` datagrams in one call; empty when none waits.
    pub fn recv_batch(&mut self, out: &mut Received) -> io::Result<usize> {
        let mut iovs: Vec<[IoSliceMut; 1]> =
            self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        // Headers and source addresses for BATCH datagrams (not kept in `self`: they hold
        // raw pointers, and the runner must stay Send).
        let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let msgs = match recvmmsg(
            self.sock.as_raw_fd(),
            &mut hdrs,
            &mut iovs,
            MsgFlags::MSG_DONTWAIT,
            None,
        ) {
            Ok(msgs) => msgs,
            Err(e) => {
                let e = io::Error::from(e);
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                    io::ErrorKind::ConnectionRefused => {
                        out.error_pending = true;
                        Ok(0)
                    }
                    _ => Err(e),
                };
            }
        };
        let mut n = 0;
        for m in msgs {
            n += 1;
            if m.flags.contains(MsgFlags::MSG_TRUNC) || m.bytes > MAX_DATAGRAM {
                out.truncated += 1;
                continue;
            }
            if let Some(src) = m.address.as_ref().and_then(from_sockaddr) {
                // iovs() yields the filled part of the datagram's buffer (one slice here).
                let mut bytes = Vec::with_capacity(m.bytes);
                for part in m.iovs() {
                    bytes.extend_from_slice(part);
                }
                out.datagrams.push((bytes, src));
            }
        }
        Ok(n)
    }

    /// Sends from the front of `queue` in batches until it is empty or the socket is full;
    /// returns how many went out. A datagram the kernel refuses (too big, no route) is
    /// dropped and counted in `failed`.
    pub fn send_batch(
        &mut self,
        queue: &mut VecDeque<(SocketAddr, Arc<[u8]>)>,
        failed: &mut u64,
        error_pending: &mut bool,
    ) -> io::Result<usize> {
        let mut sent = 0;
        let no_cmsgs: [ControlMessage; 0] = [];
        while !queue.is_empty() {
            let k = queue.len().min(BATCH);
            // One address type for both families, so that v4 and v6 destinations mixed in
            // the queue (a socket on `::`) still go out in one call.
            let addrs: Vec<Option<SockaddrStorage>> = queue
                .iter()
                .take(k)
                .map(|(dest, _)| Some(SockaddrStorage::from(*dest)))
                .collect();
            let iovs: Vec<[IoSlice; 1]> = queue
                .iter()
                .take(k)
                .map(|(_, bytes)| [IoSlice::new(bytes)])
                .collect();
            let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(k, None);
            let r = sendmmsg(
                self.sock.as_raw_fd(),
                &mut hdrs,
                &iovs,
                &addrs,
                no_cmsgs,
                MsgFlags::MSG_DONTWAIT,
            )
            // One item per datagram sent: the count is sendmmsg's return value.
            .map(Iterator::count);
            let r = match r {
                Ok(r) => r,
                Err(e) => match io::Error::from(e).kind() {
                    io::ErrorKind::WouldBlock => return Ok(sent),
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::ConnectionRefused => {
                        // A pending ICMP error surfaced here: the datagram was not sent;
                        // try it again after the error queue is read.
                        *error_pending = true;
                        return Ok(sent);
                    }
                    _ => {
                        // This datagram cannot go (EMSGSIZE, no route): drop it, go on.
                        queue.pop_front();
                        *failed += 1;
                        continue;
                    }
                },
            };
            queue.drain(..r.min(queue.len()));
            sent += r;
            if r < k {
                return Ok(sent);
            }
        }
        Ok(sent)
    }

    /// The destinations of the ICMP errors waiting in the error queue (port or host
    /// unreachable and the like), each read once.
    pub fn read_errors(&mut self) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for _ in 0..256 {
            let mut data = [0u8; 512];
            let mut control = [0u8; 512];
            let mut iov = [IoSliceMut::new(&mut data)];
            let Ok(msg) = recvmsg::<SockaddrStorage>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut control),
                MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
            ) else {
                break;
            };
            // The message's name is the destination the failed datagram was sent to.
            if let Some(a) = msg.address.as_ref().and_then(from_sockaddr) {
                out.push(a);
            }
        }
        out
    }

    /// Waits until the socket is readable (or has an error queued) or `timeout_us` passes.
    /// Returns (readable, error queued).
    pub fn wait(&self, timeout_us: u64) -> (bool, bool) {
        let mut pfd = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
        let ts = TimeSpec::from_duration(Duration::from_micros(timeout_us));
        // No signal mask: the caller's stays in force, as with a null sigmask.
        match ppoll(&mut pfd, Some(ts), None) {
            Ok(r) if r > 0 => {
                // The kernel reports only POLLIN, POLLERR, POLLHUP or POLLNVAL here, all
                // flags nix knows; anything else would read as nothing ready.
                let ev = pfd[0].revents().unwrap_or(PollFlags::empty());
                (
                    ev.contains(PollFlags::POLLIN),
                    ev.contains(PollFlags::POLLERR),
                )
            }
            _ => (false, false),
        }
    }
}
