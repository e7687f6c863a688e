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
//!   sets (including the key-prefix ordering trap of FORMAT.md §2).

pub mod config;
pub mod model;
pub mod redis;
pub mod strategy;

pub use config::config;
pub use model::{Entry, EntrySet};
