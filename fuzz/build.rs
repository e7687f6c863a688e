//! Declares the `fuzzing` cfg that cargo-fuzz sets, so normal builds do not warn
//! about it (`unexpected_cfgs`).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
