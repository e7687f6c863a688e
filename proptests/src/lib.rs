//! The property tests' side of the generators: proptest strategies over the models of
//! `elastickv-synth`, and the configuration every property test uses. The properties
//! themselves are this crate's `tests/`.
//!
//! * [`config`] — `ProptestConfig` with a fixed seed, a case count from the
//!   environment, and regressions persisted under `proptests/proptest-regressions/`.
//! * [`strategy`] — strategies for keys, timestamps, bodies and whole entry sets
//!   (including the key-prefix ordering trap of docs/format.md §2).
//! * [`redis`] — strategies for key specs and whole Redis databases.

pub mod config;
pub mod redis;
pub mod strategy;
