//! permessage-deflate in the Receiver: compressed messages are inflated as
//! they arrive and come out as EV_INFLATED records.

use super::*;
use crate::deflate::{Compressor, DeflateOptions};

/// RFC 7692 §7.2.3.1: "Hello" compressed.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/// §7.2.3.2: the second "Hello" with the shared context.
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

fn deflating(mut d: Driver, params: Option<(u8, bool)>) -> Driver {
    d.r.set_inflate(params);
    d
}

fn client() -> Driver {
    deflating(Driver::client(), Some((15, false)))
}

fn server() -> Driver {
    deflating(Driver::server(), Some((15, false)))
}

fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Compressor::new(DeflateOptions::default(), true)
        .compress(data, true, &mut out)
        .unwrap();
    out
}

#[test]
fn rfc_examples() {
    // One frame, then the shared context, from a server and from a client.
    let bytes = cat(&[
        frame_raw(0xc1, &HELLO, None),
        frame_raw(0xc1, &HELLO_AGAIN, None),
    ]);
    assert_eq!(client().run(&bytes), vec![text("Hello"), text("Hello")]);
    assert_eq!(
        client().run_bytewise(&bytes),
        vec![text("Hello"), text("Hello")]
    );
    let bytes = cat(&[
        frame_raw(0xc1, &HELLO, Some(KEY)),
        frame_raw(0xc2, &HELLO_AGAIN, Some(KEY)),
    ]);
    assert_eq!(server().run(&bytes), vec![text("Hello"), binary(b"Hello")]);
    // Fragmented: RSV1 on the first frame only, a ping in between.
    let bytes = cat(&[
        frame_raw(0x41, &HELLO[..3], None),
        frame_raw(0x89, b"p", None),
        frame_raw(0x80, &HELLO[3..], None),
    ]);
    assert_eq!(
        client().run(&bytes),
        vec![Ev::Ping(b"p".to_vec()), text("Hello")]
    );
    // Without context takeover, the second message cannot be read alone.
    let d = deflating(Driver::client(), Some((15, true)));
    let bytes = cat(&[
        frame_raw(0xc1, &HELLO, None),
        frame_raw(0xc1, &HELLO_AGAIN, None),
    ]);
    assert_eq!(
        d.run(&bytes),
        vec![text("Hello"), err(ErrorId::InflateDistanceTooFarBack)]
    );
    // Uncompressed messages still work alongside.
    let bytes = cat(&[sf(true, OP_TEXT, b"plain"), frame_raw(0xc1, &HELLO, None)]);
    assert_eq!(client().run(&bytes), vec![text("plain"), text("Hello")]);
}

#[test]
fn rsv1_rules() {
    // Off: refused. On: refused on continuations and control frames.
    assert_eq!(
        Driver::client().run(&frame_raw(0xc1, &HELLO, None)),
        vec![err(ErrorId::Rsv1)]
    );
    let bytes = cat(&[
        frame_raw(0x42, &HELLO[..3], None),
        frame_raw(0xc0, &HELLO[3..], None),
    ]);
    assert_eq!(client().run(&bytes), vec![err(ErrorId::Rsv1)]);
    assert_eq!(
        client().run(&frame_raw(0xc9, b"", None)),
        vec![err(ErrorId::Rsv1)]
    );
    // An empty compressed message.
    assert_eq!(client().run(&frame_raw(0xc2, &[], None)), vec![binary(b"")]);
    assert_eq!(
        client().run(&frame_raw(0xc2, &[0], None)),
        vec![binary(b"")]
    );
}

#[test]
fn masked_compressed_payload_leaves_the_chunk_alone() {
    let payload = compress(&vec![b'a'; 10_000]);
    let bytes = frame_raw(0xc1, &payload, Some(KEY));
    let mut d = server();
    let mut chunk = bytes.clone();
    let mut events = vec![0u32; 2 + 3 * 16];
    d.r.feed(&mut chunk, 0, &mut events).unwrap();
    assert_eq!(chunk, bytes);
    assert_eq!(events[..5], [1, bytes.len() as u32, EV_INFLATED, 0, 10_000]);
    assert_eq!(d.r.take_inflated().unwrap(), vec![b'a'; 10_000]);
    assert_eq!(d.r.take_inflated(), None);
    // Split everywhere, the mask phase carries over.
    for split in 1..bytes.len() {
        assert_eq!(
            server().feed_all(&[&bytes[..split], &bytes[split..]]),
            vec![text(&"a".repeat(10_000))]
        );
    }
}

#[test]
fn bombs_stop_at_max_payload() {
    let zeros = vec![0u8; 2 << 20];
    let payload = compress(&zeros);
    assert!(payload.len() < 5000);
    for max in [1000u64, 65_536, (2 << 20) - 1] {
        let opts = Options {
            max_payload: max,
            ..Options::default()
        };
        let d = deflating(Driver::new(opts), Some((15, false)));
        let bytes = frame_raw(0xc2, &payload, None);
        assert_eq!(
            d.run_bytewise(&bytes),
            vec![err(ErrorId::MaxPayloadExceeded)]
        );
        let mut d = deflating(Driver::new(opts), Some((15, false)));
        d.feed(&bytes);
        assert_eq!(d.out, vec![err(ErrorId::MaxPayloadExceeded)]);
        // Freed at once.
        assert_eq!(d.r.inflated_capacity(), 0);
    }
    // At the limit exactly, it is delivered.
    let opts = Options {
        max_payload: 2 << 20,
        ..Options::default()
    };
    let d = deflating(Driver::new(opts), Some((15, false)));
    assert_eq!(
        d.run(&frame_raw(0xc2, &payload, None)),
        vec![binary(&zeros)]
    );
    // The compressed size counts too (ws's `haveLength`).
    let opts = Options {
        max_payload: 6,
        ..Options::default()
    };
    let d = deflating(Driver::new(opts), Some((15, false)));
    assert_eq!(
        d.run(&frame_raw(0xc1, &HELLO, None)),
        vec![err(ErrorId::MaxPayloadExceeded)]
    );
}

#[test]
fn invalid_streams_and_text() {
    assert_eq!(
        client().run(&frame_raw(0xc1, &[0xff, 0xff], None)),
        vec![err(ErrorId::InflateBlockType)]
    );
    // Invalid UTF-8 fails as soon as it is inflated, not at the end.
    let bad = compress(&[b'a', 0xff, b'b']);
    let bytes = cat(&[frame_raw(0x41, &bad, None)]);
    assert_eq!(client().run(&bytes), vec![err(ErrorId::InvalidUtf8)]);
    // A text message ending inside a code point.
    let euro = "€".as_bytes();
    let cut = compress(&euro[..2]);
    assert_eq!(
        client().run(&frame_raw(0xc1, &cut, None)),
        vec![err(ErrorId::InvalidUtf8)]
    );
    // Across fragments, a code point split between them is fine.
    let mut c = Compressor::new(DeflateOptions::default(), false);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    c.compress(&euro[..1], false, &mut a).unwrap();
    c.compress(&euro[1..], true, &mut b).unwrap();
    let bytes = cat(&[frame_raw(0x41, &a, None), frame_raw(0x80, &b, None)]);
    assert_eq!(client().run(&bytes), vec![text("€")]);
    // Binary messages are not checked.
    assert_eq!(
        client().run(&frame_raw(0xc2, &bad, None)),
        vec![binary(&[b'a', 0xff, b'b'])]
    );
}

#[test]
fn many_messages_in_one_chunk_and_small_events_arrays() {
    let mut c = Compressor::new(DeflateOptions::default(), false);
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..50 {
        let msg = format!("message {i} {}", "x".repeat(i * 10));
        let mut z = Vec::new();
        c.compress(msg.as_bytes(), true, &mut z).unwrap();
        bytes.extend(frame_raw(0xc1, &z, Some(KEY)));
        expected.push(text(&msg));
    }
    let d = Driver::with_capacity(
        Options {
            is_server: true,
            ..Options::default()
        },
        RECORDS_PER_STEP,
    );
    assert_eq!(deflating(d, Some((15, false))).run(&bytes), expected);
    assert_eq!(server().run_bytewise(&bytes), expected);
}

#[test]
fn release_stops_the_receiver() {
    let mut d = client();
    d.feed(&frame_raw(0x41, &HELLO[..3], None));
    d.r.release();
    assert!(d.r.is_closed());
    d.feed(&frame_raw(0x80, &HELLO[3..], None));
    assert!(d.out.is_empty());
}

/// A streaming compressor's output for each piece, with a sync flush after
/// each (the trailer removed from the last one, as for a message's end).
fn compress_pieces(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut c = Compressor::new(DeflateOptions::default(), true);
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out = Vec::new();
            c.compress(p, i + 1 == pieces.len(), &mut out).unwrap();
            out
        })
        .collect()
}

#[test]
fn frame_ends_of_inflated_messages() {
    let z = compress_pieces(&[b"hello hello hello", b"", b"world world", b"tail"]);
    // Frames: "hello..", an empty flush (inflates to nothing), "world.."
    // cut after its first byte (which inflates to nothing), an empty frame,
    // then the last one.
    let frames = [
        frame_raw(0x42, &z[0], Some(KEY)),
        frame_raw(0x00, &z[1], Some(KEY)),
        frame_raw(0x00, &z[2][..1], Some(KEY)),
        frame_raw(0x89, b"ping", Some(KEY)),
        frame_raw(0x00, &z[2][1..], Some(KEY)),
        frame_raw(0x00, &[], Some(KEY)),
        frame_raw(0x80, &z[3], Some(KEY)),
    ];
    let bytes = cat(&frames);
    let whole = b"hello hello helloworld worldtail";
    let expected = vec![Ev::Ping(b"ping".to_vec()), binary(whole)];
    let ends = vec![vec![17, 28, 32]];
    let mut d = server();
    d.feed(&bytes);
    assert_eq!((&d.out, &d.frame_ends), (&expected, &ends));
    let mut d = server();
    for b in &bytes {
        d.feed(std::slice::from_ref(b));
    }
    assert_eq!((&d.out, &d.frame_ends), (&expected, &ends));
    let mut d = server();
    for f in &frames {
        d.feed(f);
    }
    assert_eq!((&d.out, &d.frame_ends), (&expected, &ends));

    // The output of one frame (the first, or the last), of none, of
    // several, with several messages per call or a small events array.
    let z = compress_pieces(&[b"abc", b"", b"def", b"", b"gh", b"i", b"jk", b"text"]);
    let strip = |p: &Vec<u8>| p[..p.len() - 4].to_vec();
    let t = |b0: u8, p: &[u8]| frame_raw(b0, p, Some(KEY));
    let bytes = cat(&[
        t(0x42, &strip(&z[0])),
        t(0x80, &[]),
        t(0x42, &z[1]),
        t(0x80, &strip(&z[2])),
        t(0xc2, &strip(&z[3])),
        t(0x42, &z[4]),
        t(0x89, b""),
        t(0x00, &z[5]),
        t(0x80, &strip(&z[6])),
        t(0xc1, &z[7]),
    ]);
    let expected = vec![
        binary(b"abc"),
        binary(b"def"),
        binary(b""),
        Ev::Ping(vec![]),
        binary(b"ghijk"),
        text("text"),
    ];
    let ends = vec![vec![3], vec![3], vec![], vec![2, 3, 5], vec![4]];
    let opts = Options {
        is_server: true,
        ..Options::default()
    };
    for records in [RECORDS_PER_STEP, 3, 1024] {
        let mut d = deflating(Driver::with_capacity(opts, records), Some((15, false)));
        d.feed(&bytes);
        assert_eq!((&d.out, &d.frame_ends), (&expected, &ends), "{records}");
    }
    let mut d = server();
    for b in &bytes {
        d.feed(std::slice::from_ref(b));
    }
    assert_eq!((&d.out, &d.frame_ends), (&expected, &ends));

    // An error drops the ends of the message in progress; the message
    // before it keeps its own.
    let z = compress_pieces(&[b"ab", b"cd", b"ef", b""]);
    let mut d = server();
    d.feed(&cat(&[
        t(0x42, &z[0]),
        t(0x80, &strip(&z[1])),
        t(0x42, &z[2]),
        t(0x00, &[0xff, 0xff, 0xff]),
    ]));
    assert_eq!(d.frame_ends, vec![vec![2, 4]]);
    assert_eq!(d.out.len(), 2);
    assert!(matches!(d.out[1], Ev::Error(..)));
}
