//! Drop-in replacement for the Go `elastickv-snapshot-decode`: same flags, same exit
//! codes (0 ok, 1 any error).

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(elastickv_snapshot::gocompat::decode_main(&args));
}
