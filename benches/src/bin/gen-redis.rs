//! `gen-redis --out FILE [--scale F] [--giant N] [--seed N]`: writes a `redis-mixed`
//! snapshot (see `elastickv_benches::redis_gen`) in constant memory and prints a
//! one-line JSON summary. Used by `benches/peak-rss.sh`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use elastickv_benches::SEED;
use elastickv_benches::redis_gen::{RedisMix, write_redis_snapshot};

const USAGE: &str = "usage: gen-redis --out FILE [--scale F (1.0)] [--giant N (0)] [--seed N]";

fn main() -> ExitCode {
    let mut out = None;
    let mut scale = 1.0f64;
    let mut giant = 0u64;
    let mut seed = SEED;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let parsed = match (flag.as_str(), value.as_deref()) {
            ("--out", Some(v)) => {
                out = Some(v.to_owned());
                true
            }
            ("--scale", Some(v)) => v.parse().map(|v| scale = v).is_ok(),
            ("--giant", Some(v)) => v.parse().map(|v| giant = v).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|v| seed = v).is_ok(),
            _ => false,
        };
        if !parsed {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let Some(out) = out else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mix = RedisMix::redis_mixed(scale).giant(giant);
    let result = File::create(&out).and_then(|file| {
        let (writer, summary) =
            write_redis_snapshot(BufWriter::with_capacity(1 << 20, file), &mix, seed)?;
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        Ok(summary)
    });
    match result {
        Ok(s) => {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(
                stdout,
                "{{\"path\":{out:?},\"bytes\":{},\"entries\":{},\"keys\":{},\"last_commit_ts\":{}}}",
                s.bytes, s.entries, s.keys, s.last_commit_ts
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-redis: {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
