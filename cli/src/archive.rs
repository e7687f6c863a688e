//! `archive pack|unpack`: a dump tree ↔ one tar(.zst) file, byte-compatible with the
//! Go `elastickv-snapshot-archive`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use elastickv_codec::archive::{self, ArchiveError, Compression, PackSummary, UnpackSummary};

use crate::failure::Failure;
use crate::progress::Bar;

#[derive(Debug, Args)]
pub struct Opts {
    #[command(subcommand)]
    command: ArchiveCommand,
}

#[derive(Debug, Subcommand)]
enum ArchiveCommand {
    /// Verify a dump tree and write it as one tar (zstd by default); `-` = stdout.
    Pack(Paths),
    /// Unpack an archive into a new dump root and verify it; `-` = stdin.
    Unpack(Paths),
}

#[derive(Debug, Args)]
struct Paths {
    /// pack: the dump root; unpack: the archive (`-` for stdin).
    #[arg(long)]
    input: PathBuf,
    /// pack: the archive to create (`-` for stdout); unpack: the new dump root.
    #[arg(long)]
    output: PathBuf,
    /// zstd or none.
    #[arg(long, default_value = "zstd")]
    compression: String,
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    let fail = |context: &'static str| move |e: ArchiveError| Failure::from_error(context, &e);
    match opts.command {
        ArchiveCommand::Pack(p) => {
            let compression = Compression::parse(&p.compression).map_err(fail("archive"))?;
            let summary = pack(&p.input, &p.output, compression).map_err(fail("pack"))?;
            eprintln!(
                "packed {} -> {} ({}): {} directories, {} files, {} bytes",
                p.input.display(),
                p.output.display(),
                compression.name(),
                summary.dirs,
                summary.files,
                summary.bytes
            );
        }
        ArchiveCommand::Unpack(p) => {
            let compression = Compression::parse(&p.compression).map_err(fail("archive"))?;
            let summary = unpack(&p.input, &p.output, compression).map_err(fail("unpack"))?;
            eprintln!(
                "unpacked {} -> {} ({}): {} directories, {} files, {} bytes; tree verified",
                p.input.display(),
                p.output.display(),
                compression.name(),
                summary.dirs,
                summary.files,
                summary.bytes
            );
        }
    }
    Ok(())
}

/// Pack to a file, or to stdout for `-`.
pub fn pack(
    input: &Path,
    output: &Path,
    compression: Compression,
) -> Result<PackSummary, ArchiveError> {
    if output == Path::new("-") {
        let stdout = io::stdout();
        let summary = Bar::run(|bar| {
            archive::pack_tree_with_progress(input, stdout.lock(), compression, bar)
        })?;
        io::stdout()
            .flush()
            .map_err(|e| ArchiveError::io("stdout", e))?;
        Ok(summary)
    } else {
        Bar::run(|bar| archive::pack_to_file(input, output, compression, bar))
    }
}

/// Unpack from a file, or from stdin for `-`.
pub fn unpack(
    input: &Path,
    output: &Path,
    compression: Compression,
) -> Result<UnpackSummary, ArchiveError> {
    if input == Path::new("-") {
        Bar::run(|bar| {
            archive::unpack_archive_with_progress(
                io::stdin().lock(),
                None,
                output,
                compression,
                bar,
            )
        })
    } else {
        let file = archive::open_archive_input(input)?;
        let total = file.metadata().ok().map(|m| m.len());
        Bar::run(|bar| archive::unpack_archive_with_progress(file, total, output, compression, bar))
    }
}
