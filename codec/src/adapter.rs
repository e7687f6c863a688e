//! The interface every adapter implements, and the description each registers.
//!
//! The drivers ([`crate::scan`], [`crate::assemble`]) and the pipeline only ever see
//! adapters through this module; the implementations live one folder each under
//! [`crate::adapters`], whose registry is the only place that names them. An adapter
//! is a decode side (visible entries in, files out), an encode side (its subtree in,
//! records out) and an [`AdapterSpec`] that tells the pipeline how to build both and
//! how to compare its files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::container::EntryRef;
use crate::dispatch::{Adapter, Prefix};
use crate::error::BoxError;
use crate::sort::SortOptions;
use crate::tree::manifest::{self, Exclusions, Manifest};
use crate::tree::sink::TreeSink;

/// A non-fatal finding, rendered like the Go tool's `encoder warning` log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Event name, e.g. `redis_orphan_ttl` (the Go `event=` value).
    pub event: &'static str,
    /// Fields in the Go order, values already rendered as text (unquoted).
    pub fields: Vec<(&'static str, String)>,
}

/// Collected warnings, in the order they were raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings(pub Vec<Warning>);

impl Warnings {
    /// Records a warning.
    pub fn push(&mut self, event: &'static str, fields: Vec<(&'static str, String)>) {
        self.0.push(Warning { event, fields });
    }
}

/// The decode side of an adapter. The driver hands it only *visible* entries (the
/// newest version of each user key, never a tombstone), in ascending encoded-key order,
/// each routed to a prefix the adapter owns.
pub trait AdapterDecoder {
    /// Which adapter this is.
    fn adapter(&self) -> Adapter;

    /// Consumes one visible entry.
    fn handle(
        &mut self,
        prefix: &'static Prefix,
        entry: &EntryRef<'_>,
        warnings: &mut Warnings,
    ) -> Result<(), BoxError>;

    /// Writes everything buffered. Called once, after the last entry.
    fn finalize(&mut self, warnings: &mut Warnings) -> Result<(), BoxError>;
}

/// Where adapter encoders put the records they produce.
pub trait EntrySink {
    /// Adds one record. `value` is the user value (the 9-byte header is added later).
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError>;
}

/// The encode side of an adapter.
pub trait AdapterEncoder {
    /// Reads the adapter's subtree (e.g. `<root>/redis`) and emits its records.
    fn encode(&mut self, adapter_root: &Path, sink: &mut dyn EntrySink) -> Result<(), BoxError>;
}

/// Where a fresh decoder writes its files and spills its sorts.
#[derive(Debug, Clone)]
pub struct DecoderSettings {
    /// Where the adapter's files go (a tree being written, or the self-test's
    /// comparison); the adapter writes under `<adapter name>/`.
    pub tree: Arc<dyn TreeSink>,
    /// Where the adapter's external sorts spill (never the system temp dir, which is
    /// often RAM-backed).
    pub scratch_dir: PathBuf,
    /// Memory the adapter's sorts may hold before spilling.
    pub memory_budget: usize,
    /// What the producer asked for that changes the adapter's files.
    pub flags: DecodeFlags,
}

/// The producer options that change what an adapter writes: the manifest's
/// `exclusions` and the DynamoDB layout. A decode takes them from its flags; the
/// self-test from the manifest of the tree it checks, so both decode alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeFlags {
    /// `--include-orphans`, `--preserve-sqs-visibility`, … as recorded in MANIFEST.
    pub exclusions: Exclusions,
    /// `--dynamodb-bundle-mode jsonl`: items go to JSONL bundles of about this many
    /// bytes each; `None` is one file per item.
    pub dynamodb_bundle_bytes: Option<u64>,
}

/// `--dynamodb-bundle-size` when none is given: 64 MiB bundles.
pub const DEFAULT_DYNAMODB_BUNDLE_BYTES: u64 = 64 << 20;

impl DecodeFlags {
    /// The flags a tree was produced with, as its manifest records them.
    pub fn of_manifest(m: &Manifest) -> DecodeFlags {
        DecodeFlags {
            exclusions: m.exclusions.clone().unwrap_or_default(),
            dynamodb_bundle_bytes: (m.dynamodb_layout == manifest::DYNAMODB_LAYOUT_JSONL)
                .then_some(DEFAULT_DYNAMODB_BUNDLE_BYTES),
        }
    }
}

/// How the self-test compares one of an adapter's files with its re-decoded twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Byte for byte.
    Bytes,
    /// As a multiset of lines: the file's line order is not part of its meaning (the
    /// Go decoder writes it in map order).
    LineMultiset,
}

/// One adapter, described once: everything the pipeline needs to know about it.
pub struct AdapterSpec {
    /// Which adapter (its name is the tree's top-level directory and the manifest
    /// slot).
    pub adapter: Adapter,
    /// A decoder writing under `settings.out_root`.
    pub new_decoder: fn(&DecoderSettings) -> Box<dyn AdapterDecoder>,
    /// An encoder whose own sorts (listings, sidecar joins) use `sort`.
    pub new_encoder: fn(&SortOptions) -> Box<dyn AdapterEncoder>,
    /// How each of its files compares, by file name; files not named compare byte
    /// for byte (`KEYMAP.jsonl` is the tree layer's own rule for every adapter).
    pub comparison: fn(file_name: &[u8]) -> Comparison,
    /// Producer options (recorded in the manifest) whose output its encoder cannot
    /// reverse; encoding with the adapter selected is refused when one is on.
    pub refused_producer_modes: &'static [ProducerMode],
}

/// A producer option the encoder refuses, with the Go tool's code and message.
#[derive(Debug)]
pub struct ProducerMode {
    /// Whether the manifest says the producer ran with it.
    pub is_on: fn(&Manifest) -> bool,
    /// The error code (`encode-unsupported-…`).
    pub code: &'static str,
    /// The Go message.
    pub message: &'static str,
}

impl std::fmt::Debug for AdapterSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterSpec")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}
