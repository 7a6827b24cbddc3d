//! pubsub mode: subscribers spread over several servers (processes sharing
//! a topic), one publisher, publishes at a fixed rate. Each publish is a
//! text message "P<seq> <padding>"; every server delivers it to each of its
//! subscribers as it was published. Measures deliveries per second and, per
//! publish, the time from its send to its last delivery (every subscriber
//! in every process has it), from one clock.
//!
//! With `socketio`, it speaks socket.io over engine.io's WebSocket transport
//! (`/socket.io/?EIO=4&transport=websocket`): "40" to connect, "3" for each
//! ping "2", events `42["p","P.."]` out and `42["m","P.."]` in.

use crate::frame::{self, MASK};
use crate::procstat;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct Cfg {
    pub addrs: Vec<SocketAddr>,
    pub conns: usize,
    pub rate: f64,
    pub size: usize,
    pub warmup: f64,
    pub duration: f64,
    pub pids: Vec<String>,
    pub socketio: bool,
    pub open_timeout: f64,
}

struct Conn {
    sock: TcpStream,
    open: bool,
    hs: Vec<u8>,
    buf: Vec<u8>,
    wbuf: Vec<u8>,
}

/// What a publish became.
#[derive(Clone, Copy)]
struct Sent {
    at: Instant,
    got: u32,
    last: Option<Instant>,
}

pub fn run(cfg: Cfg) -> std::io::Result<String> {
    let mut poll = Poll::new()?;
    let total = cfg.conns + 1;
    let path = if cfg.socketio {
        "/socket.io/?EIO=4&transport=websocket"
    } else {
        "/"
    };
    let mut conns = Vec::with_capacity(total);
    for i in 0..total {
        // The publisher (the last one) is on the first server.
        let addr = if i == cfg.conns {
            cfg.addrs[0]
        } else {
            cfg.addrs[i % cfg.addrs.len()]
        };
        let mut sock = TcpStream::connect(addr)?;
        sock.set_nodelay(true)?;
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        conns.push(Conn {
            sock,
            open: false,
            hs: Vec::new(),
            buf: Vec::new(),
            wbuf: req.into_bytes(),
        });
    }

    let started = Instant::now();
    let mut open = 0usize;
    let mut sent: Vec<Sent> = Vec::new();
    let mut deliveries = 0u64;
    let mut errors = 0u64;
    let mut first_error: Option<String> = None;
    let mut events = Events::with_capacity(4096);
    let mut scratch = vec![0u8; 256 * 1024];
    let mut ready_at: Option<Instant> = None;
    let mut measure: Option<(usize, Instant, u64)> = None;
    let mut measured: Option<(usize, usize, f64, u64)> = None;
    let mut cpu0 = Vec::new();
    let mut cpu1 = Vec::new();
    let mut gen0 = None;
    let mut gen1 = None;
    let pad = "x".repeat(cfg.size.saturating_sub(12));
    let interval = Duration::from_secs_f64(1.0 / cfg.rate.max(0.001));
    let mut next_send: Option<Instant> = None;
    let mut err = |what: String, errors: &mut u64| {
        *errors += 1;
        if first_error.is_none() {
            first_error = Some(what);
        }
    };

    loop {
        let now = Instant::now();
        // Stages: opening, a settle delay (cross-process subscriptions),
        // warm-up, measuring, a drain delay.
        let settle = Duration::from_millis(500);
        let warm = Duration::from_secs_f64(cfg.warmup);
        let dur = Duration::from_secs_f64(cfg.duration);
        if ready_at.is_none() {
            if open == total {
                ready_at = Some(now);
                next_send = Some(now + settle);
            } else if now.duration_since(started).as_secs_f64() > cfg.open_timeout {
                err(
                    format!("only {open} of {total} connections opened"),
                    &mut errors,
                );
                break;
            }
        }
        if let Some(r) = ready_at {
            let t_meas = r + settle + warm;
            if measure.is_none() && now >= t_meas {
                cpu0 = cfg.pids.iter().map(|p| procstat::cpu(p)).collect();
                gen0 = procstat::cpu("self");
                measure = Some((sent.len(), now, deliveries));
            }
            if let Some((first, t0, d0)) = measure {
                if measured.is_none() && now >= t0 + dur {
                    cpu1 = cfg.pids.iter().map(|p| procstat::cpu(p)).collect();
                    gen1 = procstat::cpu("self");
                    let secs = now.duration_since(t0).as_secs_f64();
                    measured = Some((first, sent.len(), secs, deliveries - d0));
                    next_send = None;
                }
            }
            if let Some((_, _, _, _)) = measured {
                if now >= t_meas + dur + Duration::from_secs(1) {
                    break;
                }
            }
        }
        // Publish what is due (bursts catch up after a late wakeup).
        if let Some(mut due) = next_send {
            while due <= now {
                let seq = sent.len();
                let text = format!("P{seq} {pad}");
                let payload = if cfg.socketio {
                    format!("42[\"p\",\"{text}\"]")
                } else {
                    text
                };
                let f = frame::build(1, payload.as_bytes(), Some(MASK));
                conns[cfg.conns].wbuf.extend_from_slice(&f);
                sent.push(Sent {
                    at: now,
                    got: 0,
                    last: None,
                });
                due += interval;
            }
            next_send = Some(due);
            flush(&mut conns[cfg.conns]);
        }
        let timeout = next_send
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(20))
            .min(Duration::from_millis(20));
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        for ev in events.iter() {
            let i = ev.token().0;
            let c = &mut conns[i];
            if ev.is_writable() {
                flush(c);
            }
            loop {
                match c.sock.read(&mut scratch) {
                    Ok(0) => {
                        err(format!("connection {i} closed"), &mut errors);
                        break;
                    }
                    Ok(n) => {
                        let mut data = &scratch[..n];
                        if !c.open {
                            c.hs.extend_from_slice(data);
                            let Some(end) = c.hs.windows(4).position(|w| w == b"\r\n\r\n") else {
                                continue;
                            };
                            if !c.hs.starts_with(b"HTTP/1.1 101") {
                                err(format!("upgrade refused on {i}"), &mut errors);
                                break;
                            }
                            let rest = end + 4 - (c.hs.len() - n);
                            c.hs.clear();
                            c.open = true;
                            open += 1;
                            if cfg.socketio {
                                c.wbuf
                                    .extend_from_slice(&frame::build(1, b"40", Some(MASK)));
                            }
                            data = &scratch[rest..n];
                        }
                        c.buf.extend_from_slice(data);
                        let mut pos = 0;
                        while let Some((op, start, end)) = next_frame(&c.buf[pos..]) {
                            let payload = &c.buf[pos + start..pos + end];
                            match op {
                                0x1 => {
                                    let msg = if cfg.socketio {
                                        if payload == b"2" {
                                            let pong = frame::build(1, b"3", Some(MASK));
                                            c.wbuf.extend_from_slice(&pong);
                                            None
                                        } else {
                                            payload.strip_prefix(b"42[\"m\",\"")
                                        }
                                    } else {
                                        Some(payload)
                                    };
                                    if let Some(seq) = msg.and_then(parse_seq) {
                                        deliveries += 1;
                                        if let Some(s) = sent.get_mut(seq) {
                                            s.got += 1;
                                            s.last = Some(now);
                                        }
                                    }
                                }
                                0x9 => {
                                    let pong = frame::build(10, payload, Some(MASK));
                                    c.wbuf.extend_from_slice(&pong);
                                }
                                0x8 => err(format!("server closed {i}"), &mut errors),
                                _ => {}
                            }
                            pos += end;
                        }
                        c.buf.drain(..pos);
                        if n < scratch.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => {
                        err(format!("read {i}: {e}"), &mut errors);
                        break;
                    }
                }
            }
            flush(c);
        }
    }

    let mut j = crate::client::Json::new();
    j.s(
        "mode",
        if cfg.socketio {
            "pubsub-socketio"
        } else {
            "pubsub"
        },
    );
    j.n("conns", cfg.conns as f64);
    j.n("servers", cfg.addrs.len() as f64);
    j.n("rate", cfg.rate);
    if let Some((first, last, secs, got)) = measured {
        j.n("secs", secs);
        j.n("publishes", (last - first) as f64);
        j.n("deliveries_per_s", got as f64 / secs);
        let mut lat: Vec<f64> = Vec::new();
        let mut incomplete = 0;
        for s in &sent[first..last] {
            match s.last {
                Some(l) if s.got as usize >= total => {
                    lat.push(l.duration_since(s.at).as_secs_f64() * 1000.0)
                }
                _ => incomplete += 1,
            }
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let q = |p: f64| {
            if lat.is_empty() {
                f64::NAN
            } else {
                lat[((lat.len() as f64 - 1.0) * p).round() as usize]
            }
        };
        j.n("last_p50_ms", q(0.5));
        j.n("last_p99_ms", q(0.99));
        j.n("last_max_ms", q(1.0));
        j.n("incomplete", incomplete as f64);
        let mut cpu = 0.0;
        for (a, b) in cpu0.iter().zip(cpu1.iter()) {
            if let (Some(a), Some(b)) = (a, b) {
                cpu += procstat::cpu_delta_s(a, b).0;
            }
        }
        j.n("server_cpu_s", cpu);
        if got > 0 {
            j.n("server_cpu_us_per_delivery", cpu * 1e6 / got as f64);
        }
        if let (Some(a), Some(b)) = (gen0, gen1) {
            j.n("gen_cpu_s", procstat::cpu_delta_s(&a, &b).0);
        }
    }
    j.n("errors", errors as f64);
    if let Some(e) = &first_error {
        j.s("first_error", e);
    }
    Ok(j.finish())
}

fn flush(c: &mut Conn) {
    while !c.wbuf.is_empty() {
        match c.sock.write(&c.wbuf) {
            Ok(n) => {
                c.wbuf.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

/// The next complete (unmasked, server) frame: opcode and payload range.
fn next_frame(b: &[u8]) -> Option<(u8, usize, usize)> {
    if b.len() < 2 {
        return None;
    }
    let op = b[0] & 0x0f;
    let len7 = (b[1] & 0x7f) as usize;
    let (len, hdr) = match len7 {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([b[2], b[3]]) as usize, 4)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            (u64::from_be_bytes(l) as usize, 10)
        }
        n => (n, 2),
    };
    if b.len() < hdr + len {
        return None;
    }
    Some((op, hdr, hdr + len))
}

/// The sequence number of "P<seq> ...".
fn parse_seq(p: &[u8]) -> Option<usize> {
    let rest = p.strip_prefix(b"P")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}
