//! Receiver tests, from bytes alone. `Driver` plays the JS side of
//! docs/binding.md: it feeds chunks, follows `events[1]`, and assembles
//! messages from PIECE / CTRL_PIECE records.

use super::*;
use crate::frame::{encode_frames, write_header, Header, META_FIN, META_MASK};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Message { binary: bool, data: Vec<u8> },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
    Error(ErrorId, u32),
}

fn err(id: ErrorId) -> Ev {
    Ev::Error(id, 0)
}

fn text(s: &str) -> Ev {
    Ev::Message {
        binary: false,
        data: s.as_bytes().to_vec(),
    }
}

fn binary(b: &[u8]) -> Ev {
    Ev::Message {
        binary: true,
        data: b.to_vec(),
    }
}

struct Driver {
    r: Receiver,
    events: Vec<u32>,
    message: Vec<u8>,
    control: Vec<u8>,
    out: Vec<Ev>,
    /// The frame ends of each inflated message (`inflated_frame_ends`).
    frame_ends: Vec<Vec<u32>>,
    calls: usize,
}

impl Driver {
    fn new(opts: Options) -> Self {
        Self::with_capacity(opts, 1024)
    }

    fn with_capacity(opts: Options, records: usize) -> Self {
        Driver {
            r: Receiver::new(opts),
            events: vec![0; 2 + RECORD_LEN * records],
            message: vec![],
            control: vec![],
            out: vec![],
            frame_ends: vec![],
            calls: 0,
        }
    }

    fn server() -> Self {
        Self::new(Options {
            is_server: true,
            ..Options::default()
        })
    }

    fn client() -> Self {
        Self::new(Options::default())
    }

    /// Feeds one chunk the way js/ does (nothing more after an error).
    fn feed(&mut self, chunk: &[u8]) {
        if matches!(self.out.last(), Some(Ev::Error(..))) {
            return;
        }
        let mut chunk = chunk.to_vec();
        let mut pos = 0usize;
        loop {
            self.r
                .feed(&mut chunk, pos, &mut self.events)
                .expect("valid feed call");
            self.calls += 1;
            let count = self.events[0] as usize;
            let next = self.events[1] as usize;
            assert!(next >= pos && next <= chunk.len());
            let mut error = false;
            let decoded: Vec<Record> = records(&self.events).collect();
            assert_eq!(decoded.len(), count, "an unknown record type");
            for record in decoded {
                match record {
                    Record::Piece { start, end } => {
                        assert!(start < end && end <= next, "piece {start}..{end}");
                        self.message.extend_from_slice(&chunk[start..end])
                    }
                    Record::CtrlPiece { start, end } => {
                        assert!(start < end && end <= next);
                        self.control.extend_from_slice(&chunk[start..end])
                    }
                    Record::Message { binary } => self.out.push(Ev::Message {
                        binary,
                        data: std::mem::take(&mut self.message),
                    }),
                    Record::Ping => self.out.push(Ev::Ping(std::mem::take(&mut self.control))),
                    Record::Pong => self.out.push(Ev::Pong(std::mem::take(&mut self.control))),
                    Record::Close { code } => {
                        let c = std::mem::take(&mut self.control);
                        let reason = c.get(2..).unwrap_or_default().to_vec();
                        self.out.push(Ev::Close(code, reason))
                    }
                    Record::Error { id, arg } => {
                        let id = ErrorId::from_u32(id).expect("known error id");
                        self.out.push(Ev::Error(id, arg));
                        error = true;
                    }
                    Record::Inflated { binary, len } => {
                        let data = self.r.take_inflated().expect("an inflated message");
                        assert_eq!(len as usize, data.len());
                        let mut ends = vec![0; 4];
                        let n = self.r.inflated_frame_ends(&mut ends);
                        if n > ends.len() {
                            ends.resize(n, 0);
                            assert_eq!(self.r.inflated_frame_ends(&mut ends), n);
                        }
                        ends.truncate(n);
                        // Increasing, the last one the length.
                        assert!(ends.windows(2).all(|w| w[0] < w[1]), "{ends:?}");
                        assert_eq!(ends.last().copied().unwrap_or(0) as usize, data.len());
                        self.frame_ends.push(ends);
                        self.out.push(Ev::Message { binary, data })
                    }
                }
            }
            pos = next;
            if error || count == 0 || pos >= chunk.len() {
                break;
            }
        }
    }

    fn feed_all(mut self, chunks: &[&[u8]]) -> Vec<Ev> {
        for c in chunks {
            self.feed(c);
        }
        self.out
    }

    fn run(mut self, bytes: &[u8]) -> Vec<Ev> {
        self.feed(bytes);
        self.out
    }

    fn run_bytewise(mut self, bytes: &[u8]) -> Vec<Ev> {
        for b in bytes {
            self.feed(std::slice::from_ref(b));
        }
        self.out
    }
}

/// A frame on the wire (shortest length encoding).
fn frame_raw(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 14];
    let h = Header {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        opcode: b0 & 0x0f,
        mask,
        len: payload.len() as u64,
    };
    let n = write_header(&mut out, &h).expect("room");
    out[0] = b0; // keep RSV2/RSV3 exactly as given
    out.truncate(n);
    let mut body = payload.to_vec();
    if let Some(k) = mask {
        crate::mask::apply(&mut body, k, 0);
    }
    out.extend_from_slice(&body);
    out
}

/// A frame from a client (masked).
fn cf(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_raw(if fin { 0x80 } else { 0 } | opcode, payload, Some(KEY))
}

/// A frame from a server (unmasked).
fn sf(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_raw(if fin { 0x80 } else { 0 } | opcode, payload, None)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// A stream exercising most paths: plain, fragmented with interleaved
/// control frames, empty messages, 16-bit length, multi-byte UTF-8 split
/// across fragments, close.
fn busy_stream(f: fn(bool, u8, &[u8]) -> Vec<u8>) -> (Vec<u8>, Vec<Ev>) {
    let big = vec![0xabu8; 300];
    let euro = "€".as_bytes();
    let bytes = cat(&[
        f(true, OP_TEXT, b"hello"),
        f(false, OP_TEXT, b"frag"),
        f(true, OP_PING, b"p1"),
        f(false, OP_CONTINUATION, &[b'-', euro[0]]),
        f(true, OP_PONG, b""),
        f(false, OP_CONTINUATION, &euro[1..]),
        f(true, OP_PING, b""),
        f(true, OP_CONTINUATION, b"end"),
        f(true, OP_BINARY, b""),
        f(true, OP_TEXT, b""),
        f(true, OP_BINARY, &big),
        f(false, OP_BINARY, b""),
        f(true, OP_CONTINUATION, b"x"),
        f(true, OP_CLOSE, &close_payload(1000, "bye ✓".as_bytes())),
    ]);
    let expected = vec![
        text("hello"),
        Ev::Ping(b"p1".to_vec()),
        Ev::Pong(vec![]),
        Ev::Ping(vec![]),
        text("frag-€end"),
        binary(b""),
        text(""),
        binary(&big),
        binary(b"x"),
        Ev::Close(1000, "bye ✓".as_bytes().to_vec()),
    ];
    (bytes, expected)
}

#[test]
fn exact_records_for_a_masked_frame() {
    let mut r = Receiver::new(Options {
        is_server: true,
        ..Options::default()
    });
    let mut chunk = cf(true, OP_TEXT, b"Hi!");
    let mut ev = vec![0u32; 8];
    r.feed(&mut chunk, 0, &mut ev).expect("feed");
    assert_eq!(&ev, &[2, 9, EV_PIECE, 6, 9, EV_MESSAGE, 0, 0]);
    assert_eq!(&chunk[6..9], b"Hi!");
}

#[test]
fn busy_stream_whole_bytewise_and_every_split() {
    for (f, mk) in [
        (
            cf as fn(bool, u8, &[u8]) -> Vec<u8>,
            Driver::server as fn() -> Driver,
        ),
        (sf, Driver::client),
    ] {
        let (bytes, expected) = busy_stream(f);
        assert_eq!(mk().run(&bytes), expected);
        assert_eq!(mk().run_bytewise(&bytes), expected);
        for cut in 0..bytes.len() {
            let got = mk().feed_all(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(got, expected, "cut at {cut}");
        }
    }
}

#[test]
fn tiny_events_array_resumes_where_it_stopped() {
    let (bytes, expected) = busy_stream(cf);
    let opts = Options {
        is_server: true,
        ..Options::default()
    };
    let mut d = Driver::with_capacity(opts, RECORDS_PER_STEP);
    d.feed(&bytes);
    assert!(d.calls > 5, "expected several calls, got {}", d.calls);
    assert_eq!(d.out, expected);

    // Many tiny messages in one chunk, 3-record array.
    let mut many = vec![];
    for i in 0..200u8 {
        many.extend(cf(true, OP_BINARY, &[i]));
    }
    let mut d = Driver::with_capacity(opts, 3);
    d.feed(&many);
    let want: Vec<Ev> = (0..200u8).map(|i| binary(&[i])).collect();
    assert_eq!(d.out, want);
}

#[test]
fn never_writes_past_the_events_array() {
    let (bytes, _) = busy_stream(cf);
    let mut r = Receiver::new(Options {
        is_server: true,
        ..Options::default()
    });
    let mut chunk = bytes.clone();
    // 9 u32s: room for 2 records plus one spare u32 that must stay untouched.
    let mut ev = [0xdead_beef_u32; 9];
    let mut pos = 0;
    while pos < chunk.len() {
        r.feed(&mut chunk, pos, &mut ev[..]).expect("feed");
        assert!(ev[0] <= 2);
        assert_eq!(ev[8], 0xdead_beef, "wrote past capacity");
        pos = ev[1] as usize;
        if ev[0] == 0 {
            break;
        }
    }
}

#[test]
fn zero_length_payloads_have_no_piece_records() {
    let mut r = Receiver::new(Options::default());
    let mut chunk = cat(&[sf(true, OP_BINARY, b""), sf(true, OP_PING, b"")]);
    let mut ev = vec![0u32; 20];
    r.feed(&mut chunk, 0, &mut ev).expect("feed");
    assert_eq!(&ev[..8], &[2, 4, EV_MESSAGE, 1, 0, EV_PING, 0, 0]);
}

#[test]
fn payload_lengths_7_16_64_bit() {
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 100_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let bytes = cf(true, OP_BINARY, &payload);
        let expected = vec![binary(&payload)];
        assert_eq!(Driver::server().run(&bytes), expected, "len {len}");
        // Split inside the header and in the middle of the payload.
        for cut in [1, 2, 3, 5, 9, 11, 13, bytes.len() / 2] {
            let cut = cut.min(bytes.len());
            let got = Driver::server().feed_all(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(got, expected, "len {len} cut {cut}");
        }
    }
}

#[test]
fn non_minimal_length_encodings_are_accepted() {
    // 5 bytes announced with a 16-bit and with a 64-bit length (ws accepts).
    let mut a = vec![0x82, 126, 0, 5];
    a.extend_from_slice(b"abcde");
    assert_eq!(Driver::client().run(&a), vec![binary(b"abcde")]);
    let mut b = vec![0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5];
    b.extend_from_slice(b"abcde");
    assert_eq!(Driver::client().run_bytewise(&b), vec![binary(b"abcde")]);
}

#[test]
fn length_above_2_pow_53_minus_1_is_refused() {
    // 2^53 - 1 is accepted (the receiver then waits for the payload).
    let ok = [0x82, 127, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(Driver::client().run(&ok), vec![]);
    let bad = [0x82, 127, 0x00, 0x20, 0, 0, 0, 0, 0, 0];
    let got = Driver::client().run(&bad);
    assert_eq!(got, vec![err(ErrorId::UnsupportedDataPayloadLength)]);
    assert_eq!(
        ErrorId::UnsupportedDataPayloadLength.info().message,
        "Unsupported WebSocket frame: payload length > 2^53 - 1"
    );
    let bad = [0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        Driver::client().run_bytewise(&bad),
        vec![err(ErrorId::UnsupportedDataPayloadLength)]
    );
}

#[test]
fn mask_rules() {
    assert_eq!(
        Driver::server().run(&sf(true, OP_TEXT, b"x")),
        vec![err(ErrorId::ExpectedMask)]
    );
    assert_eq!(
        Driver::client().run(&cf(true, OP_TEXT, b"x")),
        vec![err(ErrorId::UnexpectedMask)]
    );
    // A zero mask key is a valid mask.
    let z = frame_raw(0x81, b"abc", Some([0; 4]));
    assert_eq!(Driver::server().run(&z), vec![text("abc")]);
}

#[test]
fn mask_phase_carries_across_chunks() {
    let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let bytes = cf(true, OP_BINARY, &payload);
    // Cut the payload into uneven pieces: phases 1, 2, 3, 0 all occur.
    let mut chunks: Vec<&[u8]> = vec![];
    let mut at = 0;
    let mut step = 1;
    while at < bytes.len() {
        let end = (at + step).min(bytes.len());
        chunks.push(&bytes[at..end]);
        at = end;
        step = step % 7 + 1;
    }
    assert_eq!(Driver::server().feed_all(&chunks), vec![binary(&payload)]);
}

#[test]
fn rsv_bits() {
    assert_eq!(
        Driver::client().run(&frame_raw(0xc1, b"x", None)),
        vec![err(ErrorId::Rsv1)]
    );
    assert_eq!(
        Driver::client().run(&frame_raw(0xa1, b"x", None)),
        vec![err(ErrorId::Rsv2Rsv3)]
    );
    assert_eq!(
        Driver::client().run(&frame_raw(0x91, b"x", None)),
        vec![err(ErrorId::Rsv2Rsv3)]
    );
    // With compression on, RSV1 marks a compressed data message (see
    // compression.rs), and is still refused on control frames.
    let mut d = Driver::client();
    d.r.set_compression(true);
    d.feed(&frame_raw(0xc9, b"x", None));
    assert_eq!(d.out, vec![err(ErrorId::Rsv1)]);
}

#[test]
fn ws_check_order() {
    let e = |bytes: &[u8], server: bool| {
        let d = if server {
            Driver::server()
        } else {
            Driver::client()
        };
        d.run(bytes)
    };
    // RSV2/3 before RSV1 before opcode.
    assert_eq!(e(&[0xf3, 0x00], false), vec![err(ErrorId::Rsv2Rsv3)]);
    assert_eq!(e(&[0xc3, 0x00], false), vec![err(ErrorId::Rsv1)]);
    // Opcode before mask.
    assert_eq!(
        e(&[0x83, 0x00], true),
        vec![Ev::Error(ErrorId::InvalidOpcode, 3)]
    );
    // Control: FIN before RSV1 (with compression) before length, all before mask.
    let mut d = Driver::server();
    d.r.set_compression(true);
    d.feed(&[0x49, 0x7e]);
    assert_eq!(d.out, vec![err(ErrorId::ExpectedFin)]);
    let mut d = Driver::server();
    d.r.set_compression(true);
    d.feed(&[0xc9, 0x7e]);
    assert_eq!(d.out, vec![err(ErrorId::Rsv1)]);
    assert_eq!(
        e(&[0x89, 0x7e], true),
        vec![Ev::Error(ErrorId::InvalidControlPayloadLength, 126)]
    );
    assert_eq!(
        e(&[0x88, 0x7f], true),
        vec![Ev::Error(ErrorId::InvalidControlPayloadLength, 127)]
    );
    // Mask before the 64-bit length check and before maxPayload.
    assert_eq!(
        e(&[0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], true),
        vec![err(ErrorId::ExpectedMask)]
    );
    // Continuation without a message wins over the mask check.
    assert_eq!(
        e(&[0x80, 0x00], true),
        vec![Ev::Error(ErrorId::InvalidOpcode, 0)]
    );
    // Errors are reported as soon as their bytes are in: 2 bytes suffice.
    assert_eq!(Driver::client().run_bytewise(&[0x83]), Vec::<Ev>::new());
    assert_eq!(
        Driver::client().run_bytewise(&[0x83, 0x05]),
        vec![Ev::Error(ErrorId::InvalidOpcode, 3)]
    );
}

#[test]
fn opcodes() {
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        assert_eq!(
            Driver::client().run(&sf(true, op, b"")),
            vec![Ev::Error(ErrorId::InvalidOpcode, u32::from(op))],
            "opcode {op}"
        );
    }
    assert_eq!(
        Driver::client().run(&sf(true, OP_CONTINUATION, b"x")),
        vec![Ev::Error(ErrorId::InvalidOpcode, 0)]
    );
    let bytes = cat(&[sf(false, OP_TEXT, b"a"), sf(true, OP_BINARY, b"b")]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![Ev::Error(ErrorId::InvalidOpcode, 2)]
    );
    let bytes = cat(&[sf(false, OP_BINARY, b"a"), sf(true, OP_TEXT, b"b")]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![Ev::Error(ErrorId::InvalidOpcode, 1)]
    );
    // After a complete message a continuation is invalid again.
    let bytes = cat(&[
        sf(false, OP_BINARY, b"a"),
        sf(true, OP_CONTINUATION, b"b"),
        sf(true, OP_CONTINUATION, b"c"),
    ]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![binary(b"ab"), Ev::Error(ErrorId::InvalidOpcode, 0)]
    );
}

#[test]
fn control_frame_rules() {
    assert_eq!(
        Driver::client().run(&sf(false, OP_PING, b"")),
        vec![err(ErrorId::ExpectedFin)]
    );
    assert_eq!(
        Driver::client().run(&sf(true, OP_CLOSE, b"x")),
        vec![Ev::Error(ErrorId::InvalidControlPayloadLength, 1)]
    );
    assert_eq!(
        Driver::client().run(&[0x8a, 126, 0, 126]),
        vec![Ev::Error(ErrorId::InvalidControlPayloadLength, 126)]
    );
    // 125 bytes is fine.
    let p = vec![7u8; 125];
    assert_eq!(
        Driver::client().run(&sf(true, OP_PING, &p)),
        vec![Ev::Ping(p)]
    );
}

#[test]
fn max_payload_counts_fragments() {
    let opts = |max| Options {
        max_payload: max,
        ..Options::default()
    };
    let single = sf(true, OP_BINARY, &[1; 10]);
    assert_eq!(Driver::new(opts(10)).run(&single), vec![binary(&[1; 10])]);
    assert_eq!(
        Driver::new(opts(9)).run(&single),
        vec![err(ErrorId::MaxPayloadExceeded)]
    );
    // Checked on the header alone, before any payload.
    assert_eq!(
        Driver::new(opts(9)).run(&single[..2]),
        vec![err(ErrorId::MaxPayloadExceeded)]
    );
    let frags = cat(&[
        sf(false, OP_BINARY, &[1; 4]),
        sf(true, OP_PING, &[0; 100]),
        sf(false, OP_CONTINUATION, &[2; 4]),
        sf(true, OP_CONTINUATION, &[3; 3]),
    ]);
    assert_eq!(
        Driver::new(opts(11)).run(&frags),
        vec![
            Ev::Ping(vec![0; 100]),
            binary(&[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3])
        ]
    );
    assert_eq!(
        Driver::new(opts(10)).run(&frags),
        vec![Ev::Ping(vec![0; 100]), err(ErrorId::MaxPayloadExceeded)]
    );
    // The total resets between messages.
    let two = cat(&[single.clone(), single.clone()]);
    assert_eq!(Driver::new(opts(10)).run(&two).len(), 2);
}

#[test]
fn max_fragments() {
    let opts = Options {
        max_fragments: 3,
        ..Options::default()
    };
    let three = cat(&[
        sf(false, OP_TEXT, b"a"),
        sf(false, OP_CONTINUATION, b""),
        sf(true, OP_CONTINUATION, b"c"),
    ]);
    assert_eq!(Driver::new(opts).run(&three), vec![text("ac")]);
    let four = cat(&[
        sf(false, OP_TEXT, b"a"),
        sf(false, OP_CONTINUATION, b""),
        sf(true, OP_PING, b""),
        sf(false, OP_CONTINUATION, b"c"),
        sf(true, OP_CONTINUATION, b"d"),
    ]);
    assert_eq!(
        Driver::new(opts).run(&four),
        vec![Ev::Ping(vec![]), err(ErrorId::TooManyFragments)]
    );
    // Per message.
    let again = cat(&[three.clone(), three.clone()]);
    assert_eq!(Driver::new(opts).run(&again).len(), 2);
    assert_eq!(
        ErrorId::TooManyFragments.info().message,
        "Too many message fragments"
    );
}

#[test]
fn max_pieces() {
    let opts = Options {
        max_pieces: 4,
        ..Options::default()
    };
    let bytes = sf(true, OP_BINARY, b"abcd");
    // Header in one chunk, then 4 one-byte chunks: 4 pieces, fine.
    let mut chunks: Vec<&[u8]> = vec![&bytes[..2]];
    chunks.extend(bytes[2..].chunks(1));
    assert_eq!(Driver::new(opts).feed_all(&chunks), vec![binary(b"abcd")]);
    let bytes = sf(true, OP_BINARY, b"abcde");
    let mut chunks: Vec<&[u8]> = vec![&bytes[..2]];
    chunks.extend(bytes[2..].chunks(1));
    assert_eq!(
        Driver::new(opts).feed_all(&chunks),
        vec![err(ErrorId::TooManyPieces)]
    );
    // Control pieces do not count; the count resets per message.
    let ping = sf(true, OP_PING, b"123456");
    let msgs = cat(&[sf(true, OP_BINARY, b"abc"), sf(true, OP_BINARY, b"def")]);
    let mut chunks: Vec<&[u8]> = ping.chunks(1).collect();
    chunks.extend(msgs.chunks(1));
    assert_eq!(
        Driver::new(opts).feed_all(&chunks),
        vec![Ev::Ping(b"123456".to_vec()), binary(b"abc"), binary(b"def")]
    );
}

#[test]
fn utf8_fails_fast_inside_a_fragment() {
    // The first fragment holds a surrogate; the message never finishes, yet
    // the error is reported at that fragment.
    let bytes = sf(false, OP_TEXT, &[b'a', 0xed, 0xa0, 0x80]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![err(ErrorId::InvalidUtf8)]
    );
    // Even before the sequence is complete: ED A0 | ...
    let bytes = sf(false, OP_TEXT, &[b'a', 0xed, 0xa0]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![err(ErrorId::InvalidUtf8)]
    );
    // Split across fragments with a ping between them: F0 | 8F.
    let bytes = cat(&[
        sf(false, OP_TEXT, &[0xf0]),
        sf(true, OP_PING, b""),
        sf(false, OP_CONTINUATION, &[0x8f]),
        sf(true, OP_PING, b"never"),
    ]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![Ev::Ping(vec![]), err(ErrorId::InvalidUtf8)]
    );
    // Fail fast within a frame whose payload has not fully arrived.
    let bytes = sf(true, OP_TEXT, &[b'o', b'k', 0xff, b'x', b'y']);
    assert_eq!(
        Driver::client().run(&bytes[..5]),
        vec![err(ErrorId::InvalidUtf8)]
    );
    assert_eq!(
        ErrorId::InvalidUtf8.info().kind,
        crate::errors::ErrorKind::Error
    );
}

#[test]
fn utf8_incomplete_at_message_end_fails_at_final_frame() {
    let euro = "€".as_bytes();
    let bytes = cat(&[
        sf(false, OP_TEXT, &euro[..1]),
        sf(true, OP_PING, b""),
        sf(true, OP_CONTINUATION, &euro[1..2]),
    ]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![Ev::Ping(vec![]), err(ErrorId::InvalidUtf8)]
    );
    // Empty final fragment after an incomplete one.
    let bytes = cat(&[
        sf(false, OP_TEXT, &euro[..2]),
        sf(true, OP_CONTINUATION, b""),
    ]);
    assert_eq!(
        Driver::client().run(&bytes),
        vec![err(ErrorId::InvalidUtf8)]
    );
    // Binary messages are not validated.
    let bytes = sf(true, OP_BINARY, &[0xff, 0xfe]);
    assert_eq!(Driver::client().run(&bytes), vec![binary(&[0xff, 0xfe])]);
}

#[test]
fn skip_utf8_validation_skips_text_and_close_reason() {
    let opts = Options {
        skip_utf8_validation: true,
        ..Options::default()
    };
    let bytes = cat(&[
        sf(true, OP_TEXT, &[0xff]),
        sf(true, OP_CLOSE, &close_payload(1000, &[0xc0, 0x80])),
    ]);
    assert_eq!(
        Driver::new(opts).run(&bytes),
        vec![
            Ev::Message {
                binary: false,
                data: vec![0xff]
            },
            Ev::Close(1000, vec![0xc0, 0x80])
        ]
    );
}

#[test]
fn close_frames() {
    assert_eq!(
        Driver::client().run(&sf(true, OP_CLOSE, b"")),
        vec![Ev::Close(1005, vec![])]
    );
    assert_eq!(
        Driver::client().run(&sf(true, OP_CLOSE, &close_payload(4999, b"r"))),
        vec![Ev::Close(4999, b"r".to_vec())]
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        assert_eq!(
            Driver::client().run(&sf(true, OP_CLOSE, &close_payload(code, b""))),
            vec![Ev::Error(ErrorId::InvalidCloseCode, u32::from(code))],
            "code {code}"
        );
    }
    assert_eq!(
        Driver::client().run(&sf(true, OP_CLOSE, &close_payload(1000, &[0xe2, 0x82]))),
        vec![err(ErrorId::InvalidUtf8)]
    );
    // A close reason split across chunks.
    let bytes = cf(true, OP_CLOSE, &close_payload(1001, "going ✓".as_bytes()));
    assert_eq!(
        Driver::server().run_bytewise(&bytes),
        vec![Ev::Close(1001, "going ✓".as_bytes().to_vec())]
    );
}

#[test]
fn after_close_everything_is_ignored() {
    let mut r = Receiver::new(Options::default());
    let mut chunk = cat(&[
        sf(true, OP_CLOSE, &close_payload(1000, b"")),
        sf(true, OP_TEXT, b"late"),
        vec![0xff, 0xff],
    ]);
    let mut ev = vec![0u32; 20];
    r.feed(&mut chunk, 0, &mut ev).expect("feed");
    assert_eq!(&ev[..5], &[2, chunk.len() as u32, EV_CTRL_PIECE, 2, 4]);
    assert_eq!(&ev[5..8], &[EV_CLOSE, 1000, 0]);
    assert!(r.is_closed());
    let mut more = sf(true, OP_TEXT, b"x");
    r.feed(&mut more, 0, &mut ev).expect("feed");
    assert_eq!(&ev[..2], &[0, more.len() as u32]);
}

#[test]
fn dead_after_error_and_reports_it_again() {
    let mut r = Receiver::new(Options::default());
    let mut chunk = cat(&[
        sf(true, OP_TEXT, b"ok"),
        sf(true, 5, b""),
        sf(true, OP_TEXT, b"no"),
    ]);
    let mut ev = vec![0u32; 20];
    r.feed(&mut chunk, 0, &mut ev).expect("feed");
    assert_eq!(ev[0], 3);
    assert_eq!(
        &ev[2..11],
        &[EV_PIECE, 2, 4, EV_MESSAGE, 0, 0, EV_ERROR, 3, 5]
    );
    assert_eq!(
        r.error(),
        Some(ProtocolError::with_arg(ErrorId::InvalidOpcode, 5))
    );
    let mut good = sf(true, OP_TEXT, b"x");
    r.feed(&mut good, 0, &mut ev).expect("feed");
    assert_eq!(&ev[..5], &[1, 0, EV_ERROR, 3, 5]);
}

#[test]
fn feed_argument_errors_and_start_offset() {
    let mut r = Receiver::new(Options::default());
    let mut chunk = sf(true, OP_TEXT, b"x");
    let mut small = vec![0u32; MIN_EVENTS_LEN - 1];
    assert_eq!(
        r.feed(&mut chunk, 0, &mut small),
        Err(FeedError::EventsTooSmall)
    );
    let mut ev = vec![0u32; MIN_EVENTS_LEN];
    assert_eq!(
        r.feed(&mut chunk, 4, &mut ev),
        Err(FeedError::StartOutOfRange)
    );
    // Feeding from an offset parses only the tail; start == len is a no-op.
    let mut chunk = cat(&[vec![0xee; 5], sf(true, OP_TEXT, b"x")]);
    r.feed(&mut chunk, 5, &mut ev).expect("feed");
    assert_eq!(&ev[..8], &[2, 8, EV_PIECE, 7, 8, EV_MESSAGE, 0, 0]);
    r.feed(&mut chunk, 8, &mut ev).expect("feed");
    assert_eq!(&ev[..2], &[0, 8]);
}

#[test]
fn encode_then_receive_round_trip() {
    let payloads: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        vec![],
        (0..70_000u32).map(|i| (i * 13) as u8).collect(),
        "ünïcödé ✓".as_bytes().to_vec(),
        close_payload(3000, b"done"),
    ];
    let masks = [1u8, 2, 3, 4, 0xaa, 0xbb, 0xcc, 0xdd];
    for masked in [false, true] {
        let mbit = if masked { META_MASK } else { 0 };
        let meta: Vec<u32> = [
            [u32::from(OP_TEXT) | META_FIN | mbit, 5, 0, 0],
            [u32::from(OP_PING) | META_FIN | mbit, 0, 4, 1],
            [u32::from(OP_BINARY) | mbit, 70_000, 4, 2],
            [u32::from(OP_CONTINUATION) | META_FIN | mbit, 5, 0, 0],
            [u32::from(OP_TEXT) | META_FIN | mbit, 15, 0, 3],
            [u32::from(OP_CLOSE) | META_FIN | mbit, 6, 4, 4],
        ]
        .concat();
        let mut out = vec![0u8; 80_000];
        let n = encode_frames(
            &mut out,
            |i| payloads.get(i as usize).map(|p| p.as_slice()),
            &meta,
            6,
            Some(&masks),
        )
        .expect("encodes");
        let d = if masked {
            Driver::server()
        } else {
            Driver::client()
        };
        let mut joined = payloads[2].clone();
        joined.extend_from_slice(b"hello");
        assert_eq!(
            d.run(&out[..n]),
            vec![
                text("hello"),
                Ev::Ping(vec![]),
                binary(&joined),
                text("ünïcödé ✓"),
                Ev::Close(3000, b"done".to_vec()),
            ]
        );
    }
}

#[test]
fn tungstenite_frames_are_received() {
    use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
    use tungstenite::protocol::frame::{CloseFrame, Frame};
    let mut wire = vec![];
    let mut expected = vec![];
    for len in [0usize, 3, 125, 126, 65535, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 200) as u8).collect();
        let mut f = Frame::message(payload.clone(), OpCode::Data(Data::Binary), true);
        f.header_mut().mask = Some([len as u8, 1, 2, 3]);
        f.format(&mut wire).expect("format");
        expected.push(binary(&payload));
    }
    let mut p = Frame::ping(b"tung".to_vec());
    p.header_mut().mask = Some([5, 6, 7, 8]);
    p.format(&mut wire).expect("format");
    expected.push(Ev::Ping(b"tung".to_vec()));
    let mut c = Frame::close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }));
    c.header_mut().mask = Some([9, 9, 9, 9]);
    c.format(&mut wire).expect("format");
    expected.push(Ev::Close(1000, vec![]));
    assert_eq!(Driver::server().run(&wire), expected);
    assert_eq!(Driver::server().run_bytewise(&wire), expected);
}

#[test]
fn headers_agree_with_tungstenite_parser() {
    // Random-ish headers: where tungstenite parses a header, we read the same
    // length (observed through how many payload bytes we consume).
    use std::io::Cursor;
    use tungstenite::protocol::frame::FrameHeader;
    let mut seed = 0x1234_5678_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..2000 {
        let len_kind = next() % 3;
        let len: u64 = match len_kind {
            0 => u64::from(next() % 126),
            1 => u64::from(126 + next() % (65536 - 126)),
            _ => u64::from(65536 + next() % 100_000),
        };
        let h = Header {
            fin: true,
            rsv1: false,
            opcode: OP_BINARY,
            mask: Some(next().to_ne_bytes()),
            len,
        };
        let mut buf = [0u8; 14];
        let n = write_header(&mut buf, &h).expect("room");
        let mut cur = Cursor::new(&buf[..n]);
        let (th, tlen) = FrameHeader::parse(&mut cur)
            .expect("parses")
            .expect("complete");
        assert_eq!(tlen, len);
        assert_eq!(th.mask, h.mask);
        // Our receiver consumes exactly the header and waits for payload.
        let mut r = Receiver::new(Options {
            is_server: true,
            ..Options::default()
        });
        let mut chunk = buf[..n].to_vec();
        let mut ev = vec![0u32; 8];
        r.feed(&mut chunk, 0, &mut ev).expect("feed");
        if len == 0 {
            assert_eq!(&ev[..5], &[1, n as u32, EV_MESSAGE, 1, 0]);
        } else {
            assert_eq!(&ev[..2], &[0, n as u32]);
        }
        assert_eq!(r.remaining, len);
        assert_eq!(r.mask_key, h.mask.expect("masked"));
    }
}

/// Random streams of valid and invalid frames: however the bytes are cut
/// into chunks, and however small the events array, the events are the same
/// (and nothing panics).
#[test]
fn random_streams_are_chunking_independent() {
    let mut seed = 0x9e37_79b9_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..400 {
        let server = next() % 2 == 0;
        let mut stream = vec![];
        for _ in 0..(1 + next() % 8) {
            let ops = [0u8, 0, 1, 1, 2, 2, 8, 9, 10, 3];
            let op = ops[(next() % ops.len() as u32) as usize];
            let fin = next() % 3 != 0;
            let rsv = if next() % 40 == 0 { 0x40 } else { 0 };
            let len = match next() % 10 {
                0 => 126 + (next() % 400) as usize,
                1 => 70_000,
                _ => (next() % 20) as usize,
            };
            let payload: Vec<u8> = if next() % 2 == 0 {
                "aé€𝄞".bytes().cycle().take(len).collect()
            } else {
                (0..len).map(|_| next() as u8).collect()
            };
            let payload = if op == OP_CLOSE && payload.len() >= 2 {
                let mut p = close_payload([1000, 1005, 3000, 999][(next() % 4) as usize], b"");
                p.extend_from_slice(&payload[2..payload.len().min(100)]);
                p
            } else {
                payload
            };
            let masked = server != (next() % 50 == 0);
            let b0 = u8::from(fin) << 7 | rsv | op;
            stream.extend(frame_raw(b0, &payload, masked.then_some(KEY)));
        }
        let opts = Options {
            is_server: server,
            max_payload: if next() % 4 == 0 {
                u64::from(next() % 500)
            } else {
                0
            },
            skip_utf8_validation: next() % 8 == 0,
            max_fragments: next() % 4,
            max_pieces: if next() % 4 == 0 { 1 + next() % 6 } else { 0 },
        };
        let pieces_limited = opts.max_pieces != 0;
        let whole = Driver::new(opts).run(&stream);
        let mut chunks: Vec<&[u8]> = vec![];
        let mut at = 0;
        while at < stream.len() {
            let step = 1 + (next() as usize % 40).min(stream.len() - at - 1);
            chunks.push(&stream[at..at + step]);
            at += step;
        }
        let mut d = Driver::with_capacity(opts, RECORDS_PER_STEP + (next() % 3) as usize);
        for c in &chunks {
            d.feed(c);
        }
        if !pieces_limited {
            // The piece limit depends on chunking by design.
            assert_eq!(summary(&d.out), summary(&whole), "{opts:?}");
            assert_eq!(d.out, whole);
            let bytewise = Driver::new(opts).run_bytewise(&stream);
            assert_eq!(summary(&bytewise), summary(&whole), "{opts:?}");
            assert_eq!(bytewise, whole);
        }
    }
}

/// Short, readable form of events for assertion messages.
fn summary(evs: &[Ev]) -> Vec<String> {
    evs.iter()
        .map(|e| match e {
            Ev::Message { binary, data } => format!("msg bin={binary} len={}", data.len()),
            Ev::Ping(d) => format!("ping len={}", d.len()),
            Ev::Pong(d) => format!("pong len={}", d.len()),
            Ev::Close(c, r) => format!("close {c} len={}", r.len()),
            Ev::Error(id, arg) => format!("error {id:?} {arg}"),
        })
        .collect()
}

mod compression;
mod merge;
