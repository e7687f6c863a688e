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
mod faithful;
pub mod keys;
pub mod values;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod faithful_tests;
#[cfg(test)]
mod scenarios_tests;

use crate::adapter::{AdapterSpec, Comparison, DecoderSettings};
use crate::dispatch::Adapter;

pub use decode::{SqsDecodeOptions, SqsDecoder};
pub use encode::{MAX_PARTITIONS, SqsEncoder, fnv1a32, partition_for_group, validate_queue_meta};
pub use error::{PartitionGate, SqsError};
pub use faithful::SqsEncodeModes;
#[doc(hidden)]
pub use faithful::{SideRow, check_side_record_line};

/// The SQS adapter as the registry knows it.
pub static SPEC: AdapterSpec = AdapterSpec {
    adapter: Adapter::Sqs,
    new_decoder: |settings: &DecoderSettings| Box::new(SqsDecoder::from_settings(settings)),
    new_encoder: |sort| Box::new(SqsEncoder::with_sort(sort)),
    comparison: |_| Comparison::Bytes,
    // Trees decoded with `--preserve-sqs-visibility` or `--include-sqs-side-records`
    // are restored faithfully (faithful.rs) where Go's encoder refuses them.
    refused_producer_modes: &[],
};
