//! The DynamoDB adapter: tables and items of a snapshot ↔ `dynamodb/<table>/`.
//!
//! Layout knowledge is split by what it describes, each module with both directions:
//! [`keys`] (store-key layouts and the ordered key segments), [`values`] (the magic
//! envelopes), [`proto`] (the schema and item protobufs, byte-compatible with
//! protobuf-go's deterministic encoding), [`number`] (the two spellings of key numbers:
//! `big.Rat` file names and ordered key bytes) and [`docs`] (`_schema.json` and the
//! public item JSON). The decode side is [`DynamoDecoder`] (items wait for their
//! schema in scratch and are written from an external sort), the encode side
//! [`DynamoEncoder`] (per-item files or JSONL bundles, records streamed to the
//! snapshot's external sort).

mod decode;
pub mod docs;
mod encode;
mod error;
pub mod keys;
pub mod number;
pub mod proto;
pub mod values;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod decode_tests;
#[cfg(test)]
mod encode_tests;

use std::sync::Arc;

use crate::adapter::{AdapterSpec, Comparison, DecoderSettings};
use crate::dispatch::Adapter;

pub use decode::{DEFAULT_MEMORY_BUDGET, DynamoDecodeOptions, DynamoDecoder};
pub use encode::DynamoEncoder;
pub use error::DynamoError;

/// The DynamoDB adapter as the registry knows it.
pub static SPEC: AdapterSpec = AdapterSpec {
    adapter: Adapter::DynamoDb,
    new_decoder: |settings: &DecoderSettings| {
        Box::new(DynamoDecoder::new(
            Arc::clone(&settings.tree),
            DynamoDecodeOptions {
                bundle_bytes: settings.flags.dynamodb_bundle_bytes,
                memory_budget: settings.memory_budget,
                scratch_dir: settings.scratch_dir.clone(),
            },
        ))
    },
    new_encoder: |sort| Box::new(DynamoEncoder::with_sort(sort)),
    comparison: |_| Comparison::Bytes,
    refused_producer_modes: &[],
};
