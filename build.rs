//! Bakes the libtorch library folder into the binaries' rpath, so `newsqa` runs without
//! `LD_LIBRARY_PATH`. torch-sys reports the folder to its direct dependents as
//! `DEP_TCH_LIBTORCH_LIB`.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}
