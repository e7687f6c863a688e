//! Safe file publication (FORMAT.md §8.1, §8.3).
