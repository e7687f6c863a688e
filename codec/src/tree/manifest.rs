//! `MANIFEST.json` (FORMAT.md §4.2).
