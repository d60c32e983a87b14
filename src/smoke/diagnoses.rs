//! The one place where diagnoses are attached to a smoke report (verify, doctor and the
//! install stages all go through here), so every front end shows the same findings.

use super::SmokeReport;
use crate::diagnose::{self, OsContext};
use crate::facts::Facts;

/// Replace `report.diagnoses` with what the bundled rules find in it (import error,
/// warnings, failed checks, and the CPU-build / CUDA-unavailable / arch probes).
pub fn attach(report: &mut SmokeReport, ctx: &OsContext) {
    report.diagnoses = diagnose::diagnose_smoke(report, ctx);
}

/// Findings over the facts and the smoke result together (doctor): one per catalog id.
pub fn for_doctor(facts: &Facts, report: Option<&SmokeReport>) -> Vec<crate::finding::Finding> {
    let ctx = OsContext::from_facts(facts);
    diagnose::Rules::bundled().diagnose_all(Some(facts), report, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smoke::test_support::report;

    #[test]
    fn a_cpu_build_is_diagnosed_with_the_fix_for_this_interpreter() {
        let mut r = report("2.5.1+cpu", false);
        r.torch.cuda = None;
        attach(&mut r, &OsContext::windows().with_python(r"C:\venv\Scripts\python.exe"));
        let f01 = r.diagnoses.iter().find(|d| d.id == "F01").expect("F01 for a CPU build");
        assert!(f01.fix.contains(r"C:\venv\Scripts\python.exe"), "{}", f01.fix);
    }

    #[test]
    fn a_working_report_has_no_diagnoses() {
        let mut r = report("2.5.1+cu124", true);
        r.diagnoses = vec![crate::finding::Finding {
            id: "stale".into(),
            title: String::new(),
            explanation: String::new(),
            fix: String::new(),
        }];
        attach(&mut r, &OsContext::linux());
        assert_eq!(r.diagnoses, vec![]);
    }
}
