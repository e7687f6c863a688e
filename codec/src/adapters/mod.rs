//! The adapters, one folder each, and the registry that names them.
pub mod redis;
