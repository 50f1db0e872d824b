//! Lays out the release binary's code by `layout/tollgate.order` (written by
//! `.ci/layout-profile`): the functions that run when Tollgate starts and relays, side by side,
//! so the kernel keeps a few MB of code resident instead of 64 KiB blocks scattered over all
//! of it. Only release builds for x86_64 Linux (gnu), linked by lld as Rust's default there;
//! `TOLLGATE_NO_LAYOUT=1` leaves the linker's own order (e.g. with another linker).

fn main() {
    let order = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("layout/tollgate.order");
    println!("cargo::rerun-if-changed={}", order.display());
    println!("cargo::rerun-if-env-changed=TOLLGATE_NO_LAYOUT");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let wanted = var("PROFILE") == "release"
        && var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("TOLLGATE_NO_LAYOUT").is_empty()
        && order.is_file();
    if wanted {
        println!(
            "cargo::rustc-link-arg-bin=tollgate=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names of functions since renamed or gone are skipped without a warning each.
        println!("cargo::rustc-link-arg-bin=tollgate=-Wl,--no-warn-symbol-ordering");
    }
    // Relative relocations packed (DT_RELR): the loader reads kilobytes at start-up instead of
    // a 2 MB table. The binary then needs glibc 2.36 or later, so only when building on one.
    if wanted && glibc_at_least(2, 36) {
        println!("cargo::rustc-link-arg-bin=tollgate=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc (`getconf GNU_LIBC_VERSION`: "glibc 2.36") is at least this.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().trim_start_matches("glibc ").split('.');
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
    matches!((next(), next()), (Some(a), Some(b)) if (a, b) >= (major, minor))
}
