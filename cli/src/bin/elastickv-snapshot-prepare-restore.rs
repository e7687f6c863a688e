//! Drop-in replacement for the Go `elastickv-snapshot-prepare-restore`: same flags,
//! same exit codes (0 ok, 2 data errors, 1 otherwise), plus `--dry-run`.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(elastickv_snapshot::gocompat_restore::prepare_restore_main(
        &args,
    ));
}
