//! Puts the browser libraries (htmx, ECharts) where the server embeds them from.
//!
//! They come from npm, pinned by `web/package-lock.json`. On a fresh clone `web/node_modules` is
//! missing: this script runs `npm ci --prefix web` once, then copies the two minified files into
//! `crates/minyi-server/assets/vendor/` (git-ignored), which `rust-embed` serves under
//! `/static/vendor/`. Nothing is fetched from a CDN at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: [(&str, &str); 2] = [
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    ("echarts/dist/echarts.min.js", "echarts.min.js"),
];

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let root = manifest.join("../..");
    let web = root.join("web");
    let modules = web.join("node_modules");
    let vendor = manifest.join("assets/vendor");
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package-lock.json").display()
    );
    for (_, name) in FILES {
        println!("cargo:rerun-if-changed={}", vendor.join(name).display());
    }
    if FILES.iter().all(|(_, name)| vendor.join(name).is_file()) && !newer(&web, &vendor) {
        return;
    }
    if FILES.iter().any(|(from, _)| !modules.join(from).is_file()) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&web)
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => panic!(
                "`npm ci --prefix web` failed ({other:?}); install Node.js and npm, or run it by hand"
            ),
        }
    }
    if let Err(e) = std::fs::create_dir_all(&vendor) {
        panic!("cannot create {}: {e}", vendor.display());
    }
    for (from, name) in FILES {
        if let Err(e) = std::fs::copy(modules.join(from), vendor.join(name)) {
            panic!("cannot copy {from} into {}: {e}", vendor.display());
        }
    }
}

/// Whether the lock file changed after the vendored copies were made.
fn newer(web: &Path, vendor: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(&web.join("package-lock.json")),
        modified(&vendor.join(FILES[0].1)),
    ) {
        (Some(lock), Some(copy)) => lock > copy,
        _ => true,
    }
}
