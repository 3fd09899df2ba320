//! The hot build without cargo (loader/fastbuild.ts): the replay file each workspace unit
//! leaves (how to run it again), and `hotgen-rustc --hotgen-replay`, which runs such units
//! again, each after the ones it waits for, without going back to the driver in between.
//!
//! Batch protocol. stdin: one line per unit, `<replay file>\t<indices of the units it
//! waits for, comma-separated>`, in topological order. stdout: `start\t<i>\t<ms since the
//! Unix epoch>` before unit i is spawned, `done\t<i>\t<exit code>` after it exited. stderr:
//! the units' own stderr, whole lines. At most `$HOTGEN_REPLAY_JOBS` units run at once;
//! after a failure no unit starts. Exit code 0 when every unit succeeded, else 1.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{exit, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::{exit_code, now_ms};

/// The first argument that selects the batch mode (never a rustc path).
pub const BATCH_FLAG: &str = "--hotgen-replay";

/// Variables of cargo's jobserver: they name descriptors or a fifo of the cargo run that
/// started this unit, gone by the time the unit runs again (rustc then makes its own).
const JOBSERVER_ENV: [&str; 3] = ["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"];

/// Writes how to run this unit again: `cwd`, then `arg` per argument (rustc first, as
/// cargo gave them), then `env` per `NAME=value`, each tag and value NUL-terminated.
pub fn write_replay(dir: &Path, stem: &str, rustc: &OsString, args: &[String]) -> io::Result<()> {
    let mut out: Vec<u8> = Vec::new();
    let mut put = |tag: &[u8], v: &[u8]| {
        out.extend_from_slice(tag);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    };
    put(b"cwd", env::current_dir()?.as_os_str().as_bytes());
    put(b"arg", rustc.as_bytes());
    for a in args {
        put(b"arg", a.as_bytes());
    }
    for (k, v) in env::vars_os() {
        if JOBSERVER_ENV.iter().any(|j| k.as_bytes() == j.as_bytes()) {
            continue;
        }
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        put(b"env", &kv);
    }
    let tmp = dir.join(format!(".{stem}.{}", std::process::id()));
    fs::write(&tmp, out)?;
    fs::rename(&tmp, dir.join(stem))
}

/// A replay file read back.
struct Replay {
    cwd: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

fn read_replay(file: &Path) -> io::Result<Replay> {
    let bytes = fs::read(file)?;
    let mut parts = bytes.split(|&b| b == 0);
    let mut r = Replay { cwd: PathBuf::new(), args: Vec::new(), env: Vec::new() };
    while let (Some(tag), Some(v)) = (parts.next(), parts.next()) {
        match tag {
            b"cwd" => r.cwd = PathBuf::from(OsString::from_vec(v.to_vec())),
            b"arg" => r.args.push(OsString::from_vec(v.to_vec())),
            b"env" => {
                if let Some(eq) = v.iter().position(|&b| b == b'=') {
                    r.env.push((OsString::from_vec(v[..eq].to_vec()), OsString::from_vec(v[eq + 1..].to_vec())));
                }
            }
            _ => {}
        }
    }
    if r.args.is_empty() {
        return Err(io::Error::other("no arguments"));
    }
    Ok(r)
}

/// Runs one unit (this program as cargo would run it) and forwards its stderr line by
/// line under `lock`; returns its exit code (127 when it could not run).
fn run_unit(me: &Path, file: &Path, lock: &Mutex<()>) -> i32 {
    let fail = |msg: String| {
        let _g = lock.lock();
        eprintln!("hotgen-rustc: {}: {msg}", file.display());
        127
    };
    let r = match read_replay(file) {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot read the replay file: {e}")),
    };
    let mut cmd = Command::new(me);
    cmd.args(&r.args).current_dir(&r.cwd).env_clear().envs(r.env).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot run {}: {e}", me.display())),
    };
    let stderr = child.stderr.take().expect("stderr is piped");
    for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
        let _g = lock.lock();
        let mut out = io::stderr().lock();
        let _ = out.write_all(&line);
        let _ = out.write_all(b"\n");
    }
    match child.wait() {
        Ok(s) => exit_code(s),
        Err(e) => fail(format!("lost the unit: {e}")),
    }
}

/// `hotgen-rustc --hotgen-replay`: see the module documentation.
pub fn run_batch() -> ! {
    let me = env::current_exe().unwrap_or_else(|e| crate::die(None, &format!("cannot find this program: {e}")));
    let jobs: usize = env::var("HOTGEN_REPLAY_JOBS").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(1);
    let mut units: Vec<(PathBuf, Vec<usize>)> = Vec::new();
    for line in io::stdin().lock().lines().map_while(Result::ok) {
        let Some((file, deps)) = line.split_once('\t') else { continue };
        units.push((PathBuf::from(file), deps.split(',').filter_map(|d| d.parse().ok()).collect()));
    }
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Waiting,
        Running,
        Done,
        Failed,
    }
    let mut st = vec![St::Waiting; units.len()];
    let lock = Arc::new(Mutex::new(()));
    let (tx, rx) = mpsc::channel::<(usize, i32)>();
    let (mut running, mut failed) = (0usize, false);
    loop {
        for i in 0..units.len() {
            if failed || running >= jobs {
                break;
            }
            if st[i] != St::Waiting || !units[i].1.iter().all(|&d| st.get(d) == Some(&St::Done)) {
                continue;
            }
            st[i] = St::Running;
            running += 1;
            println!("start\t{i}\t{:.3}", now_ms());
            let (me, file, lock, tx) = (me.clone(), units[i].0.clone(), Arc::clone(&lock), tx.clone());
            thread::spawn(move || {
                let code = run_unit(&me, &file, &lock);
                let _ = tx.send((i, code));
            });
        }
        if running == 0 {
            break;
        }
        let Ok((i, code)) = rx.recv() else { break };
        running -= 1;
        st[i] = if code == 0 { St::Done } else { St::Failed };
        failed |= code != 0;
        println!("done\t{i}\t{code}");
    }
    exit(if st.iter().all(|&s| s == St::Done) { 0 } else { 1 })
}
