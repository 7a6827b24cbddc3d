//! Just enough of RFC 6455 framing for a load generator: building masked
//! client frames ahead of time, and a streaming parser that reads frame
//! headers and skips payloads (keeping only control-frame payloads).

/// Builds one frame. `mask` = Some(key) for client frames.
pub fn build(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        f.push(m | n as u8);
    } else if n <= 0xffff {
        f.push(m | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(m | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            f.extend_from_slice(&key);
            let start = f.len();
            f.extend_from_slice(payload);
            apply_mask(&mut f[start..], key, 0);
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// XORs `data` with `key`, starting at offset `off` into the key stream.
#[inline]
pub fn apply_mask(data: &mut [u8], key: [u8; 4], off: usize) {
    let mut k = [0u8; 8];
    for (i, b) in k.iter_mut().enumerate() {
        *b = key[(off + i) & 3];
    }
    let k64 = u64::from_ne_bytes(k);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c[..].try_into().unwrap()) ^ k64;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    let rest = chunks.into_remainder();
    for (i, b) in rest.iter_mut().enumerate() {
        *b ^= k[i];
    }
}

pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A permessage-deflate payload (RFC 7692) that needs no compressor: one
/// non-final stored block (`00`, LEN and its complement, little-endian)
/// holding `data`. The receiver appends `00 00 ff ff` (an empty stored
/// block) and inflates `data` back. At most 65535 bytes.
pub fn stored_deflate(data: &[u8]) -> Vec<u8> {
    let n = data.len().min(0xffff) as u16;
    let mut p = Vec::with_capacity(5 + n as usize);
    p.push(0x00);
    p.extend_from_slice(&n.to_le_bytes());
    p.extend_from_slice(&(!n).to_le_bytes());
    p.extend_from_slice(&data[..n as usize]);
    p
}

#[derive(Debug)]
pub enum Ev {
    /// A complete data message: opcode of its first frame (1 text, 2 binary),
    /// total payload length (as sent: compressed with permessage-deflate),
    /// and whether its first frame had RSV1 (a compressed message).
    Data {
        opcode: u8,
        len: u64,
        rsv1: bool,
    },
    Ping(Vec<u8>),
    Pong,
    /// Close frame with its status code (1005 if none).
    Close(u16),
    /// Unparseable input (reserved opcode, oversized control frame).
    Bad,
}

/// Header length needed given the first two bytes.
#[inline]
fn header_len(b1: u8) -> usize {
    let l7 = b1 & 0x7f;
    2 + match l7 {
        126 => 2,
        127 => 8,
        _ => 0,
    } + if b1 & 0x80 != 0 { 4 } else { 0 }
}

#[derive(Default)]
pub struct Parser {
    hdr: [u8; 14],
    hlen: usize,
    in_payload: bool,
    left: u64,
    opcode: u8,
    fin: bool,
    mask: Option<[u8; 4]>,
    msg_opcode: u8,
    msg_len: u64,
    msg_rsv1: bool,
    ctrl: Vec<u8>,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; complete messages and control frames go to `out`.
    pub fn feed(&mut self, mut d: &[u8], out: &mut Vec<Ev>) {
        while !d.is_empty() {
            if self.in_payload {
                let take = self.left.min(d.len() as u64) as usize;
                if self.opcode >= 8 {
                    self.ctrl.extend_from_slice(&d[..take]);
                } else {
                    self.msg_len += take as u64;
                }
                self.left -= take as u64;
                d = &d[take..];
                if self.left == 0 {
                    self.finish(out);
                }
                continue;
            }
            if self.hlen == 0 && d.len() >= 2 {
                let need = header_len(d[1]);
                if d.len() >= need {
                    let (h, rest) = d.split_at(need);
                    d = rest;
                    self.begin(h, out);
                    continue;
                }
            }
            self.hdr[self.hlen] = d[0];
            self.hlen += 1;
            d = &d[1..];
            if self.hlen >= 2 && self.hlen == header_len(self.hdr[1]) {
                let h = self.hdr;
                let n = self.hlen;
                self.hlen = 0;
                self.begin(&h[..n], out);
            }
        }
    }

    /// Starts a frame from its complete header.
    #[inline]
    fn begin(&mut self, h: &[u8], out: &mut Vec<Ev>) {
        let b0 = h[0];
        let b1 = h[1];
        self.fin = b0 & 0x80 != 0;
        self.opcode = b0 & 0x0f;
        if self.opcode == 1 || self.opcode == 2 {
            self.msg_opcode = self.opcode;
            self.msg_len = 0;
            // permessage-deflate: RSV1 on a message's first frame says it is
            // compressed. The payload is skipped like any other.
            self.msg_rsv1 = b0 & 0x40 != 0;
        }
        let (len, p) = match b1 & 0x7f {
            126 => (u16::from_be_bytes([h[2], h[3]]) as u64, 4),
            127 => (u64::from_be_bytes(h[2..10].try_into().unwrap()), 10),
            n => (n as u64, 2),
        };
        self.mask = if b1 & 0x80 != 0 {
            Some([h[p], h[p + 1], h[p + 2], h[p + 3]])
        } else {
            None
        };
        if (self.opcode >= 8 && (len > 125 || !self.fin)) || matches!(self.opcode, 3..=7 | 11..=15)
        {
            out.push(Ev::Bad);
        }
        self.left = len;
        if len == 0 {
            self.finish(out);
        } else {
            self.in_payload = true;
        }
    }

    fn finish(&mut self, out: &mut Vec<Ev>) {
        self.in_payload = false;
        match self.opcode {
            0..=2 if self.fin => {
                out.push(Ev::Data {
                    opcode: self.msg_opcode,
                    len: self.msg_len,
                    rsv1: self.msg_rsv1,
                });
                self.msg_len = 0;
            }
            8 => {
                if let Some(k) = self.mask {
                    apply_mask(&mut self.ctrl, k, 0);
                }
                let code = if self.ctrl.len() >= 2 {
                    u16::from_be_bytes([self.ctrl[0], self.ctrl[1]])
                } else {
                    1005
                };
                out.push(Ev::Close(code));
            }
            9 => {
                if let Some(k) = self.mask {
                    apply_mask(&mut self.ctrl, k, 0);
                }
                out.push(Ev::Ping(std::mem::take(&mut self.ctrl)));
            }
            10 => out.push(Ev::Pong),
            _ => {}
        }
        self.ctrl.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_split_frames() {
        let mut s = Vec::new();
        s.extend(build(2, &[7u8; 64], None));
        s.extend(build(1, &vec![b'a'; 300], None));
        s.extend(build(2, &vec![1u8; 70000], None));
        s.extend(build(9, b"hi", None));
        s.extend(build(8, &1000u16.to_be_bytes(), None));
        for chunk in [1usize, 2, 3, 7, 100, 4096, 1 << 20] {
            let mut p = Parser::new();
            let mut out = Vec::new();
            for c in s.chunks(chunk) {
                p.feed(c, &mut out);
            }
            assert_eq!(out.len(), 5, "chunk {chunk}: {out:?}");
            assert!(matches!(
                out[0],
                Ev::Data {
                    opcode: 2,
                    len: 64,
                    ..
                }
            ));
            assert!(matches!(
                out[1],
                Ev::Data {
                    opcode: 1,
                    len: 300,
                    ..
                }
            ));
            assert!(matches!(
                out[2],
                Ev::Data {
                    opcode: 2,
                    len: 70000,
                    ..
                }
            ));
            assert!(matches!(&out[3], Ev::Ping(p) if p == b"hi"));
            assert!(matches!(out[4], Ev::Close(1000)));
        }
    }

    #[test]
    fn fragmented_message() {
        let mut s = build(1, b"abc", None);
        s[0] &= 0x7f; // not fin
        let mut c = build(0, b"de", None);
        s.append(&mut c);
        let mut p = Parser::new();
        let mut out = Vec::new();
        p.feed(&s, &mut out);
        assert!(matches!(
            out[..],
            [Ev::Data {
                opcode: 1,
                len: 5,
                rsv1: false
            }]
        ));
    }

    #[test]
    fn mask_roundtrip() {
        let f = build(2, b"hello world, masked!", Some(MASK));
        let mut p = f[6..].to_vec();
        apply_mask(&mut p, MASK, 0);
        assert_eq!(&p, b"hello world, masked!");
    }

    #[test]
    fn compressed_messages() {
        // Server frames with RSV1 (compressed), one of them fragmented
        // (RSV1 on the first frame only), between plain ones.
        let mut s = build(2, &[0xf2, 0x48, 0x02, 0x00], None);
        s[0] |= 0x40;
        s.extend(build(2, &[1u8; 10], None));
        let mut first = build(1, &[0xaa; 200], None);
        first[0] = (first[0] & 0x7f) | 0x40;
        s.extend(first);
        s.extend(build(9, b"", None));
        s.extend(build(0, &[0xbb; 70000], None));
        for chunk in [1usize, 3, 4096, 1 << 20] {
            let mut p = Parser::new();
            let mut out = Vec::new();
            for c in s.chunks(chunk) {
                p.feed(c, &mut out);
            }
            assert!(
                matches!(
                    out[..],
                    [
                        Ev::Data {
                            opcode: 2,
                            len: 4,
                            rsv1: true
                        },
                        Ev::Data {
                            opcode: 2,
                            len: 10,
                            rsv1: false
                        },
                        Ev::Ping(_),
                        Ev::Data {
                            opcode: 1,
                            len: 70200,
                            rsv1: true
                        }
                    ]
                ),
                "chunk {chunk}: {out:?}"
            );
        }
    }

    #[test]
    fn stored_block() {
        let p = stored_deflate(b"hello");
        assert_eq!(p, [0, 5, 0, 0xfa, 0xff, b'h', b'e', b'l', b'l', b'o']);
    }
}
