//! The tokio implementation of [`Runner`].

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::capture::{BoundedCapture, CAPTURE_EACH_END};
use super::{ExecError, ExitState, LineSplitter, OutputLine, RunOutcome, RunSpec, Runner, Stream};

/// How long a cancelled child gets to exit after SIGTERM before the group is killed.
const GRACE: Duration = Duration::from_secs(3);
/// Extra time a supervised child gets (its supervisor escalates to SIGKILL after 2 s).
const SUPERVISED_EXTRA: Duration = Duration::from_secs(2);

/// Runs children with tokio, each in its own process group.
#[derive(Debug, Clone, Default)]
pub struct TokioRunner;

impl Runner for TokioRunner {
    async fn run(
        &self,
        spec: RunSpec,
        lines: Option<mpsc::Sender<OutputLine>>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, ExecError> {
        run_child(spec, lines, cancel).await
    }
}

fn build_command(spec: &RunSpec) -> Result<(Command, bool), ExecError> {
    let (program, args) = spec.argv.split_first().ok_or(ExecError::EmptyArgv)?;
    let supervisor = super::supervise::supervisor();
    let mut cmd = match supervisor {
        Some(exe) => {
            // The supervisor starts the program; a missing one must still read as "not found".
            check_program(spec, program)?;
            let argv = super::supervise::supervised_argv(exe, std::process::id(), &spec.argv);
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            cmd
        }
        None => {
            let mut cmd = Command::new(program);
            cmd.args(args);
            cmd
        }
    };
    if spec.clear_env {
        cmd.env_clear();
    }
    for (k, v) in &spec.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A supervisor must get SIGTERM on drop (see TreeGuard), never tokio's SIGKILL, or
        // it could not take its tree down.
        .kill_on_drop(supervisor.is_none());
    #[cfg(unix)]
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    {
        // The supervisor cleans up its tree on SIGTERM; a direct child just dies with us.
        let death_signal = if supervisor.is_some() { libc::SIGTERM } else { libc::SIGKILL };
        let parent = std::process::id() as i32;
        // SAFETY: only async-signal-safe calls between fork and exec (prctl, getppid).
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong, 0, 0, 0);
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("torchup exited while starting a child"));
                }
                Ok(())
            });
        }
    }
    #[cfg(windows)]
    {
        // CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW: no console pops up, Ctrl-C stays ours.
        cmd.creation_flags(0x0000_0200 | 0x0800_0000);
    }
    Ok((cmd, supervisor.is_some()))
}

/// Fail like a direct spawn would when the program cannot be found (PATH as the child sees it).
fn check_program(spec: &RunSpec, program: &str) -> Result<(), ExecError> {
    let path_change = spec.env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone());
    let path = match path_change {
        Some(v) => v.map(std::ffi::OsString::from),
        None if spec.clear_env => None,
        None => std::env::var_os("PATH"),
    };
    let cwd = spec.cwd.clone().or_else(|| std::env::current_dir().ok()).unwrap_or_default();
    which::which_in(program, path, cwd).map(|_| ()).map_err(|e| ExecError::Spawn {
        program: program.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()),
    })
}

/// Spawn from the one long-lived spawner thread (Linux): the parent-death signal is tied to
/// the thread that forks, and tokio retires its blocking threads.
async fn spawn(cmd: Command) -> std::io::Result<Child> {
    #[cfg(target_os = "linux")]
    {
        spawner::spawn(cmd).await
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut cmd = cmd;
        cmd.spawn()
    }
}

#[cfg(target_os = "linux")]
mod spawner {
    use std::sync::OnceLock;
    use std::sync::mpsc::Sender;

    use tokio::process::{Child, Command};
    use tokio::sync::oneshot;

    struct Request {
        cmd: Command,
        handle: tokio::runtime::Handle,
        reply: oneshot::Sender<std::io::Result<Child>>,
    }

    fn sender() -> Option<&'static Sender<Request>> {
        static TX: OnceLock<Option<Sender<Request>>> = OnceLock::new();
        TX.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Request>();
            let started = std::thread::Builder::new().name("torchup-spawner".into()).spawn(move || {
                for mut req in rx {
                    // A runtime shutting down must not take the spawner thread with it.
                    let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let _in_runtime = req.handle.enter();
                        req.cmd.spawn()
                    }))
                    .unwrap_or_else(|_| Err(std::io::Error::other("the async runtime is shutting down")));
                    let _ = req.reply.send(spawned);
                }
            });
            started.ok().map(|_| tx)
        })
        .as_ref()
    }

    pub(super) async fn spawn(mut cmd: Command) -> std::io::Result<Child> {
        let (Ok(handle), Some(tx)) = (tokio::runtime::Handle::try_current(), sender()) else {
            return cmd.spawn();
        };
        let (reply, answer) = oneshot::channel();
        if let Err(std::sync::mpsc::SendError(mut req)) = tx.send(Request { cmd, handle, reply }) {
            return req.cmd.spawn();
        }
        answer.await.map_err(|_| std::io::Error::other("the spawner thread is gone"))?
    }
}

async fn run_child(
    spec: RunSpec,
    lines: Option<mpsc::Sender<OutputLine>>,
    cancel: CancellationToken,
) -> Result<RunOutcome, ExecError> {
    let program = spec.argv.first().cloned().unwrap_or_default();
    let (cmd, supervised) = build_command(&spec)?;
    let started = Instant::now();
    let mut child = spawn(cmd).await.map_err(|source| ExecError::Spawn { program: program.clone(), source })?;
    let pid = child.id();
    // Dropped before the child ended (an aborted task, a cancelled future): stop the tree.
    let mut guard = TreeGuard { pid, supervised, armed: true };

    if let (Some(bytes), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        // Write in a task so a child that does not read cannot block us.
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
            let _ = stdin.shutdown().await;
        });
    }

    let out_task = child.stdout.take().map(|s| tokio::spawn(pump(s, Stream::Stdout, lines.clone())));
    let err_task = child.stderr.take().map(|s| tokio::spawn(pump(s, Stream::Stderr, lines.clone())));

    let deadline = spec.timeout.map(|d| tokio::time::Instant::now() + d);
    let state = tokio::select! {
        st = child.wait() => match st {
            Ok(st) => exit_state(st),
            Err(source) => return Err(ExecError::Io { program, source }),
        },
        _ = cancel.cancelled() => {
            stop(&mut child, pid, supervised).await;
            ExitState::Cancelled
        }
        _ = sleep_until_opt(deadline) => {
            stop(&mut child, pid, supervised).await;
            ExitState::TimedOut
        }
    };

    guard.armed = false;
    // Grandchildren may hold the pipes open after the child exits; do not wait forever.
    let stdout = join_pump(out_task).await;
    let stderr = join_pump(err_task).await;
    Ok(RunOutcome { state, stdout, stderr, duration: started.elapsed() })
}

/// Stops a child's tree when the future running it is dropped mid-run: a supervisor gets
/// SIGTERM (it kills its tree and exits), a direct child's group gets SIGKILL.
struct TreeGuard {
    pid: Option<u32>,
    supervised: bool,
    armed: bool,
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        let (true, Some(pid)) = (self.armed, self.pid) else { return };
        if self.supervised {
            terminate_tree(pid);
        } else {
            kill_tree(pid);
        }
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending::<()>().await,
    }
}

async fn join_pump(task: Option<tokio::task::JoinHandle<String>>) -> String {
    let Some(task) = task else { return String::new() };
    let abort = task.abort_handle();
    match tokio::time::timeout(Duration::from_secs(5), task).await {
        Ok(Ok(s)) => s,
        _ => {
            abort.abort();
            String::new()
        }
    }
}

/// Read a pipe to its end, forwarding lines and returning the text (bounded: head and tail).
async fn pump<R: AsyncRead + Unpin>(mut reader: R, stream: Stream, tx: Option<mpsc::Sender<OutputLine>>) -> String {
    let mut all = BoundedCapture::new(CAPTURE_EACH_END);
    let mut splitter = LineSplitter::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        all.push(&buf[..n]);
        if let Some(tx) = &tx {
            for (text, carriage_return) in splitter.push(&buf[..n]) {
                // A closed receiver only means nobody is watching; keep draining the pipe.
                let _ = tx.send(OutputLine { stream, text, carriage_return }).await;
            }
        }
    }
    if let (Some(tx), Some(text)) = (&tx, splitter.finish()) {
        let _ = tx.send(OutputLine { stream, text, carriage_return: false }).await;
    }
    all.into_text()
}

fn exit_state(st: std::process::ExitStatus) -> ExitState {
    match st.code() {
        Some(c) => ExitState::Code(c),
        None => ExitState::Signal,
    }
}

/// Ask the whole tree to stop, wait a grace period, then kill it.
async fn stop(child: &mut Child, pid: Option<u32>, supervised: bool) {
    if let Some(pid) = pid {
        terminate_tree(pid);
    }
    // A supervisor needs its own grace period plus time to kill and reap the tree.
    let grace = if supervised { GRACE + SUPERVISED_EXTRA } else { GRACE };
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        if let Some(pid) = pid {
            kill_tree(pid);
        }
        let _ = child.kill().await;
    } else if let Some(pid) = pid {
        // The leader exited; make sure nothing in its group survives it.
        kill_tree(pid);
    }
}

#[cfg(unix)]
fn terminate_tree(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we created with
    // process_group(0); it has no memory-safety preconditions.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGTERM);
    }
}

/// Kill a child's whole process tree (Unix: its process group).
#[cfg(unix)]
pub fn kill_tree(pid: u32) {
    // SAFETY: as in terminate_tree.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

#[cfg(windows)]
fn terminate_tree(pid: u32) {
    kill_tree(pid);
}

/// Kill a child's whole process tree (Windows: `taskkill /T /F`).
#[cfg(windows)]
pub fn kill_tree(pid: u32) {
    let _ = std::process::Command::new("taskkill")
        .args(["/T", "/F", "/PID", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> RunSpec {
        RunSpec::new(["sh", "-c", script])
    }

    #[tokio::test]
    async fn reads_both_streams_and_exit_code() {
        let (tx, mut rx) = mpsc::channel(64);
        let out = TokioRunner
            .run(sh("echo out; echo err 1>&2; printf 'p1\\rp2\\n'; exit 3"), Some(tx), CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(out.state, ExitState::Code(3));
        assert!(out.stdout.contains("out"));
        assert_eq!(out.stderr.trim(), "err");
        let mut got = Vec::new();
        while let Ok(l) = rx.try_recv() {
            got.push(l);
        }
        assert!(got.iter().any(|l| l.stream == Stream::Stderr && l.text == "err"));
        assert!(got.iter().any(|l| l.text == "p1" && l.carriage_return));
        assert!(got.iter().any(|l| l.text == "p2" && !l.carriage_return));
    }

    #[tokio::test]
    async fn large_output_on_both_pipes_does_not_deadlock() {
        let spec = sh("i=0; while [ $i -lt 3000 ]; do echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; echo bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 1>&2; i=$((i+1)); done")
            .timeout(Duration::from_secs(20));
        let out = TokioRunner.run(spec, None, CancellationToken::new()).await.unwrap();
        assert!(out.success());
        assert_eq!(out.stdout.lines().count(), 3000);
        assert_eq!(out.stderr.lines().count(), 3000);
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", marker.display());
        let out = TokioRunner
            .run(sh(&script).timeout(Duration::from_millis(500)), None, CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(out.state, ExitState::TimedOut);
        let gpid: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
        // give the kernel a moment to reap
        let mut alive = true;
        for _ in 0..50 {
            // SAFETY: signal 0 only checks existence.
            alive = unsafe { libc::kill(gpid, 0) } == 0 && !is_zombie(gpid);
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive, "grandchild {gpid} survived the timeout");
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true)
    }

    #[tokio::test]
    async fn cancel_stops_the_child() {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c2.cancel();
        });
        let started = Instant::now();
        let out = TokioRunner.run(sh("sleep 30"), None, cancel).await.unwrap();
        assert_eq!(out.state, ExitState::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn missing_program_is_not_found() {
        let err = TokioRunner
            .run(RunSpec::new(["/nonexistent/torchup-test-binary"]), None, CancellationToken::new())
            .await
            .unwrap_err();
        assert!(err.is_not_found());
    }

    #[tokio::test]
    async fn stdin_is_delivered() {
        let out = TokioRunner.run(RunSpec::new(["cat"]).stdin("hello"), None, CancellationToken::new()).await.unwrap();
        assert_eq!(out.stdout, "hello");
    }
}
