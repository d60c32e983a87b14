//! No child outlives torchup, even after SIGKILL.
//!
//! **Linux**: every child runs through a tiny supervisor, torchup itself started as
//! `torchup __torchup-supervise <torchup pid> -- <argv…>` (entered from `main` before any
//! argument parsing, [`run_if_requested`]). The supervisor
//! - is spawned from one long-lived spawner thread with `PR_SET_PDEATHSIG` (the signal
//!   fires when the *thread* that forked exits, and tokio retires its blocking threads, so
//!   a dedicated thread that lives as long as the process is the only safe place), and also
//!   polls `getppid()` as a backstop;
//! - makes itself a child subreaper, so every orphaned descendant is re-parented to it;
//! - runs the real command in a process group of its own with the same stdio (the pipes go
//!   straight to torchup);
//! - when torchup dies or sends SIGTERM/SIGINT/SIGHUP: TERM to the command's group, a
//!   grace period, then KILL to the group and to every remaining descendant; when the
//!   command ends by itself, leftovers (`sleep 300 &`) are stopped the same way;
//! - exits with the command's status (re-raising its signal).
//!
//! **Windows**: [`enable`] puts torchup itself in a job object with
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`; children and grandchildren inherit the job, and
//! when torchup ends for any reason (a closed console included) the kernel closes the last
//! handle and kills the whole tree.
//!
//! Without [`enable`] (library users, unit tests) children are spawned directly, as before,
//! still with the parent-death signal on Linux.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

/// argv[1] that turns the torchup binary into a supervisor.
pub const SUPERVISE_ARG: &str = "__torchup-supervise";

/// How long the command gets after SIGTERM before its group is killed (shorter than the
/// runner's own grace, so the supervisor finishes the job before the runner kills it).
#[cfg(target_os = "linux")]
const GRACE: std::time::Duration = std::time::Duration::from_secs(2);

static SUPERVISOR: OnceLock<PathBuf> = OnceLock::new();

/// Called first thing in `main`: when this process was started as a supervisor, run it
/// and return the exit code (the caller exits with it); otherwise `None`.
pub fn run_if_requested() -> Option<i32> {
    let mut args = std::env::args_os();
    let _program = args.next();
    if args.next().as_deref() != Some(std::ffi::OsStr::new(SUPERVISE_ARG)) {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    Some(supervise(&rest))
}

/// Turn on the whole-tree guarantee for this process: on Linux, children are run through
/// `exe` (normally `std::env::current_exe()`); on Windows, torchup joins a kill-on-close
/// job object. Idempotent; failures are logged and leave the direct spawn in place.
pub fn enable(exe: PathBuf) {
    #[cfg(target_os = "linux")]
    {
        let _ = SUPERVISOR.set(exe);
    }
    #[cfg(windows)]
    {
        let _ = &exe;
        windows_job::join_kill_on_close_job();
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = exe;
    }
}

/// The supervisor executable, when [`enable`] set one (Linux).
pub fn supervisor() -> Option<&'static PathBuf> {
    SUPERVISOR.get()
}

/// The argv that runs `argv` under the supervisor `exe` on behalf of process `parent`.
pub fn supervised_argv(exe: &std::path::Path, parent: u32, argv: &[String]) -> Vec<OsString> {
    let mut out: Vec<OsString> =
        vec![exe.as_os_str().to_owned(), SUPERVISE_ARG.into(), parent.to_string().into(), "--".into()];
    out.extend(argv.iter().map(OsString::from));
    out
}

#[cfg(not(target_os = "linux"))]
fn supervise(_args: &[OsString]) -> i32 {
    eprintln!("torchup: the process supervisor is only used on Linux");
    2
}

#[cfg(target_os = "linux")]
fn supervise(args: &[OsString]) -> i32 {
    linux::supervise(args)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::OsString;
    use std::os::unix::process::CommandExt as _;
    use std::time::Instant;

    use super::GRACE;

    pub(super) fn supervise(args: &[OsString]) -> i32 {
        let Some(parent) = args.first().and_then(|a| a.to_str()).and_then(|a| a.parse::<i32>().ok()) else {
            eprintln!("torchup: usage: torchup {} <parent pid> -- <program> [args…]", super::SUPERVISE_ARG);
            return 2;
        };
        let argv = match args.get(1).map(|a| a.as_os_str()) {
            Some(sep) if sep == "--" => &args[2..],
            _ => &args[1..],
        };
        let Some((program, rest)) = argv.split_first() else {
            eprintln!("torchup: nothing to supervise");
            return 2;
        };
        let mut set = signal_set();
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER and an integer argument, and
        // pthread_sigmask on a properly initialized set; no memory is handed over.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        // The parent may have died between fork and now: then nothing must start.
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != parent {
            return 1;
        }
        let mut cmd = std::process::Command::new(program);
        cmd.args(rest).process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec (sigemptyset,
        // pthread_sigmask), restoring the default signal mask for the command.
        unsafe {
            cmd.pre_exec(|| {
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                Ok(())
            });
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("torchup: cannot start {}: {e}", program.to_string_lossy());
                return if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
            }
        };
        let pgid = child.id() as i32;
        // We reap with waitpid ourselves; the std handle is not needed.
        drop(child);

        let mut status: Option<i32> = None;
        let mut stopping: Option<Instant> = None;
        let timeout = libc::timespec { tv_sec: 0, tv_nsec: 100_000_000 };
        while status.is_none() {
            reap(pgid, &mut status);
            if status.is_some() {
                break;
            }
            // SAFETY: getppid has no preconditions.
            let orphaned = unsafe { libc::getppid() } != parent;
            if orphaned && stopping.is_none() {
                stopping = Some(begin_stop(pgid));
            }
            if let Some(since) = stopping
                && since.elapsed() >= GRACE
            {
                kill_everything(pgid, libc::SIGKILL);
            }
            // SAFETY: sigtimedwait with a valid set and timeout; the info pointer may be null.
            let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
            if matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGHUP) && stopping.is_none() {
                stopping = Some(begin_stop(pgid));
            }
        }
        // The command is gone: nothing it started may outlive it.
        finish_leftovers(pgid);
        let st = status.unwrap_or(0);
        if libc::WIFEXITED(st) {
            return libc::WEXITSTATUS(st);
        }
        let sig = if libc::WIFSIGNALED(st) { libc::WTERMSIG(st) } else { libc::SIGKILL };
        // Die of the same signal so the runner sees "killed by a signal".
        // SAFETY: resetting a signal to its default action, unblocking it and raising it.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
        }
        128 + sig
    }

    fn signal_set() -> libc::sigset_t {
        // SAFETY: sigset_t is plain data; sigemptyset initializes it before use.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD] {
                libc::sigaddset(&mut set, s);
            }
            set
        }
    }

    /// Reap every exited child; record the command's status.
    fn reap(pgid: i32, status: &mut Option<i32>) {
        loop {
            let mut st = 0;
            // SAFETY: waitpid with a valid status pointer.
            let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if pid == pgid {
                *status = Some(st);
            }
        }
    }

    fn begin_stop(pgid: i32) -> Instant {
        kill_everything(pgid, libc::SIGTERM);
        Instant::now()
    }

    /// Signal the command's group and every descendant of this process.
    fn kill_everything(pgid: i32, sig: i32) {
        // SAFETY: kill(2) on a process group and on pids read from /proc.
        unsafe {
            libc::kill(-pgid, sig);
        }
        for pid in descendants() {
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    /// After the command ended: TERM the leftovers, a grace period, then KILL; reap them all.
    fn finish_leftovers(pgid: i32) {
        let alive = || group_alive(pgid) || !descendants().is_empty();
        if !alive() {
            return;
        }
        kill_everything(pgid, libc::SIGTERM);
        let since = Instant::now();
        let mut ignored = None;
        while alive() && since.elapsed() < GRACE {
            reap(pgid, &mut ignored);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for _ in 0..50 {
            if !alive() {
                return;
            }
            kill_everything(pgid, libc::SIGKILL);
            std::thread::sleep(std::time::Duration::from_millis(20));
            reap(pgid, &mut ignored);
        }
    }

    fn group_alive(pgid: i32) -> bool {
        // SAFETY: signal 0 only checks existence.
        unsafe { libc::kill(-pgid, 0) == 0 }
    }

    /// Every live (non-zombie) descendant of this process, from /proc.
    fn descendants() -> Vec<i32> {
        let me = std::process::id() as i32;
        let mut parent_of: Vec<(i32, i32)> = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            // The command name is in parentheses and may contain spaces: parse after the last ')'.
            let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else { continue };
            let mut fields = after.split_whitespace();
            let state = fields.next().unwrap_or("");
            let ppid = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            if state != "Z" && state != "X" {
                parent_of.push((pid, ppid));
            }
        }
        let mut found = vec![me];
        let mut i = 0;
        while i < found.len() {
            let p = found[i];
            found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
            i += 1;
        }
        found.retain(|p| *p != me);
        found
    }
}

#[cfg(windows)]
mod windows_job {
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    };
    use windows_sys::Win32::System::Threading::GetCurrentProcess;

    /// Put this process in a new job that kills every member when its last handle closes.
    /// The handle is kept (never closed) for the life of the process; it is not inheritable.
    pub(super) fn join_kill_on_close_job() {
        static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        DONE.get_or_init(|| {
            // SAFETY: plain Win32 calls with valid pointers to a zeroed, correctly sized
            // JOBOBJECT_EXTENDED_LIMIT_INFORMATION; the job handle is checked for null.
            unsafe {
                let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
                if job.is_null() {
                    tracing::warn!("cannot create a job object; children may outlive torchup");
                    return;
                }
                let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
                info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
                let ok = SetInformationJobObject(
                    job,
                    JobObjectExtendedLimitInformation,
                    &info as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION as *const core::ffi::c_void,
                    std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
                );
                if ok == 0 || AssignProcessToJobObject(job, GetCurrentProcess()) == 0 {
                    tracing::warn!(error = %std::io::Error::last_os_error(), "cannot join a kill-on-close job; children may outlive torchup");
                }
            }
        });
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn supervised_argv_puts_the_marker_and_parent_first() {
        let argv = supervised_argv(std::path::Path::new("/t/torchup"), 42, &["pip".into(), "a b".into()]);
        let s: Vec<_> = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(s, ["/t/torchup", SUPERVISE_ARG, "42", "--", "pip", "a b"]);
    }
}
