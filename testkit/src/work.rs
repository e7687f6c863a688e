//! A scratch directory for one test case.

use std::path::PathBuf;

use tempfile::TempDir;

/// A temporary directory whose paths are numbered in the order a case asks for them,
/// so every step of a round trip (snapshot, tree, re-encoded snapshot…) gets its own
/// and none overwrites another's; everything is removed when it is dropped.
pub struct Work {
    dir: TempDir,
    n: u32,
}

impl Work {
    /// A new, empty directory.
    ///
    /// # Panics
    /// When no temporary directory can be made: the test cannot run.
    pub fn new() -> Self {
        Work {
            dir: tempfile::tempdir().expect("tempdir"),
            n: 0,
        }
    }

    /// A new path, `<n>-<what>`, that nothing has used yet.
    pub fn path(&mut self, what: &str) -> PathBuf {
        self.n += 1;
        self.dir.path().join(format!("{}-{what}", self.n))
    }

    /// The directory the codec's sorts spill into, created on first use and shared by
    /// every step.
    ///
    /// # Panics
    /// When it cannot be created.
    pub fn scratch(&self) -> PathBuf {
        let dir = self.dir.path().join("scratch");
        std::fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    /// Writes `bytes` to a new `snapshot.fsm` path and returns it.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn snapshot(&mut self, bytes: &[u8]) -> PathBuf {
        let path = self.path("snapshot.fsm");
        std::fs::write(&path, bytes).expect("write snapshot");
        path
    }
}

impl Default for Work {
    fn default() -> Self {
        Work::new()
    }
}

/// The names of the entries in `dir`, sorted: what a test expects to be left there.
///
/// # Panics
/// When `dir` cannot be read.
pub fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_fresh_and_the_snapshot_is_written() {
        let mut work = Work::new();
        let (a, b) = (work.path("tree"), work.path("tree"));
        assert_ne!(a, b);
        let snapshot = work.snapshot(b"EKVPBBL1");
        assert_eq!(std::fs::read(&snapshot).unwrap(), b"EKVPBBL1");
        assert!(work.scratch().is_dir());
    }
}
