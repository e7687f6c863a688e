//! Mutations that reach the entries: the fuzzer's bytes go *after* a valid header.
//!
//! Random bytes rarely start with `EKVPBBL1`, so like regex-automata's DFA
//! deserialisation target this oracle builds the header itself — a
//! bare `EKVPBBL1` header, or one inside an `EKVTHLC1`/`EKVTHLC2` runtime wrapper,
//! optionally closed by a CRC32C footer — and spends the input on the body. Three modes:
//!
//! * raw body: arbitrary bytes after the header; the header must read, and whatever
//!   reads must round-trip;
//! * structured: entries generated from the input, written with `SnapshotWriter`; the
//!   file must read back exactly (raw store rows skipped, footer verified);
//! * structured + flips: the same file with a few bytes flipped after the header; no
//!   panic, and whatever reads must round-trip.

use arbitrary::Unstructured;
use elastickv_codec::container::{Footer, Header, MAGIC, Wrapper};
use elastickv_codec::dispatch::TABLE;
use elastickv_synth::model::{Entry, write_snapshot};

use crate::stream::{assert_round_trip, read_all};

/// Raw writer-registry rows that runtime readers skip.
const WRITER_REGISTRY_PREFIX: &[u8] = b"!encryption|writers|";

/// A file built by this oracle, with what reading it must give.
#[derive(Debug, Clone)]
pub struct BuiltFile {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// The header the reader must report.
    pub header: Header,
    /// Where the native header ends (the first entry byte).
    pub body_start: usize,
    /// Whether a CRC32C footer was appended.
    pub footer: bool,
    /// Every entry written, raw store rows included.
    pub written: Vec<Entry>,
}

impl BuiltFile {
    /// The entries a reader must yield: all written ones minus raw store rows.
    pub fn expected(&self) -> Vec<&Entry> {
        self.written
            .iter()
            .filter(|e| !is_raw_row(self.header.wrapper, e))
            .collect()
    }
}

fn is_raw_row(wrapper: Wrapper, entry: &Entry) -> bool {
    // MVCC values are at least 9 bytes, so `_meta_` counters (8-byte values) never
    // match; writer-registry rows only count as raw inside a runtime wrapper.
    wrapper.is_runtime() && entry.encoded_key().starts_with(WRITER_REGISTRY_PREFIX)
}

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    match u.int_in_range(0u8..=2)? {
        0 => raw_body(u),
        1 => {
            let file = valid_file(u)?;
            check_valid(&file);
            Ok(())
        }
        _ => {
            let mut file = valid_file(u)?;
            flip_after_header(u, &mut file)?;
            if let Ok(read) = read_all(&file.bytes) {
                assert_round_trip(&file.bytes, &read);
            }
            Ok(())
        }
    }
}

/// A valid header (possibly wrapped) followed by arbitrary bytes.
fn raw_body(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let (mut bytes, wrapper) = wrapper(u)?;
    let last_commit_ts: u64 = u.arbitrary()?;
    let footer = wrapper.is_runtime() && u.ratio(3u8, 4)?;
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&last_commit_ts.to_le_bytes());
    bytes.extend_from_slice(u.bytes(u.len())?);
    if footer {
        append_footer(&mut bytes);
    }
    let header = Header {
        wrapper,
        last_commit_ts,
    };
    match elastickv_codec::container::SnapshotReader::new(&bytes[..]) {
        Ok(reader) => assert_eq!(reader.header(), header, "valid header misread"),
        Err(e) => panic!("valid header {header:?} rejected: {e}"),
    }
    if let Ok(read) = read_all(&bytes) {
        assert_round_trip(&bytes, &read);
    }
    Ok(())
}

/// Builds a valid file from `u`: a frame, entries, and for runtime frames usually a
/// footer.
pub fn valid_file(u: &mut Unstructured<'_>) -> arbitrary::Result<BuiltFile> {
    let (mut bytes, wrapper) = wrapper(u)?;
    let last_commit_ts: u64 = u.arbitrary()?;
    let footer = wrapper.is_runtime() && u.ratio(3u8, 4)?;
    let count = u.int_in_range(0usize..=16)?;
    let mut written = Vec::with_capacity(count);
    for _ in 0..count {
        written.push(entry(u)?);
    }
    let body_start = bytes.len() + 16;
    bytes.extend_from_slice(&write_snapshot(last_commit_ts, &written));
    if footer {
        append_footer(&mut bytes);
    }
    Ok(BuiltFile {
        bytes,
        header: Header {
            wrapper,
            last_commit_ts,
        },
        body_start,
        footer,
        written,
    })
}

/// A valid file must read back exactly.
///
/// # Panics
/// When it does not.
pub fn check_valid(file: &BuiltFile) {
    let read = match read_all(&file.bytes) {
        Ok(read) => read,
        Err(e) => panic!("valid {} file rejected: {e}", file.header.wrapper.magic()),
    };
    assert_eq!(read.header, file.header);
    let expected = file.expected();
    assert_eq!(read.entries.len(), expected.len(), "entry count");
    for (got, want) in read.entries.iter().zip(&expected) {
        assert_eq!(got, *want, "entry differs");
    }
    assert_eq!(
        read.raw_rows_skipped,
        (file.written.len() - expected.len()) as u64,
        "raw store rows skipped"
    );
    let footer = if file.footer {
        let crc = crc32c::crc32c(&file.bytes[..file.bytes.len() - 4]);
        Footer::Verified { crc32c: crc }
    } else {
        Footer::Absent
    };
    assert_eq!(read.footer, Some(footer));
    assert_eq!(read.consumed, file.bytes.len() as u64);
    assert_round_trip(&file.bytes, &read);
}

/// Flips up to 8 bytes after the native header.
fn flip_after_header(u: &mut Unstructured<'_>, file: &mut BuiltFile) -> arbitrary::Result<()> {
    if file.bytes.len() <= file.body_start {
        return Ok(());
    }
    for _ in 0..u.int_in_range(1u8..=8)? {
        let at = u.int_in_range(file.body_start..=file.bytes.len() - 1)?;
        let mask = u.int_in_range(1u8..=255)?;
        file.bytes[at] ^= mask;
    }
    Ok(())
}

/// The runtime wrapper (possibly none) and the header the reader must report for it.
fn wrapper(u: &mut Unstructured<'_>) -> arbitrary::Result<(Vec<u8>, Wrapper)> {
    let mut bytes = Vec::new();
    let wrapper = match u.int_in_range(0u8..=2)? {
        0 => Wrapper::Native,
        1 => {
            let ceiling_ms: u64 = u.arbitrary()?;
            bytes.extend_from_slice(b"EKVTHLC1");
            bytes.extend_from_slice(&ceiling_ms.to_be_bytes());
            Wrapper::HlcV1 { ceiling_ms }
        }
        _ => {
            let ceiling_ms: u64 = u.arbitrary()?;
            let cutover_index: u64 = u.arbitrary()?;
            let extra = if u.ratio(1u8, 8)? {
                u.int_in_range(0usize..=1024 - 16)?
            } else {
                u.int_in_range(0usize..=8)?
            };
            bytes.extend_from_slice(b"EKVTHLC2");
            bytes.extend_from_slice(&u16::try_from(16 + extra).unwrap_or(16).to_be_bytes());
            bytes.extend_from_slice(&ceiling_ms.to_be_bytes());
            bytes.extend_from_slice(&cutover_index.to_be_bytes());
            bytes.extend((0..extra).map(|i| i as u8));
            Wrapper::HlcV2 {
                ceiling_ms,
                cutover_index,
            }
        }
    };
    Ok((bytes, wrapper))
}

fn append_footer(bytes: &mut Vec<u8>) {
    let crc = crc32c::crc32c(bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
}

/// One entry: a routed, raw-row, or arbitrary key; any timestamp; a body that is
/// usually small and now and then crosses the reader's 64 KiB buffer.
fn entry(u: &mut Unstructured<'_>) -> arbitrary::Result<Entry> {
    let mut user_key = match u.int_in_range(0u8..=3)? {
        0 => u.choose(TABLE)?.bytes.to_vec(),
        1 => WRITER_REGISTRY_PREFIX.to_vec(),
        2 => b"_meta_".to_vec(),
        _ => Vec::new(),
    };
    let tail = u.int_in_range(0usize..=24)?;
    user_key.extend_from_slice(u.bytes(tail.min(u.len()))?);
    let commit_ts: u64 = u.arbitrary()?;
    let tombstone: bool = u.arbitrary()?;
    let expire_at = if u.ratio(1u8, 4)? { u.arbitrary()? } else { 0 };
    // Large bodies are rare (they dominate the cost of a run) and just cross the
    // reader's 64 KiB buffer, which is what switches it to direct reads.
    // (`ratio` answers `true` once the input is exhausted, hence the length check.)
    let body = if u.len() > 1 && u.ratio(1u16, 256)? {
        let len = u.int_in_range(64_000usize..=68_000)?;
        let seed: u8 = u.arbitrary()?;
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    } else {
        let len = u.int_in_range(0usize..=64)?;
        u.bytes(len.min(u.len()))?.to_vec()
    };
    Ok(Entry {
        user_key,
        commit_ts,
        tombstone,
        expire_at,
        body,
    })
}

#[cfg(test)]
mod tests {
    use elastickv_splitmix::SplitMix64;

    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    /// Every valid file reads back, and so does each of its entry-boundary prefixes
    /// with the footer recomputed.
    #[test]
    fn structured_files_read_back() {
        let mut rng = SplitMix64(0x424F_4459);
        let mut buf = vec![0u8; 2048];
        let mut runtime = 0;
        for _ in 0..200 {
            rng.fill(&mut buf);
            let file = valid_file(&mut Unstructured::new(&buf)).expect("2 KiB is enough");
            runtime += usize::from(file.header.wrapper.is_runtime());
            check_valid(&file);
        }
        assert!(runtime > 50, "generator should produce runtime frames");
    }
}
