//! Streaming UTF-8 validation (RFC 3629 / WHATWG: no overlongs, no
//! surrogates, nothing above U+10FFFF).
//!
//! A message arrives in pieces, and a code point may straddle two pieces. The
//! validator carries the state of an incomplete sequence from one piece to the
//! next, and reports invalid input as soon as a byte makes the sequence
//! impossible, even when the sequence is not complete yet ("fail fast").
//!
//! Bulk input goes through `std::str::from_utf8` (fast, with a word-at-a-time
//! ASCII path); only the up to 3 bytes around a piece boundary go through the
//! byte-wise state machine below.

/// The state of an incomplete sequence: how many continuation bytes are
/// still needed, and the range the next one must fall in (the second byte of
/// a sequence has a narrower range for E0, ED, F0 and F4 leads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Validator {
    need: u8,
    lo: u8,
    hi: u8,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Utf8Validator {
    pub const fn new() -> Self {
        Utf8Validator {
            need: 0,
            lo: 0x80,
            hi: 0xbf,
        }
    }

    /// Forgets any carried state (start of a new message).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True when no code point is left incomplete: the input so far is valid
    /// UTF-8 as a whole.
    pub fn is_complete(&self) -> bool {
        self.need == 0
    }

    /// Steps the state machine over one byte. Returns false if `b` cannot
    /// continue valid UTF-8.
    #[inline]
    fn step(&mut self, b: u8) -> bool {
        if self.need == 0 {
            let (need, lo, hi) = match b {
                0x00..=0x7f => return true,
                0xc2..=0xdf => (1, 0x80, 0xbf),
                0xe0 => (2, 0xa0, 0xbf),
                0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf),
                0xed => (2, 0x80, 0x9f),
                0xf0 => (3, 0x90, 0xbf),
                0xf1..=0xf3 => (3, 0x80, 0xbf),
                0xf4 => (3, 0x80, 0x8f),
                _ => return false,
            };
            self.need = need;
            self.lo = lo;
            self.hi = hi;
            true
        } else {
            if b < self.lo || b > self.hi {
                return false;
            }
            self.need -= 1;
            self.lo = 0x80;
            self.hi = 0xbf;
            true
        }
    }

    /// Validates the next piece of input. Returns false as soon as the input
    /// can no longer be valid UTF-8; the validator must not be used again
    /// after that (until `reset`).
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        let mut rest = bytes;
        // Finish a sequence carried over from the previous piece.
        while self.need != 0 {
            let Some((&b, tail)) = rest.split_first() else {
                return true;
            };
            if !self.step(b) {
                return false;
            }
            rest = tail;
        }
        match std::str::from_utf8(rest) {
            Ok(_) => true,
            Err(e) => {
                if e.error_len().is_some() {
                    // A definitely invalid sequence inside this piece.
                    return false;
                }
                // The piece ends inside a sequence that may still be valid:
                // carry it over (at most 3 bytes).
                let tail = rest.get(e.valid_up_to()..).unwrap_or_default();
                tail.iter().all(|&b| self.step(b))
            }
        }
    }
}

/// Whole-buffer validation, same rules.
pub fn is_valid(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_ok(pieces: &[&[u8]]) -> bool {
        let mut v = Utf8Validator::new();
        pieces.iter().all(|p| v.feed(p)) && v.is_complete()
    }

    /// Byte-at-a-time reference that also tells at which byte it fails.
    fn fail_index(bytes: &[u8]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        bytes.iter().position(|&b| !v.step(b))
    }

    #[test]
    fn valid_samples() {
        for s in [
            "",
            "hello",
            "héllo",
            "€",
            "𝄞 music",
            "日本語テキスト",
            "\u{10ffff}",
        ] {
            assert!(stream_ok(&[s.as_bytes()]), "{s}");
            assert!(is_valid(s.as_bytes()));
        }
    }

    #[test]
    fn invalid_samples() {
        let bad: &[&[u8]] = &[
            &[0x80],                   // lone continuation
            &[0xc0, 0x80],             // overlong 2-byte
            &[0xc1, 0xbf],             // overlong 2-byte
            &[0xe0, 0x80, 0x80],       // overlong 3-byte
            &[0xe0, 0x9f, 0xbf],       // overlong 3-byte
            &[0xed, 0xa0, 0x80],       // surrogate U+D800
            &[0xed, 0xbf, 0xbf],       // surrogate U+DFFF
            &[0xf0, 0x8f, 0xbf, 0xbf], // overlong 4-byte
            &[0xf4, 0x90, 0x80, 0x80], // > U+10FFFF
            &[0xf5, 0x80, 0x80, 0x80], // > U+10FFFF
            &[0xff],
            &[0xfe],
            &[0xce, 0x41], // lead not followed by continuation
        ];
        for b in bad {
            assert!(!stream_ok(&[b]), "{b:02x?}");
            assert!(!is_valid(b));
        }
        // Incomplete at the end is invalid as a whole but not while streaming.
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[0xe2, 0x82]));
        assert!(!v.is_complete());
    }

    #[test]
    fn fails_fast_inside_incomplete_sequence() {
        // ED A0 can never become valid: fail at the second byte.
        let mut v = Utf8Validator::new();
        assert!(!v.feed(&[b'a', 0xed, 0xa0]));
        assert_eq!(fail_index(&[b'a', 0xed, 0xa0]), Some(2));
        // F4 90 likewise.
        let mut v = Utf8Validator::new();
        assert!(!v.feed(&[0xf4, 0x90]));
        // Split across pieces: F0 | 8F
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[0xf0]));
        assert!(!v.feed(&[0x8f]));
        // E0 | 9F
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[0xe0]));
        assert!(!v.feed(&[0x9f]));
        // F5 alone fails immediately.
        let mut v = Utf8Validator::new();
        assert!(!v.feed(&[0xf5]));
        // C0 alone fails immediately.
        let mut v = Utf8Validator::new();
        assert!(!v.feed(&[0xc0]));
    }

    #[test]
    fn every_split_of_valid_text_is_accepted() {
        let s = "a€𝄞b日本\u{10ffff}ç".as_bytes();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                assert!(stream_ok(&[&s[..i], &s[i..j], &s[j..]]), "{i} {j}");
            }
        }
    }

    #[test]
    fn streaming_agrees_with_std_on_all_short_sequences() {
        // Every 1..=3 byte sequence from an interesting byte set, each split
        // at every point, must agree with std's whole-buffer verdict, and
        // fail-fast must agree with "no valid continuation exists".
        let set: Vec<u8> = vec![
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
            0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xff,
        ];
        let mut seqs: Vec<Vec<u8>> = vec![];
        for &a in &set {
            seqs.push(vec![a]);
            for &b in &set {
                seqs.push(vec![a, b]);
                for &c in &set {
                    seqs.push(vec![a, b, c]);
                }
            }
        }
        for s in &seqs {
            let whole = std::str::from_utf8(s);
            for cut in 0..=s.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&s[..cut]) && v.feed(&s[cut..]);
                match whole {
                    Ok(_) => assert!(ok && v.is_complete(), "{s:02x?}"),
                    Err(e) if e.error_len().is_some() => assert!(!ok, "{s:02x?} cut {cut}"),
                    Err(_) => assert!(ok && !v.is_complete(), "{s:02x?} cut {cut}"),
                }
            }
        }
    }
}
