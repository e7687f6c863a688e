//! Generators of random snapshots, a reference model of their visible state, and the
//! configuration every property test uses.
//!
//! * [`config`] — `ProptestConfig` with a fixed seed, a case count from the
//!   environment, and regressions persisted under `proptests/proptest-regressions/`.
//! * [`model`] — owned entries, the reference visibility model, and helpers that
//!   write an entry set as a sorted, shuffled or runtime-wrapped snapshot.
//! * [`redis`] — a model of a logical Redis database, its generators (proptest and
//!   seeded), its live-layout and canonical snapshot writers, and tree checks.
//! * [`strategy`] — proptest strategies for keys, timestamps, bodies and whole entry
//!   sets (including the key-prefix ordering trap of docs/format.md §2).
//! * [`workload`] — named, streaming, constant-memory workloads (`redis-mixed`, …):
//!   what `elastickv-snapshot generate`, the benches and the README sample are made of.
//!
//! Everything that needs `proptest` (`config`, `strategy`, the strategies in `redis`)
//! sits behind the default `strategies` feature, so the CLI can link the generators
//! with `default-features = false` and keep `proptest` out of its dependency tree.

#[cfg(feature = "strategies")]
pub mod config;
pub mod model;
pub mod redis;
#[cfg(feature = "strategies")]
pub mod strategy;
pub mod workload;

#[cfg(feature = "strategies")]
pub use config::config;
pub use model::{Entry, EntrySet};
