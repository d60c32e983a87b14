//! `torchup doctor [--json]`: facts + smoke test + diagnoses as one report to paste into
//! a bug report, and what `torchup` prints when it has no terminal.
//!
//! Doctor is a report, not a check: it exits 0 whenever it could describe the machine,
//! 3 when there is no usable Python (the report still says what it found), 2 on a bad flag.
//! It does not save to the verify history (that is `verify`'s job) but shows what changed
//! since the last saved result.

use std::io::IsTerminal;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::output::{color_enabled, print_json};
use super::verify::{paint, verify_error};
use super::{CliError, Exit, GlobalArgs};
use crate::exec::TokioRunner;
use crate::exec::signals::Signals;
use crate::facts::python::PythonError;
use crate::smoke::doctor::{CudaStack, DOCTOR_SCHEMA, DoctorReport, render_doctor};
use crate::smoke::verify::{VerifyError, verify};
use crate::smoke::{self, History};

/// Gather everything the report needs: facts and the smoke test run concurrently. Only a
/// bad `--python` flag is an error.
pub async fn collect(g: &GlobalArgs) -> Result<DoctorReport, CliError> {
    let session = super::session(g)?;
    let history = History::in_dir(&session.state_dir);
    let signals = super::signals();
    let mut opts = session.verify_options();
    opts.cancel = signals.as_ref().map(Signals::token).unwrap_or_default();
    let libtorch = tokio::task::spawn_blocking(libtorch_check);
    let (gathered, verified) = tokio::join!(session.detect(), verify(&opts, &history, &TokioRunner));
    let (verification, verify_error_text) = match verified {
        Ok(v) => (Some(v), None),
        Err(e @ VerifyError::Python(PythonError::Explicit { .. })) => return Err(verify_error(e)),
        Err(e @ VerifyError::Smoke(crate::smoke::run::SmokeError::Cancelled)) => {
            return Err(super::verify::cancelled_or(e, &signals));
        }
        Err(e) => (None, Some(e.to_string())),
    };
    let facts = gathered.facts;
    let report = verification.as_ref().map(|v| &v.report);
    Ok(DoctorReport {
        schema: DOCTOR_SCHEMA,
        torchup_version: env!("CARGO_PKG_VERSION").to_string(),
        build: crate::build_info::BuildInfo::current(),
        generated_at: Timestamp::now(),
        cuda_stack: CudaStack::from_parts(&facts, report),
        diagnoses: smoke::diagnoses::for_doctor(&facts, report),
        changes: verification.as_ref().map(|v| v.changes.clone()).unwrap_or_default(),
        previous_verify_at: verification.as_ref().and_then(|v| v.previous.as_ref().map(|p| p.at)),
        verify: verification.map(|v| v.report),
        verify_error: verify_error_text,
        facts,
        // A panic inside libtorch's check is reported as no check, never as a crash of doctor.
        libtorch: libtorch.await.ok().flatten(),
    })
}

/// The libtorch check beside the Python smoke test, when torchup was built with it.
#[cfg(feature = "torch")]
fn libtorch_check() -> Option<smoke::SmokeReport> {
    Some(smoke::libtorch::run())
}

#[cfg(not(feature = "torch"))]
fn libtorch_check() -> Option<smoke::SmokeReport> {
    None
}

fn exit_for(report: &DoctorReport) -> Exit {
    if report.facts.python.is_none() && report.verify.is_none() { Exit::Environment } else { Exit::Ok }
}

fn print_human(report: &DoctorReport, g: &GlobalArgs) {
    let color = color_enabled(g.no_color, std::io::stdout().is_terminal());
    for line in render_doctor(report, &TimeZone::system()) {
        crate::outln!("{}", paint(&line, color));
    }
}

pub async fn run(g: &GlobalArgs, json: bool) -> Result<Exit, CliError> {
    let report = collect(g).await?;
    if json {
        print_json(&report)?;
    } else {
        print_human(&report, g);
    }
    if let Some(e) = &report.verify_error {
        crate::errln!("torchup: {e}");
    }
    Ok(exit_for(&report))
}

/// `torchup` without a terminal: the doctor report, then how to act without the wizard.
pub async fn run_non_interactive(g: &GlobalArgs) -> Result<Exit, CliError> {
    let report = collect(g).await?;
    print_human(&report, g);
    crate::outln!();
    crate::outln!("### Running torchup without a terminal");
    crate::outln!();
    crate::outln!("The wizard needs a terminal; here is the doctor report instead. To act on it:");
    crate::outln!();
    crate::outln!("- `torchup plan`            which build would be installed, and why (changes nothing)");
    crate::outln!("- `torchup install --yes`   install it without questions; rolls back on failure");
    crate::outln!("- `torchup verify --json`   re-run the GPU smoke test");
    crate::outln!("- `torchup doctor --json`   this report as JSON");
    if let Some(e) = &report.verify_error {
        crate::errln!("torchup: {e}");
    }
    Ok(exit_for(&report))
}
