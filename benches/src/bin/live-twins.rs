//! Writes the live twins of a generated workload (`elastickv_synth::sst`): the same
//! store rows as `<DIR>/native.fsm` (EKVTHLC1 + EKVPBBL1) and `<DIR>/sst.fsm`
//! (EKVTHLC1 + EKVSSTI1), for timing `decode` of the two containers on the same data
//! (`/usr/bin/time -v elastickv-snapshot decode --input <DIR>/sst.fsm …`).
//!
//! `--ab DIR` instead reads the two files of DIR alternately, `--rounds` times, each
//! through its reader and the visibility filter (what decode does before the
//! adapters), and prints each round's times, the median ratio SST / native and the
//! throughput of both in MB/s of their own file sizes. Alternating within one run is
//! what makes the ratio meaningful on a shared machine. `--only native|sst` with
//! `--ab` reads just that file, `--rounds` times: one reader alone, for a profiler
//! (`perf record`, `valgrind --tool=callgrind`).
//!
//! ```text
//! live-twins --profile NAME --scale F [--seed N] DIR
//! live-twins --ab DIR [--rounds N] [--only native|sst]
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use elastickv_codec::container::SnapshotReader;
use elastickv_codec::container::sst::SstIngestReader;
use elastickv_codec::mvcc::{Verdict, Visibility};
use elastickv_synth::sst::twins;
use elastickv_synth::workload::{DEFAULT_SEED, Profile, Scale, Workload, write_snapshot};

const USAGE: &str = "usage: live-twins --profile NAME --scale F [--seed N] DIR\n       \
                     live-twins --ab DIR [--rounds N] [--only native|sst]";

/// CPU seconds of the whole process so far, threads that ended included
/// (`/proc/self/stat` utime + stime, in clock ticks of 1/100 s).
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One read: visible entries, wall seconds, CPU seconds of all threads.
struct Timed {
    visible: u64,
    wall: f64,
    cpu: f64,
}

fn read_through(path: &Path, sst: bool) -> Result<Timed, String> {
    let cpu = process_cpu();
    let (visible, wall) = read_entries(path, sst)?;
    Ok(Timed {
        visible,
        wall,
        cpu: process_cpu() - cpu,
    })
}

/// Reads `path` through its reader and the visibility filter; visible entries and seconds.
fn read_entries(path: &Path, sst: bool) -> Result<(u64, f64), String> {
    let started = Instant::now();
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut visibility = Visibility::new();
    let mut visible = 0u64;
    let mut count = |verdict| visible += u64::from(verdict == Ok(Verdict::Visible));
    if sst {
        let mut reader = SstIngestReader::open_file(file).map_err(|e| e.to_string())?;
        while let Some(entry) = reader.next_entry().map_err(|e| e.to_string())? {
            count(visibility.observe(&entry));
        }
    } else {
        let mut reader = SnapshotReader::new(file).map_err(|e| e.to_string())?;
        while let Some(entry) = reader.next_entry().map_err(|e| e.to_string())? {
            count(visibility.observe(&entry));
        }
    }
    Ok((visible, started.elapsed().as_secs_f64()))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Reads one of the twins `rounds` times and prints the median.
fn only(dir: &Path, rounds: usize, which: &str) -> Result<(), String> {
    let sst = match which {
        "sst" => true,
        "native" => false,
        _ => return Err(format!("--only takes native or sst, not {which:?}")),
    };
    let path = dir.join(format!("{which}.fsm"));
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = read_through(&path, sst)?;
        wall.push(t.wall);
        cpu.push(t.cpu);
    }
    println!(
        "{which}: median {:.3} s (cpu {:.2}) over {rounds} rounds",
        median(&mut wall),
        median(&mut cpu)
    );
    Ok(())
}

fn ab(dir: &Path, rounds: usize) -> Result<(), String> {
    let (native, sst) = (dir.join("native.fsm"), dir.join("sst.fsm"));
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len() as f64)
            .map_err(|e| e.to_string())
    };
    let (native_len, sst_len) = (size(&native)?, size(&sst)?);
    let (mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    let (mut native_s, mut sst_s) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let a = read_through(&native, false)?;
        let b = read_through(&sst, true)?;
        if a.visible != b.visible {
            return Err(format!(
                "visible entries differ: {} vs {}",
                a.visible, b.visible
            ));
        }
        println!(
            "round {round}: native {:.3} s (cpu {:.2}), sst {:.3} s (cpu {:.2}), wall ratio {:.3}, cpu ratio {:.3}",
            a.wall,
            a.cpu,
            b.wall,
            b.cpu,
            b.wall / a.wall,
            b.cpu / a.cpu.max(0.01)
        );
        ratios.push(b.wall / a.wall);
        cpu_ratios.push(b.cpu / a.cpu.max(0.01));
        native_s.push(a.wall);
        sst_s.push(b.wall);
    }
    let (a, b) = (median(&mut native_s), median(&mut sst_s));
    println!(
        "median wall ratio sst/native {:.3}, cpu ratio {:.3}; native {a:.3} s = {:.0} MB/s, sst {b:.3} s = {:.0} MB/s (own file sizes), {:.0} MB/s of native-equivalent bytes",
        median(&mut ratios),
        median(&mut cpu_ratios),
        native_len / a / 1e6,
        sst_len / b / 1e6,
        native_len / b / 1e6
    );
    Ok(())
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut profile, mut scale, mut seed, mut dir) = (None, 1.0, DEFAULT_SEED, None);
    let (mut ab_dir, mut rounds, mut which) = (None, 9, None);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--ab" => ab_dir = Some(PathBuf::from(value()?)),
            "--only" => which = Some(value()?),
            "--rounds" => rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--profile" => profile = Some(value()?.parse::<Profile>().map_err(|e| e.to_string())?),
            "--scale" => scale = value()?.parse().map_err(|e| format!("--scale: {e}"))?,
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => return Err(USAGE.to_owned()),
        }
    }
    if let Some(dir) = ab_dir {
        return match which {
            Some(which) => only(&dir, rounds.max(1), &which),
            None => ab(&dir, rounds.max(1)),
        };
    }
    let (Some(profile), Some(dir)) = (profile, dir) else {
        return Err(USAGE.to_owned());
    };
    let scale = Scale::new(scale).map_err(|e| e.to_string())?;
    let (snapshot, _) = write_snapshot(Vec::new(), &Workload::new(profile, scale), seed)
        .map_err(|e| e.to_string())?;
    let twins = twins(&snapshot).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (name, bytes) in [("native.fsm", &twins.native), ("sst.fsm", &twins.sst)] {
        std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
        println!("{name}: {} bytes", bytes.len());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("live-twins: {e}");
            ExitCode::FAILURE
        }
    }
}
