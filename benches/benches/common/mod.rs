//! Helpers shared by the benches that write file trees (`checksums`, `end_to_end`,
//! `redis`).

use std::path::PathBuf;

/// A fresh directory for the trees a bench writes, removed when dropped.
///
/// `EKV_BENCH_TMPDIR` if set (e.g. `EKV_BENCH_TMPDIR=/var/tmp` to include a real disk),
/// else `/dev/shm` when it is a directory (tmpfs: the bench measures the code, not the
/// disk or the page-cache writeback), else the system temp dir. The full-size runs
/// need up to about 1 GiB there (`redis`: two trees of 100k files, each at least one
/// 4 KiB page; `checksums`: `EKV_BENCH_MIB` + 40 MiB; `end_to_end`: about 300 MiB);
/// where `/dev/shm` is small (Docker's default is 64 MiB), point `EKV_BENCH_TMPDIR`
/// elsewhere. Quick mode (`cargo test --benches`) needs a few MiB.
///
/// # Panics
/// When the directory cannot be created.
pub fn work_dir() -> tempfile::TempDir {
    let base = std::env::var_os("EKV_BENCH_TMPDIR")
        .map(PathBuf::from)
        .or_else(|| {
            let shm = PathBuf::from("/dev/shm");
            shm.is_dir().then_some(shm)
        })
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix("ekv-bench-")
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("work dir in {}: {e}", base.display()))
}
