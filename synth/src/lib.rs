//! Synthetic snapshots: models of what a cluster stores, seeded generators of them, and
//! writers that store them the way a live node does.
//!
//! * [`model`] — owned entries, the reference model of their visible state, and
//!   writers of an entry set as a sorted, shuffled or runtime-wrapped snapshot.
//! * [`redis`] — a model of a logical Redis database, its seeded generator, its
//!   live-layout and canonical writers, the check of a decoded tree against it, and
//!   the codec plumbing the tests and benches drive it with.
//! * [`dynamodb`] — a model of DynamoDB tables, its seeded generator and live-layout
//!   writer, and the codec plumbing for the DynamoDB adapter.
//! * [`sst`] — live twins of a snapshot: the same rows as EKVPBBL1 and as EKVSSTI1.
//! * [`workload`] — named, streaming, constant-memory workloads (`redis-mixed`, …):
//!   what `elastickv-snapshot generate`, the benches and the README sample are made of.
//!
//! The CLI links this crate, so nothing here depends on a test framework: the
//! proptest strategies over these models are in `elastickv-proptests`. Every draw
//! comes from `elastickv-splitmix`, so the same seed gives the same bytes everywhere.

pub mod dynamodb;
pub mod model;
pub mod redis;
pub mod s3;
pub mod sqs;
pub mod sst;
pub mod workload;
