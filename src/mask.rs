//! WebSocket masking (RFC 6455 section 5.3): XOR with a 4-byte key.
//!
//! Byte-wise at the unaligned edges, 8 bytes at a time over the aligned
//! middle. `phase` says at which byte of the key the slice starts, so a
//! payload split across chunks is unmasked piece by piece.

/// The key rotated so that its byte 0 applies to the first byte of a slice
/// that starts `phase` bytes into the payload.
#[inline]
fn rotated(key: [u8; 4], phase: usize) -> [u8; 4] {
    let mut k = key;
    k.rotate_left(phase & 3);
    k
}

#[inline]
fn wide(key: [u8; 4]) -> u64 {
    u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ])
}

/// XORs `buf` in place with `key`, starting at byte `phase` of the key.
/// Masking and unmasking are the same operation.
pub fn apply(buf: &mut [u8], key: [u8; 4], phase: usize) {
    if key == [0; 4] {
        return;
    }
    let mut key = rotated(key, phase);

    // Edge bytes up to the first 8-byte boundary.
    let head = buf.as_ptr().align_offset(8).min(buf.len());
    let (edge, rest) = buf.split_at_mut(head);
    for (i, b) in edge.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
    key = rotated(key, head);

    let w = wide(key);
    let (words, tail) = rest.as_chunks_mut::<8>();
    for word in words {
        *word = (u64::from_ne_bytes(*word) ^ w).to_ne_bytes();
    }
    // `words` covers a multiple of 8 bytes, so the key phase is unchanged.
    for (i, b) in tail.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// Copies `src` into `dst` XORed with `key` (phase 0). Copies
/// `min(src.len(), dst.len())` bytes.
pub fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let n = src.len().min(dst.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let w = wide(key);
    let (dwords, dtail) = dst.as_chunks_mut::<8>();
    let (swords, stail) = src.as_chunks::<8>();
    for (d, s) in dwords.iter_mut().zip(swords) {
        *d = (u64::from_ne_bytes(*s) ^ w).to_ne_bytes();
    }
    for (i, (d, s)) in dtail.iter_mut().zip(stail).enumerate() {
        *d = *s ^ key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], key: [u8; 4], phase: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(i + phase) & 3];
        }
    }

    #[test]
    fn matches_naive_for_all_offsets_lengths_phases() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for offset in 0..9 {
            for len in 0..60 {
                for phase in 0..4 {
                    let mut a = data[offset..offset + len].to_vec();
                    let mut b = a.clone();
                    // Apply on a sub-slice of a bigger buffer to vary alignment.
                    let mut big = data.clone();
                    apply(&mut big[offset..offset + len], key, phase);
                    apply(&mut a, key, phase);
                    naive(&mut b, key, phase);
                    assert_eq!(a, b);
                    assert_eq!(&big[offset..offset + len], &b[..]);
                }
            }
        }
    }

    #[test]
    fn split_application_equals_whole() {
        let key = [1, 2, 3, 250];
        let data: Vec<u8> = (0..100u8).collect();
        for cut in 0..data.len() {
            let mut whole = data.clone();
            apply(&mut whole, key, 0);
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(cut);
            apply(a, key, 0);
            apply(b, key, cut);
            assert_eq!(whole, parts);
        }
    }

    #[test]
    fn zero_key_is_identity_and_copy_masked_matches() {
        let mut a = vec![9u8; 33];
        apply(&mut a, [0; 4], 1);
        assert_eq!(a, vec![9u8; 33]);

        let key = [0xde, 0xad, 0xbe, 0xef];
        for len in 0..40 {
            let src: Vec<u8> = (0..len as u8).collect();
            let mut dst = vec![0u8; len];
            copy_masked(&mut dst, &src, key);
            let mut expect = src.clone();
            naive(&mut expect, key, 0);
            assert_eq!(dst, expect);
        }
    }
}
