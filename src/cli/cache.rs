//! `torchup cache [list|clean [--all]] [--json]`: what the wheelhouse holds (file, size, last
//! use, whether its origin was verified), the total against the cap, and cleaning.
//!
//! Exit codes: 0 ok; 1 when cleaning failed on the disk; 2 usage (clap).

use serde::Serialize;

use crate::describe;
use crate::fetch::{Clean, CleanReport, Entry, Wheelhouse};

use super::{CacheAction, CliError, Exit, output};

/// The `list` document (`--json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheList {
    pub root: String,
    pub cap: u64,
    pub total: u64,
    pub partial_bytes: u64,
    pub files: Vec<Entry>,
}

pub fn run(action: Option<CacheAction>, json: bool) -> Result<Exit, CliError> {
    let wh = Wheelhouse::new(Wheelhouse::default_root());
    match action.unwrap_or(CacheAction::List) {
        CacheAction::List => {
            let list = list(&wh);
            if json {
                output::print_json(&list)?;
            } else {
                print!("{}", render_list(&list));
            }
        }
        CacheAction::Clean { all } => {
            let what = if all { Clean::All } else { Clean::Unused };
            let report = wh.clean(what).map_err(|e| {
                CliError::failed(format!(
                    "cannot clean the wheelhouse {}: {e}; check its permissions or delete it by hand",
                    wh.root().display()
                ))
            })?;
            if json {
                output::print_json(&report)?;
            } else {
                print!("{}", render_clean(&report, what));
            }
        }
    }
    Ok(Exit::Ok)
}

pub fn list(wh: &Wheelhouse) -> CacheList {
    let mut files = wh.list();
    files.reverse(); // most recently used first
    CacheList {
        root: wh.root().display().to_string(),
        cap: wh.cap(),
        total: files.iter().map(|e| e.size).sum(),
        partial_bytes: wh.partial_size(),
        files,
    }
}

pub fn render_list(l: &CacheList) -> String {
    let mut out = format!("Wheelhouse: {}\n", l.root);
    if l.files.is_empty() {
        out.push_str("  (empty)\n");
    }
    for e in &l.files {
        let note = if e.origin_verified { "" } else { "  (integrity checked, origin not verified)" };
        out.push_str(&format!("  {:>9}  {}  {}{note}\n", describe::bytes(e.size), day(e.last_used), e.filename));
    }
    out.push_str(&format!("Total {} of a {} cap", describe::bytes(l.total), describe::bytes(l.cap)));
    if l.partial_bytes > 0 {
        out.push_str(&format!("; partial downloads {} (resumed by the next run)", describe::bytes(l.partial_bytes)));
    }
    out.push('\n');
    out
}

pub fn render_clean(r: &CleanReport, what: Clean) -> String {
    let mut out = String::new();
    for e in &r.removed {
        out.push_str(&format!("removed {} ({})\n", e.filename, describe::bytes(e.size)));
    }
    out.push_str(&format!(
        "Freed {} ({} file(s), {} partial download(s)).",
        describe::bytes(r.freed),
        r.removed.len(),
        r.partials_removed
    ));
    if r.in_use > 0 {
        out.push_str(&format!(" Kept {} in use by a running torchup.", r.in_use));
    }
    if what == Clean::Unused {
        out.push_str(" Recently used files stay; `torchup cache clean --all` removes them too.");
    }
    out.push('\n');
    out
}

/// `2026-12-06` in UTC.
fn day(unix: u64) -> String {
    jiff::Timestamp::from_second(unix as i64).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64, verified: bool) -> Entry {
        Entry {
            filename: name.into(),
            size,
            sha256: "ab".repeat(32),
            last_used: 1_796_515_200, // 2026-12-06
            origin_verified: verified,
            path: name.into(),
        }
    }

    #[test]
    fn list_text() {
        let l = CacheList {
            root: "/c/wheelhouse".into(),
            cap: 12_000_000_000,
            total: 2_500_000_000,
            partial_bytes: 300_000_000,
            files: vec![
                entry("torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl", 2_500_000_000, true),
                entry("x.whl", 5, false),
            ],
        };
        insta::assert_snapshot!(render_list(&l), @r"
        Wheelhouse: /c/wheelhouse
            2.50 GB  2026-12-06  torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl
                5 B  2026-12-06  x.whl  (integrity checked, origin not verified)
        Total 2.50 GB of a 12.0 GB cap; partial downloads 300.0 MB (resumed by the next run)
        ");
        let empty = CacheList { files: vec![], total: 0, partial_bytes: 0, ..l };
        assert!(render_list(&empty).contains("(empty)"));
    }

    #[test]
    fn clean_text() {
        let r = CleanReport { removed: vec![entry("a.whl", 2000, true)], freed: 2500, partials_removed: 1, in_use: 1 };
        assert_eq!(
            render_clean(&r, Clean::All),
            "removed a.whl (2 kB)\nFreed 2 kB (1 file(s), 1 partial download(s)). Kept 1 in use by a running torchup.\n"
        );
        assert!(render_clean(&CleanReport::default(), Clean::Unused).contains("--all"));
    }
}
