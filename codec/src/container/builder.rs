//! The encoder side of the container: stamp, sort, check, write.

use std::io::{self, Write};

use super::{
    MAX_ENCODED_KEY, MAX_ENCODED_VALUE, SnapshotWriter, TS_SIZE, VALUE_HEADER_SIZE, encode_key,
};
use crate::error::{ErrorCode, ExitClass};
use crate::sort::{ExternalSorter, SortOptions};

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `ErrEncodeKeyTooLarge`.
    #[error("encoded key length exceeds limit ({encoded_len} > {MAX_ENCODED_KEY})")]
    KeyTooLarge {
        /// Length the encoded key would have.
        encoded_len: u64,
    },
    /// `ErrEncodeValueTooLarge`.
    #[error("encoded value length exceeds limit ({encoded_len} > {MAX_ENCODED_VALUE})")]
    ValueTooLarge {
        /// Length the encoded value would have.
        encoded_len: u64,
    },
    /// `ErrEncodeDuplicateKey`: two records share a user key.
    #[error("duplicate encoded key in snapshot build: userKey \"{}\"", .user_key.escape_ascii())]
    DuplicateKey {
        /// The repeated user key.
        user_key: Vec<u8>,
    },
    /// Scratch space or the output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The failure.
        source: io::Error,
    },
}

impl ErrorCode for BuildError {
    fn code(&self) -> &'static str {
        match self {
            BuildError::KeyTooLarge { .. } => "encode-key-too-large",
            BuildError::ValueTooLarge { .. } => "encode-value-too-large",
            BuildError::DuplicateKey { .. } => "encode-duplicate-key",
            BuildError::Io { .. } => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            BuildError::Io { .. } => ExitClass::Usage,
            _ => ExitClass::Data,
        }
    }
}

/// What [`SnapshotBuilder::write_to`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildSummary {
    /// Entries written.
    pub entries: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

/// Collects `(user key, value)` records and writes them as one `EKVPBBL1` snapshot.
///
/// Every key is stamped with the one commit timestamp (the Go encoder's rule), so a
/// repeated user key is a repeated encoded key, which the format cannot represent.
/// Records go through an external sort, so the builder's memory is the sort budget,
/// not the snapshot size (the Go builder holds everything in memory). A value is
/// never copied whole: the sort keeps the user value (every entry's 9-byte value
/// header is the same, so it is written on the way out), a value larger than the
/// budget goes straight from the caller's buffer to scratch, and from there to the
/// output in chunks.
pub struct SnapshotBuilder {
    commit_ts: u64,
    sorter: ExternalSorter,
    key: Vec<u8>,
}

/// The value header of every entry the encoder writes: live, cleartext, no expiry
/// (what [`super::encode_live_value`] prepends).
const LIVE_VALUE_HEADER: [u8; VALUE_HEADER_SIZE] = [0; VALUE_HEADER_SIZE];

impl SnapshotBuilder {
    /// A builder stamping every entry (and the header) with `commit_ts`.
    pub fn new(commit_ts: u64, options: SortOptions) -> Self {
        SnapshotBuilder {
            commit_ts,
            sorter: ExternalSorter::new(options),
            key: Vec::new(),
        }
    }

    /// Adds one record. Size limits are checked here, duplicates only when writing
    /// (they are only adjacent once sorted).
    pub fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BuildError> {
        check_limits(user_key, value)?;
        self.key.clear();
        encode_key(user_key, self.commit_ts, &mut self.key);
        self.sorter
            .push(&self.key, value)
            .map_err(|source| BuildError::Io {
                context: "spill snapshot entries to scratch",
                source,
            })
    }

    /// Records added so far.
    pub fn len(&self) -> u64 {
        self.sorter.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.sorter.is_empty()
    }

    /// Writes the header and every entry ascending by encoded key, and flushes.
    /// On [`BuildError::DuplicateKey`] the output holds a partial snapshot.
    pub fn write_to<W: Write>(self, out: W) -> Result<BuildSummary, BuildError> {
        let io_error = |context| move |source| BuildError::Io { context, source };
        let mut records = self
            .sorter
            .finish()
            .map_err(io_error("sort snapshot entries"))?;
        let mut writer =
            SnapshotWriter::new(out, self.commit_ts).map_err(io_error("write snapshot"))?;
        let mut previous: Vec<u8> = Vec::new();
        let mut first = true;
        while records
            .advance_unread()
            .map_err(io_error("read sorted entries"))?
        {
            let (key, value_len) = records.current_head().unwrap_or_default();
            if !first && key == previous.as_slice() {
                return Err(duplicate(key));
            }
            first = false;
            previous.clear();
            previous.extend_from_slice(key);
            writer
                .begin_entry(key, VALUE_HEADER_SIZE as u64 + value_len)
                .and_then(|()| writer.write_value(&LIVE_VALUE_HEADER))
                .map_err(io_error("write snapshot"))?;
            let mut write_failed = false;
            records
                .copy_current_value(&mut |piece| {
                    writer
                        .write_value(piece)
                        .inspect_err(|_| write_failed = true)
                })
                .map_err(|source| BuildError::Io {
                    context: match write_failed {
                        true => "write snapshot",
                        false => "read sorted entries",
                    },
                    source,
                })?;
        }
        let summary = BuildSummary {
            entries: writer.entries(),
            bytes: writer.bytes_written(),
        };
        writer.finish().map_err(io_error("write snapshot"))?;
        Ok(summary)
    }
}

/// The Go `snapshotBuilder.Add` limits, key first.
fn check_limits(user_key: &[u8], value: &[u8]) -> Result<(), BuildError> {
    let key_len = user_key.len() as u64 + TS_SIZE as u64;
    if key_len > MAX_ENCODED_KEY {
        return Err(BuildError::KeyTooLarge {
            encoded_len: key_len,
        });
    }
    let value_len = value.len() as u64 + VALUE_HEADER_SIZE as u64;
    if value_len > MAX_ENCODED_VALUE {
        return Err(BuildError::ValueTooLarge {
            encoded_len: value_len,
        });
    }
    Ok(())
}

#[cold]
fn duplicate(encoded_key: &[u8]) -> BuildError {
    let user_len = encoded_key.len().saturating_sub(TS_SIZE);
    BuildError::DuplicateKey {
        user_key: encoded_key[..user_len].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{SnapshotReader, split_key};

    fn options(budget: usize) -> (tempfile::TempDir, SortOptions) {
        let scratch = tempfile::tempdir().unwrap();
        let options = SortOptions {
            memory_budget: budget,
            scratch_dir: scratch.path().to_path_buf(),
        };
        (scratch, options)
    }

    fn user_keys_of(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = SnapshotReader::new(bytes).unwrap();
        let mut keys = Vec::new();
        while let Some(entry) = reader.next_entry().unwrap() {
            keys.push(entry.user_key.to_vec());
        }
        keys
    }

    #[test]
    fn writes_the_worked_example() {
        let (_scratch, options) = options(1 << 20);
        let mut builder = SnapshotBuilder::new(5, options);
        builder.add(b"!redis|str|a", b"\xff\x01\x00x").unwrap();
        let mut out = Vec::new();
        let summary = builder.write_to(&mut out).unwrap();
        assert_eq!(out, super::super::tests::WORKED_EXAMPLE);
        assert_eq!(
            summary,
            BuildSummary {
                entries: 1,
                bytes: 65
            }
        );
    }

    #[test]
    fn orders_by_encoded_key_so_a_prefix_can_sort_after_its_extension() {
        for budget in [1, 1 << 20] {
            let (_scratch, options) = options(budget);
            // ^T for T = 1 << 56 starts 0xFE, so `k` ‖ FE… sorts after `k` ‖ 0x10….
            let mut builder = SnapshotBuilder::new(1 << 56, options);
            for key in [&b"k\x10"[..], b"k", b"k\xff", b"j", b"l"] {
                builder.add(key, b"v").unwrap();
            }
            let mut out = Vec::new();
            builder.write_to(&mut out).unwrap();
            let expected: Vec<Vec<u8>> = [&b"j"[..], b"k\x10", b"k", b"k\xff", b"l"]
                .iter()
                .map(|k| k.to_vec())
                .collect();
            assert_eq!(user_keys_of(&out), expected, "budget {budget}");
        }
    }

    #[test]
    fn entries_carry_the_commit_ts_and_a_live_header() {
        let (_scratch, options) = options(1 << 20);
        let mut builder = SnapshotBuilder::new(77, options);
        builder.add(b"key", b"").unwrap();
        let mut out = Vec::new();
        builder.write_to(&mut out).unwrap();
        let mut reader = SnapshotReader::new(out.as_slice()).unwrap();
        assert_eq!(reader.header().last_commit_ts, 77);
        let entry = reader.next_entry().unwrap().unwrap();
        assert_eq!(split_key(entry.encoded_key), Some((&b"key"[..], 77)));
        assert_eq!(
            (entry.tombstone, entry.expire_at, entry.body),
            (false, 0, &b""[..])
        );
    }

    #[test]
    fn duplicate_user_keys_fail_even_with_different_values() {
        for budget in [1, 1 << 20] {
            let (_scratch, options) = options(budget);
            let mut builder = SnapshotBuilder::new(9, options);
            for (key, value) in [
                (&b"a"[..], &b"1"[..]),
                (b"dup", b"2"),
                (b"z", b"3"),
                (b"dup", b"0"),
            ] {
                builder.add(key, value).unwrap();
            }
            let error = builder.write_to(Vec::new()).unwrap_err();
            assert!(
                matches!(&error, BuildError::DuplicateKey { user_key } if user_key == b"dup"),
                "{error}"
            );
            assert_eq!(error.code(), "encode-duplicate-key");
            assert_eq!(error.exit_class(), ExitClass::Data);
        }
    }

    #[test]
    fn size_limits_match_go() {
        let (_scratch, options) = options(1 << 20);
        let mut builder = SnapshotBuilder::new(1, options);
        let key_at_limit = vec![b'k'; (MAX_ENCODED_KEY - TS_SIZE as u64) as usize];
        let key_over = vec![b'k'; key_at_limit.len() + 1];
        let value_over = vec![0u8; (MAX_ENCODED_VALUE - VALUE_HEADER_SIZE as u64 + 1) as usize];
        builder.add(&key_at_limit, b"").unwrap();
        let error = builder.add(&key_over, &value_over).unwrap_err();
        assert_eq!(error.code(), "encode-key-too-large", "key is checked first");
        assert!(
            error
                .to_string()
                .contains("encoded key length exceeds limit")
        );
        let error = builder.add(b"k", &value_over).unwrap_err();
        assert_eq!(error.code(), "encode-value-too-large");
        assert_eq!(builder.len(), 1);
    }

    /// Values larger than the budget (and than the chunks they are copied out in)
    /// give the same bytes as a build that keeps everything in memory.
    #[test]
    fn values_over_the_budget_give_the_same_snapshot() {
        let large = |fill: u8| vec![fill; crate::sort::VALUE_CHUNK * 2 + 7];
        let records: [(&[u8], Vec<u8>); 5] = [
            (b"m", large(1)),
            (b"a", b"small".to_vec()),
            (b"z", large(2)),
            (b"b", Vec::new()),
            (b"y", vec![3; 70_000]),
        ];
        let build = |budget| {
            let (_scratch, options) = options(budget);
            let mut builder = SnapshotBuilder::new(11, options);
            for (key, value) in &records {
                builder.add(key, value).unwrap();
            }
            let mut out = Vec::new();
            let summary = builder.write_to(&mut out).unwrap();
            assert_eq!(summary.bytes, out.len() as u64);
            out
        };
        let in_memory = build(usize::MAX);
        assert_eq!(build(1000), in_memory);
        assert_eq!(build(1), in_memory);
        let mut reader = SnapshotReader::new(in_memory.as_slice()).unwrap();
        let mut bodies = Vec::new();
        while let Some(entry) = reader.next_entry().unwrap() {
            bodies.push((entry.user_key.to_vec(), entry.body.to_vec()));
        }
        let mut expected: Vec<_> = records
            .iter()
            .map(|(k, v)| (k.to_vec(), v.clone()))
            .collect();
        expected.sort();
        assert_eq!(bodies, expected);
    }

    #[test]
    fn a_value_written_in_pieces_must_be_complete() {
        let mut writer = SnapshotWriter::new(Vec::new(), 5).unwrap();
        writer
            .begin_entry(b"!redis|str|a\xff\xff\xff\xff\xff\xff\xff\xfa", 13)
            .unwrap();
        writer.write_value(&[0; 9]).unwrap();
        writer.write_value(b"\xff\x01").unwrap();
        assert!(
            writer.write_value(b"\x00x!").is_err(),
            "more than announced"
        );
        assert!(writer.write_entry(b"k", b"v").is_err(), "value incomplete");
        writer.write_value(b"\x00x").unwrap();
        let out = writer.finish().unwrap();
        assert_eq!(out, super::super::tests::WORKED_EXAMPLE);
        let mut writer = SnapshotWriter::new(Vec::new(), 5).unwrap();
        writer.begin_entry(b"k", 1).unwrap();
        assert!(writer.finish().is_err(), "value incomplete");
    }

    #[test]
    fn empty_build_is_just_a_header() {
        let (_scratch, options) = options(1 << 20);
        let mut out = Vec::new();
        let summary = SnapshotBuilder::new(3, options).write_to(&mut out).unwrap();
        assert_eq!(summary.entries, 0);
        assert_eq!(out, b"EKVPBBL1\x03\0\0\0\0\0\0\0");
    }
}
