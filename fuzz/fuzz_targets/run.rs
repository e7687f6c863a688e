//! The one multiplexed fuzz target: the first input byte selects the oracle
//! (`elastickv_fuzz::ORACLES`), `FUZZER=<name>` pins one.
//!
//! Under `cargo fuzz` (cfg `fuzzing`) this is a libFuzzer target. Built normally it is
//! a replay tool: `cargo run -p elastickv-fuzz --bin run -- <file-or-dir>…` runs every
//! file through its oracle and reports which one failed.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static FORCED: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    elastickv_fuzz::run_input(data, *FORCED.get_or_init(elastickv_fuzz::forced_from_env));
});

#[cfg(not(fuzzing))]
fn main() -> std::process::ExitCode {
    use std::path::PathBuf;

    let forced = elastickv_fuzz::forced_from_env();
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in std::env::args_os().skip(1) {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(&path) {
                Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    return std::process::ExitCode::FAILURE;
                }
            };
            entries.retain(|p| p.is_file());
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path);
        }
    }
    if files.is_empty() {
        eprintln!("usage: run <file-or-dir>...   (FUZZER=<oracle> pins one oracle)");
        return std::process::ExitCode::FAILURE;
    }
    let mut failed = 0;
    for file in &files {
        let data = match std::fs::read(file) {
            Ok(data) => data,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        let oracle = elastickv_fuzz::select(&data, forced).map_or("(empty)", |(name, ..)| name);
        let outcome = std::panic::catch_unwind(|| elastickv_fuzz::run_input(&data, forced));
        match outcome {
            Ok(()) => println!("ok    {oracle:<14} {}", file.display()),
            Err(_) => {
                println!("FAIL  {oracle:<14} {}", file.display());
                failed += 1;
            }
        }
    }
    println!("{} file(s), {failed} failed", files.len());
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
