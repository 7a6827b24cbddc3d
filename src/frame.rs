//! Frame layout (RFC 6455 section 5.2): constants, header helpers, and the
//! encoder behind `encodeFrames`.

use crate::mask;
use crate::records::flags;

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xa;

/// First header byte.
pub const FIN_BIT: u8 = 0x80;
pub const RSV1_BIT: u8 = 0x40;
pub const RSV2_RSV3_BITS: u8 = 0x30;
pub const OPCODE_BITS: u8 = 0x0f;
/// Second header byte.
pub const MASK_BIT: u8 = 0x80;
pub const LEN7_BITS: u8 = 0x7f;

/// 7-bit length values that announce an extended length.
pub const LEN7_16BIT: u8 = 126;
pub const LEN7_64BIT: u8 = 127;

/// Largest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Largest frame header: 2 + 8 (64-bit length) + 4 (mask key).
pub const MAX_HEADER_LEN: usize = 14;

pub fn is_control(opcode: u8) -> bool {
    opcode & 0x08 != 0
}

pub fn is_known_opcode(opcode: u8) -> bool {
    matches!(
        opcode,
        OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    )
}

/// Header length for a payload of `len` bytes.
pub fn header_len(len: u64, masked: bool) -> usize {
    let ext = if len < 126 {
        0
    } else if len <= 0xffff {
        2
    } else {
        8
    };
    2 + ext + if masked { 4 } else { 0 }
}

/// What a frame header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub len: u64,
}

/// Writes `h` at the start of `out` with the shortest length encoding.
/// Returns the header length, or None if `out` is too short.
pub fn write_header(out: &mut [u8], h: &Header) -> Option<usize> {
    let n = header_len(h.len, h.mask.is_some());
    let out = out.get_mut(..n)?;
    let mut b0 = h.opcode & OPCODE_BITS;
    if h.fin {
        b0 |= FIN_BIT;
    }
    if h.rsv1 {
        b0 |= RSV1_BIT;
    }
    let b1 = if h.mask.is_some() { MASK_BIT } else { 0 };
    out[0] = b0;
    let at = if h.len < 126 {
        out[1] = b1 | h.len as u8;
        2
    } else if h.len <= 0xffff {
        out[1] = b1 | LEN7_16BIT;
        out[2..4].copy_from_slice(&(h.len as u16).to_be_bytes());
        4
    } else {
        out[1] = b1 | LEN7_64BIT;
        out[2..10].copy_from_slice(&h.len.to_be_bytes());
        10
    };
    if let Some(key) = h.mask {
        out[at..at + 4].copy_from_slice(&key);
    }
    Some(n)
}

/// `encodeFrames` meta flags (4 u32 per frame: flags, length, mask offset,
/// payload index).
pub const META_OPCODE: u32 = flags::OPCODE;
pub const META_FIN: u32 = flags::FIN;
pub const META_RSV1: u32 = flags::RSV1;
pub const META_MASK: u32 = flags::MASK;
pub const META_HEADER_ONLY: u32 = flags::HEADER_ONLY;
pub const META_STRIDE: usize = 4;

/// Why a batch could not be encoded (a bug on the calling side, never
/// peer input). Becomes a RangeError.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    MetaTooShort {
        count: usize,
    },
    InvalidOpcode {
        frame: usize,
        opcode: u8,
    },
    ControlFrameTooLong {
        frame: usize,
        len: u32,
    },
    ControlFrameNotFinal {
        frame: usize,
    },
    ControlFrameRsv1 {
        frame: usize,
    },
    NoSuchPayload {
        frame: usize,
        index: u32,
    },
    PayloadTooShort {
        frame: usize,
        len: u32,
        available: usize,
    },
    NoMask {
        frame: usize,
        offset: u32,
    },
    OutputTooSmall {
        frame: usize,
    },
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::MetaTooShort { count } => {
                write!(f, "meta is too short for {count} frames")
            }
            EncodeError::InvalidOpcode { frame, opcode } => {
                write!(f, "frame {frame}: invalid opcode {opcode}")
            }
            EncodeError::ControlFrameTooLong { frame, len } => write!(
                f,
                "frame {frame}: a control frame payload must not exceed 125 bytes (got {len})"
            ),
            EncodeError::ControlFrameNotFinal { frame } => {
                write!(f, "frame {frame}: a control frame must have FIN set")
            }
            EncodeError::ControlFrameRsv1 { frame } => {
                write!(f, "frame {frame}: a control frame must not have RSV1 set")
            }
            EncodeError::NoSuchPayload { frame, index } => {
                write!(f, "frame {frame}: no payload at index {index}")
            }
            EncodeError::PayloadTooShort {
                frame,
                len,
                available,
            } => write!(
                f,
                "frame {frame}: payload has {available} bytes, {len} requested"
            ),
            EncodeError::NoMask { frame, offset } => {
                write!(f, "frame {frame}: no 4-byte mask at offset {offset}")
            }
            EncodeError::OutputTooSmall { frame } => {
                write!(f, "frame {frame}: output buffer too small")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Checks the flags and length of outgoing frame number `frame`: a known
/// opcode; for a control frame at most 125 bytes, FIN set, RSV1 clear.
/// Returns (opcode, fin, rsv1).
pub fn check_outgoing(frame: usize, flags: u32, len: u32) -> Result<(u8, bool, bool), EncodeError> {
    let opcode = (flags & META_OPCODE) as u8;
    let fin = flags & META_FIN != 0;
    let rsv1 = flags & META_RSV1 != 0;
    if !is_known_opcode(opcode) {
        return Err(EncodeError::InvalidOpcode { frame, opcode });
    }
    if is_control(opcode) {
        if len as usize > MAX_CONTROL_PAYLOAD {
            return Err(EncodeError::ControlFrameTooLong { frame, len });
        }
        if !fin {
            return Err(EncodeError::ControlFrameNotFinal { frame });
        }
        if rsv1 {
            return Err(EncodeError::ControlFrameRsv1 { frame });
        }
    }
    Ok((opcode, fin, rsv1))
}

/// Encodes `count` frames described by `meta` back to back into `out`.
/// `payload(i)` returns the payload buffer with index `i`. Returns the
/// number of bytes written. On error, `out` may be partly written.
pub fn encode_frames<'p>(
    out: &mut [u8],
    payload: impl Fn(u32) -> Option<&'p [u8]>,
    meta: &[u32],
    count: usize,
    masks: Option<&[u8]>,
) -> Result<usize, EncodeError> {
    let needed = count.checked_mul(META_STRIDE);
    let meta = match needed.and_then(|n| meta.get(..n)) {
        Some(m) => m,
        None => return Err(EncodeError::MetaTooShort { count }),
    };
    let mut at = 0usize;
    for (frame, m) in meta.chunks_exact(META_STRIDE).enumerate() {
        let &[flags, len, mask_offset, index] = m else {
            return Err(EncodeError::MetaTooShort { count });
        };
        let (opcode, fin, rsv1) = check_outgoing(frame, flags, len)?;
        let key = if flags & META_MASK != 0 {
            let start = mask_offset as usize;
            let key = masks
                .and_then(|m| m.get(start..start.checked_add(4)?))
                .and_then(|k| <[u8; 4]>::try_from(k).ok());
            match key {
                Some(k) => Some(k),
                None => {
                    return Err(EncodeError::NoMask {
                        frame,
                        offset: mask_offset,
                    })
                }
            }
        } else {
            None
        };
        let header = Header {
            fin,
            rsv1,
            opcode,
            mask: key,
            len: u64::from(len),
        };
        let rest = out.get_mut(at..).unwrap_or_default();
        let Some(n) = write_header(rest, &header) else {
            return Err(EncodeError::OutputTooSmall { frame });
        };
        at += n;
        if flags & META_HEADER_ONLY != 0 || len == 0 {
            continue;
        }
        let Some(src) = payload(index) else {
            return Err(EncodeError::NoSuchPayload { frame, index });
        };
        let Some(src) = src.get(..len as usize) else {
            return Err(EncodeError::PayloadTooShort {
                frame,
                len,
                available: src.len(),
            });
        };
        let Some(dst) = out.get_mut(at..at + src.len()) else {
            return Err(EncodeError::OutputTooSmall { frame });
        };
        match key {
            Some(k) => mask::copy_masked(dst, src, k),
            None => dst.copy_from_slice(src),
        }
        at += src.len();
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(flags: u32, len: u32, mask_offset: u32, index: u32) -> [u32; 4] {
        [flags, len, mask_offset, index]
    }

    #[test]
    fn header_lengths_at_the_boundaries() {
        for (len, ext) in [
            (0u64, 0usize),
            (125, 0),
            (126, 2),
            (0xffff, 2),
            (0x10000, 8),
            (u64::from(u32::MAX), 8),
        ] {
            let h = Header {
                fin: true,
                rsv1: false,
                opcode: OP_BINARY,
                mask: None,
                len,
            };
            let mut out = [0u8; 14];
            assert_eq!(write_header(&mut out, &h), Some(2 + ext));
            match ext {
                0 => assert_eq!(out[1], len as u8),
                2 => {
                    assert_eq!(out[1], 126);
                    assert_eq!(u16::from_be_bytes([out[2], out[3]]) as u64, len);
                }
                _ => {
                    assert_eq!(out[1], 127);
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&out[2..10]);
                    assert_eq!(u64::from_be_bytes(b), len);
                }
            }
            let hm = Header {
                mask: Some([1, 2, 3, 4]),
                ..h
            };
            assert_eq!(write_header(&mut out, &hm), Some(6 + ext));
            assert_eq!(out[1] & MASK_BIT, MASK_BIT);
            assert_eq!(&out[2 + ext..6 + ext], &[1, 2, 3, 4]);
        }
        let mut small = [0u8; 3];
        let h = Header {
            fin: true,
            rsv1: false,
            opcode: OP_TEXT,
            mask: None,
            len: 200,
        };
        assert_eq!(write_header(&mut small, &h), None);
    }

    #[test]
    fn encode_batch_plain_masked_header_only() {
        let payloads: Vec<Vec<u8>> = vec![b"hello".to_vec(), vec![7u8; 300]];
        let get = |i: u32| payloads.get(i as usize).map(|v| v.as_slice());
        let masks = [0u8, 0xaa, 0xbb, 0xcc, 0xdd];
        let mut m = vec![];
        m.extend(meta(u32::from(OP_TEXT) | META_FIN, 5, 0, 0));
        m.extend(meta(u32::from(OP_BINARY) | META_FIN | META_MASK, 300, 1, 1));
        m.extend(meta(
            u32::from(OP_BINARY) | META_FIN | META_HEADER_ONLY,
            300,
            0,
            1,
        ));
        m.extend(meta(u32::from(OP_PING) | META_FIN, 0, 0, 99));
        let mut out = vec![0u8; 1000];
        let n = encode_frames(&mut out, get, &m, 4, Some(&masks)).expect("encodes");
        assert_eq!(n, 7 + (8 + 300) + 4 + 2);
        assert_eq!(&out[..7], b"\x81\x05hello");
        assert_eq!(
            &out[7..15],
            &[0x82, 0x80 | 126, 0x01, 0x2c, 0xaa, 0xbb, 0xcc, 0xdd]
        );
        let mut body = out[15..315].to_vec();
        mask::apply(&mut body, [0xaa, 0xbb, 0xcc, 0xdd], 0);
        assert_eq!(body, vec![7u8; 300]);
        assert_eq!(&out[315..319], &[0x82, 126, 0x01, 0x2c]);
        assert_eq!(&out[319..321], &[0x89, 0x00]);
    }

    #[test]
    fn encode_rejects_invalid_frames() {
        let p = [vec![0u8; 200]];
        let get = |i: u32| p.get(i as usize).map(|v| v.as_slice());
        let mut out = vec![0u8; 400];
        let e = |m: [u32; 4], masks: Option<&[u8]>, out: &mut [u8]| {
            encode_frames(out, get, &m, 1, masks).err()
        };
        assert_eq!(
            e(
                meta(u32::from(OP_PING) | META_FIN, 126, 0, 0),
                None,
                &mut out
            ),
            Some(EncodeError::ControlFrameTooLong { frame: 0, len: 126 })
        );
        assert_eq!(
            e(meta(u32::from(OP_CLOSE), 2, 0, 0), None, &mut out),
            Some(EncodeError::ControlFrameNotFinal { frame: 0 })
        );
        assert_eq!(
            e(meta(3 | META_FIN, 2, 0, 0), None, &mut out),
            Some(EncodeError::InvalidOpcode {
                frame: 0,
                opcode: 3
            })
        );
        assert_eq!(
            e(
                meta(u32::from(OP_TEXT) | META_MASK, 2, 0, 0),
                None,
                &mut out
            ),
            Some(EncodeError::NoMask {
                frame: 0,
                offset: 0
            })
        );
        assert_eq!(
            e(
                meta(u32::from(OP_TEXT) | META_MASK, 2, 2, 0),
                Some(&[0; 5]),
                &mut out
            ),
            Some(EncodeError::NoMask {
                frame: 0,
                offset: 2
            })
        );
        assert_eq!(
            e(meta(u32::from(OP_TEXT), 201, 0, 0), None, &mut out),
            Some(EncodeError::PayloadTooShort {
                frame: 0,
                len: 201,
                available: 200
            })
        );
        assert_eq!(
            e(meta(u32::from(OP_TEXT), 2, 0, 1), None, &mut out),
            Some(EncodeError::NoSuchPayload { frame: 0, index: 1 })
        );
        assert_eq!(
            e(meta(u32::from(OP_TEXT), 200, 0, 0), None, &mut out[..100]),
            Some(EncodeError::OutputTooSmall { frame: 0 })
        );
        assert_eq!(
            encode_frames(&mut out, get, &[0, 0, 0], 1, None).err(),
            Some(EncodeError::MetaTooShort { count: 1 })
        );
    }

    #[test]
    fn headers_match_tungstenite() {
        use tungstenite::protocol::frame::coding::{Data, OpCode};
        use tungstenite::protocol::frame::Frame;
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            for masked in [false, true] {
                let payload = vec![0x5au8; len];
                let mut f = Frame::message(payload.clone(), OpCode::Data(Data::Binary), true);
                let key = [9u8, 8, 7, 6];
                if masked {
                    f.header_mut().mask = Some(key);
                }
                let mut theirs = Vec::new();
                f.format(&mut theirs).expect("tungstenite formats");

                let flags = u32::from(OP_BINARY) | META_FIN | if masked { META_MASK } else { 0 };
                let m = [flags, len as u32, 0, 0];
                let mut ours = vec![0u8; len + MAX_HEADER_LEN];
                let n = encode_frames(&mut ours, |_| Some(payload.as_slice()), &m, 1, Some(&key))
                    .expect("encodes");
                assert_eq!(&ours[..n], &theirs[..], "len {len} masked {masked}");
            }
        }
    }
}
