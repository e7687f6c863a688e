//! The encode driver: tree → adapters → sorted, stamped entry stream.
//!
//! Adapters only produce `(user key, value)` records; the driver stamps every key with
//! the one commit timestamp, sorts through an external merge sort (so the tree may be
//! larger than memory) and rejects duplicates.

use std::io::Write;
use std::path::Path;

use crate::adapter::{AdapterSpec, EntrySink};
use crate::container::{BuildError, BuildSummary, SnapshotBuilder};
use crate::dispatch::Adapter;
use crate::error::{BoxError, ErrorCode, ExitClass};
use crate::sort::SortOptions;

/// Why an encode failed.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// An adapter rejected its subtree (Go: `ErrEncodeAdapterData`).
    #[error("{adapter} encoder: {inner}")]
    Adapter {
        /// Which adapter.
        adapter: Adapter,
        /// Its error.
        inner: BoxError,
    },
    /// The adapter's top-level directory is a symlink or not a directory.
    #[error("{path}: adapter root is not a directory (symlinks are refused)")]
    AdapterRootNotDir {
        /// The offending path.
        path: String,
    },
    /// Building the entry stream failed.
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl ErrorCode for EncodeError {
    fn code(&self) -> &'static str {
        match self {
            EncodeError::Adapter { inner, .. } => inner.code(),
            EncodeError::AdapterRootNotDir { .. } => "encode-adapter-root-not-dir",
            EncodeError::Build(e) => e.code(),
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            EncodeError::Adapter { inner, .. } => inner.exit_class(),
            EncodeError::AdapterRootNotDir { .. } => ExitClass::Data,
            EncodeError::Build(e) => e.exit_class(),
        }
    }
}

/// Size in the container of one entry with a `key_len`-byte user key and a
/// `value_len`-byte user value: both length words, the timestamp suffix and the value
/// header included.
pub fn framed_entry_len(key_len: usize, value_len: usize) -> u64 {
    (16 + crate::container::TS_SIZE + crate::container::VALUE_HEADER_SIZE) as u64
        + key_len as u64
        + value_len as u64
}

/// Receives `(records, framed bytes)` while adapters read the tree; the bytes are what
/// the records will occupy in the snapshot, so their final value plus the 16-byte
/// header is the exact output size.
pub type RecordProgressFn<'a> = &'a mut dyn FnMut(u64, u64);

const RECORD_PROGRESS_EVERY: u64 = 4096;

/// The part of the sort budget left to the adapters' own sorts (1/4): they run while
/// the builder fills, so the two shares together stay within the budget given.
const ADAPTER_SORT_SHARE: usize = 4;

/// Splits `sort` into the builder's options and the adapters'; both spill into the
/// same scratch directory.
fn split_sort_budget(sort: SortOptions) -> (SortOptions, SortOptions) {
    let adapters = (sort.memory_budget / ADAPTER_SORT_SHARE).max(1);
    let builder = SortOptions {
        memory_budget: sort.memory_budget.saturating_sub(adapters).max(1),
        scratch_dir: sort.scratch_dir.clone(),
    };
    let adapters = SortOptions {
        memory_budget: adapters,
        scratch_dir: sort.scratch_dir,
    };
    (builder, adapters)
}

/// An [`EntrySink`] that counts what passes through it.
struct CountingSink<'a> {
    inner: &'a mut SnapshotBuilder,
    records: u64,
    bytes: u64,
    progress: RecordProgressFn<'a>,
}

impl EntrySink for CountingSink<'_> {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.inner
            .add(user_key, value)
            .map_err(|e| Box::new(e) as BoxError)?;
        self.records += 1;
        self.bytes += framed_entry_len(user_key.len(), value.len());
        if self.records.is_multiple_of(RECORD_PROGRESS_EVERY) {
            (self.progress)(self.records, self.bytes);
        }
        Ok(())
    }
}

/// Encodes the given adapters' subtrees of `root` into a builder stamped with
/// `commit_ts`, in the order given (the Go encoder's: redis, dynamodb, s3, sqs).
/// Missing subtrees are fine (nothing to restore); symlinked or non-directory ones are
/// refused, as the Go encoder does.
pub fn encode_tree(
    root: &Path,
    adapters: &[&AdapterSpec],
    commit_ts: u64,
    sort: SortOptions,
) -> Result<SnapshotBuilder, EncodeError> {
    encode_tree_observed(root, adapters, commit_ts, sort, &mut |_, _| {})
}

/// [`encode_tree`] reporting `(records, framed bytes)` as adapters emit records.
pub fn encode_tree_observed(
    root: &Path,
    adapters: &[&AdapterSpec],
    commit_ts: u64,
    sort: SortOptions,
    progress: RecordProgressFn<'_>,
) -> Result<SnapshotBuilder, EncodeError> {
    let (builder_sort, adapter_sort) = split_sort_budget(sort);
    let mut builder = SnapshotBuilder::new(commit_ts, builder_sort);
    let mut sink = CountingSink {
        inner: &mut builder,
        records: 0,
        bytes: 0,
        progress,
    };
    for spec in adapters {
        let adapter = spec.adapter;
        let adapter_root = root.join(adapter.name());
        match std::fs::symlink_metadata(&adapter_root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Ok(meta) if meta.is_dir() => {}
            _ => {
                return Err(EncodeError::AdapterRootNotDir {
                    path: adapter_root.display().to_string(),
                });
            }
        }
        (spec.new_encoder)(&adapter_sort)
            .encode(&adapter_root, &mut sink)
            .map_err(|inner| EncodeError::Adapter { adapter, inner })?;
    }
    (sink.progress)(sink.records, sink.bytes);
    Ok(builder)
}

/// [`encode_tree`] then write the snapshot to `out`.
pub fn encode_tree_to<W: Write>(
    root: &Path,
    adapters: &[&AdapterSpec],
    commit_ts: u64,
    sort: SortOptions,
    out: W,
) -> Result<BuildSummary, EncodeError> {
    let builder = encode_tree(root, adapters, commit_ts, sort)?;
    Ok(builder.write_to(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_split_and_never_zero() {
        let (builder, adapters) = split_sort_budget(SortOptions {
            memory_budget: 400,
            scratch_dir: "/scratch".into(),
        });
        assert_eq!((builder.memory_budget, adapters.memory_budget), (300, 100));
        assert_eq!(adapters.scratch_dir, builder.scratch_dir);
        for tiny in [0, 1] {
            let (builder, adapters) = split_sort_budget(SortOptions {
                memory_budget: tiny,
                scratch_dir: "/scratch".into(),
            });
            assert_eq!((builder.memory_budget, adapters.memory_budget), (1, 1));
        }
    }

    /// A tree encodes to the same bytes whether the builder and the adapter's sorts
    /// spill or not.
    #[test]
    fn spilling_sorts_give_the_same_snapshot() {
        let root = tempfile::tempdir().unwrap();
        let db = root.path().join("redis/db_0");
        std::fs::create_dir_all(db.join("strings")).unwrap();
        for i in 0..40 {
            std::fs::write(db.join(format!("strings/k{i}.bin")), format!("v{i}")).unwrap();
        }
        std::fs::write(
            db.join("strings_ttl.jsonl"),
            "{\"key\":\"k3\",\"expire_at_ms\":5}\n{\"key\":\"k3\",\"expire_at_ms\":6}\n",
        )
        .unwrap();
        let redis = [&crate::adapters::redis::SPEC];
        let snapshot = |memory_budget| {
            let scratch = tempfile::tempdir().unwrap();
            let sort = SortOptions {
                memory_budget,
                scratch_dir: scratch.path().to_path_buf(),
            };
            let mut out = Vec::new();
            let summary = encode_tree_to(root.path(), &redis, 7, sort, &mut out).unwrap();
            assert_eq!(summary.entries, 40);
            out
        };
        assert_eq!(snapshot(1), snapshot(usize::MAX));
    }
}
