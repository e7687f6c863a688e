//! Driving the SQS adapter alone, the way the property tests need: rows in any order
//! into a tree, a tree into rows.

use std::path::Path;

use elastickv_codec::adapter::{AdapterDecoder, AdapterEncoder, EntrySink, Warnings};
use elastickv_codec::adapters::sqs::{SqsDecodeOptions, SqsDecoder, SqsEncoder};
use elastickv_codec::container::EntryRef;
use elastickv_codec::dispatch::{Adapter, Owner, route};
use elastickv_codec::error::BoxError;
use elastickv_codec::sort::SortOptions;
use elastickv_codec::tree::writer::TreeWriter;

/// Hands `rows` (user key, value), in the order given, to a fresh SQS decoder writing
/// under `out` (`out/sqs/…`; `out` is created if missing); rows of other adapters are
/// skipped.
///
/// # Errors
/// The decoder's.
///
/// # Panics
/// When `out` cannot be created or opened as a tree.
pub fn decode_rows<'r>(
    rows: impl IntoIterator<Item = (&'r [u8], &'r [u8])>,
    out: &Path,
    options: SqsDecodeOptions,
) -> Result<Warnings, BoxError> {
    std::fs::create_dir_all(out).expect("create the output directory");
    let tree = TreeWriter::serial(out).expect("an empty output directory");
    let mut decoder = SqsDecoder::new(tree, options);
    let mut warnings = Warnings::default();
    let mut encoded = Vec::new();
    for (i, (key, value)) in rows.into_iter().enumerate() {
        let Some(prefix) = route(key).filter(|p| p.owner == Owner::Adapter(Adapter::Sqs)) else {
            continue;
        };
        encoded.clear();
        encoded.extend_from_slice(key);
        encoded.extend_from_slice(&(!1u64).to_be_bytes());
        let entry = EntryRef {
            offset: i as u64,
            encoded_key: &encoded,
            user_key: key,
            commit_ts: 1,
            tombstone: false,
            expire_at: 0,
            body: value,
        };
        decoder.handle(prefix, &entry, &mut warnings)?;
    }
    decoder.finalize(&mut warnings)?;
    Ok(warnings)
}

/// Store rows: (user key, value).
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// The rows the SQS encoder makes of `sqs_root` (a tree's `sqs/`), in emission order.
///
/// # Errors
/// The encoder's.
pub fn encode_tree(sqs_root: &Path, sort: &SortOptions) -> Result<Rows, BoxError> {
    struct Collect(Rows);
    impl EntrySink for Collect {
        fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
            self.0.push((user_key.to_vec(), value.to_vec()));
            Ok(())
        }
    }
    let mut sink = Collect(Vec::new());
    SqsEncoder::with_sort(sort).encode(sqs_root, &mut sink)?;
    Ok(sink.0)
}
