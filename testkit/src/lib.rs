//! What the workspace's tests would otherwise each copy.
//!
//! * [`vectors`] — where the Go reference vectors are (`../shared/vectors` beside the
//!   checkout, `$ELASTICKV_VECTORS`, or the few cases bundled under
//!   `codec/tests/fixtures/vectors/`), their cases, and the error code our tools print
//!   for a Go sentinel.
//! * [`tree`] — a dump tree read into a path → bytes map, and a readable difference
//!   between two of them.
//! * [`work`] — a case's scratch directory, with a fresh path for every step.
//!
//! Nothing here knows the codec's types (see `Cargo.toml`), so every crate's tests can
//! use it, the codec's included. The seeded generator the tests draw from is
//! `elastickv-splitmix`, which the production generator shares.

pub mod tree;
pub mod vectors;
pub mod work;
