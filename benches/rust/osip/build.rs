//! Compiles `shim.c` against libosip2's parser when its headers are installed (Debian's
//! `libosip2-dev`); otherwise builds the crate without it, and `osip_shim::available()` says so
//! (the bench prints how to install it). Nothing else in the workspace needs libosip2.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rustc-check-cfg=cfg(osip)");
    let include = Path::new("/usr/include/osipparser2/osip_parser.h");
    if !include.exists() {
        println!(
            "cargo:warning=libosip2 headers not found: the parse bench runs without libosip2 \
             (apt-get install libosip2-dev)"
        );
        return;
    }
    cc::Build::new()
        .file("shim.c")
        .opt_level(3)
        .compile("osipshim");
    println!("cargo:rustc-link-lib=osipparser2");
    println!("cargo:rustc-cfg=osip");
}
