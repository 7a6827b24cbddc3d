//! `loadgen serve`: a minimal single-threaded WebSocket server in Rust (mio),
//! used only to measure the generator's ceiling. It speaks the same bench
//! protocol as bench/servers/*.js: echoes data messages, broadcasts a 64 B
//! binary message to every client on text "!B", answers "!G" with "!g",
//! sends a text message starting with "P" to every client (the publish of
//! `loadgen pubsub`: the floor under bench/cluster.js), and completes close
//! handshakes (close frame back, then FIN).
//! Messages are expected unfragmented (the generator never fragments).

use crate::frame::{self, apply_mask};
use base64::Engine;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use sha1::{Digest, Sha1};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};

const LISTENER: Token = Token(usize::MAX);
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

struct SConn {
    sock: TcpStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    upgraded: bool,
    fin_after_flush: bool,
    dirty: bool,
}

struct Server {
    poll: Poll,
    conns: Vec<Option<SConn>>,
    free: Vec<usize>,
    dirty: Vec<usize>,
    bcast: Vec<u8>,
    scratch: Vec<u8>,
}

pub fn serve(addr: SocketAddr) -> io::Result<()> {
    let mut listener = TcpListener::bind(addr)?;
    let port = listener.local_addr()?.port();
    println!("LISTENING {port}");
    let _ = io::stdout().flush();
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut s = Server {
        poll,
        conns: Vec::new(),
        free: Vec::new(),
        dirty: Vec::new(),
        bcast: frame::build(2, &[0x42u8; 64], None),
        scratch: vec![0u8; 256 * 1024],
    };
    let mut events = Events::with_capacity(4096);
    loop {
        match s.poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            let _ = sock.set_nodelay(true);
                            let i = s.free.pop().unwrap_or_else(|| {
                                s.conns.push(None);
                                s.conns.len() - 1
                            });
                            s.poll.registry().register(
                                &mut sock,
                                Token(i),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            s.conns[i] = Some(SConn {
                                sock,
                                rbuf: Vec::new(),
                                wbuf: Vec::new(),
                                wpos: 0,
                                upgraded: false,
                                fin_after_flush: false,
                                dirty: false,
                            });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
            } else {
                s.on_ready(ev.token().0);
            }
        }
        let dirty = std::mem::take(&mut s.dirty);
        for &i in &dirty {
            if let Some(c) = s.conns[i].as_mut() {
                c.dirty = false;
            }
            s.flush(i);
        }
        s.dirty = dirty;
        s.dirty.clear();
    }
}

impl Server {
    fn close(&mut self, i: usize) {
        if let Some(mut c) = self.conns[i].take() {
            let _ = self.poll.registry().deregister(&mut c.sock);
            self.free.push(i);
        }
    }

    fn mark(&mut self, i: usize) {
        if let Some(c) = self.conns[i].as_mut() {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(i);
            }
        }
    }

    fn on_ready(&mut self, i: usize) {
        loop {
            let Some(c) = self.conns[i].as_mut() else {
                return;
            };
            match c.sock.read(&mut self.scratch) {
                Ok(0) => {
                    self.close(i);
                    return;
                }
                Ok(n) => {
                    c.rbuf.extend_from_slice(&self.scratch[..n]);
                    if !self.process(i) {
                        self.close(i);
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(i);
                    return;
                }
            }
        }
        self.mark(i);
    }

    /// Handles complete requests/frames in rbuf. false: drop the connection.
    fn process(&mut self, i: usize) -> bool {
        let mut bcasts = 0usize;
        let mut pubs: Vec<Vec<u8>> = Vec::new();
        {
            let c = self.conns[i].as_mut().unwrap();
            if !c.upgraded {
                let Some(end) = c.rbuf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return c.rbuf.len() < 16384;
                };
                let head = String::from_utf8_lossy(&c.rbuf[..end]).into_owned();
                c.rbuf.drain(..end + 4);
                let key = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| v.trim().to_string())
                });
                let Some(key) = key else { return false };
                let mut h = Sha1::new();
                h.update(key.as_bytes());
                h.update(GUID.as_bytes());
                let accept = base64::engine::general_purpose::STANDARD.encode(h.finalize());
                c.wbuf.extend_from_slice(
                    format!(
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                         Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                c.upgraded = true;
            }
            let mut pos = 0;
            loop {
                let b = &c.rbuf[pos..];
                if b.len() < 2 {
                    break;
                }
                let opcode = b[0] & 0x0f;
                let masked = b[1] & 0x80 != 0;
                let (len, mut h) = match b[1] & 0x7f {
                    126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                    127 if b.len() >= 10 => (
                        u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => break,
                    n => (n as usize, 2),
                };
                if !masked {
                    return false;
                }
                if b.len() < h + 4 + len {
                    break;
                }
                let key = [b[h], b[h + 1], b[h + 2], b[h + 3]];
                h += 4;
                let payload = &b[h..h + len];
                let frame_len = h + len;
                match opcode {
                    1 if len > 0 && payload[0] ^ key[0] == b'P' => {
                        let mut p = payload.to_vec();
                        apply_mask(&mut p, key, 0);
                        pubs.push(frame::build(1, &p, None));
                    }
                    1 if len == 2 && payload[0] ^ key[0] == b'!' => match payload[1] ^ key[1] {
                        b'B' => bcasts += 1,
                        b'G' => c.wbuf.extend_from_slice(&frame::build(1, b"!g", None)),
                        _ => {}
                    },
                    1 | 2 => {
                        let start = c.wbuf.len();
                        let hdr_at = start;
                        // header, then the payload unmasked in place
                        if len < 126 {
                            c.wbuf.extend_from_slice(&[0x80 | opcode, len as u8]);
                        } else if len <= 0xffff {
                            c.wbuf.extend_from_slice(&[0x80 | opcode, 126]);
                            c.wbuf.extend_from_slice(&(len as u16).to_be_bytes());
                        } else {
                            c.wbuf.push(0x80 | opcode);
                            c.wbuf.push(127);
                            c.wbuf.extend_from_slice(&(len as u64).to_be_bytes());
                        }
                        let _ = hdr_at;
                        let p0 = c.wbuf.len();
                        c.wbuf.extend_from_slice(payload);
                        apply_mask(&mut c.wbuf[p0..], key, 0);
                    }
                    8 => {
                        let mut p = payload.to_vec();
                        apply_mask(&mut p, key, 0);
                        let code = if p.len() >= 2 { &p[..2] } else { &[][..] };
                        c.wbuf.extend_from_slice(&frame::build(8, code, None));
                        c.fin_after_flush = true;
                        pos += frame_len;
                        break;
                    }
                    9 => {
                        let mut p = payload.to_vec();
                        apply_mask(&mut p, key, 0);
                        c.wbuf.extend_from_slice(&frame::build(10, &p, None));
                    }
                    _ => {}
                }
                pos += frame_len;
            }
            if pos > 0 {
                c.rbuf.drain(..pos);
            }
        }
        let bcast = std::mem::take(&mut self.bcast);
        let sends = std::iter::repeat_n(&bcast, bcasts).chain(pubs.iter());
        for msg in sends {
            for j in 0..self.conns.len() {
                let ok = match self.conns[j].as_mut() {
                    Some(c) if c.upgraded && !c.fin_after_flush => {
                        c.wbuf.extend_from_slice(msg);
                        true
                    }
                    _ => false,
                };
                if ok {
                    self.mark(j);
                }
            }
        }
        self.bcast = bcast;
        true
    }

    fn flush(&mut self, i: usize) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        while c.wpos < c.wbuf.len() {
            match c.sock.write(&c.wbuf[c.wpos..]) {
                Ok(n) => c.wpos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(i);
                    return;
                }
            }
        }
        c.wbuf.clear();
        c.wpos = 0;
        if c.fin_after_flush {
            let _ = c.sock.shutdown(Shutdown::Write);
        }
    }
}
