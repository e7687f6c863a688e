//! The Redis adapter.
