//! Lays out the release binary's code by `layout/tollgate.order` (written by
//! `.ci/layout-profile`): the functions that run when Tollgate starts and relays, side by side,
//! so the kernel keeps a few MB of code resident instead of blocks scattered over all of it.
//! Only release builds for x86_64 Linux (gnu) on such a machine, linked by Rust's own lld (the
//! default there from Rust 1.90) with no linker configured; `TOLLGATE_NO_LAYOUT=1` leaves the
//! linker's own order and relocations (e.g. for a binary that must run on glibc < 2.36).

use std::process::Command;

fn main() {
    let order = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("layout/tollgate.order");
    println!("cargo::rerun-if-changed={}", order.display());
    println!("cargo::rerun-if-env-changed=TOLLGATE_NO_LAYOUT");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let wanted = var("PROFILE") == "release"
        && var("TARGET") == "x86_64-unknown-linux-gnu"
        && var("HOST") == var("TARGET")
        && var("TOLLGATE_NO_LAYOUT").is_empty()
        // A linker of the user's choosing may not be lld.
        && var("RUSTC_LINKER").is_empty()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("linker")
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("fuse-ld")
        && rustc_links_with_lld(&var("RUSTC"))
        && order.is_file();
    if !wanted {
        return;
    }
    println!(
        "cargo::rustc-link-arg-bin=tollgate=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    // Names of functions since renamed or gone are skipped without a warning each.
    println!("cargo::rustc-link-arg-bin=tollgate=-Wl,--no-warn-symbol-ordering");
    // Relative relocations packed (DT_RELR): the loader reads kilobytes at start-up instead of
    // a 2 MB table. The binary then needs glibc 2.36 or later, so only when building on one.
    if glibc_at_least(2, 36) {
        println!("cargo::rustc-link-arg-bin=tollgate=-Wl,-z,pack-relative-relocs");
    }
}

/// rustc (`rustc 1.95.0 (…)`) is 1.90 or later, where x86_64 Linux links with its own lld.
fn rustc_links_with_lld(rustc: &str) -> bool {
    let rustc = if rustc.is_empty() { "rustc" } else { rustc };
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    version_at_least(&String::from_utf8_lossy(&out.stdout), "rustc ", (1, 90))
}

/// The build machine's glibc (`getconf GNU_LIBC_VERSION`: "glibc 2.36") is at least this.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    version_at_least(
        &String::from_utf8_lossy(&out.stdout),
        "glibc ",
        (major, minor),
    )
}

fn version_at_least(text: &str, prefix: &str, want: (u32, u32)) -> bool {
    let Some(rest) = text.trim().strip_prefix(prefix) else {
        return false;
    };
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
    matches!((next(), next()), (Some(a), Some(b)) if (a, b) >= want)
}
