//! Logging with `tracing` to a file in the state directory, never to the terminal
//! (the TUI owns it). `TORCHUP_LOG` sets the filter (default "info").

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

/// Start file logging. Returns the guard that flushes on drop; logging is best-effort:
/// an unwritable state directory must not stop torchup.
pub fn init(log_file: Option<&Path>) -> Option<WorkerGuard> {
    let (dir, name) = match log_file {
        Some(p) => (
            p.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| ".".into()),
            p.file_name()?.to_string_lossy().into_owned(),
        ),
        None => (crate::paths::log_dir(), "torchup.log".to_string()),
    };
    std::fs::create_dir_all(&dir).ok()?;
    // Probe writability first: tracing-appender panics on an unwritable file.
    std::fs::OpenOptions::new().create(true).append(true).open(dir.join(&name)).ok()?;
    let appender = tracing_appender::rolling::never(&dir, &name);
    // A small line buffer: the default preallocates ~4 MB, a visible cost on every short run.
    let (writer, guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default().buffered_lines_limit(4096).finish(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("TORCHUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let redacting = move || Redacting(writer.clone());
    tracing_subscriber::fmt().with_writer(redacting).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}

/// A log writer that masks credentials in URLs before they reach the file (one formatted
/// event arrives in one write).
struct Redacting<W>(W);

impl<W: std::io::Write> std::io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(crate::redact::redact_text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
