//! The one place the command line writes to stdout and stderr.
//!
//! A reader that goes away (`torchup plan | head -1`, a closed terminal) is not a crash: the
//! first failed write (EPIPE, EIO, …) records "output gone" for that stream and every later
//! write to it is dropped. Writing never returns an error and never panics, so a write can
//! never abort work in progress (an install restoring the previous build after a terminal
//! hangup keeps going). The command decides when to stop; `main` maps a lost stdout to
//! [`READER_GONE_EXIT`], the status a Unix tool killed by SIGPIPE shows in the shell.
//!
//! Use [`outln!`](crate::outln)/[`out!`](crate::out) for stdout and
//! [`errln!`](crate::errln)/[`err!`](crate::err) for stderr instead of `println!`/`eprintln!`,
//! which panic when the write fails.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Exit status when stdout's reader went away: 128 + SIGPIPE (13), what `sh` reports for
/// `yes | head -1`'s `yes`. A command that failed on its own keeps its own status.
pub const READER_GONE_EXIT: u8 = 141;

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Which standard stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn gone_flag(self) -> &'static AtomicBool {
        match self {
            Stream::Stdout => &STDOUT_GONE,
            Stream::Stderr => &STDERR_GONE,
        }
    }

    /// Whether a write to this stream failed (the reader went away); later writes are dropped.
    pub fn is_gone(self) -> bool {
        self.gone_flag().load(Ordering::Relaxed)
    }

    /// Write formatted text and flush; on failure record the stream as gone.
    pub fn write_fmt_quiet(self, args: fmt::Arguments<'_>) {
        if self.is_gone() {
            return;
        }
        let result = match self {
            Stream::Stdout => {
                let mut lock = io::stdout().lock();
                lock.write_fmt(args).and_then(|()| lock.flush())
            }
            Stream::Stderr => {
                let mut lock = io::stderr().lock();
                lock.write_fmt(args).and_then(|()| lock.flush())
            }
        };
        if result.is_err() {
            self.gone_flag().store(true, Ordering::Relaxed);
        }
    }
}

/// Whether stdout's reader went away during this run.
pub fn stdout_gone() -> bool {
    Stream::Stdout.is_gone()
}

/// A `Write` handle on a standard stream with the same "gone" rule, for code that takes a
/// writer (the install printer). It never reports an error.
#[derive(Debug, Clone, Copy)]
pub struct QuietWriter(pub Stream);

impl Write for QuietWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stream = self.0;
        if !stream.is_gone() {
            let ok = match stream {
                Stream::Stdout => io::stdout().lock().write_all(buf),
                Stream::Stderr => io::stderr().lock().write_all(buf),
            };
            if ok.is_err() {
                stream.gone_flag().store(true, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let stream = self.0;
        if !stream.is_gone() {
            let ok = match stream {
                Stream::Stdout => io::stdout().lock().flush(),
                Stream::Stderr => io::stderr().lock().flush(),
            };
            if ok.is_err() {
                stream.gone_flag().store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Print to stdout through [`Stream::write_fmt_quiet`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::Stream::Stdout.write_fmt_quiet(format_args!($($arg)*)) };
}

/// Print a line to stdout through [`Stream::write_fmt_quiet`].
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::output::Stream::Stdout.write_fmt_quiet(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::output::Stream::Stdout.write_fmt_quiet(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Print to stderr through [`Stream::write_fmt_quiet`].
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::output::Stream::Stderr.write_fmt_quiet(format_args!($($arg)*)) };
}

/// Print a line to stderr through [`Stream::write_fmt_quiet`].
#[macro_export]
macro_rules! errln {
    () => { $crate::cli::output::Stream::Stderr.write_fmt_quiet(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::output::Stream::Stderr.write_fmt_quiet(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Print one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), super::CliError> {
    let encode = |e: serde_json::Error| super::CliError::failed(format!("cannot encode the report as JSON: {e}"));
    // Every document goes out with credentials in URLs masked (an index URL may carry a token).
    let mut doc = serde_json::to_value(value).map_err(encode)?;
    crate::redact::redact_json(&mut doc);
    let s = serde_json::to_string_pretty(&doc).map_err(encode)?;
    crate::outln!("{s}");
    Ok(())
}

/// Whether colors are allowed: not with --no-color, NO_COLOR, or a non-terminal.
pub fn color_enabled(no_color_flag: bool, is_terminal: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal
}

/// The exit status for a command that finished with `status`: a lost stdout turns success
/// into [`READER_GONE_EXIT`]; a failure keeps its own status (it says more).
pub fn final_status(status: u8) -> u8 {
    if status == 0 && stdout_gone() { READER_GONE_EXIT } else { status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_its_status_over_a_lost_reader() {
        // Only the pure part: with stdout intact the status passes through.
        if !stdout_gone() {
            assert_eq!(final_status(0), 0);
        }
        assert_eq!(final_status(3), 3);
    }
}
