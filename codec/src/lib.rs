//! A streaming codec for elastickv snapshots.
//!
//! The crate is layered the way the format is:
//!
//! * [`container`] — the `EKVPBBL1` entry stream (and the runtime `EKVTHLC*` wrapper
//!   with its CRC32C footer) with MVCC-framed keys and 9-byte value headers.
//! * [`mvcc`] — which version of a user key is visible; the Go decoder ignores this.
//! * [`sort`] — an external merge sort, so neither side ever needs the whole snapshot
//!   in memory.
//! * [`dispatch`] — the longest-prefix routing table and the Go decoder's counters.
//! * [`tree`] — the dump-tree primitives shared by every adapter: file-name segments,
//!   Go-compatible JSON, KEYMAP, MANIFEST, CHECKSUMS, the tree writer and sink, output
//!   locks and atomic publication.
//! * [`adapter`] — the interface every adapter implements and the description it
//!   registers; [`adapters`] — the registry and one folder per adapter, each with its
//!   decode and encode side. Nothing above this line names an adapter.
//! * [`scan`] (snapshot → visible entries → adapter decoders) and [`assemble`]
//!   (adapter encoders → sorted, stamped snapshot) — the drivers.
//! * [`pipeline`] — what the CLIs run: decode to a complete tree, encode with atomic
//!   publish and self-test, verify.
#![forbid(unsafe_code)]

pub mod adapter;
pub mod adapters;
pub mod archive;
pub mod assemble;
pub mod container;
pub mod dispatch;
pub mod error;
pub mod mvcc;
pub mod pipeline;
pub mod restore;
pub mod scan;
pub mod sort;
pub mod tree;

pub use error::{ErrorCode, ExitClass};
