//! WebSocket load generator for ws-native's benchmark. See `loadgen --help`.

mod client;
mod frame;
mod procstat;
mod pubsub;
mod server;

use client::{Cfg, Mode};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::exit;

const HELP: &str = "\
loadgen MODE [options]        one JSON line on stdout

MODE
  echo        N connections x K messages in flight; msgs/s, latency p50/p99
  broadcast   N connections; connection 0 keeps K broadcast requests (text
              \"!B\") outstanding; the server sends one message to all: deliveries/s
  connect     N slots looping: connect, upgrade, close handshake; connections/s
  idle        open N connections and hold them; server RSS per connection
              (asks the server to collect garbage with text \"!G\" first)
  serve       a minimal Rust WebSocket server speaking the same protocol, for
              measuring the generator's ceiling (prints LISTENING <port>)
  pubsub      N subscribers over the --url servers (a comma-separated list:
              processes sharing a topic), one publisher on the first that
              sends text \"P<seq> ...\" at --rate per second; deliveries/s and
              the time from a publish to its last delivery (p50/p99/max)

Options
  --url ws://HOST:PORT/PATH   server (default ws://127.0.0.1:8080/)
  --port N                    serve: port to listen on (0 = any)
  --conns N                   connections (default 64; connect: slots, 16)
  --inflight K                messages in flight per connection (default 1)
  --size BYTES                message size (default 64)
  --text | --binary           message type (default binary)
  --warmup SECS               not measured (default 1)
  --duration SECS             measured (default 5)
  --pid PID[,PID...]          server process(es): CPU time and RSS from /proc
                              (summed over a list: a cluster's processes)
  --hold SECS                 idle: keep the connections open this long after
                              measuring (default 0)
  --settle SECS               idle: after measuring, leave the server idle
                              this long, ask for a collection again and read
                              its RSS once more (rss_settled_*; default 0:
                              not measured)
  --max-pending N             connections opening at once (default 128)
  --open-timeout SECS         give up opening after this long (default 30)
  --rate N                    pubsub: publishes per second (default 10)
  --socketio                  pubsub: socket.io (engine.io over WebSocket)
  --deflate                   idle: offer permessage-deflate (as browsers do:
                              `permessage-deflate; client_max_window_bits`),
                              and have every connection send one compressed
                              message of --size bytes and wait for its
                              compressed echo before it counts as open
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        exit(if args.is_empty() { 2 } else { 0 });
    }
    let mode = match args[0].as_str() {
        "echo" => Some(Mode::Echo),
        "broadcast" => Some(Mode::Broadcast),
        "connect" => Some(Mode::Connect),
        "idle" => Some(Mode::Idle),
        "serve" | "pubsub" => None,
        m => die(&format!("unknown mode {m}")),
    };
    let mut url = String::from("ws://127.0.0.1:8080/");
    let mut port: u16 = 0;
    let mut conns: Option<usize> = None;
    let mut inflight = 1usize;
    let mut size = 64usize;
    let mut text = false;
    let mut warmup = 1.0f64;
    let mut duration = 5.0f64;
    let mut pid = None;
    let mut hold = 0.0f64;
    let mut settle = 0.0f64;
    let mut max_pending = 128usize;
    let mut open_timeout = 30.0f64;
    let mut deflate = false;
    let mut rate = 10.0f64;
    let mut socketio = false;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .unwrap_or_else(|| die(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--url" => url = val(),
            "--port" => port = num(&val()),
            "--conns" => conns = Some(num(&val())),
            "--inflight" => inflight = num(&val()),
            "--size" => size = num(&val()),
            "--text" => text = true,
            "--binary" => text = false,
            "--warmup" => warmup = num(&val()),
            "--duration" => duration = num(&val()),
            "--pid" => pid = Some(val()),
            "--hold" => hold = num(&val()),
            "--settle" => settle = num(&val()),
            "--max-pending" => max_pending = num(&val()),
            "--open-timeout" => open_timeout = num(&val()),
            "--deflate" => deflate = true,
            "--rate" => rate = num(&val()),
            "--socketio" => socketio = true,
            o => die(&format!("unknown option {o}")),
        }
    }
    if deflate && mode != Some(Mode::Idle) {
        die("--deflate is for idle mode");
    }
    if deflate && size > 0xffff {
        die("--deflate: --size at most 65535");
    }
    if args[0] == "pubsub" {
        let addrs: Vec<SocketAddr> = url.split(',').map(|u| resolve(u).0).collect();
        let cfg = pubsub::Cfg {
            addrs,
            conns: conns.unwrap_or(1000).max(1),
            rate,
            size,
            warmup,
            duration,
            pids: pid
                .map(|p| p.split(',').map(String::from).collect())
                .unwrap_or_default(),
            socketio,
            open_timeout,
        };
        match pubsub::run(cfg) {
            Ok(line) => println!("{line}"),
            Err(e) => die(&format!("{e}")),
        }
        return;
    }
    let Some(mode) = mode else {
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        if let Err(e) = server::serve(addr) {
            die(&format!("serve: {e}"));
        }
        return;
    };
    let (addr, path) = resolve(&url);
    let cfg = Cfg {
        mode,
        addr,
        path,
        conns: conns
            .unwrap_or(if mode == Mode::Connect { 16 } else { 64 })
            .max(1),
        inflight,
        size,
        text,
        warmup,
        duration,
        pid,
        hold,
        settle,
        max_pending: max_pending.max(1),
        open_timeout,
        deflate,
    };
    match client::run(cfg) {
        Ok(line) => println!("{line}"),
        Err(e) => die(&format!("{e}")),
    }
}

/// The address and path of a ws:// URL.
fn resolve(url: &str) -> (SocketAddr, String) {
    let rest = url
        .strip_prefix("ws://")
        .unwrap_or_else(|| die("only ws:// URLs"));
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let addr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| die(&format!("cannot resolve {hostport}")));
    (addr, path)
}

fn num<T: std::str::FromStr>(s: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| die(&format!("not a number: {s}")))
}

fn die(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    exit(2)
}
