//! Shared machinery of the container oracles: read a whole stream into owned entries
//! while checking the reader's per-entry invariants, and the write→read round trip.

use elastickv_codec::container::{
    ContainerError, EntryRef, FLAG_TOMBSTONE, Footer, Header, SnapshotReader, SnapshotWriter,
    Wrapper, split_key,
};

/// An entry copied out of the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedEntry {
    /// Offset of the entry's keyLen field.
    pub offset: u64,
    /// The key as stored.
    pub encoded_key: Vec<u8>,
    /// The MVCC-stripped key.
    pub user_key: Vec<u8>,
    /// Commit timestamp.
    pub commit_ts: u64,
    /// Tombstone flag.
    pub tombstone: bool,
    /// Expiry from the value header.
    pub expire_at: u64,
    /// Value body.
    pub body: Vec<u8>,
}

impl OwnedEntry {
    /// Copies `entry`, checking that its fields agree with each other.
    ///
    /// # Panics
    /// When the split of the encoded key is inconsistent.
    pub fn from_ref(entry: &EntryRef<'_>) -> Self {
        let split = split_key(entry.encoded_key);
        assert_eq!(
            split,
            Some((entry.user_key, entry.commit_ts)),
            "EntryRef user_key/commit_ts disagree with its encoded key (offset {})",
            entry.offset
        );
        OwnedEntry {
            offset: entry.offset,
            encoded_key: entry.encoded_key.to_vec(),
            user_key: entry.user_key.to_vec(),
            commit_ts: entry.commit_ts,
            tombstone: entry.tombstone,
            expire_at: entry.expire_at,
            body: entry.body.to_vec(),
        }
    }

    /// The encoded value that produces this entry: flags, LE64 expiry, body.
    pub fn encoded_value(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(9 + self.body.len());
        value.push(if self.tombstone { FLAG_TOMBSTONE } else { 0 });
        value.extend_from_slice(&self.expire_at.to_le_bytes());
        value.extend_from_slice(&self.body);
        value
    }

    /// Equality of everything but the offset.
    pub fn same_content(&self, other: &OwnedEntry) -> bool {
        self.encoded_key == other.encoded_key
            && self.user_key == other.user_key
            && self.commit_ts == other.commit_ts
            && self.tombstone == other.tombstone
            && self.expire_at == other.expire_at
            && self.body == other.body
    }
}

/// Everything a successful read produced.
#[derive(Debug, Clone)]
pub struct ReadAll {
    /// The header.
    pub header: Header,
    /// Every MVCC entry, in stream order.
    pub entries: Vec<OwnedEntry>,
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
    let mut entries: Vec<OwnedEntry> = Vec::new();
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(entry)) => OwnedEntry::from_ref(&entry),
            Ok(None) => break,
            Err(e) => return Err(check_err(e)),
        };
        assert!(
            entry.offset < len,
            "entry offset {} past end {len}",
            entry.offset
        );
        if let Some(previous) = entries.last() {
            assert!(
                entry.offset > previous.offset,
                "entry offsets not increasing: {} then {}",
                previous.offset,
                entry.offset
            );
        }
        // A 16-byte header, then per entry 16 bytes of lengths, an 8-byte key and a
        // 9-byte value at least.
        assert!(
            16 + (entries.len() as u64 + 1) * 33 <= len,
            "more entries than the input has bytes for"
        );
        entries.push(entry);
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

/// Writes `entries` as a native stream with `last_commit_ts`.
///
/// # Panics
/// When writing to memory fails.
pub fn write_native(last_commit_ts: u64, entries: &[OwnedEntry]) -> Vec<u8> {
    let mut writer =
        SnapshotWriter::new(Vec::new(), last_commit_ts).expect("writing to a Vec cannot fail");
    for entry in entries {
        writer
            .write_entry(&entry.encoded_key, &entry.encoded_value())
            .expect("writing to a Vec cannot fail");
    }
    writer.finish().expect("writing to a Vec cannot fail")
}

/// The round trip every successfully read stream must survive: re-writing its entries
/// as a native stream and reading that back gives the same header timestamp and the
/// same entries, and the native encoding is a fixed point. When `original` itself was
/// a plain native stream read to its last byte, the re-written bytes equal it.
///
/// # Panics
/// When any of that fails.
pub fn assert_round_trip(original: &[u8], read: &ReadAll) {
    let rewritten = write_native(read.header.last_commit_ts, &read.entries);
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
        assert!(
            a.same_content(b),
            "entry changed in round trip:\n{a:?}\n{b:?}"
        );
    }
    let twice = write_native(again.header.last_commit_ts, &again.entries);
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
