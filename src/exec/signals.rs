//! One cancellation path for every command: SIGINT, SIGTERM and SIGHUP (Windows: Ctrl-C,
//! Ctrl-Break) cancel one [`CancellationToken`]; the runner then stops every child's whole
//! tree, the install engine restores its stash, and the command reports.
//!
//! Windows' console-close event is not listened for: the console kills the process ~5 s
//! later whatever it does, so it is treated like SIGKILL (the job object of
//! [`super::supervise`] takes the children down; the journal tells the next run).
//!
//! Later signals are counted and forwarded ([`Signals::next`]) so a front end can act on a
//! second Ctrl-C (the wizard quits at once). After SIGHUP the terminal is gone: callers
//! write with `let _ = writeln!(…)` (never `println!`, which panics on EIO/EPIPE).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT / Ctrl-C.
    CtrlC,
    /// SIGTERM (`kill`, `timeout`, a service manager).
    Terminate,
    /// SIGHUP: the terminal or SSH session went away.
    Hangup,
    /// Windows Ctrl-Break.
    Break,
}

impl Interrupt {
    /// "Ctrl-C", "SIGTERM", … for a one-line message.
    pub fn describe(self) -> &'static str {
        match self {
            Interrupt::CtrlC => "Ctrl-C",
            Interrupt::Terminate => "SIGTERM",
            Interrupt::Hangup => "SIGHUP (terminal closed)",
            Interrupt::Break => "Ctrl-Break",
        }
    }

    /// The conventional exit code of a process ended by this signal (128 + number).
    pub fn exit_code(self) -> u8 {
        match self {
            Interrupt::CtrlC | Interrupt::Break => 130,
            Interrupt::Terminate => 143,
            Interrupt::Hangup => 129,
        }
    }

    /// The terminal is gone: nothing more should be written to it.
    pub fn terminal_gone(self) -> bool {
        self == Interrupt::Hangup
    }
}

/// The process's signal listeners, for one command. Dropping it stops listening (the
/// default actions come back only when the process exits: tokio keeps its handlers).
#[derive(Debug)]
pub struct Signals {
    token: CancellationToken,
    count: Arc<AtomicUsize>,
    first: Arc<std::sync::OnceLock<Interrupt>>,
    rx: mpsc::UnboundedReceiver<Interrupt>,
    task: JoinHandle<()>,
}

impl Signals {
    /// Start listening (inside a tokio runtime). Every signal cancels the token; each is
    /// also queued for [`Signals::next`].
    pub fn install() -> std::io::Result<Signals> {
        let token = CancellationToken::new();
        let count = Arc::new(AtomicUsize::new(0));
        let first = Arc::new(std::sync::OnceLock::new());
        let (tx, rx) = mpsc::unbounded_channel();
        let mut streams = listen()?;
        let (t, c, f) = (token.clone(), count.clone(), first.clone());
        let task = tokio::spawn(async move {
            while let Some(which) = streams.next().await {
                c.fetch_add(1, Ordering::SeqCst);
                let _ = f.set(which);
                tracing::warn!(signal = which.describe(), "signal received: cancelling");
                t.cancel();
                let _ = tx.send(which);
            }
        });
        Ok(Signals { token, count, first, rx, task })
    }

    /// The token every part of the command watches.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<Interrupt> {
        self.first.get().copied()
    }

    /// How many signals arrived so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Wait for the next signal (each one once, in order).
    pub async fn next(&mut self) -> Option<Interrupt> {
        self.rx.recv().await
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The platform's signal streams, merged.
struct Streams {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
    #[cfg(windows)]
    ctrl_break: tokio::signal::windows::CtrlBreak,
}

fn listen() -> std::io::Result<Streams> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Streams {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
    #[cfg(windows)]
    {
        Ok(Streams { ctrl_c: tokio::signal::windows::ctrl_c()?, ctrl_break: tokio::signal::windows::ctrl_break()? })
    }
}

impl Streams {
    async fn next(&mut self) -> Option<Interrupt> {
        #[cfg(unix)]
        {
            tokio::select! {
                s = self.int.recv() => s.map(|_| Interrupt::CtrlC),
                s = self.term.recv() => s.map(|_| Interrupt::Terminate),
                s = self.hup.recv() => s.map(|_| Interrupt::Hangup),
            }
        }
        #[cfg(windows)]
        {
            tokio::select! {
                s = self.ctrl_c.recv() => s.map(|_| Interrupt::CtrlC),
                s = self.ctrl_break.recv() => s.map(|_| Interrupt::Break),
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Signals to this very process (the test binary): tokio's handlers are installed
    /// first, so the default action (death) never runs.
    #[tokio::test]
    async fn each_signal_cancels_and_is_counted() {
        let mut s = Signals::install().unwrap();
        let token = s.token();
        assert!(!token.is_cancelled());
        // SAFETY: raising a signal this process handles.
        unsafe {
            libc::kill(std::process::id() as i32, libc::SIGHUP);
        }
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), s.next()).await.unwrap();
        assert_eq!(got, Some(Interrupt::Hangup));
        assert!(token.is_cancelled());
        assert_eq!(s.received(), Some(Interrupt::Hangup));
        assert!(s.received().unwrap().terminal_gone());
        // SAFETY: as above.
        unsafe {
            libc::kill(std::process::id() as i32, libc::SIGTERM);
        }
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), s.next()).await.unwrap();
        assert_eq!(got, Some(Interrupt::Terminate));
        assert_eq!(s.count(), 2);
        assert_eq!(s.received(), Some(Interrupt::Hangup), "the first signal is kept");
    }
}
