//! The load generator: one thread, one mio poll, non-blocking sockets.
//!
//! Modes:
//! - echo: `conns` connections, each keeping `inflight` messages of `size`
//!   bytes outstanding; every echo received sends the next message. Counts
//!   echoes and their latency (send to echo, per connection in order).
//! - broadcast: `conns` connections; once all are open, connection 0 keeps
//!   `inflight` broadcast requests (text "!B") outstanding; the server sends a
//!   message to every client for each. Counts deliveries.
//! - connect: `conns` slots, each looping: TCP connect, upgrade, close
//!   handshake started by us, server's close frame, server's FIN, close.
//!   Counts completed cycles.
//! - idle: opens connection 0, asks the server to collect garbage (text "!G",
//!   answered by any message), reads the server's RSS, opens the other
//!   `conns - 1`, asks for a collection again, reads RSS again. With
//!   `deflate`, every connection offers permessage-deflate and, once
//!   upgraded, sends one compressed message and waits for its compressed
//!   echo before it counts as open, so that the server holds both its
//!   decompressor and its compressor for it. With `settle`, the server is
//!   then left idle that long, asked to collect garbage once more, and its
//!   RSS read again (V8 gives back young-generation pages only when idle).

use crate::frame::{self, Ev, Parser, MASK};
use crate::procstat::{self, Cpu};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Mode {
    Echo,
    Broadcast,
    Connect,
    Idle,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Broadcast => "broadcast",
            Mode::Connect => "connect",
            Mode::Idle => "idle",
        }
    }
}

pub struct Cfg {
    pub mode: Mode,
    pub addr: SocketAddr,
    pub path: String,
    pub conns: usize,
    pub inflight: usize,
    pub size: usize,
    pub text: bool,
    pub warmup: f64,
    pub duration: f64,
    pub pid: Option<String>,
    pub hold: f64,
    /// idle: seconds left idle after measuring, then RSS read again.
    pub settle: f64,
    /// How many connections may be opening (TCP + upgrade) at once.
    pub max_pending: usize,
    /// Give up if the connections are not all open after this long.
    pub open_timeout: f64,
    /// Offer permessage-deflate (idle mode: and exchange one compressed
    /// message per connection).
    pub deflate: bool,
}

#[derive(PartialEq, Clone, Copy, Debug)]
enum Phase {
    Free,
    Connecting,
    Upgrading,
    /// idle with deflate: upgraded, our compressed message sent, waiting
    /// for its echo (still counted as pending).
    Priming,
    Open,
    /// connect mode: our close frame sent, waiting for the server's.
    Closing,
    /// connect mode: close handshake done, waiting for the server's FIN.
    WaitEof,
}

struct Conn {
    sock: Option<TcpStream>,
    phase: Phase,
    hs: Vec<u8>,
    parser: Parser,
    wbuf: Vec<u8>,
    wpos: usize,
    sent: VecDeque<Instant>,
}

impl Conn {
    fn new() -> Self {
        Conn {
            sock: None,
            phase: Phase::Free,
            hs: Vec::new(),
            parser: Parser::new(),
            wbuf: Vec::new(),
            wpos: 0,
            sent: VecDeque::new(),
        }
    }
}

#[derive(PartialEq, Clone, Copy, Debug)]
enum Stage {
    /// Opening connections (echo, broadcast; idle: connection 0 only).
    Opening,
    Warmup,
    Measuring,
    /// idle: waiting for the answer to "!G", then a settle delay.
    IdleGc1,
    IdleSettle1,
    IdleOpening,
    IdleGc2,
    IdleSettle2,
    /// idle with --settle: the server left alone, then "!G" once more.
    IdleQuiet,
    IdleGc3,
    IdleSettle3,
    IdleHold,
    Done,
}

struct Gen {
    cfg: Cfg,
    poll: Poll,
    conns: Vec<Conn>,
    msg_frame: Vec<u8>,
    upgrade_req: Vec<u8>,
    close_frame: Vec<u8>,
    bcast_frame: Vec<u8>,
    gc_frame: Vec<u8>,
    /// idle with deflate: the compressed message each connection sends.
    prime_frame: Vec<u8>,
    scratch: Vec<u8>,
    evs: Vec<Ev>,
    stage: Stage,
    deadline: Option<Instant>,
    next_to_open: usize,
    pending: usize,
    open: usize,
    count: u64,
    total_recv: u64,
    bcast_sent: u64,
    lat: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    gc_answered: bool,
    /// Compressed echoes received (idle with deflate).
    compressed_echoes: u64,
    // readings
    t_meas: Option<Instant>,
    t_end: Option<Instant>,
    cpu0: Option<Cpu>,
    cpu1: Option<Cpu>,
    gen0: Option<Cpu>,
    gen1: Option<Cpu>,
    rss0: Option<u64>,
    rss1: Option<u64>,
    rss2: Option<u64>,
    opened_at: Option<Instant>,
    started: Instant,
}

fn is_conn_refused(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset | ErrorKind::AddrNotAvailable
    )
}

impl Gen {
    fn new(cfg: Cfg) -> io::Result<Self> {
        let payload: Vec<u8> = if cfg.text {
            vec![b'x'; cfg.size]
        } else {
            (0..cfg.size).map(|i| (i * 31 + 7) as u8).collect()
        };
        let msg_frame = frame::build(if cfg.text { 1 } else { 2 }, &payload, Some(MASK));
        // The same message, compressed (a stored block), with RSV1.
        let mut prime_frame = frame::build(
            if cfg.text { 1 } else { 2 },
            &frame::stored_deflate(&payload),
            Some(MASK),
        );
        prime_frame[0] |= 0x40;
        // What browsers offer.
        let extensions = if cfg.deflate {
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        } else {
            ""
        };
        let upgrade_req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}\r\n",
            cfg.path, cfg.addr, extensions
        )
        .into_bytes();
        let slots = cfg.conns.max(1);
        let mut conns = Vec::with_capacity(slots);
        conns.resize_with(slots, Conn::new);
        Ok(Gen {
            poll: Poll::new()?,
            conns,
            msg_frame,
            upgrade_req,
            close_frame: frame::build(8, &1000u16.to_be_bytes(), Some(MASK)),
            bcast_frame: frame::build(1, b"!B", Some(MASK)),
            gc_frame: frame::build(1, b"!G", Some(MASK)),
            prime_frame,
            scratch: vec![0u8; 256 * 1024],
            evs: Vec::with_capacity(256),
            stage: Stage::Opening,
            deadline: None,
            next_to_open: 0,
            pending: 0,
            open: 0,
            count: 0,
            total_recv: 0,
            bcast_sent: 0,
            lat: Vec::new(),
            errors: 0,
            first_error: None,
            gc_answered: false,
            compressed_echoes: 0,
            t_meas: None,
            t_end: None,
            cpu0: None,
            cpu1: None,
            gen0: None,
            gen1: None,
            rss0: None,
            rss1: None,
            rss2: None,
            opened_at: None,
            started: Instant::now(),
            cfg,
        })
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }

    fn start_conn(&mut self, i: usize) -> io::Result<()> {
        let mut sock = TcpStream::connect(self.cfg.addr)?;
        if self.cfg.mode != Mode::Connect {
            // Pipelined small messages; connect mode never has unacked data
            // when it writes, so it saves the system call.
            sock.set_nodelay(true)?;
        }
        self.poll.registry().register(
            &mut sock,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let c = &mut self.conns[i];
        c.sock = Some(sock);
        c.phase = Phase::Connecting;
        c.hs.clear();
        c.parser = Parser::new();
        c.wbuf.clear();
        c.wpos = 0;
        c.sent.clear();
        self.pending += 1;
        Ok(())
    }

    fn drop_conn(&mut self, i: usize) {
        let c = &mut self.conns[i];
        // Closing the socket takes it out of the epoll set.
        drop(c.sock.take());
        match c.phase {
            Phase::Connecting | Phase::Upgrading | Phase::Priming => self.pending -= 1,
            Phase::Open | Phase::Closing | Phase::WaitEof => self.open -= 1,
            Phase::Free => {}
        }
        c.phase = Phase::Free;
    }

    /// Opens more connections while under the pending limit.
    fn open_more(&mut self, upto: usize) {
        while self.next_to_open < upto && self.pending < self.cfg.max_pending {
            let i = self.next_to_open;
            self.next_to_open += 1;
            if let Err(e) = self.start_conn(i) {
                self.error(format!("connect: {e}"));
            }
        }
    }

    fn on_open(&mut self, i: usize, now: Instant) {
        if self.cfg.mode == Mode::Idle && self.cfg.deflate {
            let c = &mut self.conns[i];
            c.phase = Phase::Priming;
            c.wbuf.extend_from_slice(&self.prime_frame);
            return;
        }
        self.pending -= 1;
        self.open += 1;
        let c = &mut self.conns[i];
        c.phase = Phase::Open;
        match self.cfg.mode {
            Mode::Echo => {
                for _ in 0..self.cfg.inflight {
                    c.sent.push_back(now);
                    c.wbuf.extend_from_slice(&self.msg_frame);
                }
            }
            Mode::Connect => {
                c.wbuf.extend_from_slice(&self.close_frame);
                c.phase = Phase::Closing;
            }
            Mode::Broadcast | Mode::Idle => {}
        }
    }

    fn on_event(&mut self, i: usize, now: Instant, ev: &mio::event::Event) {
        let phase = self.conns[i].phase;
        if phase == Phase::Free {
            return;
        }
        if phase == Phase::Connecting {
            // A non-blocking connect has finished when the socket turns
            // writable; it failed if there is an error with it.
            if ev.is_error() || ev.is_write_closed() {
                let c = &mut self.conns[i];
                let e = match c.sock.as_ref().unwrap().take_error() {
                    Ok(Some(e)) | Err(e) => e.to_string(),
                    Ok(None) => "connection closed".into(),
                };
                self.error(format!("connect: {e}"));
                self.drop_conn(i);
                self.reopen(i);
                return;
            }
            if !ev.is_writable() {
                return;
            }
            let c = &mut self.conns[i];
            c.phase = Phase::Upgrading;
            c.wbuf.extend_from_slice(&self.upgrade_req);
            self.flush(i);
            if self.conns[i].sock.is_none() || !ev.is_readable() {
                return;
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut evs = std::mem::take(&mut self.evs);
        let mut alive = true;
        loop {
            let c = &mut self.conns[i];
            let Some(sock) = c.sock.as_mut() else {
                alive = false;
                break;
            };
            match sock.read(&mut scratch) {
                Ok(0) => {
                    alive = false;
                    if c.phase == Phase::WaitEof {
                        if self.stage == Stage::Measuring {
                            self.count += 1;
                        }
                    } else {
                        let ph = c.phase;
                        self.error(format!("server closed the connection ({ph:?})"));
                    }
                    self.drop_conn(i);
                    self.reopen(i);
                    break;
                }
                Ok(n) => {
                    // A short read drained the socket: new data will raise a
                    // new edge (Linux signals every arrival), so skip the
                    // read that would only say EAGAIN.
                    // Not when the peer's FIN is already in: read to EOF.
                    let drained = n < scratch.len() && !ev.is_read_closed();
                    let mut data = &scratch[..n];
                    if c.phase == Phase::Upgrading {
                        c.hs.extend_from_slice(data);
                        let Some(end) = find_crlf2(&c.hs) else {
                            if c.hs.len() > 16384 {
                                self.error("oversized upgrade response".into());
                                self.drop_conn(i);
                                alive = false;
                                break;
                            }
                            continue;
                        };
                        if !c.hs.starts_with(b"HTTP/1.1 101") {
                            let line =
                                String::from_utf8_lossy(&c.hs[..c.hs.len().min(60)]).into_owned();
                            self.error(format!("upgrade refused: {line}"));
                            self.drop_conn(i);
                            alive = false;
                            break;
                        }
                        if self.cfg.deflate && !accepts_deflate(&c.hs[..end]) {
                            self.error("the server did not accept permessage-deflate".into());
                            self.drop_conn(i);
                            alive = false;
                            break;
                        }
                        let rest_from = end + 4 - (c.hs.len() - n);
                        c.hs.clear();
                        data = &scratch[rest_from..n];
                        self.on_open(i, now);
                    }
                    let now = if self.cfg.mode == Mode::Echo {
                        Instant::now()
                    } else {
                        now
                    };
                    let c = &mut self.conns[i];
                    c.parser.feed(data, &mut evs);
                    if !evs.is_empty() {
                        self.handle(i, &mut evs, now);
                        evs.clear();
                        if self.conns[i].sock.is_none() {
                            alive = false;
                            break;
                        }
                    }
                    if drained {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    if !is_conn_refused(&e) || self.stage != Stage::Done {
                        self.error(format!("read: {e}"));
                    }
                    self.drop_conn(i);
                    self.reopen(i);
                    alive = false;
                    break;
                }
            }
        }
        self.scratch = scratch;
        self.evs = evs;
        if alive {
            self.flush(i);
        }
    }

    /// connect mode: a slot whose connection ended starts the next one.
    fn reopen(&mut self, i: usize) {
        if self.cfg.mode == Mode::Connect && self.stage != Stage::Done {
            if let Err(e) = self.start_conn(i) {
                self.error(format!("connect: {e}"));
            }
        }
    }

    fn handle(&mut self, i: usize, evs: &mut Vec<Ev>, now: Instant) {
        let measuring = self.stage == Stage::Measuring;
        for ev in evs.drain(..) {
            let c = &mut self.conns[i];
            match ev {
                Ev::Data { opcode, len, rsv1 } => {
                    self.total_recv += 1;
                    if c.phase == Phase::Priming {
                        // idle with deflate: the echo of our compressed
                        // message; the connection now counts as open.
                        if rsv1 {
                            self.compressed_echoes += 1;
                        } else {
                            self.error("the echo was not compressed".into());
                        }
                        let c = &mut self.conns[i];
                        c.phase = Phase::Open;
                        self.pending -= 1;
                        self.open += 1;
                        continue;
                    }
                    match self.cfg.mode {
                        Mode::Echo => {
                            let want = if self.cfg.text { 1 } else { 2 };
                            if len != self.cfg.size as u64 || opcode != want {
                                self.error(format!("echo of opcode {opcode}, {len} B"));
                            }
                            let c = &mut self.conns[i];
                            if let Some(t) = c.sent.pop_front() {
                                if measuring {
                                    let ns = now.saturating_duration_since(t).as_nanos();
                                    self.lat.push(ns.min(u32::MAX as u128) as u32);
                                }
                            }
                            if measuring {
                                self.count += 1;
                            }
                            if self.stage != Stage::Done {
                                c.sent.push_back(now);
                                c.wbuf.extend_from_slice(&self.msg_frame);
                            }
                        }
                        Mode::Broadcast => {
                            if measuring {
                                self.count += 1;
                            }
                        }
                        Mode::Idle => self.gc_answered = true,
                        Mode::Connect => {}
                    }
                }
                Ev::Ping(p) => {
                    let f = frame::build(10, &p, Some(MASK));
                    c.wbuf.extend_from_slice(&f);
                }
                Ev::Pong => {}
                Ev::Close(code) => {
                    if c.phase == Phase::Closing {
                        c.phase = Phase::WaitEof;
                    } else {
                        self.error(format!("server sent close {code}"));
                        self.drop_conn(i);
                        self.reopen(i);
                        return;
                    }
                }
                Ev::Bad => {
                    self.error("bad frame from server".into());
                    self.drop_conn(i);
                    self.reopen(i);
                    return;
                }
            }
        }
    }

    fn flush(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let Some(sock) = c.sock.as_mut() else { return };
        while c.wpos < c.wbuf.len() {
            match sock.write(&c.wbuf[c.wpos..]) {
                Ok(n) => c.wpos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error(format!("write: {e}"));
                    self.drop_conn(i);
                    self.reopen(i);
                    return;
                }
            }
        }
        if c.wpos == c.wbuf.len() {
            c.wbuf.clear();
            c.wpos = 0;
        } else if c.wpos > 1 << 20 {
            c.wbuf.drain(..c.wpos);
            c.wpos = 0;
        }
    }

    fn send_on(&mut self, i: usize, f: fn(&Gen) -> &Vec<u8>) {
        let bytes = f(self).clone();
        if self.conns[i].sock.is_some() {
            self.conns[i].wbuf.extend_from_slice(&bytes);
            self.flush(i);
        }
    }

    fn read_start(&mut self) {
        let pid = self.cfg.pid.clone();
        if let Some(p) = &pid {
            self.cpu0 = procstat::cpu(p);
            self.rss0 = procstat::rss_kb(p);
        }
        self.gen0 = procstat::cpu("self");
        self.t_meas = Some(Instant::now());
    }

    fn read_end(&mut self) {
        self.t_end = Some(Instant::now());
        self.gen1 = procstat::cpu("self");
        if let Some(p) = self.cfg.pid.clone() {
            self.cpu1 = procstat::cpu(&p);
            self.rss1 = procstat::rss_kb(&p);
        }
    }

    /// Moves the run along: timers, stage changes, broadcast top-up.
    fn tick(&mut self, now: Instant) {
        let n = self.cfg.conns;
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
        match self.stage {
            Stage::Opening => {
                let upto = if self.cfg.mode == Mode::Idle { 1 } else { n };
                self.open_more(upto);
                let ready = if self.cfg.mode == Mode::Connect {
                    true
                } else {
                    self.open >= upto
                };
                if ready {
                    self.opened_at = Some(now);
                    if self.cfg.mode == Mode::Idle {
                        self.gc_answered = false;
                        self.send_on(0, |g| &g.gc_frame);
                        self.stage = Stage::IdleGc1;
                    } else {
                        self.stage = Stage::Warmup;
                        self.deadline = Some(now + secs(self.cfg.warmup));
                    }
                } else if now.duration_since(self.started).as_secs_f64() > self.cfg.open_timeout {
                    self.error(format!("only {} of {} connections opened", self.open, upto));
                    self.stage = Stage::Done;
                }
            }
            Stage::Warmup => {
                if now >= self.deadline.unwrap() {
                    self.read_start();
                    self.stage = Stage::Measuring;
                    self.deadline = Some(self.t_meas.unwrap() + secs(self.cfg.duration));
                }
            }
            Stage::Measuring => {
                if now >= self.deadline.unwrap() {
                    self.read_end();
                    self.stage = Stage::Done;
                }
            }
            Stage::IdleGc1 | Stage::IdleGc2 => {
                if self.gc_answered {
                    self.stage = if self.stage == Stage::IdleGc1 {
                        Stage::IdleSettle1
                    } else {
                        Stage::IdleSettle2
                    };
                    self.deadline = Some(now + Duration::from_millis(300));
                } else if self.conns[0].sock.is_none() {
                    self.error("connection 0 lost".into());
                    self.stage = Stage::Done;
                }
            }
            Stage::IdleSettle1 => {
                if now >= self.deadline.unwrap() {
                    self.read_start();
                    self.stage = Stage::IdleOpening;
                }
            }
            Stage::IdleOpening => {
                self.open_more(n);
                if self.open >= n {
                    self.gc_answered = false;
                    self.send_on(0, |g| &g.gc_frame);
                    self.stage = Stage::IdleGc2;
                } else if now.duration_since(self.started).as_secs_f64() > self.cfg.open_timeout {
                    self.error(format!("only {} of {} connections opened", self.open, n));
                    self.read_end();
                    self.stage = Stage::Done;
                }
            }
            Stage::IdleSettle2 => {
                if now >= self.deadline.unwrap() {
                    self.read_end();
                    if self.cfg.settle > 0.0 {
                        self.stage = Stage::IdleQuiet;
                        self.deadline = Some(now + secs(self.cfg.settle));
                    } else {
                        self.stage = Stage::IdleHold;
                        self.deadline = Some(now + secs(self.cfg.hold));
                    }
                }
            }
            Stage::IdleQuiet => {
                if now >= self.deadline.unwrap() {
                    self.gc_answered = false;
                    self.send_on(0, |g| &g.gc_frame);
                    self.stage = Stage::IdleGc3;
                }
            }
            Stage::IdleGc3 => {
                if self.gc_answered {
                    self.stage = Stage::IdleSettle3;
                    self.deadline = Some(now + Duration::from_millis(300));
                } else if self.conns[0].sock.is_none() {
                    self.error("connection 0 lost".into());
                    self.stage = Stage::Done;
                }
            }
            Stage::IdleSettle3 => {
                if now >= self.deadline.unwrap() {
                    if let Some(p) = self.cfg.pid.clone() {
                        self.rss2 = procstat::rss_kb(&p);
                    }
                    self.stage = Stage::IdleHold;
                    self.deadline = Some(now + secs(self.cfg.hold));
                }
            }
            Stage::IdleHold => {
                if now >= self.deadline.unwrap() {
                    self.stage = Stage::Done;
                }
            }
            Stage::Done => {}
        }
        if self.cfg.mode == Mode::Broadcast
            && matches!(self.stage, Stage::Warmup | Stage::Measuring)
            && self.conns[0].sock.is_some()
        {
            let k = self.cfg.inflight.max(1) as u64;
            let done = self.total_recv / n as u64;
            let mut burst = 0;
            while self.bcast_sent < done + k {
                self.bcast_sent += 1;
                let f = &self.bcast_frame;
                self.conns[0].wbuf.extend_from_slice(f);
                burst += 1;
            }
            if burst > 0 {
                self.flush(0);
            }
        }
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(4096);
        self.tick(Instant::now());
        while self.stage != Stage::Done {
            let now = Instant::now();
            let timeout = match self.deadline {
                Some(d) if d > now => Some(d - now),
                Some(_) => Some(Duration::ZERO),
                None => Some(Duration::from_millis(50)),
            }
            .map(|t| t.min(Duration::from_millis(50)));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            for ev in events.iter() {
                self.on_event(ev.token().0, now, ev);
            }
            self.tick(Instant::now());
        }
        Ok(())
    }

    fn report(&mut self) -> String {
        let mut j = Json::new();
        let c = &self.cfg;
        j.s("mode", c.mode.name());
        j.n("conns", c.conns as f64);
        j.n("inflight", c.inflight as f64);
        j.n("size", c.size as f64);
        j.b("text", c.text);
        j.n("warmup_s", c.warmup);
        let secs = match (self.t_meas, self.t_end) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        j.n("secs", secs);
        if c.mode != Mode::Idle {
            j.n("ops", self.count as f64);
            j.n(
                "rate",
                if secs > 0.0 {
                    self.count as f64 / secs
                } else {
                    0.0
                },
            );
        }
        if c.mode == Mode::Echo && !self.lat.is_empty() {
            self.lat.sort_unstable();
            let q = |p: f64| {
                let idx = ((self.lat.len() as f64 - 1.0) * p).round() as usize;
                self.lat[idx] as f64 / 1000.0
            };
            j.n("lat_p50_us", q(0.5));
            j.n("lat_p99_us", q(0.99));
            j.n("lat_p999_us", q(0.999));
        }
        if let (Some(a), Some(b)) = (self.cpu0, self.cpu1) {
            let (cpu, src) = procstat::cpu_delta_s(&a, &b);
            j.n("server_cpu_s", cpu);
            j.s("cpu_source", src);
            if secs > 0.0 {
                j.n("server_cpu_util", cpu / secs);
            }
            if c.mode != Mode::Idle && cpu > 0.0 {
                j.n("rate_per_cpu", self.count as f64 / cpu);
            }
        }
        if let (Some(a), Some(b)) = (self.gen0, self.gen1) {
            let (cpu, _) = procstat::cpu_delta_s(&a, &b);
            j.n("gen_cpu_s", cpu);
            if secs > 0.0 {
                j.n("gen_cpu_util", cpu / secs);
            }
            if c.mode != Mode::Idle && cpu > 0.0 {
                j.n("gen_rate_per_cpu", self.count as f64 / cpu);
            }
        }
        if let Some(r) = self.rss0 {
            j.n("rss_before_kb", r as f64);
        }
        if let Some(r) = self.rss1 {
            j.n("rss_after_kb", r as f64);
        }
        if c.mode == Mode::Idle {
            if let (Some(a), Some(b)) = (self.rss0, self.rss1) {
                let added = c.conns.saturating_sub(1).max(1) as f64;
                j.n("rss_per_conn_b", (b as f64 - a as f64) * 1024.0 / added);
            }
            if let (Some(a), Some(b)) = (self.rss0, self.rss2) {
                let added = c.conns.saturating_sub(1).max(1) as f64;
                j.n("rss_settled_kb", b as f64);
                j.n(
                    "rss_settled_per_conn_b",
                    (b as f64 - a as f64) * 1024.0 / added,
                );
            }
            j.n("open", self.open as f64);
            if c.deflate {
                j.n("compressed_echoes", self.compressed_echoes as f64);
            }
        }
        j.b("deflate", c.deflate);
        j.n("errors", self.errors as f64);
        if let Some(e) = &self.first_error {
            j.s("first_error", e);
        }
        j.finish()
    }
}

/// Whether an upgrade response's headers agree to permessage-deflate.
fn accepts_deflate(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    head.split("\r\n").any(|line| {
        line.strip_prefix("sec-websocket-extensions:")
            .is_some_and(|v| v.contains("permessage-deflate"))
    })
}

fn find_crlf2(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n")
}

pub fn run(cfg: Cfg) -> io::Result<String> {
    let mut g = Gen::new(cfg)?;
    g.run()?;
    Ok(g.report())
}

/// A one-line JSON object writer (numbers, strings, booleans).
pub struct Json(String);

impl Json {
    pub fn new() -> Self {
        Json(String::from("{"))
    }
    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(k);
        self.0.push_str("\":");
    }
    pub fn n(&mut self, k: &str, v: f64) {
        self.key(k);
        if v.is_finite() {
            if v.fract() == 0.0 && v.abs() < 1e15 {
                self.0.push_str(&format!("{}", v as i64));
            } else {
                self.0.push_str(&format!("{v:.4}"));
            }
        } else {
            self.0.push_str("null");
        }
    }
    pub fn s(&mut self, k: &str, v: &str) {
        self.key(k);
        self.0.push('"');
        for ch in v.chars() {
            match ch {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if (c as u32) < 0x20 => self.0.push_str(&format!("\\u{:04x}", c as u32)),
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }
    pub fn b(&mut self, k: &str, v: bool) {
        self.key(k);
        self.0.push_str(if v { "true" } else { "false" });
    }
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}
