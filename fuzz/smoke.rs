//! A short deterministic fuzzing pass inside `cargo test`: fixed-seed
//! generators build structured, mostly plausible inputs (frames, headers,
//! UTF-8) with random damage and run them through the same harnesses and
//! invariants as the cargo-fuzz targets (`fuzz_check`). It runs as a
//! module of the crate (src/lib.rs includes it by path): an integration
//! test could not link, as the N-API exports need Node's symbols.
//!
//! `write_seed_corpus` (ignored) regenerates `fuzz/corpus/`.

#[path = "check.rs"]
#[allow(dead_code)]
mod fuzz_check;

use fuzz_check::{Event, ReceiverConfig, Rng, FIELD_SEPARATOR};
use fuzz_check::{
    FLAGS_WINDOW, FLAG_COMPRESSION, FLAG_NO_CONTEXT_TAKEOVER, FLAG_PREFIX, FLAG_SERVER,
    FLAG_SKIP_UTF8,
};
use ws_native::deflate::{Compressor, DeflateOptions};
use ws_native::errors::{ErrorId, ERROR_TABLE};

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// Encodes a code point of a length class, boundaries included.
fn random_char(rng: &mut Rng) -> char {
    let ranges: [(u32, u32); 6] = [
        (0x20, 0x7e),
        (0x80, 0x7ff),
        (0x800, 0xd7ff),
        (0xe000, 0xffff),
        (0x10000, 0x10ffff),
        (0x00, 0x7f),
    ];
    let (lo, hi) = *rng.pick(&ranges);
    let v = match rng.below(4) {
        0 => lo,
        1 => hi,
        _ => lo + rng.below((hi - lo + 1) as usize) as u32,
    };
    char::from_u32(v).unwrap_or('?')
}

/// Bytes that are mostly UTF-8 with, sometimes, one kind of damage.
fn utf8ish(rng: &mut Rng, max_items: usize) -> Vec<u8> {
    const BAD: &[&[u8]] = &[
        &[0x80],
        &[0xbf],
        &[0xc0, 0x80],
        &[0xc1, 0xbf],
        &[0xe0, 0x80, 0x80],
        &[0xe0, 0x9f, 0xbf],
        &[0xed, 0xa0, 0x80],
        &[0xed, 0xbf, 0xbf],
        &[0xf0, 0x8f, 0xbf, 0xbf],
        &[0xf4, 0x90, 0x80, 0x80],
        &[0xf5, 0x80, 0x80, 0x80],
        &[0xff],
        &[0xfe],
        &[0xe2, 0x82],
        &[0xf0, 0x9f, 0x98],
        &[0xc3],
        &[0xce, 0x41],
    ];
    let mut out = Vec::new();
    let items = rng.below(max_items + 1);
    let damage = rng.chance(3);
    for _ in 0..items {
        if damage && rng.chance(8) {
            let bad = *rng.pick(BAD);
            out.extend_from_slice(bad);
        } else if rng.chance(4) {
            let n = rng.below(12);
            out.extend(std::iter::repeat_n(b'a' + rng.below(26) as u8, n));
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(random_char(rng).encode_utf8(&mut buf).as_bytes());
        }
    }
    if damage && rng.chance(4) {
        out.push(rng.byte());
    }
    out
}

/// One frame: header (length encoded as `enc` says: 0 shortest, 1 16-bit,
/// 2 64-bit) and payload, masked with `key` when given.
fn frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>, enc: u8) -> Vec<u8> {
    let len = payload.len();
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let mut out = vec![b0];
    if len < 126 && enc == 0 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xffff && enc != 2 {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mut body = payload.to_vec();
    if let Some(k) = key {
        out.extend_from_slice(&k);
        for (i, b) in body.iter_mut().enumerate() {
            *b ^= k[i % 4];
        }
    }
    out.extend_from_slice(&body);
    out
}

fn payload(rng: &mut Rng, text: bool) -> Vec<u8> {
    if text {
        let items = if rng.chance(10) { 200 } else { 12 };
        return utf8ish(rng, items);
    }
    let n = match rng.below(20) {
        0 => 126 + rng.below(300),
        1 if rng.chance(20) => 65_536 + rng.below(100),
        2..=4 => 0,
        _ => rng.below(40),
    };
    (0..n).map(|_| rng.byte()).collect()
}

fn control_frame(rng: &mut Rng, key: &mut dyn FnMut(&mut Rng) -> Option<[u8; 4]>) -> Vec<u8> {
    let (op, body) = match rng.below(5) {
        0 | 1 => (0x9, payload(rng, false)),
        2 => (0xa, payload(rng, false)),
        _ => {
            let mut body = Vec::new();
            if !rng.chance(5) {
                let codes = [
                    1000u16, 1001, 1003, 1004, 1005, 1006, 1011, 1014, 1015, 2999, 3000, 4999,
                    5000, 0, 65535,
                ];
                let code = if rng.chance(2) {
                    1000
                } else {
                    *rng.pick(&codes)
                };
                body.extend_from_slice(&code.to_be_bytes());
                body.extend(utf8ish(rng, 10));
                if rng.chance(10) {
                    body.truncate(1);
                }
            }
            (0x8, body)
        }
    };
    let mut body = body;
    if !rng.chance(30) {
        body.truncate(125);
    }
    let mut b0 = 0x80 | op;
    if rng.chance(40) {
        b0 &= 0x7f;
    }
    frame(b0, &body, key(rng), 0)
}

/// A stream of messages (possibly fragmented, with control frames in
/// between) for the role, plus random damage.
/// Deflates a message as a permessage-deflate peer would (window `bits`,
/// context kept in `c` across messages unless `nct`).
fn compress(c: &mut Compressor, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    c.compress(payload, true, &mut out).expect("deflate");
    out
}

fn compressor(bits: u8, nct: bool) -> Compressor {
    let opts = DeflateOptions {
        window_bits: bits,
        ..DeflateOptions::default()
    };
    Compressor::new(opts, nct)
}

/// `inflate`: the receiver's permessage-deflate parameters, if on.
fn frame_stream(rng: &mut Rng, server: bool, inflate: Option<(u8, bool)>) -> Vec<u8> {
    // The peer's compressor: mostly the agreed window, sometimes a larger
    // one (which the receiver must refuse cleanly).
    let mut deflater = inflate.map(|(bits, nct)| {
        let bits = if rng.chance(8) { 15 } else { bits };
        compressor(bits, nct)
    });
    let mut key = |rng: &mut Rng| -> Option<[u8; 4]> {
        // The occasional frame with the wrong MASK bit.
        let masked = server != rng.chance(60);
        masked.then(|| {
            if rng.chance(10) {
                [0; 4]
            } else {
                [rng.byte(), rng.byte(), rng.byte(), rng.byte()]
            }
        })
    };
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(6) {
        if rng.chance(4) {
            out.extend(control_frame(rng, &mut key));
            continue;
        }
        let text = rng.chance(2);
        let fragments = match rng.below(12) {
            0..=2 => 1 + rng.below(5),
            // Past MERGE_AFTER_PIECES, for `set_merge_frames`.
            3 => 17 + rng.below(24),
            _ => 1,
        };
        // Text split at arbitrary byte offsets across fragments.
        let mut whole = payload(rng, text);
        let mut rsv1 = false;
        if let Some(d) = deflater.as_mut().filter(|_| rng.chance(2)) {
            if rng.chance(10) {
                // A small bomb: inflates far past a small max_payload.
                whole = vec![if text { b'a' } else { 0 }; 5000];
            }
            whole = compress(d, &whole);
            rsv1 = true;
        }
        let mut cuts: Vec<usize> = (1..fragments).map(|_| rng.below(whole.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(whole.len());
        let mut from = 0;
        for (i, &to) in cuts.iter().enumerate() {
            let first = i == 0;
            let last = i + 1 == cuts.len();
            let op = if first {
                if text {
                    1
                } else {
                    2
                }
            } else {
                0
            };
            let mut b0 = op | if last { 0x80 } else { 0 };
            if first && rsv1 {
                b0 |= 0x40;
            }
            if rng.chance(80) {
                b0 |= [0x40u8, 0x20, 0x10][rng.below(3)];
            }
            if rng.chance(100) {
                b0 = (b0 & 0xf0) | [3u8, 7, 0xb, 0xf][rng.below(4)];
            }
            let enc = if rng.chance(15) {
                1 + rng.below(2) as u8
            } else {
                0
            };
            out.extend(frame(b0, &whole[from..to], key(rng), enc));
            from = to;
            if !last && rng.chance(4) {
                out.extend(control_frame(rng, &mut key));
            }
        }
    }
    // Damage.
    match rng.below(12) {
        0 if !out.is_empty() => {
            let i = rng.below(out.len().min(16));
            out[i] ^= 1 << rng.below(8);
        }
        1 if !out.is_empty() => {
            let i = rng.below(out.len());
            out[i] = rng.byte();
        }
        2 => out.truncate(rng.below(out.len() + 1)),
        3 => {
            // A 64-bit length past 2^53 - 1, or just huge.
            let high: u32 = if rng.chance(2) {
                1 << 21
            } else {
                (1 << 21) - 1
            };
            out.extend_from_slice(&[0x82, if server { 0xff } else { 0x7f }]);
            out.extend_from_slice(&high.to_be_bytes());
            out.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        }
        4 => out.extend((0..rng.below(20)).map(|_| rng.byte())),
        _ => {}
    }
    out
}

fn receiver_config(rng: &mut Rng) -> ReceiverConfig {
    let mut flags = 0;
    for f in [FLAG_SERVER, FLAG_PREFIX] {
        if rng.chance(2) {
            flags |= f;
        }
    }
    for f in [FLAG_SKIP_UTF8, FLAG_COMPRESSION, FLAG_NO_CONTEXT_TAKEOVER] {
        if rng.chance(6) {
            flags |= f;
        }
    }
    if rng.chance(4) {
        flags |= rng.byte() & FLAGS_WINDOW;
    }
    let small = |rng: &mut Rng, n: usize| {
        if rng.chance(4) {
            rng.byte()
        } else {
            rng.below(n) as u8
        }
    };
    ReceiverConfig {
        flags,
        max_payload: if rng.chance(4) { rng.byte() } else { 0 },
        max_fragments: if rng.chance(5) { small(rng, 5) } else { 0 },
        max_pieces: if rng.chance(5) { small(rng, 8) } else { 0 },
        events: rng.byte(),
        chunking: *rng.pick(&[0u8, 1, 2, 3, 5, 8, 17, 64, 255]),
        seed: [rng.byte(), rng.byte()],
    }
}

pub(crate) fn receiver_input(rng: &mut Rng) -> Vec<u8> {
    let cfg = receiver_config(rng);
    let mut data = cfg.to_bytes().to_vec();
    data.extend(frame_stream(
        rng,
        cfg.flags & FLAG_SERVER != 0,
        cfg.inflate(),
    ));
    data
}

/// Mutates a string: inserts, deletes or replaces a few characters.
fn mutate(rng: &mut Rng, s: &str, alphabet: &[&str]) -> String {
    let mut chars: Vec<String> = s.chars().map(String::from).collect();
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(chars.len() + 1);
        match rng.below(3) {
            0 => chars.insert(i, (*rng.pick(alphabet)).to_owned()),
            1 if i < chars.len() => {
                chars.remove(i);
            }
            _ if i < chars.len() => chars[i] = (*rng.pick(alphabet)).to_owned(),
            _ => {}
        }
    }
    chars.concat()
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

pub(crate) fn handshake_input(rng: &mut Rng) -> Vec<u8> {
    let methods = ["GET", "GET", "get", "POST", "GET ", ""];
    let upgrades = [
        "websocket",
        "websocket",
        "WebSocket",
        "WEBSOCKET",
        "websocket, foo",
        "websoc\u{212a}et",
        "WEBSOC\u{212a}ET",
        " websocket",
        "websocket\0",
        "h2c",
        "ẞwebsocket",
    ];
    let keys = [
        KEY,
        KEY,
        "AAAAAAAAAAAAAAAAAAAAAA==",
        "++++++++++++++++++++++==",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ==\n",
        "dGhlIHNhbXBsZSBub25jZ-==",
        "dGhlIHNhbXBsZSBub25jZü==",
        "",
    ];
    let versions = [
        "13",
        "13",
        "8",
        " 13",
        "13 ",
        "13.0",
        "13.",
        ".13e2",
        "0xd",
        "0XD",
        "0o15",
        "0b1101",
        "0b1000",
        "1.3e1",
        "130E-1",
        "+13",
        "-13",
        "013",
        "13a",
        "1_3",
        "",
        "Infinity",
        "-Infinity",
        "1e400",
        "0x",
        "١٣",
        "\u{a0}8\u{2028}",
        "\u{feff}13\u{3000}",
        "inf",
        "NaN",
        "8e0",
        "0.8e1",
        "80e-1",
        "0x0000000000000000000000000000000000d",
    ];
    let connections = [
        "Upgrade",
        "upgrade",
        "keep-alive, Upgrade",
        "Upgrade , keep-alive",
        "\tupgrade\t",
        "close",
        "",
        ",,,",
        "upgradex",
        "UPGRADE,",
    ];
    let alphabet = [
        "a", "Z", "0", "1", "3", "8", "d", "x", "o", "b", "e", "E", ".", "+", "-", "/", "=", " ",
        "\t", "\n", ",", "\u{a0}", "\u{212a}", "\u{feff}", "é", "\0", "Infinity",
    ];
    let field = |rng: &mut Rng, list: &[&str]| {
        let s = *rng.pick(list);
        if rng.chance(4) {
            mutate(rng, s, &alphabet)
        } else {
            s.to_owned()
        }
    };
    let mut flags = rng.byte();
    if rng.chance(2) {
        flags |= 0x1f;
    }
    let fields = [
        field(rng, &methods),
        field(rng, &upgrades),
        field(rng, &keys),
        field(rng, &versions),
        field(rng, &connections),
    ];
    let mut data = vec![flags];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            data.push(FIELD_SEPARATOR);
        }
        data.extend_from_slice(f.as_bytes());
    }
    data
}

const HEADER_ATOMS: &[&str] = &[
    "permessage-deflate",
    "client_max_window_bits",
    "server_max_window_bits",
    "server_no_context_takeover",
    "10",
    "foo",
    "a",
    "x",
    "chat.v1+json",
    "!#$%&'*+-.^_`|~",
    ",",
    ",",
    ";",
    ";",
    "=",
    " ",
    "\t",
    "\"",
    "\\",
    ", ",
    "; ",
    "=\"",
    "é",
    "\u{0}",
    "(",
    "\u{212a}",
];

pub(crate) fn header_input(rng: &mut Rng) -> Vec<u8> {
    let s = if rng.chance(2) {
        // Well-formed offers, sometimes with quoted and escaped values,
        // then maybe damaged.
        let names = ["permessage-deflate", "foo", "x-webkit", "a"];
        let params = ["client_max_window_bits", "server_max_window_bits", "b", "q"];
        let mut offers = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let mut s = (*rng.pick(&names)).to_owned();
            for _ in 0..rng.below(4) {
                let sep = *rng.pick(&[";", "; ", " ;", "\t;\t"]);
                s.push_str(sep);
                let param = *rng.pick(&params);
                s.push_str(param);
                match rng.below(4) {
                    0 => {}
                    1 => s.push_str(&format!("={}", 8 + rng.below(8))),
                    2 => s.push_str(&format!("=\"{}\"", 8 + rng.below(8))),
                    _ => s.push_str("=\"1\\5\""),
                }
            }
            offers.push(s);
        }
        let s = offers.join(*rng.pick(&[",", ", ", " , "]));
        if rng.chance(3) {
            mutate(rng, &s, HEADER_ATOMS)
        } else {
            s
        }
    } else {
        (0..1 + rng.below(16))
            .map(|_| *rng.pick(HEADER_ATOMS))
            .collect()
    };
    s.into_bytes()
}

pub(crate) fn utf8_input(rng: &mut Rng) -> Vec<u8> {
    let mode = if rng.chance(3) {
        rng.byte()
    } else {
        *rng.pick(&[0u8, 1, 2, 3, 4, 7])
    };
    let mut data = vec![mode];
    data.extend(utf8ish(rng, 40));
    data
}

// ---------------------------------------------------------------------------
// The pass
// ---------------------------------------------------------------------------

fn run(seed: u64, n: usize, gen: fn(&mut Rng) -> Vec<u8>, check: fn(&[u8])) {
    let mut rng = Rng::new(seed);
    for i in 0..n {
        let input = gen(&mut rng);
        let result = std::panic::catch_unwind(|| check(&input));
        if let Err(e) = result {
            eprintln!("input {i} (seed {seed:#x}) failed: {input:02x?}");
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn smoke_receiver() {
    run(0x5eed_0001, 3000, receiver_input, fuzz_check::receiver);

    // The generator reaches every outcome.
    let mut rng = Rng::new(0x5eed_0001);
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..3000 {
        for ev in fuzz_check::receiver_events(&receiver_input(&mut rng)) {
            let key = match ev {
                Event::Message { binary, .. } => format!("message {binary}"),
                Event::Ping(_) => "ping".to_owned(),
                Event::Pong(_) => "pong".to_owned(),
                Event::Close(..) => "close".to_owned(),
                Event::Error(id, _) => format!("{id:?}"),
            };
            *seen.entry(key).or_insert(0usize) += 1;
        }
    }
    // Most of zlib's complaints about invalid deflate data (the Inflate*
    // rows) need crafted streams; random bytes are not expected to reach
    // them all.
    seen.retain(|key, _| !key.starts_with("Inflate"));
    let rows = ERROR_TABLE.iter().filter(|row| row.code != "Z_DATA_ERROR");
    assert_eq!(seen.len(), 5 + rows.count(), "{seen:?}");
}

#[test]
fn smoke_handshake() {
    run(0x5eed_0002, 4000, handshake_input, fuzz_check::handshake);
}

#[test]
fn smoke_headers() {
    run(0x5eed_0003, 5000, header_input, fuzz_check::headers);
}

#[test]
fn smoke_utf8() {
    run(0x5eed_0004, 5000, utf8_input, fuzz_check::utf8);
}

/// Hostile header shapes (random atom patterns repeated to 16 KB) parse in
/// linear time: a quadratic parser would take minutes here.
#[test]
fn smoke_headers_linear() {
    let mut rng = Rng::new(0x5eed_0005);
    let t = std::time::Instant::now();
    for _ in 0..40 {
        let pattern: String = (0..1 + rng.below(6))
            .map(|_| *rng.pick(HEADER_ATOMS))
            .collect();
        let mut h = "a".to_owned();
        while h.len() < 16 * 1024 {
            h.push_str(&pattern);
        }
        fuzz_check::headers(h.as_bytes());
    }
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
}

// ---------------------------------------------------------------------------
// Seed corpus
// ---------------------------------------------------------------------------

/// Regenerates `fuzz/corpus/<target>/` (small, meaningful seeds):
/// `cargo test --lib write_seed_corpus -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus"]
fn write_seed_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();

    // Receiver: config bytes, then the stream.
    const K: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    let server = ReceiverConfig {
        flags: FLAG_SERVER,
        ..ReceiverConfig::default()
    };
    let client = ReceiverConfig::default();
    let cf = |b0: u8, p: &[u8]| frame(b0, p, Some(K), 0);
    let sf = |b0: u8, p: &[u8]| frame(b0, p, None, 0);
    let close = |code: u16, reason: &[u8]| [&code.to_be_bytes()[..], reason].concat();
    let busy = [
        cf(0x01, b"Hel"),
        cf(0x89, b"ping"),
        cf(0x00, "lo \u{20ac}".as_bytes()),
        cf(0x8a, b""),
        cf(0x80, b"!"),
        cf(0x82, &[0xab; 300]),
        cf(0x81, b""),
        cf(0x88, &close(1000, b"bye")),
    ]
    .concat();
    let euro = "\u{20ac}".as_bytes();
    let mut receiver_seeds: Vec<(&str, ReceiverConfig, Vec<u8>)> = vec![
        ("server-text", server, cf(0x81, b"Hello")),
        ("client-text", client, sf(0x81, b"Hello")),
        ("client-binary-16bit-length", client, sf(0x82, &[7; 300])),
        (
            "server-binary-64bit-length",
            server,
            frame(0x82, &[1; 10], Some(K), 2),
        ),
        (
            "server-zero-mask",
            server,
            frame(0x82, b"abc", Some([0; 4]), 0),
        ),
        ("server-busy", server, busy.clone()),
        (
            "server-busy-bytewise-small-events",
            ReceiverConfig {
                chunking: 1,
                events: 0,
                flags: FLAG_SERVER | FLAG_PREFIX,
                ..server
            },
            busy.clone(),
        ),
        (
            "server-busy-random-chunks",
            ReceiverConfig {
                chunking: 7,
                events: 3,
                seed: [1, 2],
                ..server
            },
            busy,
        ),
        (
            "client-utf8-split-across-fragments",
            client,
            [
                sf(0x01, &euro[..1]),
                sf(0x00, &euro[1..2]),
                sf(0x80, &euro[2..]),
            ]
            .concat(),
        ),
        (
            "client-invalid-utf8-second-fragment",
            client,
            [sf(0x01, b"ok"), sf(0x80, &[0xed, 0xa0, 0x80])].concat(),
        ),
        ("client-utf8-truncated", client, sf(0x81, &euro[..2])),
        (
            "client-skip-utf8",
            ReceiverConfig {
                flags: FLAG_SKIP_UTF8,
                ..client
            },
            [sf(0x81, &[0xff]), sf(0x88, &close(1000, &[0xff]))].concat(),
        ),
        (
            "server-close-1000-reason",
            server,
            cf(0x88, &close(1000, b"bye")),
        ),
        ("server-close-empty", server, cf(0x88, b"")),
        ("server-close-1005", server, cf(0x88, &close(1005, b""))),
        ("server-close-1-byte", server, cf(0x88, &[3])),
        (
            "server-close-bad-reason",
            server,
            cf(0x88, &close(1000, &[0xc0, 0x80])),
        ),
        (
            "server-close-then-junk",
            server,
            [cf(0x88, b""), vec![0xff; 8]].concat(),
        ),
        ("server-ping-125", server, cf(0x89, &[b'p'; 125])),
        (
            "server-ping-126",
            server,
            frame(0x89, &[b'p'; 126], Some(K), 0),
        ),
        ("server-ping-not-fin", server, cf(0x09, b"x")),
        ("server-unmasked", server, sf(0x81, b"x")),
        ("client-masked", client, cf(0x81, b"x")),
        ("client-rsv1", client, sf(0xc1, b"x")),
        (
            "client-rsv1-compression-hook",
            ReceiverConfig {
                flags: FLAG_COMPRESSION,
                ..client
            },
            sf(0xc1, b"x"),
        ),
        ("client-rsv2", client, sf(0xa1, b"x")),
        ("client-opcode-3", client, sf(0x83, b"x")),
        ("client-continuation-first", client, sf(0x80, b"x")),
        (
            "client-text-inside-fragmented",
            client,
            [sf(0x01, b"a"), sf(0x81, b"b")].concat(),
        ),
        (
            "client-length-2-53",
            client,
            vec![0x82, 0x7f, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        ),
        (
            "client-max-payload",
            ReceiverConfig {
                max_payload: 10,
                ..client
            },
            [sf(0x02, &[1; 6]), sf(0x80, &[2; 6])].concat(),
        ),
        (
            "client-max-fragments",
            ReceiverConfig {
                max_fragments: 2,
                ..client
            },
            [sf(0x01, b"a"), sf(0x00, b"b"), sf(0x80, b"c")].concat(),
        ),
        (
            "client-max-pieces-bytewise",
            ReceiverConfig {
                max_pieces: 3,
                chunking: 1,
                ..client
            },
            sf(0x82, b"abcdef"),
        ),
    ];
    // permessage-deflate.
    let deflate = ReceiverConfig {
        flags: FLAG_COMPRESSION,
        ..client
    };
    let window = |bits: u8| (15 - bits) << 5;
    let mut c = compressor(15, false);
    let hello = compress(&mut c, b"Hello, Hello, Hello!");
    let again = compress(&mut c, b"Hello, Hello, Hello!");
    let z = compress(&mut c, "caf\u{e9} \u{20ac}\u{20ac}\u{20ac}".as_bytes());
    let mut c9 = compressor(9, true);
    let nct = [
        compress(&mut c9, b"abcabcabc"),
        compress(&mut c9, b"abcabcabc"),
    ];
    let far: Vec<u8> = (0..700u32).map(|i| (i * 7 % 251) as u8).collect();
    let far = compress(&mut compressor(15, false), &[&far[..], &far[..]].concat());
    let bomb = compress(&mut compressor(15, false), &[0; 10_000]);
    let mut corrupt = compress(&mut compressor(15, false), &[b'x'; 300]);
    corrupt[2] ^= 0x55;
    receiver_seeds.extend([
        ("client-deflate-text", deflate, sf(0xc1, &hello)),
        (
            "server-deflate-fragmented-context-takeover",
            ReceiverConfig {
                flags: FLAG_COMPRESSION | FLAG_SERVER,
                ..client
            },
            [
                cf(0x41, &hello[..3]),
                cf(0x89, b"p"),
                cf(0x00, &hello[3..6]),
                cf(0x80, &hello[6..]),
                cf(0xc1, &again),
                cf(0xc1, &z),
                cf(0x82, b"plain"),
            ]
            .concat(),
        ),
        (
            "client-deflate-window-9-no-context-takeover",
            ReceiverConfig {
                flags: FLAG_COMPRESSION | FLAG_NO_CONTEXT_TAKEOVER | window(9),
                ..client
            },
            [sf(0xc2, &nct[0]), sf(0xc2, &nct[1])].concat(),
        ),
        (
            "client-deflate-distance-past-window",
            ReceiverConfig {
                flags: FLAG_COMPRESSION | window(9),
                ..client
            },
            sf(0xc2, &far),
        ),
        (
            "client-deflate-bomb",
            ReceiverConfig {
                max_payload: 100,
                ..deflate
            },
            sf(0xc2, &bomb),
        ),
        ("client-deflate-corrupt", deflate, sf(0xc1, &corrupt)),
        ("client-deflate-empty", deflate, sf(0xc1, &[0x00])),
        (
            "client-deflate-rsv1-on-continuation",
            deflate,
            [sf(0x41, &hello[..4]), sf(0xc0, &hello[4..])].concat(),
        ),
        ("client-deflate-off-rsv1", client, sf(0xc1, &hello)),
    ]);
    // Many tiny fragments with interleaved pings, frames merged.
    let mut tiny = vec![cf(0x01, b"a")];
    for i in 0..40u8 {
        tiny.push(cf(0x00, &[b'b' + i % 20; 2]));
        if i % 13 == 12 {
            tiny.push(cf(0x89, b""));
        }
    }
    tiny.push(cf(0x80, b"z"));
    receiver_seeds.push((
        "server-merge-frames-tiny-fragments",
        ReceiverConfig {
            events: 0x40 | 0x80,
            ..server
        },
        tiny.concat(),
    ));
    receiver_seeds.push((
        "server-merge-frames-tiny-fragments-chunked",
        ReceiverConfig {
            events: 0x40 | 0x03,
            chunking: 40,
            seed: [3, 4],
            ..server
        },
        tiny.concat(),
    ));
    for (name, cfg, stream) in receiver_seeds.drain(..) {
        seeds.push((
            "receiver",
            name.to_owned(),
            [&cfg.to_bytes()[..], &stream].concat(),
        ));
    }

    // Handshake: flags (present fields, check_connection), fields.
    let hs = |flags: u8, f: [&str; 5]| {
        let mut d = vec![flags];
        for (i, s) in f.iter().enumerate() {
            if i > 0 {
                d.push(FIELD_SEPARATOR);
            }
            d.extend_from_slice(s.as_bytes());
        }
        d
    };
    let long_hex = format!("0x{}d", "0".repeat(1000));
    let long_ws = format!("{}13{}", " ".repeat(500), "\u{3000}".repeat(100));
    let handshake_seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "valid",
            hs(0x1f, ["GET", "websocket", KEY, "13", "Upgrade"]),
        ),
        (
            "valid-check-connection",
            hs(0x3f, ["GET", "WebSocket", KEY, "8", "keep-alive, Upgrade"]),
        ),
        (
            "bad-connection",
            hs(0x3f, ["GET", "websocket", KEY, "13", "close"]),
        ),
        (
            "missing-connection",
            hs(0x2f, ["GET", "websocket", KEY, "13", ""]),
        ),
        (
            "post",
            hs(0x1f, ["POST", "websocket", KEY, "13", "Upgrade"]),
        ),
        (
            "upgrade-list",
            hs(0x1f, ["GET", "websocket, h2c", KEY, "13", "Upgrade"]),
        ),
        (
            "upgrade-kelvin",
            hs(0x1f, ["GET", "websoc\u{212a}et", KEY, "13", "Upgrade"]),
        ),
        ("no-headers", hs(0x01, ["GET", "", "", "", ""])),
        (
            "key-short",
            hs(
                0x1f,
                ["GET", "websocket", "dGhlIHNhbXBsZSBub25jZQ=", "13", ""],
            ),
        ),
        (
            "key-non-ascii",
            hs(
                0x1f,
                ["GET", "websocket", "dGhlIHNhbXBsZSBub25jZü==", "13", ""],
            ),
        ),
        (
            "version-space",
            hs(0x1f, ["GET", "websocket", KEY, " 13 ", ""]),
        ),
        (
            "version-hex",
            hs(0x1f, ["GET", "websocket", KEY, "0xd", ""]),
        ),
        (
            "version-exp",
            hs(0x1f, ["GET", "websocket", KEY, "1.3e1", ""]),
        ),
        ("version-12", hs(0x1f, ["GET", "websocket", KEY, "12", ""])),
        (
            "version-infinity",
            hs(0x1f, ["GET", "websocket", KEY, "-Infinity", ""]),
        ),
        (
            "version-long-hex",
            hs(0x1f, ["GET", "websocket", KEY, &long_hex, ""]),
        ),
        (
            "version-long-whitespace",
            hs(0xdf, ["GET", "websocket", KEY, &long_ws, ""]),
        ),
    ];
    for (name, d) in handshake_seeds {
        seeds.push(("handshake", name.to_owned(), d));
    }

    let header_seeds: Vec<(&str, String)> = vec![
        ("pmd", "permessage-deflate; client_max_window_bits".into()),
        (
            "pmd-offers",
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover, permessage-deflate, x-webkit-deflate-frame".into(),
        ),
        ("quoted-escaped", "foo; bar=\"1\\2\"; baz=\"x\" , qux".into()),
        ("repeated-param", "a;b=1;b=\"2\",a;b".into()),
        ("protocols", "chat, superchat,\tv2.json+x".into()),
        ("duplicate", "chat,chat".into()),
        ("empty-element", "foo,,bar".into()),
        ("empty-param", "foo;;".into()),
        ("non-ascii", "f\u{f6}o".into()),
        ("unterminated-quote", "foo;bar=\"baz".into()),
        ("trailing-space", "foo ".into()),
        ("many-spaces", format!("a{}", " \t".repeat(2000))),
        ("many-escapes", format!("a;b=\"{}", "\\1".repeat(2000))),
        ("many-offers", "a,".repeat(1000) + "a"),
    ];
    for (name, h) in header_seeds {
        seeds.push(("headers", name.to_owned(), h.into_bytes()));
    }

    let utf8_seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "valid-mixed",
            [
                &[0u8][..],
                "a\u{20ac}\u{1d11e}b\u{65e5}\u{10ffff}\u{e7}".as_bytes(),
            ]
            .concat(),
        ),
        (
            "valid-mixed-bytewise",
            [&[1u8][..], "\u{7ff}\u{800}\u{ffff}\u{10000}".as_bytes()].concat(),
        ),
        ("overlong", vec![3, b'a', 0xe0, 0x80, 0x80]),
        ("surrogate", vec![1, b'a', 0xed, 0xa0, 0x80]),
        ("above-max", vec![2, 0xf4, 0x90, 0x80, 0x80]),
        ("lead-then-ascii", vec![0, 0xe2, 0x82, b'A']),
        ("truncated", vec![1, 0xf0, 0x9f, 0x98]),
        ("invalid-lead", vec![5, b'a', b'b', 0xf8, 0x80]),
    ];
    for (name, d) in utf8_seeds {
        seeds.push(("utf8", name.to_owned(), d));
    }

    for (target, name, data) in seeds {
        // The seeds must pass the harnesses themselves.
        match target {
            "receiver" => fuzz_check::receiver(&data),
            "handshake" => fuzz_check::handshake(&data),
            "headers" => fuzz_check::headers(&data),
            _ => fuzz_check::utf8(&data),
        }
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(name), data).expect("write seed");
    }
}

// ---------------------------------------------------------------------------
// Regressions: inputs the fuzzers found
// ---------------------------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A raw deflate stream: a stored block holding `data`, then a block of the
/// reserved type 3 ('invalid block type').
fn stored_then_invalid(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).expect("a stored block holds 64 KiB");
    let mut out = vec![0x00];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.push(0x07);
    out
}

/// A compressed text message whose deflate stream first inflates to invalid
/// UTF-8, then turns invalid. In one chunk the inflate error used to win
/// (the text inflated by the same call went unchecked); in smaller chunks
/// the UTF-8 error did. Now the text is checked first, in every chunking,
/// also when the masked payload is unmasked (and inflated) in 4 KiB blocks.
#[test]
fn regression_compressed_error_does_not_depend_on_chunking() {
    let mut text = vec![b'x'; 4200];
    text[10] = 0xff;
    for (server, data) in [(false, &text[..20]), (true, &text[..])] {
        let payload = stored_then_invalid(data);
        let key = server.then_some([1, 2, 3, 4]);
        let stream = frame(0xc1, &payload, key, 0);
        for chunking in [0, 1, 7, 255] {
            let cfg = ReceiverConfig {
                flags: FLAG_COMPRESSION | if server { FLAG_SERVER } else { 0 },
                chunking,
                ..ReceiverConfig::default()
            };
            let input = [&cfg.to_bytes()[..], &stream].concat();
            assert_eq!(
                fuzz_check::receiver_events(&input),
                vec![Event::Error(ErrorId::InvalidUtf8, 0)],
                "server {server}, chunking {chunking}"
            );
        }
    }
    // Valid text before the invalid block: the inflate error.
    let payload = stored_then_invalid(b"fine");
    let cfg = ReceiverConfig {
        flags: FLAG_COMPRESSION,
        chunking: 1,
        ..ReceiverConfig::default()
    };
    let input = [&cfg.to_bytes()[..], &frame(0xc1, &payload, None, 0)].concat();
    assert_eq!(
        fuzz_check::receiver_events(&input),
        vec![Event::Error(ErrorId::InflateBlockType, 0)]
    );
}

/// Likewise for the size limit: a compressed message that inflates past
/// `max_payload` before its deflate data turns invalid used to fail with the
/// inflate error in one chunk and with 'Max payload size exceeded' in
/// smaller ones. Now the size is checked first.
#[test]
fn regression_compressed_size_limit_before_invalid_data() {
    // 101 bytes (the output stops one byte past the limit), then, after the
    // empty stored block of the sync flush, lengths that do not match: in
    // one chunk, zlib fills the output and finds them in the same call.
    let mut payload = compress(&mut compressor(15, false), &[b'a'; 101]);
    payload.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]);
    for chunking in [0, 1, 9] {
        let cfg = ReceiverConfig {
            flags: FLAG_COMPRESSION,
            max_payload: 100,
            chunking,
            ..ReceiverConfig::default()
        };
        let input = [&cfg.to_bytes()[..], &frame(0xc1, &payload, None, 0)].concat();
        assert_eq!(
            fuzz_check::receiver_events(&input),
            vec![Event::Error(ErrorId::MaxPayloadExceeded, 0)],
            "chunking {chunking}"
        );
    }
}

/// The inputs cargo-fuzz found, replayed through the harness.
#[test]
fn regression_fuzz_artifacts() {
    for input in [
        // Invalid UTF-8, then invalid deflate data, in one compressed text
        // frame (see the test above).
        "0400000025239c518a00c12b2a2b696e76616c69645f73746ffffdffff72656420606c6f636b206c656e67dfb5568a",
        // Inflated past max_payload, then invalid deflate data (see the
        // test above).
        "0680ffffff0a9c518a00c12b2a2bc1003ac12b69042f81818181818181a18181818181818100002500518a00c12b2a",
        // A distance too far back found by zlib-rs's fast path, whose
        // message it loses (TOLERATE_ZLIB_RS_FAST_PATH_MESSAGES).
        "0400000000259c518a00c12b2b0707070707070707070707070707969c518a969c518a969c518a969c518a969c518a969c518a969c518a969c518a968178",
    ] {
        fuzz_check::receiver(&hex(input));
    }
}
