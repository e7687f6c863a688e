//! The byte-level parsers in front of the entries: `EntryRef::parse` (value header,
//! key suffix) and the runtime header detection of `SnapshotReader::new`, each against
//! a reference model written from docs/format.md §1.1–§1.2.

use arbitrary::Unstructured;
use elastickv_codec::container::{ContainerErrorKind, EntryRef, MAGIC, SnapshotReader, Wrapper};

/// The oracle: half the inputs go to each parser.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    if u.arbitrary()? { entry(u) } else { header(u) }
}

/// What the Go `decodeSnapshotEntry` does with a key and a value, in its check order.
fn expected_entry_error(key: &[u8], value: &[u8]) -> Option<ContainerErrorKind> {
    if key.len() < 8 {
        return Some(ContainerErrorKind::ShortKey);
    }
    if value.len() < 9 {
        return Some(ContainerErrorKind::ShortValue);
    }
    let flags = value[0];
    if flags & 0xF8 != 0 {
        return Some(ContainerErrorKind::EncryptedReserved);
    }
    match (flags >> 1) & 3 {
        0 => None,
        1 => Some(ContainerErrorKind::EncryptedEntry),
        _ => Some(ContainerErrorKind::EncryptedReserved),
    }
}

fn entry(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let offset: u64 = u.arbitrary()?;
    let key_len = u.int_in_range(0usize..=24)?;
    let key = u.bytes(key_len.min(u.len()))?;
    let mut value = Vec::new();
    if u.ratio(3u8, 4)? {
        // Mostly well-formed flags, so the checks after the flag byte are reached.
        let flags: u8 = *u.choose(&[0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x80])?;
        value.push(flags);
    }
    let rest = u.int_in_range(0usize..=24)?;
    value.extend_from_slice(u.bytes(rest.min(u.len()))?);

    match (
        EntryRef::parse(offset, key, &value),
        expected_entry_error(key, &value),
    ) {
        (Ok(entry), None) => {
            let split = key.len() - 8;
            assert_eq!(entry.offset, offset);
            assert_eq!(entry.encoded_key, key);
            assert_eq!(entry.user_key, &key[..split]);
            let mut suffix = [0u8; 8];
            suffix.copy_from_slice(&key[split..]);
            assert_eq!(entry.commit_ts, !u64::from_be_bytes(suffix));
            assert_eq!(entry.tombstone, value[0] & 1 == 1);
            let mut expire = [0u8; 8];
            expire.copy_from_slice(&value[1..9]);
            assert_eq!(entry.expire_at, u64::from_le_bytes(expire));
            assert_eq!(entry.body, &value[9..]);
        }
        (Err(e), Some(kind)) => {
            assert_eq!(
                e.kind(),
                kind,
                "wrong error for key {key:?} value {value:?}: {e}"
            );
            assert_eq!(e.offset(), offset, "error offset");
        }
        (Ok(entry), Some(kind)) => panic!("accepted an entry Go rejects with {kind:?}: {entry:?}"),
        (Err(e), None) => panic!("rejected a valid entry (key {key:?} value {value:?}): {e}"),
    }
    Ok(())
}

/// What reading the header of `b` must give (docs/format.md §1.1 step 2–4, §1.2).
fn expected_header(b: &[u8]) -> Result<(Wrapper, u64), ContainerErrorKind> {
    use ContainerErrorKind::{
        BadMagic, HeaderInvalidLength, HeaderTruncated, HeaderUnknownMagic, UnsupportedInnerFormat,
    };
    let be64 = |s: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&s[..8]);
        u64::from_be_bytes(a)
    };
    let (wrapper, inner) = match b.get(..8) {
        Some(b"EKVTHLC1") => {
            if b.len() < 16 {
                return Err(HeaderTruncated);
            }
            (
                Wrapper::HlcV1 {
                    ceiling_ms: be64(&b[8..]),
                },
                16,
            )
        }
        Some(b"EKVTHLC2") => {
            if b.len() < 10 {
                return Err(HeaderTruncated);
            }
            let len = usize::from(u16::from_be_bytes([b[8], b[9]]));
            if !(16..=1024).contains(&len) {
                return Err(HeaderInvalidLength);
            }
            if b.len() < 10 + len {
                return Err(HeaderTruncated);
            }
            let wrapper = Wrapper::HlcV2 {
                ceiling_ms: be64(&b[10..]),
                cutover_index: be64(&b[18..]),
            };
            (wrapper, 10 + len)
        }
        Some(m) if m.starts_with(b"EKVTHLC") => return Err(HeaderUnknownMagic),
        _ => (Wrapper::Native, 0),
    };
    let inner = &b[inner..];
    let Some(magic) = inner.get(..8) else {
        return Err(HeaderTruncated);
    };
    if magic != MAGIC {
        let other_store = magic == b"EKVSSTI1" || magic == b"EKVMVCC2";
        return Err(if wrapper.is_runtime() && other_store {
            UnsupportedInnerFormat
        } else {
            BadMagic
        });
    }
    let Some(ts) = inner.get(8..16) else {
        return Err(HeaderTruncated);
    };
    let mut a = [0u8; 8];
    a.copy_from_slice(ts);
    Ok((wrapper, u64::from_le_bytes(a)))
}

const MAGICS: &[&[u8; 8]] = &[
    b"EKVPBBL1",
    b"EKVTHLC1",
    b"EKVTHLC2",
    b"EKVTHLC3",
    b"EKVTHLC\0",
    b"EKVSSTI1",
    b"EKVMVCC2",
    b"EKVPBBL2",
];

fn header(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut b = Vec::new();
    // Up to three layers of (mostly known) magic, each followed by some bytes.
    for _ in 0..u.int_in_range(1u8..=3)? {
        if u.ratio(7u8, 8)? {
            b.extend_from_slice(*u.choose(MAGICS)?);
        } else {
            b.extend_from_slice(u.bytes(8.min(u.len()))?);
        }
        if b.ends_with(b"EKVTHLC2") && u.ratio(3u8, 4)? {
            let len: u16 = if u.ratio(3u8, 4)? {
                u.int_in_range(16..=40)?
            } else {
                u.arbitrary()?
            };
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(u.bytes(usize::from(len).min(u.len()))?);
        } else {
            let n = *u.choose(&[0usize, 8, 8, 8, 3])?;
            b.extend_from_slice(u.bytes(n.min(u.len()))?);
        }
    }
    if u.ratio(1u8, 4)? {
        let cut = u.int_in_range(0..=b.len())?;
        b.truncate(cut);
    }
    let got = SnapshotReader::new(&b[..]).map(|r| {
        let h = r.header();
        (h.wrapper, h.last_commit_ts)
    });
    match (got, expected_header(&b)) {
        (Ok(got), Ok(want)) => assert_eq!(got, want, "header of {b:?}"),
        (Err(e), Err(kind)) => {
            assert_eq!(e.kind(), kind, "wrong header error for {b:?}: {e}");
            assert!(e.offset() <= b.len() as u64);
        }
        (Ok(got), Err(kind)) => panic!("header {b:?} accepted as {got:?}, expected {kind:?}"),
        (Err(e), Ok(want)) => panic!("header {b:?} rejected ({e}), expected {want:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    #[test]
    fn reference_model_examples() {
        let mut native = b"EKVPBBL1".to_vec();
        native.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(expected_header(&native), Ok((Wrapper::Native, 5)));
        assert_eq!(
            expected_header(&native[..9]),
            Err(ContainerErrorKind::HeaderTruncated)
        );
        assert_eq!(
            expected_header(b"EKVTHLC9xxxxxxxx"),
            Err(ContainerErrorKind::HeaderUnknownMagic)
        );
        assert_eq!(
            expected_header(b"EKVTHLC1\0\0\0\0\0\0\0\x01EKVSSTI1"),
            Err(ContainerErrorKind::UnsupportedInnerFormat)
        );
        assert_eq!(
            expected_header(b"EKVSSTI1xxxxxxxx"),
            Err(ContainerErrorKind::BadMagic)
        );
        assert_eq!(
            expected_entry_error(b"short", b""),
            Some(ContainerErrorKind::ShortKey)
        );
        assert_eq!(
            expected_entry_error(b"12345678", b"\x02........"),
            Some(ContainerErrorKind::EncryptedEntry)
        );
        assert_eq!(
            expected_entry_error(b"12345678", b"\x04........"),
            Some(ContainerErrorKind::EncryptedReserved)
        );
        assert_eq!(expected_entry_error(b"12345678", b"\x01........"), None);
    }
}
