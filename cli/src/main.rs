//! `elastickv-snapshot`: inspect, decode, encode, verify and generate elastickv snapshots.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use elastickv_snapshot::{archive, decode, encode, generate, inspect, prepare_restore, verify};

/// Work with elastickv snapshots (.fsm) and their dump trees.
#[derive(Debug, Parser)]
#[command(name = "elastickv-snapshot", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a snapshot's container, header, footer and record counters.
    Inspect(inspect::Opts),
    /// Decode a snapshot into a dump tree (MANIFEST.json and CHECKSUMS written last).
    Decode(decode::Opts),
    /// Encode a dump tree into a snapshot, published atomically (optionally self-tested).
    Encode(encode::Opts),
    /// Check a dump tree: MANIFEST, CHECKSUMS, unlisted files, optionally the round trip.
    Verify(verify::Opts),
    /// Write a deterministic synthetic snapshot or dump tree from a workload profile.
    Generate(generate::Opts),
    /// Seed a new raft data directory from an encoded payload (checked, then renamed
    /// into place).
    PrepareRestore(prepare_restore::Opts),
    /// Pack a dump tree into one tar(.zst) file, or unpack and verify one.
    Archive(archive::Opts),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return command_line_error(&error),
    };
    let result = match cli.command {
        Command::Inspect(opts) => inspect::run(opts),
        Command::Decode(opts) => decode::run(opts),
        Command::Encode(opts) => encode::run(opts),
        Command::Verify(opts) => verify::run(opts),
        Command::Generate(opts) => generate::run(opts),
        Command::PrepareRestore(opts) => prepare_restore::run(opts),
        Command::Archive(opts) => archive::run(opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// `--help` and `--version` exit 0; a malformed command line is an `error[usage]` with
/// exit 1 like every other usage error, not clap's default 2, which scripts read as
/// rejected data.
fn command_line_error(error: &clap::Error) -> ExitCode {
    if !error.use_stderr() {
        // Printing help to a closed pipe is not worth a second error.
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let rendered = error.render().to_string();
    let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    eprint!("error[usage]: {message}");
    ExitCode::from(1)
}
