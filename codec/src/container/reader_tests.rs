//! Tests of [`super`], kept beside it so the module reads as the format does.

use super::*;
use crate::container::tests::WORKED_EXAMPLE;
use crate::container::{SnapshotWriter, encode_key, encode_live_value};

/// `LE64 len ‖ key ‖ LE64 len ‖ value`, with no checks: tests forge broken entries.
fn raw_entry(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(key.len() as u64).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn mvcc_entry(user_key: &[u8], ts: u64, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut key = Vec::new();
    encode_key(user_key, ts, &mut key);
    let mut value = vec![flags];
    value.extend_from_slice(&0u64.to_le_bytes());
    value.extend_from_slice(body);
    raw_entry(&key, &value)
}

fn native(ts: u64, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"EKVPBBL1".to_vec();
    out.extend_from_slice(&ts.to_le_bytes());
    entries.iter().for_each(|e| out.extend_from_slice(e));
    out
}

fn hlc_v1(ceiling_ms: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = b"EKVTHLC1".to_vec();
    out.extend_from_slice(&ceiling_ms.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn hlc_v2(len: u16, ceiling_ms: u64, cutover: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = b"EKVTHLC2".to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&ceiling_ms.to_be_bytes());
    out.extend_from_slice(&cutover.to_be_bytes());
    out.resize(out.len() + usize::from(len).saturating_sub(16), 0xEE);
    out.extend_from_slice(payload);
    out
}

fn with_footer(mut file: Vec<u8>) -> Vec<u8> {
    let crc = crc32c::crc32c(&file);
    file.extend_from_slice(&crc.to_be_bytes());
    file
}

#[derive(Debug, PartialEq, Eq)]
struct Owned {
    offset: u64,
    user_key: Vec<u8>,
    commit_ts: u64,
    tombstone: bool,
    body: Vec<u8>,
}

/// Reads everything; the error, if any, comes with the entries read before it.
fn read_all(bytes: &[u8]) -> (Vec<Owned>, Result<Footer, ContainerError>) {
    read_all_from(bytes).unwrap_or_else(|e| (Vec::new(), Err(e)))
}

fn read_all_from<R: Read>(
    input: R,
) -> Result<(Vec<Owned>, Result<Footer, ContainerError>), ContainerError> {
    let mut reader = SnapshotReader::new(input)?;
    let mut entries = Vec::new();
    loop {
        match reader.next_entry() {
            Ok(Some(e)) => entries.push(Owned {
                offset: e.offset,
                user_key: e.user_key.to_vec(),
                commit_ts: e.commit_ts,
                tombstone: e.tombstone,
                body: e.body.to_vec(),
            }),
            Ok(None) => {
                let footer = reader.footer().expect("footer known at the end");
                return Ok((entries, Ok(footer)));
            }
            Err(e) => return Ok((entries, Err(e))),
        }
    }
}

fn error_of(bytes: &[u8]) -> ContainerError {
    match read_all(bytes).1 {
        Err(e) => e,
        Ok(footer) => panic!("expected an error, read to {footer:?}"),
    }
}

fn assert_error(bytes: &[u8], kind: ContainerErrorKind, offset: u64, text: &str) {
    let error = error_of(bytes);
    assert_eq!((error.kind(), error.offset()), (kind, offset), "{error}");
    assert!(error.message().contains(text), "{error:?} lacks {text:?}");
    assert!(
        error
            .to_string()
            .ends_with(&format!("(at offset {offset})"))
    );
}

#[test]
fn worked_example_reads_back() {
    let mut reader = SnapshotReader::new(&WORKED_EXAMPLE[..]).unwrap();
    assert_eq!(
        reader.header(),
        Header {
            wrapper: Wrapper::Native,
            last_commit_ts: 5
        }
    );
    let entry = reader.next_entry().unwrap().unwrap();
    assert_eq!(entry.offset, 16);
    assert_eq!(entry.user_key, b"!redis|str|a");
    assert_eq!(entry.encoded_key, &WORKED_EXAMPLE[24..44]);
    assert_eq!(
        (entry.commit_ts, entry.tombstone, entry.expire_at),
        (5, false, 0)
    );
    assert_eq!(entry.body, b"\xff\x01\x00x");
    assert_eq!(reader.next_entry().unwrap(), None);
    assert_eq!(reader.next_entry().unwrap(), None, "stays ended");
    assert_eq!(reader.footer(), Some(Footer::Absent));
    assert_eq!(reader.offset(), 65);
    assert_eq!(reader.raw_rows_skipped(), 0);
}

#[test]
fn worked_example_is_written_byte_exactly() {
    let mut writer = SnapshotWriter::new(Vec::new(), 5).unwrap();
    let (mut key, mut value) = (Vec::new(), Vec::new());
    encode_key(b"!redis|str|a", 5, &mut key);
    encode_live_value(b"\xff\x01\x00x", &mut value);
    writer.write_entry(&key, &value).unwrap();
    assert_eq!((writer.entries(), writer.bytes_written()), (1, 65));
    assert_eq!(writer.finish().unwrap(), WORKED_EXAMPLE);
}

#[test]
fn entry_parse_matches_reader() {
    let entry = EntryRef::parse(7, &WORKED_EXAMPLE[24..44], &WORKED_EXAMPLE[52..]).unwrap();
    assert_eq!((entry.offset, entry.user_key), (7, &b"!redis|str|a"[..]));
    let error = EntryRef::parse(7, b"short", b"").unwrap_err();
    assert_eq!(
        (error.kind(), error.offset()),
        (ContainerErrorKind::ShortKey, 7)
    );
}

#[test]
fn header_errors() {
    use ContainerErrorKind::*;
    assert_error(b"", HeaderTruncated, 0, "0 of 8");
    assert_error(b"EKVPB", HeaderTruncated, 0, "5 of 8");
    assert_error(b"EKVPBBL1\x05", HeaderTruncated, 0, "9 of 16");
    assert_error(b"NOTASNAPSHOT!!!!", BadMagic, 0, r#"got "NOTASNAP""#);
    // Go judges the magic before it needs the timestamp.
    assert_error(b"EKVPBBL2\x05", BadMagic, 0, r#"got "EKVPBBL2""#);
    assert_error(b"\x00\xffKVPBBL1", BadMagic, 0, r#"got "\x00\xffKVPBBL""#);
    // Without a wrapper, other store formats are simply not EKVPBBL1 (Go parity).
    assert_error(&native(0, &[])[..0], HeaderTruncated, 0, "");
    assert_error(b"EKVMVCC2\0\0\0\0\0\0\0\0", BadMagic, 0, "EKVMVCC2");
}

#[test]
fn length_caps_are_checked_before_reading() {
    use ContainerErrorKind::*;
    let mut file = native(0, &[mvcc_entry(b"k", 1, 0, b"v")]);
    let second = file.len() as u64;
    file.extend_from_slice(&(MAX_ENCODED_KEY + 1).to_le_bytes());
    assert_error(&file, KeyTooLarge, second, "key length 1048585 > 1048584");

    // The limit itself is accepted: the short read that follows is a truncation.
    let mut file = native(0, &[]);
    file.extend_from_slice(&MAX_ENCODED_KEY.to_le_bytes());
    assert_error(&file, Truncated, 16, "truncated key: 0 of 1048584 bytes");

    let mut file = native(0, &[]);
    file.extend_from_slice(&9u64.to_le_bytes());
    file.extend_from_slice(b"k\xff\xff\xff\xff\xff\xff\xff\xfe");
    let value_len_at = file.len();
    file.extend_from_slice(&(MAX_ENCODED_VALUE + 1).to_le_bytes());
    assert_error(
        &file,
        ValueTooLarge,
        16,
        "value length 268435500 > 268435499",
    );
    file.truncate(value_len_at);
    file.extend_from_slice(&MAX_ENCODED_VALUE.to_le_bytes());
    assert_error(
        &file,
        Truncated,
        16,
        "truncated value: 0 of 268435499 bytes",
    );
    file.truncate(value_len_at);
    file.extend_from_slice(&u64::MAX.to_le_bytes());
    assert_error(&file, ValueTooLarge, 16, "18446744073709551615");
}

#[test]
fn truncation_errors() {
    use ContainerErrorKind::*;
    let good = mvcc_entry(b"k", 1, 0, b"v");
    let at = 16 + good.len() as u64;
    let mut file = native(0, std::slice::from_ref(&good));
    file.extend_from_slice(&[1, 0, 0]);
    assert_error(&file, Truncated, at, "truncated key length: 3 of 8 bytes");

    let file = native(0, &[good.clone(), good[..8 + 9].to_vec()]);
    assert_error(&file, Truncated, at, "truncated value length: 0 of 8 bytes");
    let file = native(0, &[good.clone(), good[..8 + 9 + 5].to_vec()]);
    assert_error(&file, Truncated, at, "truncated value length: 5 of 8 bytes");
    let file = native(0, &[good.clone(), good[..good.len() - 1].to_vec()]);
    assert_error(&file, Truncated, at, "truncated value: 9 of 10 bytes");
    let file = native(0, &[good.clone(), good[..8 + 4].to_vec()]);
    // Exactly 4 bytes after an entry look like a footer; in a bare stream a
    // mismatching one is a truncated keyLen, as in Go.
    let (entries, end) = read_all(&native(0, &[good.clone(), good[..4].to_vec()]));
    assert_eq!(entries.len(), 1);
    assert_eq!(end.unwrap_err().kind(), Truncated);
    assert_error(&file, Truncated, at, "truncated key: 4 of 9 bytes");
}

#[test]
fn entry_errors_in_go_order() {
    use ContainerErrorKind::*;
    let good = mvcc_entry(b"k", 1, 0, b"v");
    let at = 16 + good.len() as u64;
    let broken = |entry: Vec<u8>| native(0, &[good.clone(), entry]);
    assert_error(
        &broken(raw_entry(b"1234567", b"")),
        ShortKey,
        at,
        "encoded key length 7 < 8",
    );
    assert_error(
        &broken(raw_entry(b"12345678", b"\x08\0\0\0\0\0\0\0")),
        ShortValue,
        at,
        "encoded value length 8 < 9",
    );
    // An 8-byte key with an empty user key is valid.
    let (entries, end) = read_all(&broken(raw_entry(&[0xff; 8], &[0; 9])));
    assert_eq!(
        (entries[1].user_key.len(), end.unwrap()),
        (0, Footer::Absent)
    );
    assert_error(
        &broken(mvcc_entry(b"k", 1, 0x08, b"")),
        EncryptedReserved,
        at,
        "value header byte 0b00001000",
    );
    // Reserved bits are judged before the encryption state.
    assert_error(
        &broken(mvcc_entry(b"k", 1, 0x82, b"")),
        EncryptedReserved,
        at,
        "0b10000010",
    );
    assert_error(
        &broken(mvcc_entry(b"k", 1, 0x02, b"")),
        EncryptedEntry,
        at,
        "entry \"k\" is encrypted and no keyring is linked; take the snapshot from a node that can decrypt it",
    );
    assert_error(
        &broken(mvcc_entry(b"k", 1, 0x04, b"")),
        EncryptedReserved,
        at,
        "=0x2",
    );
    assert_error(
        &broken(mvcc_entry(b"k", 1, 0x07, b"")),
        EncryptedReserved,
        at,
        "=0x3",
    );
    let (entries, _) = read_all(&broken(mvcc_entry(b"k", 1, 0x01, b"")));
    assert!(entries[1].tombstone);
}

#[test]
fn errors_are_sticky() {
    let file = native(0, &[raw_entry(b"short", b""), mvcc_entry(b"k", 1, 0, b"")]);
    let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
    let first = reader.next_entry().unwrap_err();
    let again = reader.next_entry().unwrap_err();
    assert_eq!(
        (again.kind(), again.offset()),
        (first.kind(), first.offset())
    );
    assert_eq!(reader.footer(), None);
}

/// Serves its data, then fails instead of reporting end of input.
struct FailsAtEnd<'a>(&'a [u8]);

impl Read for FailsAtEnd<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn io_errors_carry_the_entry_offset() {
    use crate::error::{ErrorCode, ExitClass};
    use std::error::Error as _;
    let file = native(0, &[mvcc_entry(b"k", 1, 0, b"v")]);
    let (entries, end) = read_all_from(FailsAtEnd(&file)).unwrap();
    let error = end.unwrap_err();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (error.kind(), error.offset()),
        (ContainerErrorKind::Io, file.len() as u64)
    );
    assert_eq!((error.code(), error.exit_class()), ("io", ExitClass::Usage));
    assert!(error.source().is_some() && error.message().contains("disk on fire"));
    let error = SnapshotReader::new(FailsAtEnd(b"")).err().unwrap();
    assert_eq!((error.kind(), error.offset()), (ContainerErrorKind::Io, 0));
}

fn small_snapshot() -> Vec<u8> {
    native(
        42,
        &[
            mvcc_entry(b"a", 3, 0, b"one"),
            mvcc_entry(b"b", 2, 1, b""),
            mvcc_entry(b"c", 1, 0, b"three"),
        ],
    )
}

fn boundaries(file: &[u8], header_len: usize) -> Vec<usize> {
    let mut at = vec![header_len];
    let mut pos = header_len;
    while pos < file.len() {
        for _ in 0..2 {
            let len: [u8; 8] = file[pos..pos + 8].try_into().unwrap();
            pos += 8 + u64::from_le_bytes(len) as usize;
        }
        at.push(pos);
    }
    at
}

#[test]
fn every_truncation_of_a_native_snapshot_fails_cleanly() {
    let file = small_snapshot();
    let ends = boundaries(&file, 16);
    for cut in 0..file.len() {
        let (entries, end) = read_all(&file[..cut]);
        match end {
            Ok(Footer::Absent) => assert!(ends.contains(&cut), "cut {cut}"),
            Ok(other) => panic!("cut {cut}: {other:?}"),
            Err(e) if cut < 16 => assert_eq!(e.kind(), ContainerErrorKind::HeaderTruncated),
            Err(e) => {
                assert_eq!(e.kind(), ContainerErrorKind::Truncated, "cut {cut}: {e}");
                assert_eq!(e.offset(), ends[entries.len()] as u64, "cut {cut}");
            }
        }
    }
    assert_eq!(read_all(&file).0.len(), 3);
}

#[test]
fn every_truncation_of_a_runtime_snapshot_fails_cleanly() {
    let file = with_footer(hlc_v2(20, 9, 10, &small_snapshot()));
    for cut in 0..file.len() - 1 {
        let (_, end) = read_all(&file[..cut]);
        if let Err(e) = end {
            assert!(
                matches!(
                    e.kind(),
                    ContainerErrorKind::HeaderTruncated
                        | ContainerErrorKind::Truncated
                        | ContainerErrorKind::FooterMismatch
                ),
                "cut {cut}: {e}"
            );
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let mut state = 0x0dd_u64;
    let mut rand = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let files = [
        small_snapshot(),
        with_footer(hlc_v1(1, &small_snapshot())),
        with_footer(hlc_v2(24, 1, 2, &small_snapshot())),
    ];
    for file in &files {
        for _ in 0..3000 {
            let mut bytes = file.clone();
            for _ in 0..=rand(3) {
                let at = rand(bytes.len());
                bytes[at] = rand(256) as u8;
            }
            bytes.truncate(bytes.len() - rand(3));
            let _ = read_all(&bytes);
        }
    }
}

#[test]
fn hlc_v1_file_with_footer() {
    let payload = small_snapshot();
    let file = with_footer(hlc_v1(0x1234, &payload));
    let crc = crc32c::crc32c(&file[..file.len() - 4]);
    let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
    assert_eq!(
        reader.header(),
        Header {
            wrapper: Wrapper::HlcV1 { ceiling_ms: 0x1234 },
            last_commit_ts: 42
        }
    );
    assert_eq!(reader.next_entry().unwrap().unwrap().offset, 32);
    while reader.next_entry().unwrap().is_some() {}
    assert_eq!(reader.footer(), Some(Footer::Verified { crc32c: crc }));
    assert_eq!(reader.offset(), file.len() as u64);
    assert_eq!(Wrapper::HlcV1 { ceiling_ms: 0 }.magic(), "EKVTHLC1");
}

#[test]
fn hlc_v2_file_with_footer_and_extension_bytes() {
    for len in [16u16, 20, 1024] {
        let file = with_footer(hlc_v2(len, 7, 99, &small_snapshot()));
        let (entries, end) = read_all(&file);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].offset, 10 + u64::from(len) + 16);
        assert!(matches!(end, Ok(Footer::Verified { .. })));
        let reader = SnapshotReader::new(file.as_slice()).unwrap();
        assert_eq!(
            reader.header().wrapper,
            Wrapper::HlcV2 {
                ceiling_ms: 7,
                cutover_index: 99
            }
        );
    }
}

#[test]
fn runtime_header_errors() {
    use ContainerErrorKind::*;
    for len in [0u16, 15, 1025, u16::MAX] {
        let file = hlc_v2(len.min(16), 0, 0, &small_snapshot());
        let mut file = file;
        file[8..10].copy_from_slice(&len.to_be_bytes());
        assert_error(
            &file,
            HeaderInvalidLength,
            8,
            &format!("length {len} outside 16..=1024"),
        );
    }
    assert_error(b"EKVTHLC3\0\0\0\0\0\0\0\0", HeaderUnknownMagic, 0, r#""3""#);
    assert_error(b"EKVTHLC\0", HeaderUnknownMagic, 0, r#""\x00""#);
    assert_error(b"EKVTHLC", HeaderTruncated, 0, "7 of 8");
    assert_error(
        b"EKVTHLC1\0\0",
        HeaderTruncated,
        0,
        "EKVTHLC1 header: 10 of 16",
    );
    assert_error(
        &hlc_v2(1024, 0, 0, b"")[..500],
        HeaderTruncated,
        26,
        "EKVTHLC2",
    );
    assert_error(
        &hlc_v1(0, b"EKVPBBL1"),
        HeaderTruncated,
        16,
        "snapshot header: 8 of 16",
    );
    assert_error(
        &hlc_v1(0, b""),
        HeaderTruncated,
        16,
        "snapshot magic: 0 of 8",
    );
    for inner in [b"EKVSSTI1", b"EKVMVCC2"] {
        let file = with_footer(hlc_v1(0, inner));
        assert_error(
            &file,
            UnsupportedInnerFormat,
            16,
            std::str::from_utf8(inner).unwrap(),
        );
    }
    let file = with_footer(hlc_v2(16, 0, 0, b"EKVTHLC1garbage!"));
    assert_error(&file, BadMagic, 26, r#"got "EKVTHLC1""#);
}

#[test]
fn footer_mismatch_is_detected() {
    let good = with_footer(hlc_v1(5, &small_snapshot()));
    let mut bad_footer = good.clone();
    *bad_footer.last_mut().unwrap() ^= 1;
    let (entries, end) = read_all(&bad_footer);
    assert_eq!(entries.len(), 3, "entries before the footer were read");
    let error = end.unwrap_err();
    let footer_at = good.len() as u64 - 4;
    assert_eq!(
        (error.kind(), error.offset()),
        (ContainerErrorKind::FooterMismatch, footer_at)
    );

    let mut bad_body = good.clone();
    let body_byte = bad_body.len() - 6; // inside the last value body
    bad_body[body_byte] ^= 0x20;
    assert_eq!(
        error_of(&bad_body).kind(),
        ContainerErrorKind::FooterMismatch
    );

    let mut bad_header = good;
    bad_header[15] ^= 1; // ceiling byte: covered by the CRC too
    assert_eq!(
        error_of(&bad_header).kind(),
        ContainerErrorKind::FooterMismatch
    );
}

#[test]
fn runtime_file_without_footer_and_bare_file_with_one() {
    let (_, end) = read_all(&hlc_v1(5, &small_snapshot()));
    assert_eq!(end.unwrap(), Footer::Absent);
    let bare = with_footer(small_snapshot());
    let (entries, end) = read_all(&bare);
    assert_eq!(entries.len(), 3);
    assert!(matches!(end, Ok(Footer::Verified { .. })));
    let mut bare_bad = bare;
    *bare_bad.last_mut().unwrap() ^= 1;
    assert_eq!(error_of(&bare_bad).kind(), ContainerErrorKind::Truncated);
    // An empty stream with a footer.
    let (entries, end) = read_all(&with_footer(native(1, &[])));
    assert!(entries.is_empty() && matches!(end, Ok(Footer::Verified { .. })));
}

#[test]
fn raw_store_rows_are_skipped_in_runtime_files() {
    let payload = native(
        9,
        &[
            mvcc_entry(b"!redis|str|a", 3, 0, b"x"),
            raw_entry(b"!encryption|writers|node-1", b"anything at all"),
            raw_entry(b"!encryption|writers|", b""),
            raw_entry(b"_meta_applied_index", &7u64.to_le_bytes()),
            raw_entry(b"_meta_last_commit_ts", &9u64.to_le_bytes()),
            mvcc_entry(b"~after", 1, 0, b""),
        ],
    );
    let file = with_footer(hlc_v1(1, &payload));
    let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
    let mut keys = Vec::new();
    while let Some(entry) = reader.next_entry().unwrap() {
        keys.push(entry.user_key.to_vec());
    }
    assert_eq!(keys, vec![b"!redis|str|a".to_vec(), b"~after".to_vec()]);
    assert_eq!(reader.raw_rows_skipped(), 4);
    assert!(matches!(reader.footer(), Some(Footer::Verified { .. })));
}

#[test]
fn bare_streams_skip_only_meta_counters() {
    let meta = raw_entry(b"_meta_last_commit_ts", &9u64.to_le_bytes());
    let writers = mvcc_entry(b"!encryption|writers|n1", 2, 0, b"w");
    let file = native(9, &[writers, meta]);
    let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
    let entry = reader.next_entry().unwrap().unwrap();
    assert_eq!(
        entry.user_key, b"!encryption|writers|n1",
        "MVCC-framed, passed on"
    );
    assert_eq!(reader.next_entry().unwrap(), None);
    assert_eq!(reader.raw_rows_skipped(), 1);

    // A raw writer row in a bare stream is not recognised: it fails like in Go.
    let file = native(9, &[raw_entry(b"!encryption|writers|n1", b"1234")]);
    assert_eq!(error_of(&file).kind(), ContainerErrorKind::ShortValue);
    // `_meta_` keys with other value sizes are ordinary entries.
    let file = native(9, &[mvcc_entry(b"_meta_x", 1, 0, b"")]);
    assert_eq!(read_all(&file).0[0].user_key, b"_meta_x");
}

/// Hands out data in awkward pieces, with interruptions, to exercise refilling.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf
            .len()
            .min(self.data.len())
            .min(1 + self.calls % self.step);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn large_values_and_fragmented_input_keep_the_crc_right() {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let entries = [
        mvcc_entry(b"a", 1, 0, b"small"),
        mvcc_entry(b"b", 1, 0, &big),
        mvcc_entry(b"c", 1, 0, &big[..BUFFER_SIZE - 9]),
        mvcc_entry(b"d", 1, 0, &big[..BUFFER_SIZE * 2 + 5]),
        mvcc_entry(b"e", 1, 0, b"tail"),
    ];
    let file = with_footer(hlc_v1(3, &native(1, &entries)));
    for step in [1, 7, 4096, 1 << 20] {
        let input = Trickle {
            data: &file,
            step,
            calls: 0,
        };
        let (got, end) = read_all_from(input).unwrap();
        assert!(
            matches!(end, Ok(Footer::Verified { .. })),
            "step {step}: {end:?}"
        );
        assert_eq!(got.len(), 5);
        assert_eq!(got[1].body, big);
        assert_eq!(got[3].body.len(), BUFFER_SIZE * 2 + 5);
    }
    let mut truncated = file.clone();
    truncated.truncate(16 + 16 + entries[0].len() + 100_000);
    let error = read_all(&truncated).1.unwrap_err();
    assert_eq!(error.kind(), ContainerErrorKind::Truncated);
    assert!(error.message().contains("of 300009 bytes"), "{error}");
}

#[test]
fn steady_state_reuses_buffers() {
    let entries: Vec<_> = (0..100u32)
        .map(|i| mvcc_entry(&i.to_be_bytes(), 1, 0, &[7; 300]))
        .collect();
    let file = native(1, &entries);
    let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
    reader.next_entry().unwrap();
    let capacities = (reader.key.capacity(), reader.value.capacity());
    let pointers = (reader.key.as_ptr(), reader.value.as_ptr());
    while reader.next_entry().unwrap().is_some() {}
    assert_eq!((reader.key.capacity(), reader.value.capacity()), capacities);
    assert_eq!((reader.key.as_ptr(), reader.value.as_ptr()), pointers);
}

#[test]
fn random_snapshots_round_trip_through_the_writer() {
    let mut state = 0x5eed_u64;
    let mut rand = move |bound: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % bound
    };
    for _ in 0..50 {
        let mut writer = SnapshotWriter::new(Vec::new(), rand(1000)).unwrap();
        let mut expected = Vec::new();
        for _ in 0..rand(20) {
            let user_key: Vec<u8> = (0..rand(12)).map(|_| rand(256) as u8).collect();
            let body: Vec<u8> = (0..rand(3000)).map(|_| rand(256) as u8).collect();
            let (ts, tombstone) = (rand(u64::MAX), rand(2) == 1);
            let mut key = Vec::new();
            encode_key(&user_key, ts, &mut key);
            let mut value = vec![u8::from(tombstone)];
            value.extend_from_slice(&rand(99).to_le_bytes());
            value.extend_from_slice(&body);
            expected.push((
                16 + writer.bytes_written() - 16,
                user_key,
                ts,
                tombstone,
                body,
            ));
            writer.write_entry(&key, &value).unwrap();
        }
        let file = writer.finish().unwrap();
        let (got, end) = read_all(&file);
        assert_eq!(end.unwrap(), Footer::Absent);
        let got: Vec<_> = got
            .into_iter()
            .map(|e| (e.offset, e.user_key, e.commit_ts, e.tombstone, e.body))
            .collect();
        assert_eq!(got, expected);
    }
}
