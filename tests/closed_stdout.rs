//! A closed stdout is not a crash: `torchup plan | head -1`, `torchup detect --json | true`.
//! The real binary writes into a pipe whose reading end is already closed (so every write
//! fails with EPIPE, deterministically); it must stop quietly with the SIGPIPE-style status
//! 141 (or its own failure status), never exit 101 with a Rust backtrace.
#![cfg(unix)]

mod support;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::env::Isolated;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/facts").join(format!("{name}.json"))
}

/// A pipe whose reading end is closed: what `| true` leaves once `true` has exited.
fn widowed_pipe() -> Stdio {
    let mut fds = [0i32; 2];
    // SAFETY: `pipe` writes two fresh descriptors into the array on success.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe(2) failed");
    // SAFETY: both descriptors were just created and are owned here only.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    Stdio::from(write_end)
}

fn run_with_closed_stdout(iso: &Isolated, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(args).arg("--offline").env_clear().current_dir(iso.root());
    for (k, v) in iso.envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    // No Python, no GPU: detection must not reach the developer's machine.
    cmd.env("PATH", iso.path("empty-bin")).env("TORCHUP_NVIDIA_SMI", iso.path("no-nvidia-smi")).env("NO_COLOR", "1");
    cmd.stdin(Stdio::null()).stdout(widowed_pipe()).stderr(Stdio::piped());
    cmd.output().expect("run torchup")
}

fn assert_quiet_stop(o: &Output, what: &str, allowed: &[i32]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{what}: a panic on stderr:\n{err}");
    assert_ne!(o.status.code(), Some(101), "{what}: exit 101 is Rust's panic status\n{err}");
    assert!(
        o.status.code().is_some_and(|c| allowed.contains(&c)),
        "{what}: exit {:?}, expected one of {allowed:?}\n{err}",
        o.status.code()
    );
}

#[test]
fn plan_into_a_closed_pipe_exits_141_without_a_backtrace() {
    let iso = Isolated::new().unwrap();
    let f = fixture("win-rtx3050-581-py311-conda-cpu");
    let o = run_with_closed_stdout(&iso, &["plan", "--facts", f.to_str().unwrap()]);
    assert_quiet_stop(&o, "plan", &[141]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("Broken pipe") && !err.contains("os error"), "nothing to say about the lost reader: {err}");
}

#[test]
fn plan_json_into_a_closed_pipe_exits_141() {
    let iso = Isolated::new().unwrap();
    let f = fixture("linux-rtx3050-580-torch28-cu128");
    let o = run_with_closed_stdout(&iso, &["plan", "--json", "--facts", f.to_str().unwrap()]);
    assert_quiet_stop(&o, "plan --json", &[141]);
}

#[test]
fn detect_json_into_a_closed_pipe_keeps_its_own_failure_status() {
    // No Python on PATH: detect prints the JSON document (into the closed pipe) and fails
    // with 3; the failure status says more than the lost reader.
    let iso = Isolated::new().unwrap();
    let o = run_with_closed_stdout(&iso, &["detect", "--json"]);
    assert_quiet_stop(&o, "detect --json", &[3]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "one line naming the fix: {err}");
}

#[test]
fn human_detect_into_a_closed_pipe_does_not_panic() {
    let iso = Isolated::new().unwrap();
    let o = run_with_closed_stdout(&iso, &["detect"]);
    assert_quiet_stop(&o, "detect", &[3]);
}
