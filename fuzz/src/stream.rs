//! Shared machinery of the container oracles: read a whole stream into owned entries
//! ([`Entry`], the generators' own) while checking the reader's per-entry invariants,
//! and the write→read round trip.

use elastickv_codec::container::{
    ContainerError, Footer, Header, SnapshotReader, Wrapper, split_key,
};
use elastickv_synth::model::{Entry, write_snapshot};

/// Everything a successful read produced.
#[derive(Debug, Clone)]
pub struct ReadAll {
    /// The header.
    pub header: Header,
    /// Every MVCC entry, in stream order.
    pub entries: Vec<Entry>,
    /// How the stream ended.
    pub footer: Option<Footer>,
    /// Raw store rows skipped.
    pub raw_rows_skipped: u64,
    /// Bytes consumed.
    pub consumed: u64,
}

/// Reads `bytes` to the end, checking invariants that hold whatever the input:
/// entry offsets strictly increase and lie inside the input, key splits are
/// consistent, and error offsets lie inside the input.
///
/// # Panics
/// When one of those invariants is broken.
pub fn read_all(bytes: &[u8]) -> Result<ReadAll, ContainerError> {
    let len = bytes.len() as u64;
    let check_err = |e: ContainerError| {
        assert!(
            e.offset() <= len,
            "error offset {} past end of {len}-byte input: {e}",
            e.offset()
        );
        e
    };
    let mut reader = SnapshotReader::new(bytes).map_err(check_err)?;
    let header = reader.header();
    let mut entries: Vec<Entry> = Vec::new();
    let mut previous_offset = None;
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => return Err(check_err(e)),
        };
        assert_eq!(
            split_key(entry.encoded_key),
            Some((entry.user_key, entry.commit_ts)),
            "EntryRef user_key/commit_ts disagree with its encoded key (offset {})",
            entry.offset
        );
        assert!(
            entry.offset < len,
            "entry offset {} past end {len}",
            entry.offset
        );
        if let Some(previous) = previous_offset {
            assert!(
                entry.offset > previous,
                "entry offsets not increasing: {previous} then {}",
                entry.offset
            );
        }
        previous_offset = Some(entry.offset);
        // A 16-byte header, then per entry 16 bytes of lengths, an 8-byte key and a
        // 9-byte value at least.
        assert!(
            16 + (entries.len() as u64 + 1) * 33 <= len,
            "more entries than the input has bytes for"
        );
        entries.push(Entry::from(&entry));
    }
    let consumed = reader.offset();
    assert!(consumed <= len, "reader consumed {consumed} of {len} bytes");
    Ok(ReadAll {
        header,
        entries,
        footer: reader.footer(),
        raw_rows_skipped: reader.raw_rows_skipped(),
        consumed,
    })
}

/// The round trip every successfully read stream must survive: re-writing its entries
/// as a native stream and reading that back gives the same header timestamp and the
/// same entries, and the native encoding is a fixed point. When `original` itself was
/// a plain native stream read to its last byte, the re-written bytes equal it.
///
/// # Panics
/// When any of that fails.
pub fn assert_round_trip(original: &[u8], read: &ReadAll) {
    let rewritten = write_snapshot(read.header.last_commit_ts, &read.entries);
    let again = match read_all(&rewritten) {
        Ok(again) => again,
        Err(e) => panic!("re-written stream does not read back: {e}"),
    };
    assert_eq!(again.header.wrapper, Wrapper::Native);
    assert_eq!(again.header.last_commit_ts, read.header.last_commit_ts);
    assert_eq!(
        again.footer,
        Some(Footer::Absent),
        "native stream ends without footer"
    );
    assert_eq!(
        again.raw_rows_skipped, 0,
        "re-written entries read as raw rows"
    );
    assert_eq!(again.consumed, rewritten.len() as u64);
    assert_eq!(
        again.entries.len(),
        read.entries.len(),
        "entry count changed"
    );
    for (a, b) in read.entries.iter().zip(&again.entries) {
        assert_eq!(a, b, "entry changed in round trip");
    }
    let twice = write_snapshot(again.header.last_commit_ts, &again.entries);
    assert_eq!(twice, rewritten, "native encoding is not a fixed point");
    let canonical = read.header.wrapper == Wrapper::Native
        && read.raw_rows_skipped == 0
        && read.footer == Some(Footer::Absent)
        && read.consumed == original.len() as u64;
    if canonical {
        assert_eq!(
            rewritten, original,
            "decode→encode of a native stream changed bytes"
        );
    }
}
