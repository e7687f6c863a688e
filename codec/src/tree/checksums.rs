//! `CHECKSUMS`, sha256sum(1)-compatible (FORMAT.md §4.3).
