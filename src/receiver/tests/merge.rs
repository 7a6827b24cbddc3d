//! `set_merge_frames`: the payloads of a message's frames that arrive in the
//! same chunk come out as one PIECE, moved together in place.

use super::*;

fn merging(mut d: Driver) -> Driver {
    d.r.set_merge_frames(true);
    d
}

/// The records of one `feed` call over `chunk` (which it modifies).
fn records(r: &mut Receiver, chunk: &mut [u8]) -> Vec<[u32; 3]> {
    let mut ev = vec![0u32; 2 + 3 * 1024];
    r.feed(chunk, 0, &mut ev).expect("valid feed call");
    (0..ev[0] as usize)
        .map(|i| [ev[2 + 3 * i], ev[3 + 3 * i], ev[4 + 3 * i]])
        .collect()
}

/// A text message of `n` fragments of `size` bytes each, from a client.
fn fragmented(n: usize, size: usize) -> (Vec<u8>, Vec<u8>) {
    let mut bytes = vec![];
    let mut payload = vec![];
    for i in 0..n {
        let part: Vec<u8> = (0..size).map(|j| b'a' + ((i + j) % 26) as u8).collect();
        let op = if i == 0 { OP_TEXT } else { OP_CONTINUATION };
        bytes.extend(cf(i + 1 == n, op, &part));
        payload.extend(part);
    }
    (bytes, payload)
}

/// A message's first `MERGE_AFTER_PIECES` pieces, each a fragment of one
/// byte, in a chunk of its own: merging begins with the next chunk.
fn merging_begun(r: &mut Receiver, op: u8) {
    for i in 0..MERGE_AFTER_PIECES {
        let mut f = cf(false, if i == 0 { op } else { OP_CONTINUATION }, b"z");
        records(r, &mut f);
    }
}

#[test]
fn fragments_in_one_chunk_make_one_piece() {
    let (mut bytes, payload) = fragmented(1000, 3);
    let n = MERGE_AFTER_PIECES as usize;
    let mut r = Receiver::new(Options {
        is_server: true,
        max_pieces: MERGE_AFTER_PIECES,
        max_fragments: 0,
        ..Options::default()
    });
    r.set_merge_frames(true);
    let recs = records(&mut r, &mut bytes);
    // Frames of 9 bytes (6 of header): the first pieces are left where they
    // are, then the rest of the payload is moved back to follow the last of
    // them.
    let n = n - 1;
    let mut expected: Vec<[u32; 3]> = (0..n)
        .map(|i| [EV_PIECE, (9 * i + 6) as u32, (9 * i + 9) as u32])
        .collect();
    let at = 9 * n + 6;
    expected.push([EV_PIECE, at as u32, (at + 3 * (1000 - n)) as u32]);
    expected.push([EV_MESSAGE, 0, 0]);
    assert_eq!(recs, expected);
    assert_eq!(&bytes[at..at + 3 * (1000 - n)], &payload[3 * n..]);
}

#[test]
fn off_by_default() {
    let (mut bytes, _) = fragmented(3, 2);
    let mut r = Receiver::new(Options {
        is_server: true,
        ..Options::default()
    });
    merging_begun(&mut r, OP_TEXT);
    let recs = records(&mut r, &mut bytes[8..]);
    assert_eq!(
        recs,
        vec![[EV_PIECE, 6, 8], [EV_PIECE, 14, 16], [EV_MESSAGE, 0, 0]]
    );
}

#[test]
fn control_frames_are_not_merged_over() {
    let mut bytes = cat(&[
        cf(false, OP_CONTINUATION, b"ab"),
        cf(true, OP_PING, b"ping!"),
        cf(false, OP_CONTINUATION, b"cd"),
        cf(false, OP_CONTINUATION, b"ef"),
        cf(true, OP_PONG, b""),
        cf(true, OP_CONTINUATION, b"gh"),
    ]);
    let mut r = Receiver::new(Options {
        is_server: true,
        ..Options::default()
    });
    r.set_merge_frames(true);
    merging_begun(&mut r, OP_BINARY);
    let recs = records(&mut r, &mut bytes);
    // ab | ping | cd+ef | pong | gh: the ping's payload stays where it was.
    assert_eq!(
        recs,
        vec![
            [EV_PIECE, 6, 8],
            [EV_CTRL_PIECE, 14, 19],
            [EV_PING, 0, 0],
            [EV_PIECE, 25, 29],
            [EV_PONG, 0, 0],
            [EV_PIECE, 47, 49],
            [EV_MESSAGE, 1, 0]
        ]
    );
    assert_eq!(&bytes[14..19], b"ping!");
    assert_eq!(&bytes[25..29], b"cdef");
}

#[test]
fn the_piece_limit_counts_chunks_not_frames() {
    // 64 Ki fragments of 64 bytes (Autobahn 9.3.1 is 4 MiB in 64-byte
    // fragments), in 64 KiB chunks: a piece per chunk, not per fragment.
    let (bytes, payload) = fragmented(64 * 1024, 64);
    let opts = Options {
        is_server: true,
        max_pieces: 128,
        ..Options::default()
    };
    let chunks: Vec<&[u8]> = bytes.chunks(64 * 1024).collect();
    let out = merging(Driver::new(opts)).feed_all(&chunks);
    assert_eq!(
        out,
        vec![Ev::Message {
            binary: false,
            data: payload
        }]
    );
    // Without merging the same limit stops it.
    let out = Driver::new(opts).feed_all(&chunks);
    assert_eq!(out, vec![err(ErrorId::TooManyPieces)]);
}

#[test]
fn invalid_utf8_still_fails_at_its_fragment() {
    let mut bytes = cat(&[
        cf(false, OP_CONTINUATION, b"ok"),
        cf(false, OP_CONTINUATION, &[0xff]),
        cf(true, OP_CONTINUATION, b"never"),
    ]);
    let mut r = Receiver::new(Options {
        is_server: true,
        ..Options::default()
    });
    r.set_merge_frames(true);
    merging_begun(&mut r, OP_TEXT);
    let recs = records(&mut r, &mut bytes);
    assert_eq!(
        recs,
        vec![[EV_PIECE, 6, 8], [EV_ERROR, ErrorId::InvalidUtf8 as u32, 0]]
    );
}

/// The random streams of `random_streams_are_chunking_independent`: merging
/// changes the records, never the events.
#[test]
fn random_streams_give_the_same_events() {
    let mut seed = 0x2545_f491_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..400 {
        let server = next() % 2 == 0;
        let mask = server.then_some(KEY);
        let mut stream = vec![];
        for _ in 0..(1 + next() % 12) {
            let ops = [0u8, 0, 0, 0, 1, 1, 2, 2, 8, 9, 10];
            let op = ops[(next() % ops.len() as u32) as usize];
            let fin = next() % 3 == 0;
            let len = match next() % 10 {
                0 => 126 + (next() % 400) as usize,
                _ => (next() % 6) as usize,
            };
            let payload: Vec<u8> = if op == OP_CLOSE {
                close_payload(1000, b"bye")
            } else if next() % 2 == 0 {
                "aé€𝄞".bytes().cycle().take(len).collect()
            } else {
                (0..len).map(|_| next() as u8).collect()
            };
            let b0 = u8::from(fin) << 7 | op;
            stream.extend(frame_raw(b0, &payload, mask));
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
            max_pieces: 0,
        };
        let expected = Driver::new(opts).run(&stream);
        assert_eq!(merging(Driver::new(opts)).run(&stream), expected);
        let mut chunks: Vec<&[u8]> = vec![];
        let mut at = 0;
        while at < stream.len() {
            let step = 1 + (next() as usize % 60).min(stream.len() - at - 1);
            chunks.push(&stream[at..at + step]);
            at += step;
        }
        let small = RECORDS_PER_STEP + (next() % 3) as usize;
        let d = merging(Driver::with_capacity(opts, small));
        assert_eq!(d.feed_all(&chunks), expected, "{opts:?}");
    }
}
