//! The decode writer: the tree does not depend on `--jobs`, and a decode killed at any
//! point never leaves a tree that carries CHECKSUMS (its completeness marker).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use elastickv_testkit::tree::{Tree, read_tree};
use support::*;

fn decode_args<'a>(output: &'a str, jobs: &'a str) -> Vec<&'a str> {
    vec![
        "decode",
        "--adapter",
        "redis",
        "--input",
        "in.fsm",
        "--output",
        output,
        "--jobs",
        jobs,
    ]
}

/// The tree without what legitimately differs between runs: MANIFEST.json's wall
/// clock, CHECKSUMS' line for it, and the emptied scratch directory.
fn comparable(mut tree: Tree) -> Tree {
    tree.remove("MANIFEST.json");
    // Removed after CHECKSUMS; a kill in between may leave it, empty.
    tree.remove(".scratch");
    if let Some(Some(checksums)) = tree.get_mut("CHECKSUMS") {
        let kept: Vec<&[u8]> = checksums
            .split_inclusive(|&b| b == b'\n')
            .filter(|line| !line.ends_with(b"  MANIFEST.json\n"))
            .collect();
        *checksums = kept.concat();
    }
    tree
}

#[test]
fn the_tree_does_not_depend_on_jobs() {
    let dir = tempfile::tempdir().unwrap();
    generate_redis_mixed(dir.path(), "0.002", "--fsm", "in.fsm");
    let mut trees = Vec::new();
    for jobs in ["1", "2", "8"] {
        let output = format!("out-{jobs}");
        let args: Vec<_> = decode_args(&output, jobs).into_iter().map(os).collect();
        let out = run(MAIN, dir.path(), &args);
        assert!(out.status.success(), "--jobs {jobs}: {}", stderr(&out));
        let verify = run(MAIN, dir.path(), &[os("verify"), os(&output)]);
        assert!(
            verify.status.success(),
            "--jobs {jobs}: {}",
            stderr(&verify)
        );
        trees.push((
            jobs,
            stderr(&out),
            comparable(read_tree(&dir.path().join(&output)).unwrap()),
        ));
    }
    let (_, warnings, first) = &trees[0];
    assert!(
        first.len() > 100,
        "a real workload: {} entries",
        first.len()
    );
    for (jobs, other_warnings, other) in &trees[1..] {
        assert!(first == other, "--jobs {jobs} wrote another tree");
        assert_eq!(warnings, other_warnings, "--jobs {jobs}");
    }
}

#[test]
fn a_killed_decode_never_leaves_checksums() {
    let dir = tempfile::tempdir().unwrap();
    generate_redis_mixed(dir.path(), "0.01", "--fsm", "in.fsm");
    let args = decode_args("full", "4");
    let started = Instant::now();
    let full = Command::new(MAIN)
        .current_dir(dir.path())
        .args(&args)
        .output()
        .unwrap();
    assert!(full.status.success(), "{}", stderr(&full));
    let whole = started.elapsed();
    let whole_tree = comparable(read_tree(&dir.path().join("full")).unwrap());
    // Kill points spread over the whole run, from before the first file to CHECKSUMS.
    for i in 0..12u32 {
        let output = format!("killed-{i}");
        let mut child = Command::new(MAIN)
            .current_dir(dir.path())
            .args(decode_args(&output, "4"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(f64::from(i) / 10.0) + Duration::from_millis(1));
        child.kill().unwrap();
        child.wait().unwrap();
        // A kill may land after CHECKSUMS, while the process exits: then the tree must
        // be the whole tree. Before it, there must be no CHECKSUMS at all.
        let root = dir.path().join(&output);
        if root.join("CHECKSUMS").exists() {
            let verify = run(MAIN, dir.path(), &[os("verify"), os(&output)]);
            assert!(verify.status.success(), "kill {i}: {}", stderr(&verify));
            assert!(
                comparable(read_tree(&root).unwrap()) == whole_tree,
                "kill {i}: a tree with CHECKSUMS differs from the complete one"
            );
        }
    }
}
