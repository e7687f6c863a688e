//! The S3 adapter: buckets and objects of a snapshot ↔ `s3/<bucket>/…`.
//!
//! [`keys`] is the store-key grammar (escaped segments, big-endian fields),
//! [`values`] the binary chunk reference, [`docs`] the JSON documents (live bucket
//! meta and manifest, `_bucket.json`, object sidecars) and [`paths`] the rules that
//! keep an object key below its bucket directory. The decode side is [`S3Decoder`]:
//! chunk payloads go to a scratch data log, everything else to external sorts, and
//! each body is streamed out of the log at finalize (`scratch`), so memory does not
//! grow with object sizes or counts. The encode side is [`S3Encoder`], which reads
//! each body a chunk at a time.

mod decode;
pub mod docs;
mod encode;
mod error;
pub mod keys;
pub mod paths;
mod scratch;
pub mod values;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod scenarios_tests;

use std::sync::Arc;

use crate::adapter::{AdapterSpec, Comparison, DecoderSettings, ProducerMode};
use crate::dispatch::Adapter;

pub use decode::{S3DecodeOptions, S3Decoder};
pub use encode::S3Encoder;
pub use error::S3Error;

/// The S3 adapter as the registry knows it.
pub static SPEC: AdapterSpec = AdapterSpec {
    adapter: Adapter::S3,
    new_decoder: |settings: &DecoderSettings| {
        Box::new(S3Decoder::new(
            Arc::clone(&settings.tree),
            S3DecodeOptions::new(
                settings.scratch_dir.clone(),
                settings.memory_budget,
                &settings.flags,
            ),
        ))
    },
    new_encoder: |sort| Box::new(S3Encoder::with_sort(sort)),
    // KEYMAP.jsonl is compared as a set of records by the tree layer; every other
    // file byte for byte.
    comparison: |_| Comparison::Bytes,
    refused_producer_modes: &[
        ProducerMode {
            is_on: |m| {
                m.exclusions
                    .as_ref()
                    .is_some_and(|e| e.include_incomplete_uploads)
            },
            code: "encode-unsupported-s3-incomplete-uploads",
            message: "backup: S3 include_incomplete_uploads not supported by encoder",
        },
        ProducerMode {
            is_on: |m| m.exclusions.as_ref().is_some_and(|e| e.include_orphans),
            code: "encode-unsupported-s3-orphans",
            message: "backup: S3 include_orphans not supported by encoder",
        },
    ],
};
