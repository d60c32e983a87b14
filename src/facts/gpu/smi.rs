//! Running nvidia-smi: the per-GPU query, the compute_cap query and the banner, run
//! concurrently through the process runner with a timeout each, then read with
//! [`super::smi_text`]. A hung nvidia-smi becomes a state, never a hang.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::smi_text::{
    COMPUTE_CAP_ARGS, QUERY_ARGS, SmiFailure, classify_failure, classify_text, first_line, parse_banner,
    parse_compute_caps, parse_query,
};
use crate::exec::{ExecError, ExitState, RunOutcome, RunSpec, Runner, TokioRunner};
use crate::facts::{FactSource, Gpu, GpuState};

/// Facts nvidia-smi gave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SmiReport {
    pub gpus: Vec<Gpu>,
    pub driver_version: String,
    /// From the banner: "13.0"; None when the banner did not say.
    pub cuda: Option<String>,
    pub notes: Vec<String>,
}

/// What running nvidia-smi led to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SmiOutcome {
    Answered(SmiReport),
    /// It ran and reported a problem (or answered unreadably, or hung).
    Failed(GpuState),
    /// It could not be started at all (missing, not executable).
    NotRunnable(String),
}

/// Run nvidia-smi at `path`; each call gets `timeout`.
pub(crate) async fn probe(path: &Path, timeout: Duration) -> SmiOutcome {
    let (query, caps, banner) =
        tokio::join!(run(path, &QUERY_ARGS, timeout), run(path, &COMPUTE_CAP_ARGS, timeout), run(path, &[], timeout));
    let shown = path.display();
    let query = match query {
        Ok(q) => q,
        Err(e) if e.is_not_found() => return SmiOutcome::NotRunnable(format!("{shown} does not exist")),
        Err(e) => return SmiOutcome::NotRunnable(e.to_string()),
    };
    let rows = match query.state {
        ExitState::TimedOut | ExitState::Cancelled => {
            return SmiOutcome::Failed(GpuState::TimedOut {
                detail: format!("{shown} did not answer within {}", secs(timeout)),
            });
        }
        ExitState::Signal => {
            return SmiOutcome::Failed(GpuState::Unreadable { detail: format!("{shown} was killed by a signal") });
        }
        ExitState::Code(code) => {
            let text = query.combined();
            if let Some(f) = classify_text(&text) {
                return SmiOutcome::Failed(state_for(f, code, &text));
            }
            if code != 0 {
                return SmiOutcome::Failed(state_for(classify_failure(code, &text), code, &text));
            }
            match parse_query(&query.stdout) {
                Ok(rows) => rows,
                Err(e) => {
                    return SmiOutcome::Failed(GpuState::Unreadable { detail: format!("nvidia-smi --query-gpu: {e}") });
                }
            }
        }
    };

    let mut notes = Vec::new();
    let caps = read_caps(caps, rows.len(), &mut notes);
    let banner = match banner {
        Ok(b) if b.success() => parse_banner(&b.stdout),
        Ok(b) => {
            notes.push(format!("plain nvidia-smi failed ({}); the CUDA level is unknown", b.state.describe()));
            Default::default()
        }
        Err(e) => {
            notes.push(format!("plain nvidia-smi: {e}"));
            Default::default()
        }
    };
    // parse_query never returns an empty list.
    let driver_version = rows[0].driver_version.clone();
    if rows.iter().any(|r| r.driver_version != driver_version) {
        notes.push("nvidia-smi reported different driver versions per GPU; using GPU 0's".into());
    }
    if let Some(b) = banner.driver.as_deref().filter(|b| *b != driver_version) {
        notes.push(format!("the nvidia-smi banner says driver {b}, the query {driver_version}; using the query"));
    }
    if banner.cuda.is_none() {
        notes.push("nvidia-smi did not show the highest CUDA version the driver supports".into());
    }
    let gpus = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let compute_capability = caps.get(i).cloned().flatten();
            Gpu {
                index: row.index,
                name: row.name,
                memory_mib: row.memory_mib,
                compute_capability_source: compute_capability.as_ref().map(|_| FactSource::NvidiaSmi),
                compute_capability,
            }
        })
        .collect();
    SmiOutcome::Answered(SmiReport { gpus, driver_version, cuda: banner.cuda, notes })
}

/// The compute_cap answer, one entry per GPU, or empty when it is not usable.
fn read_caps(result: Result<RunOutcome, ExecError>, gpus: usize, notes: &mut Vec<String>) -> Vec<Option<String>> {
    let out = match result {
        Ok(o) => o,
        Err(e) => {
            notes.push(format!("nvidia-smi compute_cap query: {e}"));
            return Vec::new();
        }
    };
    match out.state {
        ExitState::Code(0) => match parse_compute_caps(&out.stdout) {
            Ok(caps) if caps.len() == gpus => caps,
            Ok(caps) => {
                notes.push(format!("nvidia-smi gave {} compute capabilities for {gpus} GPUs; ignored", caps.len()));
                Vec::new()
            }
            Err(e) => {
                notes.push(format!("nvidia-smi compute_cap: {e}"));
                Vec::new()
            }
        },
        ExitState::Code(code) => {
            let text = out.combined();
            if classify_failure(code, &text) == SmiFailure::InvalidField {
                notes.push("this nvidia-smi (470 branch or older) has no compute_cap field".into());
            } else {
                notes.push(format!("nvidia-smi compute_cap query failed (exit {code}): {}", first_line(&text)));
            }
            Vec::new()
        }
        other => {
            notes.push(format!("nvidia-smi compute_cap query {}", other.describe()));
            Vec::new()
        }
    }
}

/// The state for a failure nvidia-smi reported.
fn state_for(f: SmiFailure, code: i32, text: &str) -> GpuState {
    let said = format!("nvidia-smi exit {code}: {}", first_line(text));
    match f {
        SmiFailure::DriverNotLoaded | SmiFailure::GpuLost | SmiFailure::NoPermission => {
            GpuState::DriverNotLoaded { detail: said }
        }
        SmiFailure::NoDevices => GpuState::DriverNotLoaded { detail: format!("{said} — the driver sees no GPU") },
        SmiFailure::VersionMismatch => GpuState::VersionMismatch { detail: said },
        SmiFailure::LibraryMissing => GpuState::ToolMissing { detail: said },
        SmiFailure::InvalidField | SmiFailure::Other => GpuState::Unreadable { detail: said },
    }
}

async fn run(path: &Path, args: &[&str], timeout: Duration) -> Result<RunOutcome, ExecError> {
    let mut argv = vec![path.to_string_lossy().into_owned()];
    argv.extend(args.iter().map(|a| a.to_string()));
    TokioRunner.run(RunSpec::new(argv).timeout(timeout), None, CancellationToken::new()).await
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0} s") } else { format!("{s:.1} s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_for_failures() {
        assert!(
            matches!(state_for(SmiFailure::NoDevices, 6, "No devices were found"), GpuState::DriverNotLoaded { detail } if detail.contains("sees no GPU"))
        );
        assert!(matches!(state_for(SmiFailure::VersionMismatch, 18, "x"), GpuState::VersionMismatch { .. }));
        assert!(matches!(state_for(SmiFailure::LibraryMissing, 12, "x"), GpuState::ToolMissing { .. }));
        assert!(
            matches!(state_for(SmiFailure::Other, 1, "boom"), GpuState::Unreadable { detail } if detail == "nvidia-smi exit 1: boom")
        );
    }

    #[test]
    fn seconds_are_shown_plainly() {
        assert_eq!(secs(Duration::from_secs(10)), "10 s");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5 s");
    }
}
