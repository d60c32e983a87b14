//! Messages torch prints that are normal, not failures: they become notes in the report
//! instead of warnings, so nothing downstream (diagnoses, the verdict, the history) treats
//! them as a problem.
//!
//! Real torch warns `Failed to initialize NumPy: No module named 'numpy'` at import when
//! numpy is absent, which is normal in a fresh venv: torch does not require numpy (only
//! `tensor.numpy()` / `torch.from_numpy` need it). A NumPy that is present but built for
//! another ABI (`_ARRAY_API not found`, catalog F29) stays a warning and is diagnosed.

use super::SmokeReport;

/// The note that replaces the numpy-absent warning.
pub const NUMPY_ABSENT: &str =
    "numpy is not installed: torch works without it (only tensor.numpy() and torch.from_numpy need it)";

fn is_numpy_absent(warning: &str) -> bool {
    warning.contains("Failed to initialize NumPy: No module named 'numpy'")
}

/// Move normal messages from `warnings` (and the check details that carry them) into `notes`.
pub fn separate(report: &mut SmokeReport) {
    let before = report.warnings.len();
    report.warnings.retain(|w| !is_numpy_absent(w));
    let mut found = report.warnings.len() != before;
    for check in &mut report.checks {
        if check.detail.lines().any(is_numpy_absent) {
            found = true;
            check.detail = check
                .detail
                .lines()
                .map(|l| if is_numpy_absent(l) { format!("note: {NUMPY_ABSENT}") } else { l.to_string() })
                .collect::<Vec<_>>()
                .join("\n");
        }
    }
    if found && !report.notes.iter().any(|n| n == NUMPY_ABSENT) {
        report.notes.push(NUMPY_ABSENT.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smoke::Check;

    const REAL: &str = "UserWarning: Failed to initialize NumPy: No module named 'numpy' (Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)";

    #[test]
    fn the_numpy_absent_warning_becomes_a_note() {
        let mut r = SmokeReport {
            warnings: vec![REAL.into(), "UserWarning: something else".into()],
            checks: vec![Check {
                name: "import_torch".into(),
                ok: true,
                detail: format!("torch 2.5.1+cu124 from /venv/torch\nwarning: {REAL}"),
                ms: 900.0,
            }],
            ..SmokeReport::default()
        };
        separate(&mut r);
        assert_eq!(r.warnings, ["UserWarning: something else"]);
        assert_eq!(r.notes, [NUMPY_ABSENT]);
        assert_eq!(r.checks[0].detail, format!("torch 2.5.1+cu124 from /venv/torch\nnote: {NUMPY_ABSENT}"));
        assert!(r.checks[0].ok);
    }

    #[test]
    fn a_numpy_abi_mismatch_stays_a_warning() {
        let f29 = "UserWarning: Failed to initialize NumPy: _ARRAY_API not found (Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)";
        let mut r = SmokeReport { warnings: vec![f29.into()], ..SmokeReport::default() };
        separate(&mut r);
        assert_eq!(r.warnings, [f29]);
        assert!(r.notes.is_empty());
    }
}
