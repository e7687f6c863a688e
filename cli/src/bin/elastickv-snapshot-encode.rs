//! Drop-in replacement for the Go `elastickv-snapshot-encode`: same flags, same exit
//! codes (0 ok, 2 data errors, 1 otherwise).

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(elastickv_snapshot::gocompat::encode_main(&args));
}
