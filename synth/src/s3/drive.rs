//! Driving the codec with the S3 adapter alone: any memory budget and flags.

use std::fs;
use std::io;
use std::path::Path;

use elastickv_codec::adapter::{AdapterDecoder, DecodeFlags, Warnings};
use elastickv_codec::adapters::s3::{S3DecodeOptions, S3Decoder};
use elastickv_codec::assemble::{self, EncodeError};
use elastickv_codec::dispatch::{Adapter, AdapterSet};
use elastickv_codec::scan::{self, DecodeError, ScanOptions};
use elastickv_codec::sort::SortOptions;
use elastickv_codec::tree::writer::TreeWriter;

/// The S3 adapter alone.
pub fn s3_only() -> AdapterSet {
    [Adapter::S3].into_iter().collect()
}

fn io_error(context: &str, source: io::Error) -> DecodeError {
    DecodeError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Decodes `snapshot` with the S3 adapter into `out_root` (empty or absent),
/// spilling in `scratch` with `memory_budget` bytes for the sorts.
///
/// # Errors
/// The decode's.
pub fn decode_snapshot(
    snapshot: &Path,
    out_root: &Path,
    scratch: &Path,
    memory_budget: usize,
    flags: &DecodeFlags,
) -> Result<Warnings, DecodeError> {
    let decoder = || -> Result<Box<dyn AdapterDecoder>, DecodeError> {
        fs::create_dir_all(out_root).map_err(|e| io_error("create output", e))?;
        let tree = TreeWriter::serial(out_root).map_err(|e| io_error("open output", e.into()))?;
        let options = S3DecodeOptions::new(scratch.to_path_buf(), memory_budget, flags);
        Ok(Box::new(S3Decoder::new(tree, options)))
    };
    let mut adapters: Vec<Box<dyn AdapterDecoder>> = vec![decoder()?];
    let mut reset = |adapters: &mut Vec<Box<dyn AdapterDecoder>>| -> Result<(), DecodeError> {
        adapters.clear();
        if out_root.exists() {
            fs::remove_dir_all(out_root).map_err(|e| io_error("empty output", e))?;
        }
        adapters.push(decoder()?);
        Ok(())
    };
    let scan_options = ScanOptions {
        enabled: s3_only(),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes: memory_budget,
    };
    let mut warnings = Warnings::default();
    scan::scan_file(
        snapshot,
        &scan_options,
        &mut adapters,
        &mut warnings,
        &mut reset,
        &mut |_, _| {},
    )?;
    Ok(warnings)
}

/// Encodes the `s3/` subtree of `root`, every key stamped `commit_ts`, into memory.
///
/// # Errors
/// The encode's.
pub fn encode_tree(
    root: &Path,
    commit_ts: u64,
    scratch: &Path,
    memory_budget: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    assemble::encode_tree_to(
        root,
        &[&elastickv_codec::adapters::s3::SPEC],
        commit_ts,
        SortOptions {
            memory_budget,
            scratch_dir: scratch.to_path_buf(),
        },
        &mut out,
    )?;
    Ok(out)
}
