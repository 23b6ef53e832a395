//! Batched UDP I/O for the load engine: `recvmmsg`/`sendmmsg` on one non-blocking socket,
//! ICMP errors read from the socket's error queue (`IP_RECVERR`), and `ppoll` to wait.
//!
//! Linux only (the calls exist nowhere else in this form); every `unsafe` block is a plain
//! libc call on buffers this module owns, with the lengths it passes.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Datagrams read or written per system call.
pub const BATCH: usize = 32;
/// The largest datagram read whole (bigger ones are cut and counted).
const MAX_DATAGRAM: usize = 65536;

pub struct Socket {
    sock: UdpSocket,
    bufs: Vec<Vec<u8>>,
    names: Vec<libc::sockaddr_storage>,
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

fn set_int(fd: i32, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: setsockopt reads `size_of::<i32>()` bytes at a valid pointer to `value`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Writes `a` into `s`; returns the length to pass with it.
fn to_sockaddr(a: &SocketAddr, s: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match a {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large enough and aligned for any sockaddr type.
            let sin =
                unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.ip().octets()),
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 =
                unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            sin6.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

fn from_sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 =
                unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
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
        let fd = sock.as_raw_fd();
        let v6 = matches!(addr.ip(), IpAddr::V6(_));
        // ICMP errors (port unreachable) queued with the destination they concern.
        if v6 {
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)?;
        } else {
            set_int(fd, libc::IPPROTO_IP, libc::IP_RECVERR, 1)?;
        }
        // Bursts of thousands of datagrams a second: room in both queues (the kernel caps
        // this at net.core.rmem_max / wmem_max; a failure leaves the default).
        let size = i32::try_from(buffer).unwrap_or(i32::MAX);
        let _ = set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size);
        let _ = set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, size);
        Ok(Socket {
            sock,
            bufs: (0..BATCH).map(|_| vec![0u8; MAX_DATAGRAM]).collect(),
            // SAFETY: all-zero is a valid sockaddr_storage.
            names: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// The receive and send buffer sizes the kernel granted.
    pub fn buffers(&self) -> (usize, usize) {
        let get = |name: i32| -> usize {
            let mut v: i32 = 0;
            let mut len = size_of::<i32>() as libc::socklen_t;
            // SAFETY: getsockopt writes at most `len` bytes into `v`.
            let r = unsafe {
                libc::getsockopt(
                    self.sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    name,
                    (&mut v as *mut i32).cast(),
                    &mut len,
                )
            };
            if r < 0 {
                0
            } else {
                usize::try_from(v).unwrap_or(0)
            }
        };
        (get(libc::SO_RCVBUF), get(libc::SO_SNDBUF))
    }

    /// Up to `BATCH` datagrams in one call; empty when none waits.
    pub fn recv_batch(&mut self, out: &mut Received) -> io::Result<usize> {
        let mut iov: Vec<libc::iovec> = self
            .bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: all-zero is a valid mmsghdr; the pointers set below stay valid for the call.
        let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
        for ((m, v), n) in msgs
            .iter_mut()
            .zip(iov.iter_mut())
            .zip(self.names.iter_mut())
        {
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (n as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        }
        // SAFETY: `msgs` holds BATCH headers whose iovecs and names point at buffers owned
        // by `self` for the duration of the call.
        let n = unsafe {
            libc::recvmmsg(
                self.sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = errno();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                io::ErrorKind::ConnectionRefused => {
                    out.error_pending = true;
                    Ok(0)
                }
                _ => Err(e),
            };
        }
        let n = usize::try_from(n).unwrap_or(0);
        for ((m, buf), name) in msgs
            .iter()
            .zip(self.bufs.iter())
            .zip(self.names.iter())
            .take(n)
        {
            let len = m.msg_len as usize;
            if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || len > buf.len() {
                out.truncated += 1;
                continue;
            }
            if let (Some(src), Some(bytes)) = (from_sockaddr(name), buf.get(..len)) {
                out.datagrams.push((bytes.to_vec(), src));
            }
        }
        Ok(n)
    }

    /// Sends from the front of `queue` in batches until it is empty or the socket is full;
    /// returns how many went out. A datagram the kernel refuses (too big, no route) is
    /// dropped and counted in `failed`.
    pub fn send_batch(
        &mut self,
        queue: &mut std::collections::VecDeque<(SocketAddr, Arc<[u8]>)>,
        failed: &mut u64,
        error_pending: &mut bool,
    ) -> io::Result<usize> {
        let mut sent = 0;
        while !queue.is_empty() {
            let k = queue.len().min(BATCH);
            // SAFETY: all-zero is valid for these plain C structs.
            let mut names: Vec<libc::sockaddr_storage> =
                (0..k).map(|_| unsafe { zeroed() }).collect();
            let mut iov: Vec<libc::iovec> = Vec::with_capacity(k);
            let mut lens = Vec::with_capacity(k);
            for ((dest, bytes), name) in queue.iter().take(k).zip(names.iter_mut()) {
                lens.push(to_sockaddr(dest, name));
                iov.push(libc::iovec {
                    iov_base: bytes.as_ptr() as *mut libc::c_void,
                    iov_len: bytes.len(),
                });
            }
            // SAFETY: as above.
            let mut msgs: Vec<libc::mmsghdr> = (0..k).map(|_| unsafe { zeroed() }).collect();
            for (((m, v), n), l) in msgs
                .iter_mut()
                .zip(iov.iter_mut())
                .zip(names.iter_mut())
                .zip(lens.iter())
            {
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m.msg_hdr.msg_name = (n as *mut libc::sockaddr_storage).cast();
                m.msg_hdr.msg_namelen = *l;
            }
            // SAFETY: `msgs` holds k headers pointing at `iov`, `names` and the queued
            // datagrams, all alive for the call; the kernel only reads them.
            let r = unsafe {
                libc::sendmmsg(
                    self.sock.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    k as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                let e = errno();
                match e.kind() {
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
                }
            }
            let r = usize::try_from(r).unwrap_or(0);
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
            // SAFETY: all-zero is valid for these plain C structs.
            let mut name: libc::sockaddr_storage = unsafe { zeroed() };
            let mut data = [0u8; 512];
            let mut control = [0u8; 512];
            let mut iov = libc::iovec {
                iov_base: data.as_mut_ptr().cast(),
                iov_len: data.len(),
            };
            // SAFETY: as above.
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = control.len();
            // SAFETY: every pointer in `msg` points at a local buffer of the stated size.
            let r = unsafe {
                libc::recvmsg(
                    self.sock.as_raw_fd(),
                    &mut msg,
                    libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                break;
            }
            // msg_name is the destination the failed datagram was sent to.
            if let Some(a) = from_sockaddr(&name) {
                out.push(a);
            }
        }
        out
    }

    /// Waits until the socket is readable (or has an error queued) or `timeout_us` passes.
    /// Returns (readable, error queued).
    pub fn wait(&self, timeout_us: u64) -> (bool, bool) {
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout_us / 1_000_000).unwrap_or(0),
            tv_nsec: libc::c_long::try_from((timeout_us % 1_000_000) * 1000).unwrap_or(0),
        };
        // SAFETY: one pollfd and a timespec, both local; no signal mask change.
        let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        if r <= 0 {
            return (false, false);
        }
        (
            pfd.revents & libc::POLLIN != 0,
            pfd.revents & libc::POLLERR != 0,
        )
    }
}
