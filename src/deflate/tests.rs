//! Compression tests from bytes: the RFC 7692 §7.2.3 examples, context
//! takeover, window bits and decompression bombs.

use super::*;

fn inflate_message(
    d: &mut Decompressor,
    pieces: &[&[u8]],
    limit: u64,
) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    for p in pieces {
        d.inflate(p, &mut out, limit)?;
    }
    d.finish(&mut out, limit)?;
    Ok(out)
}

fn compress_message(c: &mut Compressor, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    c.compress(data, true, &mut out).expect("compress");
    out
}

/// Deterministic pseudo-random bytes (incompressible).
fn noise(len: usize, mut seed: u32) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect()
}

#[test]
fn rfc_hello_compressed() {
    // §7.2.3.1: "Hello" in one compressed message.
    let mut c = Compressor::new(DeflateOptions::default(), false);
    assert_eq!(
        compress_message(&mut c, b"Hello"),
        [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    let mut d = Decompressor::new(15, false);
    assert_eq!(
        inflate_message(&mut d, &[&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]], 0).unwrap(),
        b"Hello"
    );
    // §7.2.3.1, fragmented: the same bytes split over two frames.
    let mut d = Decompressor::new(15, false);
    assert_eq!(
        inflate_message(&mut d, &[&[0xf2, 0x48, 0xcd], &[0xc9, 0xc9, 0x07, 0x00]], 0).unwrap(),
        b"Hello"
    );
}

#[test]
fn rfc_shared_context() {
    // §7.2.3.2: the second "Hello" refers back to the first.
    let mut c = Compressor::new(DeflateOptions::default(), false);
    let first = compress_message(&mut c, b"Hello");
    let second = compress_message(&mut c, b"Hello");
    assert_eq!(first, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);
    let mut d = Decompressor::new(15, false);
    assert_eq!(inflate_message(&mut d, &[&first], 0).unwrap(), b"Hello");
    assert_eq!(inflate_message(&mut d, &[&second], 0).unwrap(), b"Hello");
    // Without context takeover, the second message cannot be read alone.
    let mut d = Decompressor::new(15, true);
    assert_eq!(inflate_message(&mut d, &[&first], 0).unwrap(), b"Hello");
    assert!(matches!(
        inflate_message(&mut d, &[&second], 0),
        Err(InflateError::Data(_))
    ));
}

#[test]
fn rfc_other_blocks() {
    let mut d = Decompressor::new(15, false);
    // §7.2.3.3: a stored (uncompressed) block.
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(inflate_message(&mut d, &[&stored], 0).unwrap(), b"Hello");
    // §7.2.3.4: a block with BFINAL set; the stream ends there, and the next
    // message starts afresh.
    let mut d = Decompressor::new(15, false);
    let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(inflate_message(&mut d, &[&bfinal], 0).unwrap(), b"Hello");
    assert_eq!(inflate_message(&mut d, &[&bfinal], 0).unwrap(), b"Hello");
    // §7.2.3.5: two DEFLATE blocks in one message.
    let mut d = Decompressor::new(15, false);
    let two = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(inflate_message(&mut d, &[&two], 0).unwrap(), b"Hello");
}

#[test]
fn empty_message() {
    let mut c = Compressor::new(DeflateOptions::default(), false);
    let empty = compress_message(&mut c, b"");
    assert_eq!(empty, [0x00]);
    // Another empty message still gets its empty stored block (zlib skips a
    // flush that repeats the last one unless something came in between).
    assert_eq!(compress_message(&mut c, b""), [0x00]);
    // The bytes Node's zlib gives ws for the same three messages.
    assert_eq!(
        compress_message(&mut c, b"aaaaa"),
        [0x4a, 0x4c, 0x4c, 0x4c, 0x4c, 0x04, 0x00]
    );
    let mut d = Decompressor::new(15, false);
    assert_eq!(inflate_message(&mut d, &[&empty], 0).unwrap(), b"");
    assert_eq!(inflate_message(&mut d, &[&empty], 0).unwrap(), b"");
    // An empty payload (no bytes at all) inflates to nothing too.
    assert_eq!(inflate_message(&mut d, &[], 0).unwrap(), b"");
}

#[test]
fn no_context_takeover_repeats_output() {
    for window_bits in 8..=15 {
        let opts = DeflateOptions {
            window_bits,
            ..DeflateOptions::default()
        };
        let mut c = Compressor::new(opts, true);
        let a = compress_message(&mut c, b"Hello Hello Hello");
        let b = compress_message(&mut c, b"Hello Hello Hello");
        assert_eq!(a, b, "window {window_bits}");
        let mut d = Decompressor::new(window_bits, true);
        for m in [&a, &b] {
            assert_eq!(
                inflate_message(&mut d, &[m], 0).unwrap(),
                b"Hello Hello Hello"
            );
        }
    }
}

#[test]
fn fragments_share_the_message_context() {
    let mut c = Compressor::new(DeflateOptions::default(), true);
    let mut f1 = Vec::new();
    let mut f2 = Vec::new();
    c.compress(b"abcabcabc", false, &mut f1).unwrap();
    c.compress(b"abcabcabc", true, &mut f2).unwrap();
    // A non-final fragment keeps its sync-flush trailer.
    assert!(f1.ends_with(&TRAILER));
    assert!(!f2.ends_with(&TRAILER));
    let mut d = Decompressor::new(15, true);
    assert_eq!(
        inflate_message(&mut d, &[&f1, &f2], 0).unwrap(),
        b"abcabcabcabcabcabc"
    );
}

#[test]
fn round_trips_large_and_chunked() {
    let mut data = noise(200_000, 7);
    data.extend(std::iter::repeat_n(b'x', 300_000));
    data.extend_from_slice(&noise(50_000, 9));
    for (level, nct) in [(-1, false), (1, true), (9, false), (0, false)] {
        let opts = DeflateOptions {
            level,
            ..DeflateOptions::default()
        };
        let mut c = Compressor::new(opts, nct);
        let z = compress_message(&mut c, &data);
        let mut d = Decompressor::new(15, nct);
        let pieces: Vec<&[u8]> = z.chunks(1000).collect();
        assert_eq!(inflate_message(&mut d, &pieces, 0).unwrap(), data);
        // Byte by byte.
        let z2 = compress_message(&mut c, &data[..20_000]);
        let pieces: Vec<&[u8]> = z2.chunks(1).collect();
        assert_eq!(
            inflate_message(&mut d, &pieces, 0).unwrap(),
            &data[..20_000]
        );
    }
}

#[test]
fn window_bits() {
    // A match 1000 bytes back needs a window of at least 2^10.
    let block = noise(1000, 3);
    let data = [block.clone(), block].concat();
    let mut c = Compressor::new(DeflateOptions::default(), false);
    let z = compress_message(&mut c, &data);
    assert!(z.len() < 1500, "the repeat was found");
    // (zlib, hence zlib-rs, enforces the window only across calls: output
    // still in the caller's buffer counts as history, so no error is
    // asserted for a smaller window here.)
    let mut d = Decompressor::new(10, false);
    assert_eq!(inflate_message(&mut d, &[&z], 0).unwrap(), data);
    // A compressor with a 9-bit window never refers that far back.
    let opts = DeflateOptions {
        window_bits: 9,
        ..DeflateOptions::default()
    };
    let mut c = Compressor::new(opts, false);
    let z = compress_message(&mut c, &data);
    assert!(z.len() > 2000);
    let mut d = Decompressor::new(9, false);
    assert_eq!(inflate_message(&mut d, &[&z], 0).unwrap(), data);
}

#[test]
fn bombs_stop_at_the_limit() {
    let zeros = vec![0u8; 4 << 20];
    let mut c = Compressor::new(DeflateOptions::default(), false);
    let z = compress_message(&mut c, &zeros);
    assert!(z.len() < 10_000, "{}", z.len());
    for limit in [1u64, 1000, 65_536, 1 << 20, (4 << 20) - 1] {
        let mut d = Decompressor::new(15, false);
        let mut out = Vec::new();
        let mut result = Ok(());
        for piece in z.chunks(4096) {
            result = d.inflate(piece, &mut out, limit);
            assert!(out.len() as u64 <= limit + 1);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = d.finish(&mut out, limit);
        }
        assert_eq!(result, Err(InflateError::TooLarge), "limit {limit}");
        assert!(out.len() as u64 <= limit + 1);
    }
    // Exactly at the limit is fine.
    let mut d = Decompressor::new(15, false);
    assert_eq!(
        inflate_message(&mut d, &[&z], 4 << 20).unwrap().len(),
        4 << 20
    );
    // The trailer alone can push a message over: it flushes pending output.
    let mut d = Decompressor::new(15, false);
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(
        inflate_message(&mut d, &[&hello], 4),
        Err(InflateError::TooLarge)
    );
}

#[test]
fn invalid_data_reports_zlib_messages() {
    let mut d = Decompressor::new(15, false);
    assert_eq!(
        inflate_message(&mut d, &[&[0xff, 0xff, 0xff]], 0),
        Err(InflateError::Data(Some("invalid block type")))
    );
    let mut d = Decompressor::new(15, false);
    assert_eq!(
        inflate_message(&mut d, &[&[0x00, 0x05, 0x00, 0x00, 0x00]], 0),
        Err(InflateError::Data(Some("invalid stored block lengths")))
    );
}

#[test]
fn options_are_validated() {
    assert!(DeflateOptions::default().validate().is_ok());
    let bad = |o: DeflateOptions| o.validate().unwrap_err().name;
    let d = DeflateOptions::default();
    assert_eq!(bad(DeflateOptions { level: 10, ..d }), "level");
    assert_eq!(bad(DeflateOptions { level: -2, ..d }), "level");
    assert_eq!(bad(DeflateOptions { mem_level: 0, ..d }), "memLevel");
    assert_eq!(bad(DeflateOptions { strategy: 5, ..d }), "strategy");
    assert_eq!(
        bad(DeflateOptions {
            window_bits: 7,
            ..d
        }),
        "windowBits"
    );
    for strategy in 0..=4 {
        for mem_level in [1, 9] {
            let mut c = Compressor::new(
                DeflateOptions {
                    strategy,
                    mem_level,
                    ..d
                },
                false,
            );
            let z = compress_message(&mut c, b"strategy strategy strategy");
            let mut dec = Decompressor::new(15, false);
            assert_eq!(
                inflate_message(&mut dec, &[&z], 0).unwrap(),
                b"strategy strategy strategy"
            );
        }
    }
}
