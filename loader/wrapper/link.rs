//! The rustc wrapper as rustc's linker: rustc runs this program (`-C linker=<it>`) with
//! the real linker in `HOTGEN_REAL_LINKER`; it runs that linker and appends how long it
//! took (ms) to `HOTGEN_LINK_LOG`, so a unit record can tell link time from rustc's own.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{exit, Command};
use std::time::Instant;

use crate::{die, exit_code};

/// Set on rustc's environment: the linker the wrapper runs when rustc runs it as the linker.
pub const REAL_LINKER_ENV: &str = "HOTGEN_REAL_LINKER";
/// Set on rustc's environment: where the wrapper, run as the linker, appends each link's ms.
pub const LINK_LOG_ENV: &str = "HOTGEN_LINK_LOG";

/// Run as the linker (rustc's `-C linker`): runs the real one with the same arguments and
/// exits with its status, after appending its wall time (ms) to `HOTGEN_LINK_LOG`.
pub fn run_linker(real: &OsString) -> ! {
    let t0 = Instant::now();
    let status = Command::new(real).args(env::args_os().skip(1)).env_remove(REAL_LINKER_ENV).env_remove(LINK_LOG_ENV).status();
    let status = status.unwrap_or_else(|e| die(None, &format!("cannot run the linker {}: {e}", Path::new(real).display())));
    if let Some(log) = env::var_os(LINK_LOG_ENV) {
        // Timing only: a failure to record it must not fail the link.
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{:.3}", t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    exit(exit_code(status))
}

/// The `-C linker=X` of a rustc command line: its value, and the indices of the argument(s) carrying it.
fn find_linker(args: &[String]) -> Option<(String, Vec<usize>)> {
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix("-Clinker=").or_else(|| a.strip_prefix("--codegen=linker=")) {
            found = Some((v.to_owned(), vec![i]));
        } else if (a == "-C" || a == "--codegen") && args.get(i + 1).is_some_and(|v| v.starts_with("linker=")) {
            found = Some((args[i + 1]["linker=".len()..].to_owned(), vec![i, i + 1]));
        }
    }
    found
}

/// Whether rustc, given a linker named `real`, drives it as a C compiler: the flavour the
/// target uses for `cc` on Linux, and the one rustc falls back to for a linker name it does
/// not know, such as this program's. Others (`ld.lld`, `rust-lld`, `ld`...) keep their own
/// name, so rustc keeps passing them their own flavour of arguments (their link is not timed).
fn cc_like(real: &str) -> bool {
    let stem = Path::new(real).file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    ["cc", "gcc", "clang", "c++", "g++", "clang++"].contains(&stem) || ["-cc", "-gcc", "-clang", "-g++", "-clang++"].iter().any(|s| stem.ends_with(s))
}

/// Makes `me` (this program) rustc's linker when the real one is C-compiler-like (see
/// `cc_like`; `cc`, rustc's default on Linux, when none is given), or when the command
/// names the linker flavour itself: replaces or adds `-C linker=<me>` in `args` and
/// returns the real linker. None leaves `args` as they were.
pub fn shim_linker(args: &mut Vec<String>, me: &Path) -> Option<String> {
    let flavour = args.iter().any(|a| a.contains("linker-flavor="));
    let (real, at) = find_linker(args).unwrap_or_else(|| ("cc".to_owned(), Vec::new()));
    if !flavour && !cc_like(&real) {
        return None;
    }
    for i in at.into_iter().rev() {
        args.remove(i);
    }
    args.extend(["-C".to_owned(), format!("linker={}", me.display())]);
    Some(real)
}

/// The real linker of a unit and the file where its link times go (see `run_linker`).
pub struct Linking<'a> {
    /// None: rustc runs the real linker itself (not timed).
    pub real: Option<&'a str>,
    pub log: &'a Path,
}
