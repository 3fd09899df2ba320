//! hotgen's rustc wrapper: set as `RUSTC_WRAPPER` by `hotgen dev` (and `hotgen doctor
//! --build`) for hot builds only, in a target directory of their own. Cargo runs it as
//! `hotgen-rustc <rustc> <args...>`.
//!
//! Every library unit of a package in the entry crate's dependency closure (listed in
//! `$HOTGEN_CLOSURE_FILE`, one `<role>\t<manifest dir>` line each) is built as rlib+dylib
//! with `-C prefer-dynamic`, so each crate, workspace or registry, exists exactly once as
//! a shared object. Everything else (build scripts, proc-macros, cargo's probes, crates
//! outside the closure) passes through unchanged. Facts this relies on: cargo runs
//! `$RUSTC_WRAPPER <rustc> <args...>` (Cargo book, "Configuration: build.rustc-wrapper");
//! rustc emits every `--crate-type` it is given, and `-C prefer-dynamic` links dependencies as dylibs
//! (rustc book, "Command-line Arguments", "Codegen Options"); hotgen's README,
//! "Architecture": The hot build.
//!
//! For each dylib it writes a record `$HOTGEN_UNITS_DIR/lib<name>-<hash>` (tab-separated
//! lines `crate`, `role`, `dir`, `so`, `rlib`, `flags`, then one `dep` per dylib dependency), from which the
//! build driver learns the `.so` files cargo does not know about, and their order. The
//! record's `timing` line says where the unit's time went (loader/units.ts `UnitTiming`):
//! the wrapper's own start, rustc's start and end, the wrapper's end (ms since the Unix
//! epoch) and the time spent in the linker (ms). For the latter the wrapper is also the
//! linker rustc runs (`-C linker=<this program>`, the real one in `HOTGEN_REAL_LINKER`):
//! it times the real linker's run and appends it to `HOTGEN_LINK_LOG`.
//!
//! With `HOTGEN_REPLAY_DIR` set (by `hotgen dev`, to an owner-only directory of the
//! session), each workspace crate's unit also leaves `<dir>/<stem>`: its working
//! directory, its arguments (rustc and rustc's) and its environment, NUL-separated, so the
//! driver can run the same unit again without cargo after an edit to its sources
//! (loader/fastbuild.ts), which it does through `hotgen-rustc --hotgen-replay` (fast.rs).
//!
//! std only (with the modules fast.rs and link.rs beside it), compiled by hotgen with the
//! workspace's own rustc.

use std::collections::HashMap;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{exit, Command, ExitStatus, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

mod fast;
mod link;

use link::{run_linker, shim_linker, Linking, LINK_LOG_ENV, REAL_LINKER_ENV};

/// Milliseconds since the Unix epoch (the driver compares them with its own wall clock).
pub(crate) fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// What the closure file says about a package directory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Registry,
    Reloadable,
    Frozen,
    Entry,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        match s {
            "registry" => Some(Role::Registry),
            "reloadable" => Some(Role::Reloadable),
            "frozen" => Some(Role::Frozen),
            "entry" => Some(Role::Entry),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Role::Registry => "registry",
            Role::Reloadable => "reloadable",
            Role::Frozen => "frozen",
            Role::Entry => "entry",
        }
    }
}

/// The parts of a rustc command line the wrapper looks at.
#[derive(Default, Debug)]
struct Unit {
    crate_name: Option<String>,
    crate_types: Vec<String>,
    extra_filename: Option<String>,
    has_metadata: bool,
    out_dir: Option<PathBuf>,
    source: Option<PathBuf>,
    has_check_cfg: bool,
    is_test: bool,
}

fn parse_unit(args: &[String]) -> Unit {
    let mut u = Unit::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let next = args.get(i + 1).map(String::as_str);
        let (opt, val, used) = match a.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v), 1),
            _ => (a, next, 2),
        };
        match opt {
            "--crate-name" => u.crate_name = val.map(str::to_owned),
            "--crate-type" => u.crate_types.extend(val.unwrap_or("").split(',').map(str::to_owned)),
            "--out-dir" => u.out_dir = val.map(PathBuf::from),
            "--check-cfg" => u.has_check_cfg = true,
            "--test" => u.is_test = true,
            "-C" | "--codegen" => {
                if let Some(v) = val.and_then(|v| v.strip_prefix("extra-filename=")) {
                    u.extra_filename = Some(v.to_owned());
                }
                u.has_metadata |= val.is_some_and(|v| v.starts_with("metadata="));
            }
            _ if a.starts_with("-Cextra-filename=") => u.extra_filename = Some(a["-Cextra-filename=".len()..].to_owned()),
            _ if !a.starts_with('-') && a.ends_with(".rs") => u.source = Some(PathBuf::from(a)),
            _ => {}
        }
        i += if matches!(opt, "--crate-name" | "--crate-type" | "--out-dir" | "--check-cfg" | "-C" | "--codegen") { used } else { 1 };
    }
    u
}

pub(crate) fn die(krate: Option<&str>, msg: &str) -> ! {
    match krate {
        Some(k) => eprintln!("hotgen-rustc: crate `{k}`: {msg}"),
        None => eprintln!("hotgen-rustc: {msg}"),
    }
    exit(1)
}

/// The closure file: manifest directory -> role.
fn read_closure() -> HashMap<PathBuf, Role> {
    let mut map = HashMap::new();
    let Some(file) = env::var_os("HOTGEN_CLOSURE_FILE") else { return map };
    let text = fs::read_to_string(&file).unwrap_or_else(|e| die(None, &format!("cannot read {}: {e}", Path::new(&file).display())));
    for line in text.lines() {
        if let Some((role, dir)) = line.split_once('\t') {
            if let Some(r) = Role::parse(role) {
                map.insert(PathBuf::from(dir), r);
            }
        }
    }
    map
}

/// The command that runs rustc: `rustc`, or the user's own wrapper (e.g. sccache) around it.
fn rustc_command(rustc: &OsString) -> Command {
    match env::var_os("HOTGEN_CHAIN_WRAPPER").filter(|w| !w.is_empty()) {
        Some(w) => {
            let mut c = Command::new(w);
            c.arg(rustc);
            c
        }
        None => Command::new(rustc),
    }
}

fn main() {
    let started = now_ms();
    if let Some(real) = env::var_os(REAL_LINKER_ENV) {
        run_linker(&real);
    }
    if env::args_os().nth(1).is_some_and(|a| a == fast::BATCH_FLAG) {
        fast::run_batch();
    }
    let mut raw: Vec<OsString> = env::args_os().skip(1).collect();
    if raw.is_empty() {
        die(None, "expected the rustc path as the first argument (hotgen sets this program as RUSTC_WRAPPER)");
    }
    let rustc = raw.remove(0);
    let args: Option<Vec<String>> = raw.iter().map(|a| a.clone().into_string().ok()).collect();
    let unit = args.as_deref().map(parse_unit);
    let role = match (&args, &unit) {
        (Some(_), Some(u)) => dylib_role(u),
        _ => None,
    };
    let (Some(args), Some(unit), Some(role)) = (args, unit, role) else {
        let err = rustc_command(&rustc).args(&raw).exec();
        die(None, &format!("cannot run {}: {err}", Path::new(&rustc).display()))
    };
    let krate = unit.crate_name.clone().unwrap_or_default();
    let units_dir = env::var_os("HOTGEN_UNITS_DIR").map(PathBuf::from).unwrap_or_else(|| die(Some(&krate), "HOTGEN_UNITS_DIR is not set"));
    match build_dylib(&rustc, &args, &unit, role, &units_dir, started) {
        Ok(code) => exit(code),
        Err(e) => die(Some(&krate), &e.to_string()),
    }
}

/// The role of a unit that must become a dylib, or None to pass it through.
fn dylib_role(u: &Unit) -> Option<Role> {
    let is_lib = u.crate_types.iter().any(|t| matches!(t.as_str(), "lib" | "rlib" | "dylib"));
    let name = u.crate_name.as_deref()?;
    // Cargo passes `-C metadata` to every unit it builds (not to its own or build scripts' probes).
    if !is_lib || u.is_test || !u.has_metadata || u.source.is_none() || u.out_dir.is_none() || name.starts_with("build_script_") {
        return None;
    }
    if u.crate_types.iter().any(|t| t == "proc-macro") {
        return None;
    }
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR")?);
    read_closure().get(&dir).copied()
}

/// One `--extern` argument rewritten for a dylib unit: the dependency's `.so` when it has
/// a record (cargo's pipelining hands out the `.rmeta`, from which rustc would link the
/// crate statically), else the argument as given. The `.so` alone, not the `.rlib` beside
/// it: rustc then reads one crate's metadata once (0.8 s instead of 1.0 s for a one-line
/// edit in examples/server's `api`).
fn rewrite_extern(spec: &str, units_dir: &Path, deps: &mut Vec<String>) -> String {
    let Some((name, file)) = spec.split_once('=') else { return spec.to_owned() };
    let stem = Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let Ok(rec) = fs::read_to_string(units_dir.join(&stem)) else { return spec.to_owned() };
    match rec.lines().find_map(|l| l.strip_prefix("so\t")) {
        Some(so) => {
            deps.push(so.to_owned());
            format!("{name}={so}")
        }
        None => spec.to_owned(),
    }
}

fn build_dylib(rustc: &OsString, args: &[String], u: &Unit, role: Role, units_dir: &Path, started: f64) -> io::Result<i32> {
    let out_dir = u.out_dir.clone().unwrap_or_default();
    let stem = format!("lib{}{}", u.crate_name.as_deref().unwrap_or_default(), u.extra_filename.as_deref().unwrap_or_default());
    // cdylib and staticlib outputs share the dylib's file name: cargo's command builds them
    // as it asked, and the dylib comes from a second, link-only call into a subdirectory.
    let separate = u.crate_types.iter().any(|t| t == "cdylib" || t == "staticlib");
    let so_dir = if separate { out_dir.join("hotgen-dylib") } else { out_dir.clone() };
    let mut deps = Vec::new();
    let mut extra: Vec<String> = vec!["-C".into(), "prefer-dynamic".into()];
    if role != Role::Registry {
        extra.extend(["--cfg".into(), "hotgen".into()]);
        if u.has_check_cfg {
            extra.extend(["--check-cfg".into(), "cfg(hotgen)".into(), "--check-cfg".into(), "cfg(hotgen_entry)".into()]);
        }
    }
    if role == Role::Entry {
        extra.extend(["--cfg".into(), "hotgen_entry".into()]);
    }
    if role == Role::Frozen {
        extra.extend(["-C".into(), "link-arg=-Wl,-z,nodelete".into()]);
    }
    if let Some(link) = env::var_os("HOTGEN_LINK_ARGS") {
        extra.extend(link.to_string_lossy().split('\x1f').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    // Where cdylib crates' dylibs live, for rustc to find them as indirect dependencies.
    extra.extend(["-L".into(), format!("dependency={}", out_dir.join("hotgen-dylib").display())]);
    let no_std = u.source.as_ref().and_then(|s| fs::read_to_string(s).ok()).is_some_and(|t| t.contains("no_std"));
    if no_std {
        // A `#![no_std]` dylib needs std linked in for its panic handler (unstable book,
        // "`--extern` Options": `force` satisfies "the presence of an allocator or panic handler").
        extra.extend(["-Z".into(), "unstable-options".into(), "--extern".into(), "force:std".into()]);
    }

    let mut main_args: Vec<String> = Vec::with_capacity(args.len() + extra.len());
    let mut link_args: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (opt, val, width) = match a.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned()), 1),
            _ => (a.clone(), args.get(i + 1).cloned(), 2),
        };
        match opt.as_str() {
            "--crate-type" => {
                if !separate {
                    i += width;
                    continue;
                }
                main_args.extend(["--crate-type".into(), val.unwrap_or_default()]);
            }
            "--extern" => {
                let e = rewrite_extern(&val.unwrap_or_default(), units_dir, &mut deps);
                main_args.extend(["--extern".into(), e.clone()]);
                link_args.extend(["--extern".into(), e]);
            }
            "--out-dir" => {
                main_args.extend(["--out-dir".into(), val.unwrap_or_default()]);
                link_args.extend(["--out-dir".into(), so_dir.to_string_lossy().into_owned()]);
            }
            "--emit" => {
                main_args.extend(["--emit".into(), val.unwrap_or_default()]);
                link_args.extend(["--emit".into(), "link".into()]);
            }
            "-C" if val.as_deref().is_some_and(|v| v.starts_with("incremental=")) => {
                // The second call of a cdylib crate must not share the first one's session.
                main_args.extend([a.clone(), val.unwrap_or_default()]);
            }
            _ => {
                main_args.push(a.clone());
                link_args.push(a.clone());
                i += 1;
                continue;
            }
        }
        i += width;
    }
    if separate {
        link_args.extend(["--crate-type".into(), "rlib".into(), "--crate-type".into(), "dylib".into(), "--cap-lints".into(), "allow".into()]);
        link_args.extend(extra.iter().cloned());
    } else {
        main_args.extend(["--crate-type".into(), "rlib".into(), "--crate-type".into(), "dylib".into()]);
        main_args.extend(extra.iter().cloned());
    }

    let me = env::current_exe()?;
    let real_linker = shim_linker(&mut main_args, &me);
    let real_link_only = shim_linker(&mut link_args, &me);
    fs::create_dir_all(units_dir)?;
    let link_log = units_dir.join(format!(".{stem}.{}.link", std::process::id()));
    let linking = Linking { real: real_linker.as_deref().or(real_link_only.as_deref()), log: &link_log };
    let rustc_start = now_ms();
    let status = run_filtered(rustc, &main_args, no_std, false, &linking)?;
    if !status.success() {
        let _ = fs::remove_file(&link_log);
        return Ok(exit_code(status));
    }
    if separate {
        fs::create_dir_all(&so_dir)?;
        let status = run_filtered(rustc, &link_args, no_std, true, &linking)?;
        if !status.success() {
            let _ = fs::remove_file(&link_log);
            return Ok(exit_code(status));
        }
    }
    let rustc_end = now_ms();
    let link_ms: f64 = fs::read_to_string(&link_log).unwrap_or_default().lines().filter_map(|l| l.trim().parse::<f64>().ok()).sum();
    let _ = fs::remove_file(&link_log);
    let so = so_dir.join(format!("{stem}.so"));
    let rlib = so_dir.join(format!("{stem}.rlib"));
    if !so.exists() {
        return Err(io::Error::other(format!("rustc succeeded but wrote no {}", so.display())));
    }
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let mut rec = format!("crate\t{}\nrole\t{}\ndir\t{dir}\nso\t{}\nrlib\t{}\n", u.crate_name.as_deref().unwrap_or_default(), role.name(), so.display(), rlib.display());
    // What else shaped this dylib (wrapper build, link args): the driver rebuilds a unit whose
    // record disagrees, since cargo's fingerprint does not see the wrapper's flags.
    rec.push_str(&format!("flags\t{}\n", env::var("HOTGEN_FLAGS_KEY").unwrap_or_default()));
    for d in deps {
        rec.push_str(&format!("dep\t{d}\n"));
    }
    if role != Role::Registry {
        if let Some(replay) = env::var_os("HOTGEN_REPLAY_DIR") {
            // An optimisation only: without the file the driver runs cargo.
            let _ = fast::write_replay(Path::new(&replay), &stem, rustc, args);
        }
    }
    rec.push_str(&format!("timing\t{started:.3}\t{rustc_start:.3}\t{rustc_end:.3}\t{:.3}\t{link_ms:.3}\n", now_ms()));
    let tmp = units_dir.join(format!(".{stem}.{}", std::process::id()));
    fs::write(&tmp, rec)?;
    fs::rename(&tmp, units_dir.join(&stem))?;
    Ok(0)
}

pub(crate) fn exit_code(s: ExitStatus) -> i32 {
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

/// Runs rustc with stderr piped through, minus the "metadata ready" artifact notice: cargo
/// would start dependents on the `.rmeta` alone, before the `.rlib` and `.so` they link
/// exist; withheld, cargo waits for this process to exit (cargo `job_state.rs`). `quiet`
/// drops every JSON artifact line (the second, link-only call of a cdylib crate).
fn run_filtered(rustc: &OsString, args: &[String], bootstrap: bool, quiet: bool, linking: &Linking) -> io::Result<ExitStatus> {
    let mut cmd = rustc_command(rustc);
    cmd.args(args).stderr(Stdio::piped());
    if let Some(real) = linking.real {
        cmd.env(REAL_LINKER_ENV, real).env(LINK_LOG_ENV, linking.log);
    }
    if bootstrap {
        cmd.env("RUSTC_BOOTSTRAP", "1");
    }
    let mut child = cmd.spawn()?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut out = io::stderr().lock();
    for line in BufReader::new(stderr).split(b'\n') {
        let line = line?;
        let text = String::from_utf8_lossy(&line);
        let artifact = text.starts_with('{') && (text.contains("\"$message_type\":\"artifact\"") || text.starts_with("{\"artifact\":"));
        if artifact && (quiet || text.contains("\"emit\":\"metadata\"")) {
            continue;
        }
        out.write_all(&line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    child.wait()
}
