//! No child outlives torchup (the supervisor), one torchup per environment (the lock),
//! across real processes: a helper process (this test binary re-run on one ignored test)
//! holds the lock or spawns children through the runner, and is then SIGKILLed.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use torchup::exec::{ExitState, RunSpec, Runner, TokioRunner, supervise};
use torchup::install::lock::{EnvLock, LockError};

const READY: &str = "HELPER-READY";
const TREE_VAR: &str = "TORCHUP_TEST_TREE";

/// Run this test binary's ignored helper `name` with `envs`; returns once it printed READY.
fn start_helper(name: &str, envs: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(READY) {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("helper never got ready");
    child
}

fn sigkill(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Live processes whose environment carries `TREE_VAR=<marker>`.
fn tree_members(marker: &str) -> Vec<i32> {
    let needle = format!("{TREE_VAR}={marker}");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit_once(')').is_some_and(|(_, a)| a.trim_start().starts_with('Z')))
            .unwrap_or(true);
        if zombie {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// All three sleeps of [`tree_script`] run (whatever else carries the marker: the test's
/// helper process, the supervisor, the shell unless it exec'd its last command).
fn whole_tree_running(marker: &str) -> bool {
    let sleeps = tree_members(marker)
        .into_iter()
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0")))
        .count();
    sleeps >= 3
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos() ^ rand_ish())
}

fn rand_ish() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// A shell whose children survive it unless something kills the tree: a background
/// sleep in the same group, one in a new session (escapes any process-group kill), and a
/// foreground sleep.
fn tree_script() -> RunSpec {
    RunSpec::new(["sh", "-c", "sleep 300 & setsid sleep 302 & sleep 301"])
}

fn enable_supervisor() {
    supervise::enable(PathBuf::from(env!("CARGO_BIN_EXE_torchup")));
}

#[test]
#[ignore = "helper process for grandchildren_die_when_torchup_is_sigkilled"]
fn helper_spawns_a_tree_through_the_runner() {
    let Ok(marker) = std::env::var(TREE_VAR) else { return };
    enable_supervisor();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let run = tokio::spawn(async move {
            TokioRunner.run(tree_script().env(TREE_VAR, marker), None, CancellationToken::new()).await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        println!("{READY}");
        let _ = run.await;
    });
}

#[test]
fn grandchildren_die_when_torchup_is_sigkilled() {
    let marker = unique("kill");
    let mut helper = start_helper("helper_spawns_a_tree_through_the_runner", &[(TREE_VAR, &marker)]);
    wait_for("the tree to start", 30, || whole_tree_running(&marker));
    sigkill(&mut helper);
    wait_for("every member of the tree to die", 15, || tree_members(&marker).is_empty());
}

#[tokio::test]
async fn cancel_stops_grandchildren_in_other_sessions_too() {
    enable_supervisor();
    let marker = unique("cancel");
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let m2 = marker.clone();
    let watcher = tokio::spawn(async move {
        let start = Instant::now();
        while !whole_tree_running(&m2) && start.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let started_whole = whole_tree_running(&m2);
        c2.cancel();
        started_whole
    });
    let started = Instant::now();
    let out = TokioRunner.run(tree_script().env(TREE_VAR, &marker), None, cancel).await.unwrap();
    assert!(watcher.await.unwrap(), "the whole tree (grandchildren in other sessions) was running before the cancel");
    assert_eq!(out.state, ExitState::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(25));
    wait_for("the cancelled tree to die", 10, || tree_members(&marker).is_empty());
}

#[tokio::test]
async fn leftovers_of_a_finished_command_are_stopped_and_its_status_kept() {
    enable_supervisor();
    let marker = unique("exit");
    let spec = RunSpec::new(["sh", "-c", "setsid sleep 303 & echo out; echo err >&2; exit 7"]).env(TREE_VAR, &marker);
    let out = TokioRunner.run(spec.timeout(Duration::from_secs(30)), None, CancellationToken::new()).await.unwrap();
    assert_eq!(out.state, ExitState::Code(7));
    assert_eq!(out.stdout.trim(), "out");
    assert_eq!(out.stderr.trim(), "err");
    wait_for("the leftover to die", 10, || tree_members(&marker).is_empty());

    let out = TokioRunner.run(RunSpec::new(["sh", "-c", "kill -9 $$"]), None, CancellationToken::new()).await.unwrap();
    assert_eq!(out.state, ExitState::Signal);

    let out =
        TokioRunner.run(RunSpec::new(["cat"]).stdin("piped through"), None, CancellationToken::new()).await.unwrap();
    assert_eq!(out.stdout, "piped through");
}

#[tokio::test]
async fn a_missing_program_is_still_not_found() {
    enable_supervisor();
    let err = TokioRunner
        .run(RunSpec::new(["torchup-no-such-program-xyz"]), None, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
#[ignore = "helper process for a_lock_held_by_another_process_is_named_then_taken_over"]
fn helper_holds_the_lock() {
    let (Ok(state), Ok(prefix)) = (std::env::var("TORCHUP_TEST_LOCK_STATE"), std::env::var("TORCHUP_TEST_LOCK_PREFIX"))
    else {
        return;
    };
    let _lock = EnvLock::acquire_as(Path::new(&state), Path::new(&prefix), false, "torchup install --yes").unwrap();
    println!("{READY}");
    std::thread::sleep(Duration::from_secs(300));
}

#[test]
fn a_lock_held_by_another_process_is_named_then_taken_over() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let real = t.path().join("env with space");
    std::fs::create_dir_all(&real).unwrap();
    let link = t.path().join("linked-env");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut helper = start_helper(
        "helper_holds_the_lock",
        &[("TORCHUP_TEST_LOCK_STATE", state.to_str().unwrap()), ("TORCHUP_TEST_LOCK_PREFIX", real.to_str().unwrap())],
    );
    // Through the symlink: the same environment.
    let err = EnvLock::acquire(&state, &link, false).unwrap_err();
    match &err {
        LockError::Held { pid, command, since } => {
            assert_eq!(*pid, helper.id());
            assert_eq!(command, "torchup install --yes");
            assert!(since.is_some());
        }
        other => panic!("{other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&format!("another torchup (pid {}, `torchup install --yes`, since ", helper.id())), "{msg}");
    assert!(msg.ends_with("wait for it or pass --wait"), "{msg}");
    assert_eq!(EnvLock::holder(&state, &link).map(|h| h.pid), Some(helper.id()));

    sigkill(&mut helper);
    // The OS released the dead run's lock: taken over at once.
    let lock = EnvLock::acquire(&state, &link, false).unwrap();
    assert_eq!(EnvLock::holder(&state, &real).map(|h| h.pid), Some(std::process::id()));
    drop(lock);
    assert_eq!(EnvLock::holder(&state, &real), None);
}

#[test]
fn wait_queues_behind_the_holder() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let prefix = t.path().join("env");
    std::fs::create_dir_all(&prefix).unwrap();
    let mut helper = start_helper(
        "helper_holds_the_lock",
        &[("TORCHUP_TEST_LOCK_STATE", state.to_str().unwrap()), ("TORCHUP_TEST_LOCK_PREFIX", prefix.to_str().unwrap())],
    );
    let pid = helper.id() as i32;
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        // SAFETY: kill(2) on the helper's pid.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    });
    let start = Instant::now();
    let _lock = EnvLock::acquire(&state, &prefix, true).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(500));
    killer.join().unwrap();
    let _ = helper.wait();
}

#[tokio::test]
async fn dropping_a_running_child_stops_its_tree() {
    // The wizard aborts its verify task on Ctrl-C: the runner's future is dropped mid-run.
    enable_supervisor();
    let marker = unique("abort");
    let spec = tree_script().env(TREE_VAR, &marker);
    let task = tokio::spawn(async move { TokioRunner.run(spec, None, CancellationToken::new()).await });
    let start = Instant::now();
    while !whole_tree_running(&marker) {
        assert!(start.elapsed() < Duration::from_secs(20), "the tree never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    let _ = task.await;
    wait_for("the dropped child's tree to die", 10, || tree_members(&marker).is_empty());
}
