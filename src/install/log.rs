//! The full log of an install run: every argv, environment change, exit state, duration
//! and all output, in a file in the state directory. Best-effort: a log that cannot be
//! written never stops an install (the events still reach the user).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::exec::{ExitState, RunSpec, Stream};

/// An append-only run log.
#[derive(Debug)]
pub struct RunLog {
    path: PathBuf,
    out: Mutex<Option<BufWriter<File>>>,
}

impl RunLog {
    /// Create `torchup-install-<timestamp>-<pid>.log` in `dir` (with `-2`, `-3`, ... when
    /// one process starts several runs within a second: the wizard's install, then its
    /// rollback, must not truncate each other's logs).
    pub fn create_in(dir: &Path) -> RunLog {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
        let base = format!("torchup-install-{stamp}-{}", std::process::id());
        let mut path = dir.join(format!("{base}.log"));
        let mut n = 2;
        while path.exists() && n < 100 {
            path = dir.join(format!("{base}-{n}.log"));
            n += 1;
        }
        Self::create(path)
    }

    /// Create (truncate) a log at `path`.
    pub fn create(path: PathBuf) -> RunLog {
        let file = path.parent().map(std::fs::create_dir_all).transpose().ok().and_then(|_| File::create(&path).ok());
        RunLog { path, out: Mutex::new(file.map(BufWriter::new)) }
    }

    /// Where the log is (even if it could not be created: callers check `is_writable`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_writable(&self) -> bool {
        self.out.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    fn write(&self, text: &str) {
        if let Ok(mut guard) = self.out.lock()
            && let Some(w) = guard.as_mut()
        {
            let _ = w.write_all(crate::redact::redact_text(text).as_bytes());
        }
    }

    fn flush(&self) {
        if let Ok(mut guard) = self.out.lock()
            && let Some(w) = guard.as_mut()
        {
            let _ = w.flush();
        }
    }

    pub fn note(&self, text: &str) {
        self.write(&format!("[{}] {text}\n", jiff::Timestamp::now()));
        self.flush();
    }

    pub fn command_started(&self, spec: &RunSpec) {
        let mut s = format!("[{}] $ {}\n", jiff::Timestamp::now(), crate::shell::display_argv(&spec.argv));
        for (k, v) in &spec.env {
            match v {
                Some(v) => s.push_str(&format!("    env {k}={v}\n")),
                None => s.push_str(&format!("    env -u {k}\n")),
            }
        }
        self.write(&s);
        self.flush();
    }

    pub fn line(&self, stream: Stream, text: &str) {
        let tag = match stream {
            Stream::Stdout => "out",
            Stream::Stderr => "err",
        };
        self.write(&format!("  {tag}| {text}\n"));
    }

    pub fn command_finished(&self, state: ExitState, duration: Duration) {
        self.write(&format!(
            "[{}] -> {} after {:.1}s\n",
            jiff::Timestamp::now(),
            state.describe(),
            duration.as_secs_f64()
        ));
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_started_in_the_same_second_get_their_own_logs() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLog::create_in(dir.path());
        first.note("first run");
        let second = RunLog::create_in(dir.path());
        second.note("second run");
        assert_ne!(first.path(), second.path());
        assert!(std::fs::read_to_string(first.path()).unwrap().contains("first run"));
        assert!(std::fs::read_to_string(second.path()).unwrap().contains("second run"));
    }

    #[test]
    fn writes_commands_lines_and_results() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::create_in(dir.path());
        assert!(log.is_writable());
        log.command_started(&RunSpec::new(["python", "-m", "pip", "install", "torch==2.5.1+cu124"]).env("A", "1"));
        log.line(Stream::Stderr, "ERROR: boom");
        log.command_finished(ExitState::Code(1), Duration::from_millis(1500));
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(text.contains("$ python -m pip install torch==2.5.1+cu124"));
        assert!(text.contains("env A=1"));
        assert!(text.contains("err| ERROR: boom"));
        assert!(text.contains("-> exit code 1 after 1.5s"));
    }

    #[test]
    fn unwritable_location_is_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let log = RunLog::create(file.join("sub").join("log.txt"));
        assert!(!log.is_writable());
        log.note("nothing happens");
    }
}
