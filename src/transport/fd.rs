//! The socket operations of the native transport, over raw file
//! descriptors (Unix only): duplicate, read, write, gather-write, shut the
//! write side, abortive close. Every call is non-blocking; `EINTR` is
//! retried, `EAGAIN` is reported as `Ok(None)` / a short count.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Largest number of buffers one `writev` call is given (`IOV_MAX` is 1024
/// on Linux and macOS; a larger batch is finished by the next call).
const MAX_IOVECS: usize = 64;

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// Duplicates `fd` (close-on-exec) and puts the duplicate in non-blocking
/// mode. The flag is shared with the original, which libuv already made
/// non-blocking, so this changes nothing for Node's handle.
pub fn dup_nonblocking(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_DUPFD_CLOEXEC takes an int argument and touches no memory;
    // an invalid `fd` makes it fail with EBADF.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(last_error());
    }
    // SAFETY: `dup` is a new descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(dup) };
    set_nonblocking(owned.as_raw_fd())?;
    Ok(owned)
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL / F_SETFL take and return ints; no memory is touched.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(last_error());
        }
        if flags & libc::O_NONBLOCK == 0
            && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
        {
            return Err(last_error());
        }
    }
    Ok(())
}

/// Runs a non-blocking system call that returns a byte count or -1:
/// `EINTR` is retried, `EAGAIN` is `Ok(None)`.
pub fn retry(mut call: impl FnMut() -> isize) -> io::Result<Option<usize>> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let err = last_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(e) if e == libc::EAGAIN || e == libc::EWOULDBLOCK => return Ok(None),
            _ => return Err(err),
        }
    }
}

/// Reads into `buf`: `Ok(Some(0))` is end of stream, `Ok(None)` means
/// nothing to read now.
pub fn read(fd: RawFd, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the
    // duration of the call; `read` writes at most that many and never reads
    // them, so uninitialised memory is fine.
    retry(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// Writes as much of `bufs` (in order) as the socket takes now, with as few
/// system calls as possible. Returns the number of bytes written (0 when
/// the socket is full). `more`: the FIN follows at once, so a single
/// `send` carries `MSG_MORE` (the last bytes wait for it in the kernel).
pub fn write_all_now(fd: RawFd, bufs: &[&[u8]], more: bool) -> io::Result<usize> {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let mut done = 0;
    while done < total {
        let n = match writev_from(fd, bufs, done, more)? {
            Some(n) => n,
            None => break,
        };
        done += n;
    }
    Ok(done)
}

/// Up to this many bytes in several buffers are copied into one and sent
/// with one `send`: for a few small frames (a broadcast, pipelined echoes)
/// the copy costs less than the kernel's gather-write path (`vfs_writev`,
/// importing the iovecs).
const COALESCE_MAX: usize = 2048;

/// One `send`/`writev` of `bufs`, skipping the first `skip` bytes.
/// `Ok(None)` when the socket is full.
fn writev_from(
    fd: RawFd,
    bufs: &[&[u8]],
    mut skip: usize,
    more: bool,
) -> io::Result<Option<usize>> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    let mut parts: [&[u8]; MAX_IOVECS] = [&[]; MAX_IOVECS];
    let mut count = 0;
    let mut total = 0;
    for b in bufs {
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        if count == MAX_IOVECS {
            break;
        }
        parts[count] = &b[skip..];
        skip = 0;
        total += parts[count].len();
        count += 1;
    }
    match count {
        0 => return Ok(Some(0)),
        1 => return send(fd, parts[0], flags),
        _ => {}
    }
    if total <= COALESCE_MAX {
        let mut buf = [0u8; COALESCE_MAX];
        let mut at = 0;
        for part in &parts[..count] {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        return send(fd, &buf[..at], flags);
    }
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_IOVECS];
    for (v, part) in iov.iter_mut().zip(&parts[..count]) {
        v.iov_base = part.as_ptr() as *mut libc::c_void;
        v.iov_len = part.len();
    }
    // SAFETY: the first `count` iovecs point into the live slices of
    // `bufs`, which outlive the call; `writev` only reads them. (It takes
    // no MSG_NOSIGNAL, but Node ignores SIGPIPE: a peer gone is EPIPE here
    // too.)
    retry(|| unsafe { libc::writev(fd, iov.as_ptr(), count as libc::c_int) })
}

/// One `send` of `buf` (`flags` has MSG_NOSIGNAL: a peer gone is EPIPE,
/// never SIGPIPE); `write` where the descriptor is not a socket.
fn send(fd: RawFd, buf: &[u8], flags: libc::c_int) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the duration
    // of the call; `send` only reads it.
    let sent = retry(|| unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) });
    match sent {
        Err(err) if err.raw_os_error() == Some(libc::ENOTSOCK) => {
            // SAFETY: as above; `write` only reads `buf`.
            retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
        }
        other => other,
    }
}

/// Sends the FIN: shuts the write side (the JS shell still holds another
/// descriptor of the socket, so closing ours would not).
pub fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // SAFETY: `shutdown` takes ints and touches no memory.
    if unsafe { libc::shutdown(fd, libc::SHUT_WR) } < 0 {
        let err = last_error();
        // Already disconnected: there is nothing left to shut.
        if err.raw_os_error() == Some(libc::ENOTCONN) {
            return Ok(());
        }
        return Err(err);
    }
    Ok(())
}

/// Makes the last `close` of the socket reset the connection (RST) instead
/// of a graceful FIN: `SO_LINGER` with a zero timeout.
pub fn set_linger_zero(fd: RawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the option value points to a live `linger` of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(last_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    fn pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: both descriptors are new and owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn read_str(fd: RawFd) -> Option<Vec<u8>> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 256];
        let n = read(fd, &mut buf).unwrap()?;
        // SAFETY: `read` initialised the first `n` bytes.
        Some(
            buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect(),
        )
    }

    #[test]
    fn dup_write_read_shutdown() {
        let (a, b) = pair();
        let a2 = dup_nonblocking(a.as_raw_fd()).unwrap();
        let b2 = dup_nonblocking(b.as_raw_fd()).unwrap();
        assert_eq!(read_str(b2.as_raw_fd()), None, "nothing to read yet");
        let n = write_all_now(a2.as_raw_fd(), &[b"he", b"", b"llo"], false).unwrap();
        assert_eq!(n, 5);
        assert_eq!(read_str(b2.as_raw_fd()).unwrap(), b"hello");
        // The original descriptor keeps the socket open: only shutdown
        // sends the end of stream.
        drop(a2);
        assert_eq!(read_str(b2.as_raw_fd()), None);
        let a3 = dup_nonblocking(a.as_raw_fd()).unwrap();
        shutdown_write(a3.as_raw_fd()).unwrap();
        assert_eq!(read_str(b2.as_raw_fd()).unwrap(), b"");
        set_linger_zero(a3.as_raw_fd()).ok();
    }

    #[test]
    fn full_socket_is_a_short_write() {
        let (a, _b) = pair();
        let a2 = dup_nonblocking(a.as_raw_fd()).unwrap();
        let big = vec![7u8; 8 << 20];
        let n = write_all_now(a2.as_raw_fd(), &[&big], false).unwrap();
        assert!(n > 0 && n < big.len());
        assert_eq!(write_all_now(a2.as_raw_fd(), &[&big], false).unwrap(), 0);
    }

    /// Reads everything available (the socket is non-blocking).
    fn drain(fd: RawFd, into: &mut Vec<u8>) {
        let mut buf = [MaybeUninit::<u8>::uninit(); 65536];
        while let Some(n) = read(fd, &mut buf).unwrap() {
            if n == 0 {
                break;
            }
            // SAFETY: `read` initialised the first `n` bytes.
            into.extend(buf[..n].iter().map(|b| unsafe { b.assume_init() }));
        }
    }

    #[test]
    fn small_buffers_coalesced_in_order_through_short_writes() {
        let (a, b) = pair();
        let a2 = dup_nonblocking(a.as_raw_fd()).unwrap();
        let b2 = dup_nonblocking(b.as_raw_fd()).unwrap();
        // Frames of 1 to 70 bytes, numbered so that order and gaps show.
        let frames: Vec<Vec<u8>> = (0..20_000u32)
            .map(|i| {
                let mut f = i.to_be_bytes().to_vec();
                f.resize(4 + (i % 67) as usize, (i % 251) as u8);
                f
            })
            .collect();
        let mut expected = Vec::new();
        for f in &frames {
            expected.extend_from_slice(f);
        }
        let mut received = Vec::new();
        let mut sent = 0;
        let mut next = 0;
        while next < frames.len() {
            // A batch of up to 40 frames, resumed where the last call
            // stopped (`skip`), as the outbox does.
            let end = (next + 40).min(frames.len());
            let batch: Vec<&[u8]> = frames[next..end].iter().map(|f| &f[..]).collect();
            let batch_len: usize = batch.iter().map(|f| f.len()).sum();
            let mut done = 0;
            while done < batch_len {
                let rest: Vec<&[u8]> = {
                    let mut skip = done;
                    let mut v = Vec::new();
                    for f in &batch {
                        if skip >= f.len() {
                            skip -= f.len();
                        } else {
                            v.push(&f[skip..]);
                            skip = 0;
                        }
                    }
                    v
                };
                let n = write_all_now(a2.as_raw_fd(), &rest, false).unwrap();
                done += n;
                if n == 0 {
                    drain(b2.as_raw_fd(), &mut received);
                }
            }
            sent += batch_len;
            next = end;
        }
        drain(b2.as_raw_fd(), &mut received);
        assert_eq!(sent, expected.len());
        assert_eq!(received, expected);
    }

    #[test]
    fn not_a_socket_is_written_with_write() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors are new and owned by nobody else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let n = write_all_now(w.as_raw_fd(), &[b"ab", b"cd"], false).unwrap();
        assert_eq!(n, 4);
        let n = write_all_now(w.as_raw_fd(), &[b"e"], false).unwrap();
        assert_eq!(n, 1);
        assert_eq!(read_str(r.as_raw_fd()).unwrap(), b"abcde");
    }

    #[test]
    fn bad_descriptor() {
        assert!(dup_nonblocking(-1).is_err());
    }
}
