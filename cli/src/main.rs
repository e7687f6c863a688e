//! `elastickv-snapshot`: inspect, decode, encode and verify elastickv snapshots.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use elastickv_snapshot::{decode, encode, inspect, verify};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(opts) => inspect::run(opts),
        Command::Decode(opts) => decode::run(opts),
        Command::Encode(opts) => encode::run(opts),
        Command::Verify(opts) => verify::run(opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
