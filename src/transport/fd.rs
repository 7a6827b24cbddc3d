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
/// the socket is full).
pub fn write_all_now(fd: RawFd, bufs: &[&[u8]]) -> io::Result<usize> {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let mut done = 0;
    while done < total {
        let n = match writev_from(fd, bufs, done)? {
            Some(n) => n,
            None => break,
        };
        done += n;
    }
    Ok(done)
}

/// One `write`/`writev` of `bufs`, skipping the first `skip` bytes.
/// `Ok(None)` when the socket is full.
fn writev_from(fd: RawFd, bufs: &[&[u8]], mut skip: usize) -> io::Result<Option<usize>> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_IOVECS];
    let mut count = 0;
    for b in bufs {
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        let rest = &b[skip..];
        skip = 0;
        if count == MAX_IOVECS {
            break;
        }
        iov[count] = libc::iovec {
            iov_base: rest.as_ptr() as *mut libc::c_void,
            iov_len: rest.len(),
        };
        count += 1;
    }
    if count == 0 {
        return Ok(Some(0));
    }
    // SAFETY: the first `count` iovecs point into the live slices of
    // `bufs`, which outlive the call; `writev` only reads them. (`send` with
    // MSG_NOSIGNAL is not usable with an iovec list, and Node ignores
    // SIGPIPE, so EPIPE comes back as an error.)
    retry(|| unsafe {
        if count == 1 {
            libc::write(fd, iov[0].iov_base, iov[0].iov_len)
        } else {
            libc::writev(fd, iov.as_ptr(), count as libc::c_int)
        }
    })
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
        let n = write_all_now(a2.as_raw_fd(), &[b"he", b"", b"llo"]).unwrap();
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
        let n = write_all_now(a2.as_raw_fd(), &[&big]).unwrap();
        assert!(n > 0 && n < big.len());
        assert_eq!(write_all_now(a2.as_raw_fd(), &[&big]).unwrap(), 0);
    }

    #[test]
    fn bad_descriptor() {
        assert!(dup_nonblocking(-1).is_err());
    }
}
