//! The SQS adapter: queues and their messages ↔ `sqs/<queue>/`.
//!
//! Layout knowledge is split by what it describes: [`keys`] (the classic and the
//! partitioned HT-FIFO key layouts, both directions), [`values`] (value envelopes and
//! the JSON records inside them, read as Go reads them) and [`docs`] (the JSON the
//! adapter writes, tree files and store records alike). The decode side is
//! [`SqsDecoder`], which parks messages and side records in external sorts until the
//! queue rows that follow them in key order are known; the encode side is
//! [`SqsEncoder`], which reads `messages.jsonl` one record at a time.

mod decode;
pub mod docs;
mod encode;
mod error;
pub mod keys;
pub mod values;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod scenarios_tests;

use crate::adapter::{AdapterSpec, Comparison, DecoderSettings, ProducerMode};
use crate::dispatch::Adapter;

pub use decode::{SqsDecodeOptions, SqsDecoder};
pub use encode::{MAX_PARTITIONS, SqsEncoder, fnv1a32, partition_for_group, validate_queue_meta};
pub use error::{PartitionGate, SqsError};

/// The SQS adapter as the registry knows it.
pub static SPEC: AdapterSpec = AdapterSpec {
    adapter: Adapter::Sqs,
    new_decoder: |settings: &DecoderSettings| Box::new(SqsDecoder::from_settings(settings)),
    new_encoder: |sort| Box::new(SqsEncoder::with_sort(sort)),
    comparison: |_| Comparison::Bytes,
    refused_producer_modes: &[
        ProducerMode {
            is_on: |m| {
                m.exclusions
                    .as_ref()
                    .is_some_and(|e| e.preserve_sqs_visibility)
            },
            code: "encode-unsupported-sqs-preserve-visibility",
            message: "preserve_sqs_visibility not supported by encoder",
        },
        ProducerMode {
            is_on: |m| {
                m.exclusions
                    .as_ref()
                    .is_some_and(|e| e.include_sqs_side_records)
            },
            code: "encode-unsupported-sqs-side-records",
            message: "include_sqs_side_records not supported by encoder",
        },
    ],
};
