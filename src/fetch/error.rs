//! Why a fetch stopped: one line each, naming the fix, passwords already redacted.

use std::path::PathBuf;

/// A fetch failure the engine and the front ends can match on.
///
/// Every variant that can leave a partial download behind keeps it: the next run resumes.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("download cancelled; the partial files are kept and the next run resumes")]
    Cancelled,
    #[error(
        "{file}: SHA-256 mismatch after two downloads (expected {expected}, got {actual}): the server or a proxy \
         serves a different file; try another mirror with --index-url"
    )]
    HashMismatch { file: String, expected: String, actual: String },
    #[error(
        "{file}: size mismatch after two downloads (expected {expected} bytes, got {actual}): the server or a \
         proxy serves a different file; try another mirror with --index-url"
    )]
    SizeMismatch { file: String, expected: u64, actual: u64 },
    #[error(
        "{file}: the wheel fails its own RECORD check after two downloads ({reason}): the file is damaged or \
         tampered with; try another mirror with --index-url"
    )]
    RecordMismatch { file: String, reason: String },
    #[error("{file}: HTTP {status} from {url}: {hint}")]
    Http { file: String, url: String, status: u16, hint: String },
    #[error("{file}: redirect refused ({reason}); fix the index URL or use another mirror with --index-url")]
    Redirect { file: String, reason: String },
    #[error(
        "{file}: network error after {attempts} attempts ({reason}); check the connection or proxy and run the \
         same command again to resume"
    )]
    Network { file: String, reason: String, attempts: u32 },
    #[error(
        "{file}: no data for {secs}s, {attempts} times; the connection stalled: run the same command again to \
         resume, or try another mirror with --index-url"
    )]
    Stalled { file: String, secs: u64, attempts: u32 },
    #[error(
        "not enough disk space in {dir} for {file} ({}): free some space or point TORCHUP_CACHE_DIR at a larger \
         disk; the partial download is kept",
        space_note(*needed, *free)
    )]
    DiskFull { file: String, dir: PathBuf, needed: u64, free: u64 },
    #[error("cannot write {path}: {reason}; check the permissions and free space of that directory")]
    Io { path: PathBuf, reason: String },
    #[error(
        "refusing plain http download `{url}`: use https://, or add the host to pip's trusted-host if it is on \
         your own network"
    )]
    InsecureUrl { url: String },
    #[error("invalid download URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("network settings: {0}")]
    Config(String),
}

impl FetchError {
    /// An I/O error while writing `path`; "no space left" becomes [`FetchError::DiskFull`].
    pub(crate) fn write(file: &str, path: &std::path::Path, e: &std::io::Error) -> FetchError {
        if is_disk_full(e) {
            let dir = path.parent().unwrap_or(path).to_path_buf();
            let free = fs4::available_space(&dir).unwrap_or(0);
            return FetchError::DiskFull { file: file.to_string(), dir, needed: 0, free };
        }
        FetchError::Io { path: path.to_path_buf(), reason: e.to_string() }
    }

    /// Whether a new attempt later (a re-run) may succeed without any change by the user.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Network { .. } | FetchError::Stalled { .. } | FetchError::Cancelled)
            || matches!(self, FetchError::Http { status, .. } if *status >= 500 || *status == 429 || *status == 408)
    }
}

/// ENOSPC / EDQUOT on Unix, ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL on Windows.
pub(crate) fn is_disk_full(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded {
        return true;
    }
    match e.raw_os_error() {
        #[cfg(unix)]
        Some(code) => code == libc::ENOSPC || code == libc::EDQUOT,
        #[cfg(windows)]
        Some(code) => code == 112 || code == 39,
        #[cfg(not(any(unix, windows)))]
        Some(_) => false,
        None => false,
    }
}

/// "need 2.5 GB more, 1.0 GB free" (`needed` 0: unknown, a write failed).
fn space_note(needed: u64, free: u64) -> String {
    use crate::describe;
    if needed == 0 {
        format!("{} free", describe::bytes(free))
    } else {
        format!("need {} more, {} free", describe::bytes(needed), describe::bytes(free))
    }
}

/// The hint after an HTTP status.
pub(crate) fn status_hint(status: u16) -> String {
    match status {
        401 | 403 => "access denied: check the credentials (URL, .netrc) for this index".into(),
        404 | 410 => "the file is not on the server: the index page is out of date or the mirror incomplete".into(),
        407 => "the proxy wants credentials: put them in the proxy URL".into(),
        416 => "the server refused the byte range: run again to start this file over".into(),
        s if s >= 500 => "the server failed: retry later or use another mirror with --index-url".into(),
        _ => "unexpected answer: retry later or use another mirror with --index-url".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_a_fix() {
        let errors = [
            FetchError::Cancelled,
            FetchError::HashMismatch { file: "a.whl".into(), expected: "aa".into(), actual: "bb".into() },
            FetchError::Http {
                file: "a.whl".into(),
                url: "https://x/a.whl".into(),
                status: 500,
                hint: status_hint(500),
            },
            FetchError::Stalled { file: "a.whl".into(), secs: 30, attempts: 5 },
            FetchError::DiskFull { file: "a.whl".into(), dir: "/c".into(), needed: 2_500_000_000, free: 1_000 },
            FetchError::InsecureUrl { url: "http://x/a.whl".into() },
        ];
        for e in errors {
            let s = e.to_string();
            assert!(!s.contains('\n'), "{s}");
            assert!(s.len() > 30, "{s}");
        }
        assert!(FetchError::Stalled { file: "a".into(), secs: 1, attempts: 1 }.is_transient());
        let full = FetchError::DiskFull { file: "a.whl".into(), dir: "/c".into(), needed: 2_500_000_000, free: 1_000 };
        assert!(full.to_string().contains("(need 2.50 GB more, 1 kB free)"), "{full}");
        let full = FetchError::DiskFull { file: "a.whl".into(), dir: "/c".into(), needed: 0, free: 0 };
        assert!(full.to_string().contains("(0 B free)"), "{full}");
        assert!(!FetchError::HashMismatch { file: "a".into(), expected: "".into(), actual: "".into() }.is_transient());
    }

    #[test]
    fn disk_full_is_recognised() {
        #[cfg(unix)]
        assert!(is_disk_full(&std::io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(!is_disk_full(&std::io::Error::other("x")));
    }
}
