//! The native listener of `port` mode (Unix): a listening socket, the
//! connections it accepted whose request has not arrived yet, and the
//! decision taken on each request's first bytes.
//!
//! Only the common case is handled here: a complete, plainly formed, valid
//! WebSocket upgrade request in the first read. Its bytes are consumed and
//! the connection goes to the transport, with no `net.Socket` and no HTTP
//! parser in JS. Everything else (a plain request, a malformed or partial
//! one, a client that is slow to send) is handed untouched, bytes still
//! unread, to Node's HTTP server, so that its answers, limits and timeouts
//! are exactly Node's. The bytes are looked at with `MSG_PEEK` until the
//! decision is taken, which is what makes the hand-over lossless.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::handshake::{accept_key, validate_upgrade, UpgradeRequest};
use crate::token::is_token_char;
use crate::{extension, subprotocol};

/// The longest request head taken natively; a longer one goes to Node,
/// which applies its own limit (`maxHeaderSize`, 16 KiB by default).
pub const MAX_HEAD: usize = 8 * 1024;
/// Length of a `Sec-WebSocket-Accept` value (base64 of 20 bytes).
pub const ACCEPT_LEN: usize = 28;
/// The most header lines taken natively (Node's `maxHeadersCount` is 2000).
const MAX_HEADERS: usize = 64;

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn errno(err: &io::Error) -> i32 {
    err.raw_os_error().unwrap_or(libc::EIO)
}

/// What the first bytes of a connection call for.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// No complete head yet.
    Incomplete,
    /// A valid upgrade request whose head is the first `len` bytes, its
    /// `Sec-WebSocket-Accept` value, and where its parts are.
    Upgrade {
        len: usize,
        accept: [u8; ACCEPT_LEN],
        index: HeadIndex,
    },
    /// Anything else: Node's HTTP server answers it.
    Other,
}

/// Where the request target and each header's name and (trimmed) value
/// lie in a head, so that JS builds the request without parsing it again.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HeadIndex {
    pub target: (u16, u16),
    /// (name start, name end, value start, value end) per header line.
    pub headers: Vec<[u16; 4]>,
}

impl HeadIndex {
    /// Bytes of the encoding `encode` writes.
    pub fn encoded_len(&self) -> usize {
        2 * (4 + 4 * self.headers.len())
    }

    /// The index as JS reads it, little-endian `u16`s: header count, head
    /// length, target start and end, then four per header.
    pub fn encode(&self, head_len: usize, out: &mut Vec<u8>) {
        let mut put = |v: u16| out.extend_from_slice(&v.to_le_bytes());
        put(self.headers.len() as u16);
        put(head_len as u16);
        put(self.target.0);
        put(self.target.1);
        for h in &self.headers {
            h.iter().for_each(|&v| put(v));
        }
    }
}

/// Classifies the first bytes read from a connection. Strict on purpose:
/// whatever is unusual goes to Node, whose parser has the last word.
pub fn classify(bytes: &[u8]) -> Head {
    let Some(end) = find_head_end(bytes) else {
        return if bytes.len() > MAX_HEAD {
            Head::Other
        } else {
            Head::Incomplete
        };
    };
    if end > MAX_HEAD {
        return Head::Other;
    }
    match parse_head(&bytes[..end]) {
        Some((accept, index)) => Head::Upgrade {
            len: end,
            accept,
            index,
        },
        None => Head::Other,
    }
}

/// The length of the head including its blank line, if complete.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Header names whose repetition or presence sends the request to Node.
fn is_watched(name: &[u8]) -> Option<usize> {
    const WATCHED: [&[u8]; 9] = [
        b"upgrade",
        b"connection",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"host",
        b"sec-websocket-protocol",
        b"sec-websocket-extensions",
        b"content-length",
        b"transfer-encoding",
    ];
    WATCHED.iter().position(|w| name.eq_ignore_ascii_case(w))
}

/// Checks the request line and header lines, then the upgrade headers in
/// ws's way. The accept key and the head's index when the request can be
/// upgraded natively.
fn parse_head(head: &[u8]) -> Option<([u8; ACCEPT_LEN], HeadIndex)> {
    // Without the blank line's CRLF CRLF, every line but the last ends in
    // CR (a bare LF is left to Node).
    let body = &head[..head.len() - 4];
    let last = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // Each line with where it starts in the head.
    let mut lines = body.split(|&b| b == b'\n').scan(0usize, |at, line| {
        let start = *at;
        *at += line.len() + 1;
        Some((
            start,
            if start == last {
                Some(line)
            } else {
                line.strip_suffix(b"\r")
            },
        ))
    });
    let request_line = lines.next()?.1?;
    let rest = request_line.strip_prefix(b"GET ")?;
    let target = rest.strip_suffix(b" HTTP/1.1")?;
    if target.is_empty() || !target.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return None;
    }
    // Heads are at most MAX_HEAD bytes: offsets fit in u16.
    let mut index = HeadIndex {
        target: (4, (4 + target.len()) as u16),
        headers: Vec::new(),
    };

    let mut values: [Option<&str>; 9] = [None; 9];
    for (at, line) in lines {
        let line = line?;
        if index.headers.len() == MAX_HEADERS {
            return None;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_token_char(b)) {
            return None;
        }
        if !value
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return None;
        }
        // Node trims the optional whitespace around a value.
        let lead = value
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let trail = value[lead..]
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let trimmed = &value[lead..value.len() - trail];
        let value_start = at + colon + 1 + lead;
        index.headers.push([
            at as u16,
            (at + colon) as u16,
            value_start as u16,
            (value_start + trimmed.len()) as u16,
        ]);
        if let Some(i) = is_watched(name) {
            if values[i].is_some() || i >= 7 {
                return None;
            }
            values[i] = Some(std::str::from_utf8(trimmed).ok()?);
        }
    }

    let req = UpgradeRequest {
        method: Some("GET"),
        upgrade: values[0],
        connection: values[1],
        key: values[2],
        version: values[3],
    };
    values[4]?;
    // Malformed subprotocol and extension offers are refused in JS with
    // `'wsClientError'`, whose listeners expect a `net.Socket`: Node's.
    if values[5].is_some_and(|v| subprotocol::parse(v).is_err())
        || values[6].is_some_and(|v| extension::parse(v).is_err())
    {
        return None;
    }
    // Node's HTTP server raises `'upgrade'` only with both headers: without
    // them the request is an ordinary one, which Node answers.
    if validate_upgrade(&req, true).is_some() {
        return None;
    }
    let accept = accept_key(req.key?);
    Some((accept.as_bytes().try_into().ok()?, index))
}

/// Builds a socket address from its parts.
pub fn socket_addr(ip: IpAddr, port: u16) -> SocketAddr {
    match ip {
        IpAddr::V4(v4) => SocketAddr::V4(SocketAddrV4::new(v4, port)),
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, 0)),
    }
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: libc::sockaddr_in =
                unsafe { std::ptr::read((storage as *const libc::sockaddr_storage).cast()) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: libc::sockaddr_in6 =
                unsafe { std::ptr::read((storage as *const libc::sockaddr_storage).cast()) };
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

fn set_int_option(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: the option value points to a live int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(last_error());
    }
    Ok(())
}

/// A non-blocking listening TCP socket on `addr`, as libuv makes one for
/// Node: `SO_REUSEADDR`, and on an IPv6 address `IPV6_V6ONLY` cleared
/// whatever the system's default (`net.ipv6.bindv6only`), so that `::`
/// takes IPv4 clients too and a v4-mapped address can be bound. libuv sets
/// it only when asked (`listen({ ipv6Only })`), which ws never does.
/// Returns the errno on failure.
pub fn bind_listen(addr: &SocketAddr, backlog: i32) -> Result<OwnedFd, i32> {
    bind_listen_with(addr, backlog, false)
}

/// `bind_listen`, with `SO_REUSEPORT` if `reuse_port` (several processes
/// then listen on the same port, and the kernel spreads the connections
/// between them).
pub fn bind_listen_with(addr: &SocketAddr, backlog: i32, reuse_port: bool) -> Result<OwnedFd, i32> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: `socket` takes ints and returns a new descriptor or -1.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(errno(&last_error()));
    }
    // SAFETY: a new descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1).map_err(|e| errno(&e))?;
    if reuse_port {
        set_int_option(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1).map_err(|e| errno(&e))?;
    }
    if family == libc::AF_INET6 {
        set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0).map_err(|e| errno(&e))?;
    }
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `storage` holds a socket address of `len` bytes.
    if unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) } < 0 {
        return Err(errno(&last_error()));
    }
    // SAFETY: `listen` takes ints.
    if unsafe { libc::listen(fd, backlog) } < 0 {
        return Err(errno(&last_error()));
    }
    Ok(owned)
}

/// Accepts one connection (non-blocking, close-on-exec): `Ok(None)` when
/// none is waiting.
pub fn accept(fd: RawFd) -> Result<Option<OwnedFd>, i32> {
    loop {
        // SAFETY: null address pointers are allowed; flags are ints.
        let conn = unsafe {
            libc::accept4(
                fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if conn >= 0 {
            // SAFETY: a new descriptor that nothing else owns.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(conn) }));
        }
        match errno(&last_error()) {
            libc::EINTR => continue,
            e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => return Ok(None),
            e => return Err(e),
        }
    }
}

/// A descriptor to hold in reserve (`/dev/null`), if one can be opened.
pub fn spare_fd() -> Option<OwnedFd> {
    // SAFETY: a NUL-terminated path and int flags; returns a new descriptor
    // or -1.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    // SAFETY: a new descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Turns Nagle's algorithm off (`setNoDelay(true)`) or on.
pub fn set_no_delay(fd: RawFd, on: bool) -> io::Result<()> {
    set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, i32::from(on))
}

/// `setKeepAlive(enable, initialDelay)`: the delay is in seconds (0 keeps
/// the system's).
pub fn set_keep_alive(fd: RawFd, on: bool, delay_secs: i32) -> io::Result<()> {
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, i32::from(on))?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if on && delay_secs > 0 {
        set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, delay_secs)?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = delay_secs;
    Ok(())
}

/// Reads without consuming: `Ok(Some(0))` at the end of stream, `Ok(None)`
/// when nothing is there yet.
pub fn peek(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of its length.
    super::fd::retry(|| unsafe {
        libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK)
    })
}

/// Consumes exactly `buf.len()` bytes that a peek saw (they are in the
/// socket's buffer, so one `recv` gets them all).
pub fn consume(fd: RawFd, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<()> {
    loop {
        // SAFETY: `buf` is valid for writes of its length; `recv` never
        // reads it.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_WAITALL) };
        if n >= 0 && n as usize == buf.len() {
            return Ok(());
        }
        if n >= 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        let err = last_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// The local address of a socket.
pub fn local_addr(fd: &impl AsRawFd) -> Option<SocketAddr> {
    name_of(fd.as_raw_fd(), false)
}

/// The peer's address of a connected socket.
pub fn peer_addr(fd: &impl AsRawFd) -> Option<SocketAddr> {
    name_of(fd.as_raw_fd(), true)
}

fn name_of(fd: RawFd, peer: bool) -> Option<SocketAddr> {
    // SAFETY: plain data; all zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let ptr = (&mut storage as *mut libc::sockaddr_storage).cast();
    // SAFETY: `storage` has room for `len` bytes, which the call updates.
    let rc = unsafe {
        if peer {
            libc::getpeername(fd, ptr, &mut len)
        } else {
            libc::getsockname(fd, ptr, &mut len)
        }
    };
    if rc < 0 {
        return None;
    }
    from_sockaddr(&storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nOrigin: http://a\r\n\r\n";

    #[test]
    fn a_plain_upgrade_is_native() {
        let accept: [u8; ACCEPT_LEN] = *b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let Head::Upgrade {
            len,
            accept: got,
            index,
        } = classify(GOOD)
        else {
            panic!("not native");
        };
        assert_eq!((len, got), (GOOD.len(), accept));
        let text = |(s, e): (u16, u16)| std::str::from_utf8(&GOOD[s as usize..e as usize]).unwrap();
        assert_eq!(text(index.target), "/chat?x=1");
        let pairs: Vec<(&str, &str)> = index
            .headers
            .iter()
            .map(|h| (text((h[0], h[1])), text((h[2], h[3]))))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Host", "a"),
                ("Upgrade", "websocket"),
                ("Connection", "keep-alive, Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
                ("Origin", "http://a")
            ]
        );
        let mut encoded = Vec::new();
        index.encode(len, &mut encoded);
        assert_eq!(encoded.len(), index.encoded_len());
        assert_eq!(&encoded[..4], &[6, 0, len as u8, (len >> 8) as u8]);
        let mut more = GOOD.to_vec();
        more.extend_from_slice(b"\x81\x85abcd");
        assert!(matches!(classify(&more), Head::Upgrade { len, .. } if len == GOOD.len()));
    }

    #[test]
    fn values_are_trimmed_as_node_does() {
        let head = b"GET / HTTP/1.1\r\nHost:  a \t\r\nUpgrade:websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nX-Empty:\r\n\r\n";
        let Head::Upgrade { index, .. } = classify(head) else {
            panic!("not native");
        };
        let value = |i: usize| {
            let h = index.headers[i];
            &head[h[2] as usize..h[3] as usize]
        };
        assert_eq!(value(0), b"a");
        assert_eq!(value(1), b"websocket");
        assert_eq!(value(5), b"");
    }

    #[test]
    fn partial_heads_wait() {
        for n in [0, 1, 10, GOOD.len() - 1] {
            assert_eq!(classify(&GOOD[..n]), Head::Incomplete, "{n}");
        }
        assert_eq!(classify(&vec![b'a'; MAX_HEAD + 1]), Head::Other);
    }

    #[test]
    fn anything_unusual_goes_to_node() {
        let swap = |from: &str, to: &str| {
            let s = std::str::from_utf8(GOOD).unwrap().replacen(from, to, 1);
            classify(s.as_bytes())
        };
        for (from, to) in [
            ("GET ", "POST "),
            ("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost"),
            ("Upgrade: websocket", "Upgrade: h2c"),
            ("Connection: keep-alive, Upgrade", "Connection: keep-alive"),
            ("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12"),
            ("Sec-WebSocket-Key: dGhl", "Sec-WebSocket-Key: !Ghl"),
            ("Host: a\r\n", ""),
            ("Host: a\r\n", "Host: a\r\nHost: b\r\n"),
            ("Origin: http://a", "Origin: caf\u{e9}"),
            ("Origin: http://a", "Content-Length: 0"),
            ("Origin: http://a", "Transfer-Encoding: chunked"),
            ("Origin: http://a", "Bad Name: x"),
            ("Origin: http://a", " folded"),
            ("Origin: http://a", "Origin: a\rb"),
            ("/chat?x=1", "/ch at"),
            ("Origin: http://a", "Sec-WebSocket-Protocol: a,,b"),
            ("Origin: http://a", "Sec-WebSocket-Extensions: x; y=\"\""),
            ("Upgrade: websocket\r\n", "Upgrade: websocket\n"),
        ] {
            assert_eq!(swap(from, to), Head::Other, "{from:?} -> {to:?}");
        }
        // Case and spacing as clients send them.
        assert!(matches!(
            swap("Upgrade: websocket", "upgrade:WebSocket  "),
            Head::Upgrade { .. }
        ));
    }

    #[test]
    fn listen_accept_peek_consume() {
        let addr = socket_addr(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let listener = bind_listen(&addr, 16).unwrap();
        let local = local_addr(&listener).unwrap();
        assert_ne!(local.port(), 0);
        assert_eq!(accept(listener.as_raw_fd()).unwrap().map(|_| ()), None);
        let mut client = std::net::TcpStream::connect(local).unwrap();
        use std::io::Write;
        client.write_all(GOOD).unwrap();
        let conn = loop {
            if let Some(c) = accept(listener.as_raw_fd()).unwrap() {
                break c;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        let mut buf = vec![0u8; MAX_HEAD + 1];
        let n = loop {
            if let Some(n) = peek(conn.as_raw_fd(), &mut buf).unwrap() {
                if n == GOOD.len() {
                    break n;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(matches!(classify(&buf[..n]), Head::Upgrade { len, .. } if len == n));
        let mut head = vec![std::mem::MaybeUninit::<u8>::uninit(); n];
        consume(conn.as_raw_fd(), &mut head).unwrap();
        assert_eq!(peek(conn.as_raw_fd(), &mut buf).unwrap(), None);
        assert_eq!(peer_addr(&conn), Some(client.local_addr().unwrap()));
        set_no_delay(conn.as_raw_fd(), true).unwrap();
        set_keep_alive(conn.as_raw_fd(), true, 5).unwrap();
        assert!(bind_listen(&local, 16).is_err_and(|e| e == libc::EADDRINUSE));
    }
}
