//! Link arguments for the optional `torch` feature: tch's own build script cannot pass them
//! to downstream binaries, and without `--no-as-needed` libtorch_cuda is dropped and CUDA
//! reads as unavailable. Does nothing in the default build.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() || std::env::var_os("CARGO_FEATURE_TORCH_CHECK").is_some() {
        return;
    }
    let os = std::env::var("CARGO_TARGET_OS").or_else(|_| std::env::var("CARGO_CFG_TARGET_OS")).unwrap_or_default();
    if os == "linux" {
        if let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
            println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.to_string_lossy());
        }
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
