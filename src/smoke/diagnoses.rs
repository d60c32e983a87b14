//! The one place where diagnoses are attached to a smoke report (verify, doctor and the
//! install stages all go through here).
//!
//! The rules engine (`crate::diagnose`: `Rules::bundled()`, `diagnose_smoke(&SmokeReport,
//! &OsContext)`) is being built on the `diagnose` branch. Until it is merged, this attaches
//! nothing and `diagnoses` stays an empty list, which is the truth: no rule has looked.
//! Wiring it is a change to this function only.

use super::SmokeReport;
use crate::facts::platform::Platform;

/// Attach the diagnoses that match `report` on this platform.
pub fn attach(report: &mut SmokeReport, platform: &Platform) {
    let _ = platform;
    report.diagnoses.clear();
}
