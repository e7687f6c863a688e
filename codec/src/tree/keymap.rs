//! `KEYMAP.jsonl`: records that map a file name back to the key it stands for.
