//! Drop-in replacement for the Go `elastickv-snapshot-archive`: `pack|unpack` first,
//! then the Go flags; exit 0, 2 for the Go data errors, 1 otherwise.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(elastickv_snapshot::gocompat_restore::archive_main(&args));
}
