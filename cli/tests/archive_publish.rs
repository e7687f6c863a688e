//! `archive pack` publishes its output atomically: the archive is written under a
//! temporary sibling name and renamed into place only when complete, so a pack killed
//! at any point never leaves a (partial) file under the output's name.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn pack_args(output: &str) -> [&str; 7] {
    [
        "archive",
        "pack",
        "--input",
        "tree",
        "--output",
        output,
        "--compression",
    ]
}

fn pack(dir: &Path, output: &str) -> Command {
    let mut command = Command::new(MAIN);
    command
        .current_dir(dir)
        .args(pack_args(output))
        .arg("none")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// One generated tree (its writing dominates the test's time) for both checks: a
/// complete pack leaves its output alone, 0600, and a killed one never its name.
#[test]
fn a_killed_pack_never_leaves_its_output_name() {
    let dir = tempfile::tempdir().unwrap();
    generate_redis_mixed(dir.path(), "0.02", "--tree", "tree");
    let started = Instant::now();
    assert!(pack(dir.path(), "full.tar").status().unwrap().success());
    let whole = started.elapsed();
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["full.tar", "tree"], "no temporary file left");
    assert_eq!(mode(&dir.path().join("full.tar")), 0o600 & !umask());
    let full = fs::read(dir.path().join("full.tar")).unwrap();
    let mut cut_short = 0;
    // Kill points spread over the whole run, from before the first byte to the rename.
    for i in 0..8u32 {
        let output = format!("killed-{i}.tar");
        let mut child = pack(dir.path(), &output).spawn().unwrap();
        std::thread::sleep(whole.mul_f64(f64::from(i) / 6.0) + Duration::from_millis(1));
        child.kill().unwrap();
        child.wait().unwrap();
        // A kill after the rename leaves the whole archive; before it, no output at all
        // (the temporary file, recognisably named, may stay behind).
        match fs::read(dir.path().join(&output)) {
            Ok(bytes) => assert!(bytes == full, "kill {i}: a partial archive was published"),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "kill {i}");
                cut_short += 1;
            }
        }
        for entry in fs::read_dir(dir.path()).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                ["tree", "full.tar"].contains(&name.as_str())
                    || name.starts_with("killed-")
                        && (name.ends_with(".tar") || name.contains(".tar.tmp-")),
                "kill {i}: unexpected {name}"
            );
        }
    }
    assert!(cut_short > 0, "no kill landed before the pack finished");
}
