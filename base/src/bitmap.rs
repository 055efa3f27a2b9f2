//! Type bitmaps, the list of types present at a name in NSEC and NSEC3 records (RFC 4034 §4.1.2, RFC 5155 §3.2.1).
//!
//! The 65536 types are split into 256 windows of 256 types each. Every window
//! holding at least one type is written as its number, the length of its
//! bitmap (1 to 32 octets) and the bitmap itself, most significant bit first,
//! with trailing zero octets left out. Windows come in increasing order.

/// Why octets are not a valid type bitmap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitmapError {
    /// The data ends inside the window block that starts at `offset`.
    #[error("type bitmap ends inside the window block at offset {offset}")]
    Truncated {
        /// Where the incomplete block starts.
        offset: usize,
    },
    /// A window's bitmap length is 0 or more than 32 (RFC 4034 §4.1.2).
    #[error("window {window} has a bitmap of {length} octets; it must have 1 to 32")]
    BadLength {
        /// The window number.
        window: u8,
        /// The length octet as found.
        length: u8,
    },
    /// A window does not come after the one before it (RFC 4034 §4.1.2: increasing order, each at most once).
    #[error("window {window} follows window {previous}; windows must be in increasing order")]
    OutOfOrder {
        /// The window before.
        previous: u8,
        /// The window found after it.
        window: u8,
    },
    /// A window's bitmap ends in a zero octet, which RFC 4034 §4.1.2 says must be left out.
    #[error("the bitmap of window {window} ends in a zero octet")]
    TrailingZero {
        /// The window number.
        window: u8,
    },
}

/// Encodes a set of types (any order, duplicates allowed) as window blocks.
///
/// An empty set gives an empty bitmap, which is what an NSEC3 record of an
/// empty non-terminal carries (RFC 5155 §7.1). The caller decides which types
/// belong: this function adds none (not even RRSIG or NSEC) and removes none.
pub fn type_bitmap(types: impl IntoIterator<Item = u16>) -> Vec<u8> {
    let mut types: Vec<u16> = types.into_iter().collect();
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    for window in types.chunk_by(|a, b| a >> 8 == b >> 8) {
        let Some(&last) = window.last() else {
            continue;
        };
        let [number, last_low] = last.to_be_bytes();
        let length = usize::from(last_low / 8) + 1;
        let mut bits = [0u8; 32];
        for &rtype in window {
            let low = rtype.to_be_bytes()[1];
            bits[usize::from(low / 8)] |= 0x80 >> (low % 8);
        }
        out.push(number);
        out.push(length as u8);
        out.extend_from_slice(&bits[..length]);
    }
    out
}

/// Decodes a bitmap back to the sorted types (for tests and dumps); error on malformed input.
///
/// Decoding is strict: every rule of RFC 4034 §4.1.2 is checked, including the
/// ones a lenient reader could skip (window order, no trailing zero octets), so
/// that a bitmap this crate wrote wrongly cannot pass a test unnoticed.
pub fn decode_type_bitmap(bitmap: &[u8]) -> Result<Vec<u16>, BitmapError> {
    let mut types = Vec::new();
    let mut previous: Option<u8> = None;
    let mut offset = 0;
    while offset < bitmap.len() {
        let (Some(&window), Some(&length)) = (bitmap.get(offset), bitmap.get(offset + 1)) else {
            return Err(BitmapError::Truncated { offset });
        };
        if length == 0 || length > 32 {
            return Err(BitmapError::BadLength { window, length });
        }
        if let Some(previous) = previous.filter(|&previous| previous >= window) {
            return Err(BitmapError::OutOfOrder { previous, window });
        }
        let start = offset + 2;
        let bits = bitmap
            .get(start..start + usize::from(length))
            .ok_or(BitmapError::Truncated { offset })?;
        if bits.last() == Some(&0) {
            return Err(BitmapError::TrailingZero { window });
        }
        for (index, &octet) in (0u16..).zip(bits) {
            for bit in 0..8 {
                if octet & (0x80 >> bit) != 0 {
                    types.push((u16::from(window) << 8) | (index * 8 + bit));
                }
            }
        }
        previous = Some(window);
        offset = start + usize::from(length);
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{A, CAA, MX, NSEC, RRSIG};

    #[test]
    fn rfc4034_section_4_3_example() {
        // alfa.example.com. NSEC host.example.com. (A MX RRSIG NSEC TYPE1234)
        let mut expected = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        expected.extend_from_slice(&[0; 26]);
        expected.push(0x20);
        let bitmap = type_bitmap([1234, NSEC, RRSIG, MX, A, MX]);
        assert_eq!(bitmap, expected);
        assert_eq!(decode_type_bitmap(&bitmap).unwrap(), vec![A, MX, RRSIG, NSEC, 1234]);
    }

    #[test]
    fn multi_window_round_trip() {
        let types = vec![0, A, 7, 8, 255, CAA, 511, 4096, 32768, 65280, 65535];
        let bitmap = type_bitmap(types.iter().rev().copied());
        assert_eq!(decode_type_bitmap(&bitmap).unwrap(), types);
        // Window 0 ends with type 255, so its bitmap has all 32 octets; so has window 1 (CAA is 257).
        assert_eq!(&bitmap[..3], &[0, 32, 0xc1]);
        assert_eq!(&bitmap[34..37], &[1, 32, 0x40]);
        assert_eq!(bitmap[67], 0x01);
    }

    #[test]
    fn empty_set_is_empty_bitmap() {
        assert!(type_bitmap([]).is_empty());
        assert_eq!(decode_type_bitmap(&[]).unwrap(), Vec::<u16>::new());
    }

    #[test]
    fn rejects_malformed_bitmaps() {
        assert_eq!(decode_type_bitmap(&[0]), Err(BitmapError::Truncated { offset: 0 }));
        assert_eq!(
            decode_type_bitmap(&[0, 2, 0x40]),
            Err(BitmapError::Truncated { offset: 0 })
        );
        assert_eq!(
            decode_type_bitmap(&[0, 1, 0x40, 1]),
            Err(BitmapError::Truncated { offset: 3 })
        );
        assert_eq!(
            decode_type_bitmap(&[0, 0]),
            Err(BitmapError::BadLength { window: 0, length: 0 })
        );
        let mut long = vec![0, 33];
        long.extend_from_slice(&[0xff; 33]);
        assert_eq!(
            decode_type_bitmap(&long),
            Err(BitmapError::BadLength { window: 0, length: 33 })
        );
        assert_eq!(
            decode_type_bitmap(&[1, 1, 0x80, 0, 1, 0x40]),
            Err(BitmapError::OutOfOrder { previous: 1, window: 0 })
        );
        assert_eq!(
            decode_type_bitmap(&[0, 1, 0x40, 0, 1, 0x20]),
            Err(BitmapError::OutOfOrder { previous: 0, window: 0 })
        );
        assert_eq!(
            decode_type_bitmap(&[0, 2, 0x40, 0x00]),
            Err(BitmapError::TrailingZero { window: 0 })
        );
    }
}
