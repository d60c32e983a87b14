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
use super::verify::{TargetPython, paint, target_python, verify_now};
use super::{CliError, Exit, GlobalArgs};
use crate::facts::Facts;
use crate::facts::gpu::GpuProbe;
use crate::facts::platform::{HostEnv, Platform};
use crate::smoke::doctor::{ChosenPython, CudaStack, DOCTOR_SCHEMA, DoctorReport, interim_facts, render_doctor};
use crate::smoke::{self, History, SmokeReport};

/// The single call site for facts. Interim: built from the GPU probe and the smoke test's
/// description of the interpreter; `torchup::facts::gather` replaces it once merged.
fn gather_facts(
    platform: &Platform,
    env: &HostEnv,
    gpu: GpuProbe,
    target: Option<&TargetPython>,
    verify: Option<&SmokeReport>,
) -> Facts {
    let chosen = target.map(|t| ChosenPython {
        path: t.path.clone(),
        because: t.because.to_string(),
        uv_available: which::which("uv").is_ok(),
        conda_available: which::which("conda").is_ok(),
    });
    interim_facts(platform, env, gpu, chosen.as_ref(), verify)
}

/// Gather everything the report needs. Only a bad `--python` flag is an error.
pub async fn collect(g: &GlobalArgs) -> Result<DoctorReport, CliError> {
    let platform = Platform::current();
    let env = HostEnv::capture();
    let history = History::in_dir(&crate::paths::state_dir());
    let (target, mut verify_error) = match target_python(g) {
        Ok(t) => (Some(t), None),
        Err(e) if e.exit == Exit::Environment => (None, Some(e.message)),
        Err(e) => return Err(e),
    };

    let (verified, gpu) = match &target {
        Some(t) => match verify_now(&t.path, &platform, &env, &history).await {
            Ok(v) => {
                let gpu = v.gpu.clone();
                (Some(v), gpu)
            }
            Err(e) => {
                verify_error = Some(e.to_string());
                (None, super::verify::gpu_facts(&platform, &env).await)
            }
        },
        None => (None, super::verify::gpu_facts(&platform, &env).await),
    };

    let report = verified.as_ref().map(|v| &v.report);
    // Without a working interpreter there is no python to describe.
    let facts = gather_facts(&platform, &env, gpu, target.as_ref().filter(|_| report.is_some()), report);
    let cuda_stack = CudaStack::from_parts(&facts, report);
    Ok(DoctorReport {
        schema: DOCTOR_SCHEMA,
        torchup_version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: Timestamp::now(),
        diagnoses: smoke::diagnoses::for_doctor(&facts, report),
        changes: verified.as_ref().map(|v| v.changes.clone()).unwrap_or_default(),
        previous_verify_at: verified.as_ref().and_then(|v| v.previous.as_ref().map(|p| p.at)),
        verify: verified.map(|v| v.report),
        verify_error,
        cuda_stack,
        facts,
    })
}

fn exit_for(report: &DoctorReport) -> Exit {
    if report.facts.python.is_none() { Exit::Environment } else { Exit::Ok }
}

fn print_human(report: &DoctorReport, g: &GlobalArgs) {
    let color = color_enabled(g.no_color, std::io::stdout().is_terminal());
    for line in render_doctor(report, &TimeZone::system()) {
        println!("{}", paint(&line, color));
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
        eprintln!("torchup: {e}");
    }
    Ok(exit_for(&report))
}

/// `torchup` without a terminal: the doctor report, then how to act without the wizard.
pub async fn run_non_interactive(g: &GlobalArgs) -> Result<Exit, CliError> {
    let report = collect(g).await?;
    print_human(&report, g);
    println!();
    println!("### Running torchup without a terminal");
    println!();
    println!("The wizard needs a terminal; here is the doctor report instead. To act on it:");
    println!();
    println!("- `torchup plan`            which build would be installed, and why (changes nothing)");
    println!("- `torchup install --yes`   install it without questions; rolls back on failure");
    println!("- `torchup verify --json`   re-run the GPU smoke test");
    println!("- `torchup doctor --json`   this report as JSON");
    if let Some(e) = &report.verify_error {
        eprintln!("torchup: {e}");
    }
    Ok(exit_for(&report))
}
