//! The Redis adapter: the live Redis keyspace of a snapshot ↔ `redis/db_0/`.
//!
//! Layout knowledge is split by what it describes, each module with both directions:
//! [`keys`] (store-key layouts), [`values`] (fixed-width value envelopes), [`proto`]
//! (the two protobuf payloads) and [`docs`] (the JSON files of the tree). The decode
//! side is [`RedisDecoder`] (with TTL routing in `ttl`, collections in `collections`,
//! both spilling through the external sorts of `spill`), the encode side
//! [`RedisEncoder`] (reading collection documents an element at a time in
//! `elements`, so its memory does not grow with a document's size, and listing
//! directories and joining the sidecars by file name through external sorts in
//! `join`, so it does not grow with the number of keys either).

mod collections;
mod decode;
pub mod docs;
mod elements;
mod encode;
mod error;
mod input;
mod join;
mod keymap;
pub mod keys;
mod output;
pub mod proto;
mod spill;
mod ttl;
pub mod values;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod elements_tests;
#[cfg(test)]
mod scenarios_tests;
#[cfg(test)]
mod spill_tests;

use std::sync::Arc;

use crate::adapter::{AdapterSpec, Comparison, DecoderSettings};
use crate::dispatch::Adapter;

pub use decode::{DEFAULT_MEMORY_BUDGET, RedisDecodeOptions, RedisDecoder};
pub use encode::RedisEncoder;
pub use error::{Escaped, Fault, RedisError};
pub use ttl::DEFAULT_PENDING_TTL_BYTES_CAP;

/// The Redis adapter as the registry knows it.
pub static SPEC: AdapterSpec = AdapterSpec {
    adapter: Adapter::Redis,
    new_decoder: |settings: &DecoderSettings| {
        Box::new(RedisDecoder::new(
            Arc::clone(&settings.tree),
            RedisDecodeOptions {
                memory_budget: settings.memory_budget,
                scratch_dir: settings.scratch_dir.clone(),
                ..RedisDecodeOptions::default()
            },
        ))
    },
    new_encoder: |sort| Box::new(RedisEncoder::with_sort(sort)),
    comparison: ttl_sidecars_are_multisets,
    refused_producer_modes: &[],
};

/// The TTL sidecars list one line per key in the Go decoder's map order, which is
/// random, so only their lines as a multiset mean anything.
fn ttl_sidecars_are_multisets(file_name: &[u8]) -> Comparison {
    match file_name {
        b"strings_ttl.jsonl" | b"hll_ttl.jsonl" => Comparison::LineMultiset,
        _ => Comparison::Bytes,
    }
}
