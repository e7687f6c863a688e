//! A model of S3 buckets, its seeded generator, the writer that stores it the way a
//! live node does (docs/format.md §3.2), the check of a decoded tree against it
//! (§4.5), and the codec plumbing the tests and benches drive it with.
//!
//! * [`S3Db`] (`model`) — buckets of objects, each object a body and its metadata
//!   plus a [`Storage`]: how the body is cut into parts, part versions and chunks,
//!   which parts are offloaded behind chunk references, and what noise the store
//!   keeps beside it (chunks of older part versions and of other uploads). Buckets
//!   also hold stale-generation objects, orphan chunks and incomplete uploads.
//! * [`generate`] draws a database from a seed and a [`Mix`]: nested keys, UTF-8 and
//!   odd characters, keys that are directory prefixes of others, keys ending in the
//!   sidecar suffix, empty and multi-chunk bodies, multipart uploads with several
//!   part versions, offloaded chunks.
//! * [`S3Db::live_set`] / [`S3Db::shadowed_set`] write it (the latter adds older
//!   versions and deleted ghost rows that must not change the decoded tree);
//!   [`S3Db::rechunked`] stores the same bodies cut differently.
//! * [`S3Db::check_tree`] compares a decoded tree with the model.
//!
//! Left out because the format cannot round-trip them (docs/format.md §6.7): buckets
//! without meta, keys colliding with the tree's control names, renamed keys that are
//! not valid UTF-8 (their KEYMAP record is lossy), and a modification HLC inside the
//! epoch's first millisecond (it decodes as a time and re-encodes as none).

mod drive;
mod generate;
mod model;

pub use drive::{decode_snapshot, encode_tree, s3_only};
pub use generate::{Mix, generate};
pub use model::{Bucket, Object, Part, S3Db, Storage};
