//! The target Python and its torch: which interpreter torchup works on, and what is in it.
//!
//! Discovery ([`discover`]) finds interpreters without running them; the target is the first
//! of `--python`, `VIRTUAL_ENV`, `CONDA_PREFIX`, `python`/`python3` on PATH, `py -3` (Windows)
//! whose full probe ([`probe`]) answers. Every other candidate gets a quick probe at the same
//! time, so the list a front end offers is deduplicated by the real executable and shows
//! versions. Nothing here imports torch.

pub mod discover;
pub mod pipconf;
pub mod probe;
pub mod report;
pub mod windows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::join_all;
use thiserror::Error;

use self::discover::{DiscoverInput, Found};
use self::probe::{ProbeError, ProbeReport, QuickReport};
use super::platform::HostEnv;
use super::{Os, PythonCandidate, PythonFacts, TorchFacts};
use crate::exec::{RunSpec, Runner};

/// What Python detection looks at. Everything it reads from the environment is in `env`.
#[derive(Debug, Clone)]
pub struct PythonOptions {
    pub os: Os,
    pub env: HostEnv,
    /// Where `.venv`/`venv`/`env` are looked for, and relative `--python` paths resolved.
    pub cwd: PathBuf,
    /// `--python PATH`: the only possible target when given.
    pub explicit: Option<PathBuf>,
    /// Per interpreter call. A first start on Windows with a virus scanner can take seconds.
    pub timeout: Duration,
    /// Quick-probe the other candidates (versions, dedup by real executable).
    pub probe_candidates: bool,
}

impl PythonOptions {
    pub fn new(os: Os, env: HostEnv, cwd: PathBuf) -> Self {
        PythonOptions { os, env, cwd, explicit: None, timeout: Duration::from_secs(20), probe_candidates: true }
    }
}

/// Why there is no target interpreter. Each message names the fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PythonError {
    #[error("--python {path}: {reason}; pass the path of python.exe/python3 of the env you train in")]
    Explicit { path: String, reason: String },
    #[error(
        "no working Python found{tried}; install Python 3 (python.org), activate the env you train in, or pass --python PATH"
    )]
    NotFound { tried: String },
}

/// What Python detection found.
#[derive(Debug, Clone, Default)]
pub struct PythonDetection {
    pub python: Option<PythonFacts>,
    pub torch: Option<TorchFacts>,
    /// Target first, then the rest in discovery order.
    pub candidates: Vec<PythonCandidate>,
    pub notes: Vec<String>,
    pub error: Option<PythonError>,
    /// The full probe report of the target, for callers that want more than the contract.
    pub report: Option<ProbeReport>,
}

/// Find the target interpreter, probe it, and list every candidate.
pub async fn detect<R: Runner>(opts: &PythonOptions, runner: &R) -> PythonDetection {
    let input = DiscoverInput { os: opts.os, env: &opts.env, cwd: &opts.cwd, explicit: opts.explicit.as_deref() };
    let found = discover::discover(&input);

    let first_target = found.iter().position(|f| f.eligible && f.problem.is_none());
    let quick_targets: Vec<usize> = if opts.probe_candidates {
        (0..found.len()).filter(|&i| Some(i) != first_target && found[i].problem.is_none()).collect()
    } else {
        Vec::new()
    };

    let target_fut = choose_target(opts, runner, &found);
    let quick_fut =
        join_all(quick_targets.iter().map(|&i| probe::run_quick(runner, &found[i].argv, &opts.env, opts.timeout)));
    let py_list_fut = py_launcher_list(opts, runner, &found);
    let (target, quick, listed) = tokio::join!(target_fut, quick_fut, py_list_fut);

    let mut quick_by_index: HashMap<usize, Result<QuickReport, ProbeError>> =
        quick_targets.into_iter().zip(quick).collect();
    let mut found = found;
    // Interpreters only the py launcher knows about: probe them too (Windows only).
    let extra: Vec<Found> =
        listed.into_iter().filter(|f| !found.iter().any(|g| same_path(&g.display, &f.display))).collect();
    if !extra.is_empty() {
        let results =
            join_all(extra.iter().map(|f| async { probe::run_quick(runner, &f.argv, &opts.env, opts.timeout).await }))
                .await;
        for (f, r) in extra.into_iter().zip(results) {
            quick_by_index.insert(found.len(), r);
            found.push(f);
        }
    }

    let TargetChoice { chosen, report, failures } = target;
    let mut detection = PythonDetection::default();
    // Identity (real executable, prefix) -> index in `candidates`.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut candidates: Vec<PythonCandidate> = Vec::new();

    if let (Some(i), Some(r)) = (chosen, &report) {
        let ctx = report::Context { os: opts.os, env: &opts.env, cwd: &opts.cwd, chosen_because: &found[i].found_by };
        let (python, torch, notes) = report::to_facts(r, &ctx);
        detection.python = Some(python);
        detection.torch = torch;
        detection.notes = notes;
        seen.insert(r.identity(), 0);
        candidates.push(PythonCandidate {
            path: found[i].display.clone(),
            found_by: found[i].found_by.clone(),
            version: Some(r.version.clone()),
            chosen: true,
            problem: None,
        });
    }

    for (i, f) in found.iter().enumerate() {
        if Some(i) == chosen {
            continue;
        }
        let mut cand = PythonCandidate {
            path: f.display.clone(),
            found_by: f.found_by.clone(),
            version: None,
            chosen: false,
            problem: f.problem.clone(),
        };
        if let Some(err) = failures.get(&i) {
            cand.problem = Some(err.to_string());
        } else if let Some(result) = quick_by_index.remove(&i) {
            match result {
                Ok(q) => {
                    let id = q.identity();
                    if let Some(&pos) = seen.get(&id) {
                        merge_found_by(&mut candidates[pos], &f.found_by, &f.display);
                        continue;
                    }
                    seen.insert(id, candidates.len());
                    cand.version = Some(q.version);
                }
                Err(e) => cand.problem = Some(e.to_string()),
            }
        }
        candidates.push(cand);
    }
    detection.candidates = candidates;

    if detection.python.is_none() {
        detection.error = Some(no_target_error(opts, &found, &failures));
    }
    detection.report = report;
    detection
}

/// Both spellings name the same path (Windows paths compare case-insensitively).
fn same_path(a: &str, b: &str) -> bool {
    discover::same_file_key(a) == discover::same_file_key(b)
}

/// Record that `path` (found by `found_by`) runs the same interpreter as candidate `c`.
fn merge_found_by(c: &mut PythonCandidate, found_by: &str, path: &str) {
    let label = if same_path(&c.path, path) { found_by.to_string() } else { format!("also {path} ({found_by})") };
    if !c.found_by.split("; ").any(|l| l == label) {
        c.found_by = format!("{}; {label}", c.found_by);
    }
}

struct TargetChoice {
    chosen: Option<usize>,
    report: Option<ProbeReport>,
    failures: HashMap<usize, ProbeError>,
}

/// Probe the eligible candidates in order; the first that answers is the target.
async fn choose_target<R: Runner>(opts: &PythonOptions, runner: &R, found: &[Found]) -> TargetChoice {
    let mut failures = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        if !f.eligible || f.problem.is_some() {
            continue;
        }
        match probe::run_probe(runner, &f.argv, &opts.env, opts.timeout).await {
            Ok(report) => return TargetChoice { chosen: Some(i), report: Some(report), failures },
            Err(e) => {
                tracing::info!(candidate = %f.display, error = %e, "python probe failed");
                failures.insert(i, e);
            }
        }
    }
    TargetChoice { chosen: None, report: None, failures }
}

/// `py -0p` (Windows, when the launcher is there): interpreters registered with the launcher.
async fn py_launcher_list<R: Runner>(opts: &PythonOptions, runner: &R, found: &[Found]) -> Vec<Found> {
    let Some(launcher) = found.iter().find(|f| f.found_by.contains("py launcher")) else { return Vec::new() };
    let mut spec = RunSpec::new([launcher.argv[0].clone(), "-0p".to_string()]).timeout(opts.timeout);
    spec.clear_env = true;
    spec.env = opts.env.iter().map(|(k, v)| (k.to_string(), Some(v.to_string_lossy().into_owned()))).collect();
    let Ok(out) = runner.run(spec, None, tokio_util::sync::CancellationToken::new()).await else {
        return Vec::new();
    };
    windows::parse_py_list(&out.stdout)
        .into_iter()
        .map(|e| {
            let apps_problem = windows::classify_store_alias(std::path::Path::new(&e.path), &opts.env, &[])
                .map(windows::store_alias_problem);
            Found {
                argv: vec![e.path.clone()],
                display: e.path,
                found_by: "py -0p".into(),
                problem: apps_problem,
                eligible: false,
            }
        })
        .collect()
}

fn no_target_error(opts: &PythonOptions, found: &[Found], failures: &HashMap<usize, ProbeError>) -> PythonError {
    if let Some(explicit) = &opts.explicit {
        let shown = found.first().map(|f| f.display.clone()).unwrap_or_else(|| explicit.display().to_string());
        let reason = found
            .first()
            .and_then(|f| failures.get(&0).map(ToString::to_string).or_else(|| f.problem.clone()))
            .unwrap_or_else(|| "not a working Python".into());
        return PythonError::Explicit { path: shown, reason };
    }
    let tried: Vec<String> = found
        .iter()
        .enumerate()
        .filter(|(_, f)| f.eligible || f.problem.is_some())
        .map(|(i, f)| {
            let why = failures.get(&i).map(ToString::to_string).or_else(|| f.problem.clone());
            match why {
                Some(w) => format!("{} ({}): {}", f.display, f.found_by, first_sentence(&w)),
                None => format!("{} ({})", f.display, f.found_by),
            }
        })
        .collect();
    let tried = if tried.is_empty() {
        " (no python or python3 on PATH, no VIRTUAL_ENV or CONDA_PREFIX)".to_string()
    } else {
        format!(" (tried {})", tried.join("; "))
    };
    PythonError::NotFound { tried }
}

fn first_sentence(s: &str) -> &str {
    s.split(['(', ';']).next().unwrap_or(s).trim()
}
