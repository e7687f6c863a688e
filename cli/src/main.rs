//! `elastickv-snapshot`: inspect, decode, encode and verify elastickv snapshots.

mod failure;
mod inspect;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Work with elastickv snapshots (.fsm) and their dump trees.
#[derive(Debug, Parser)]
#[command(name = "elastickv-snapshot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a snapshot's container, header, footer and record counters.
    Inspect(inspect::Opts),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(opts) => inspect::run(opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
