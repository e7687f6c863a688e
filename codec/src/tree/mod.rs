//! Dump-tree primitives shared by every adapter (docs/format.md §4–§5, §8).

pub mod bsv;
pub mod checksums;
pub mod fs;
pub mod gojson;
pub mod gojson_reader;
pub mod json;
pub mod keymap;
pub mod lines;
pub mod lock;
pub mod manifest;
pub(crate) mod pool;
pub mod publish;
pub mod segment;
pub mod sink;
pub mod walltime;
pub mod writer;
