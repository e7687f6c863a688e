//! Driving the codec the way the tests and benches need: the Redis adapter alone,
//! any memory budget, output in memory.

use std::fs;
use std::io;
use std::path::Path;

use elastickv_codec::adapter::{AdapterDecoder, Warnings};
use elastickv_codec::adapters::redis::{RedisDecodeOptions, RedisDecoder};
use elastickv_codec::assemble::{self, EncodeError};
use elastickv_codec::dispatch::{Adapter, AdapterSet};
use elastickv_codec::scan::{self, DecodeError, Scan, ScanOptions};
use elastickv_codec::sort::SortOptions;
use elastickv_codec::tree::writer::TreeWriter;

/// The Redis adapter alone.
pub fn redis_only() -> AdapterSet {
    [Adapter::Redis].into_iter().collect()
}

/// What a decode reported.
#[derive(Debug)]
pub struct Decoded {
    /// Counters and visibility statistics.
    pub scan: Scan,
    /// Warnings raised.
    pub warnings: Warnings,
}

/// Decodes `snapshot` with the Redis adapter into `out_root` (which must be empty),
/// spilling in `scratch` (outside `out_root`) with `memory_budget` bytes for every
/// sort — small budgets make the decoder's sorts spill.
pub fn decode_snapshot(
    snapshot: &Path,
    out_root: &Path,
    scratch: &Path,
    memory_budget: usize,
) -> Result<Decoded, DecodeError> {
    let decoder = || -> Result<Box<dyn AdapterDecoder>, DecodeError> {
        fs::create_dir_all(out_root).map_err(|e| io_error("create output", e))?;
        let tree = TreeWriter::serial(out_root).map_err(|e| io_error("open output", e.into()))?;
        let options = RedisDecodeOptions {
            memory_budget,
            scratch_dir: scratch.to_path_buf(),
            ..RedisDecodeOptions::default()
        };
        Ok(Box::new(RedisDecoder::new(tree, options)))
    };
    let mut adapters: Vec<Box<dyn AdapterDecoder>> = vec![decoder()?];
    let mut reset = |adapters: &mut Vec<Box<dyn AdapterDecoder>>| -> Result<(), DecodeError> {
        adapters.clear();
        if out_root.exists() {
            for entry in fs::read_dir(out_root).map_err(|e| io_error("list output", e))? {
                let path = entry.map_err(|e| io_error("list output", e))?.path();
                let removed = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed.map_err(|e| io_error("empty output", e))?;
            }
        }
        adapters.push(decoder()?);
        Ok(())
    };
    let scan_options = ScanOptions {
        enabled: redis_only(),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes: memory_budget,
    };
    let mut warnings = Warnings::default();
    let scan = scan::scan_file(
        snapshot,
        &scan_options,
        &mut adapters,
        &mut warnings,
        &mut reset,
        &mut |_, _| {},
    )?;
    Ok(Decoded { scan, warnings })
}

fn io_error(context: &str, source: io::Error) -> DecodeError {
    DecodeError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Encodes the `redis/` subtree of `root`, every key stamped `commit_ts`, into memory.
pub fn encode_tree(
    root: &Path,
    commit_ts: u64,
    scratch: &Path,
    memory_budget: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    assemble::encode_tree_to(
        root,
        &[&elastickv_codec::adapters::redis::SPEC],
        commit_ts,
        SortOptions {
            memory_budget,
            scratch_dir: scratch.to_path_buf(),
        },
        &mut out,
    )?;
    Ok(out)
}
