//! The target Python and its torch: which interpreter torchup works on, and what is in it.
//!
//! Discovery ([`discover`]) finds interpreters without running them; the target is the first
//! of `--python`, `VIRTUAL_ENV`, `CONDA_PREFIX`, `python`/`python3` on PATH, `py -3` (Windows)
//! whose full probe ([`probe`]) answers. The other candidates are identified from the
//! filesystem ([`inspect`]) and, as [`CandidateProbing`] says, by a quick probe run at the
//! same time as the target's, so the list a front end offers is deduplicated by the real
//! interpreter and shows versions. Nothing here imports torch.

pub mod discover;
pub(crate) mod inspect;
pub(crate) mod pipconf;
pub mod probe;
pub(crate) mod report;
pub(crate) mod windows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::join_all;
use thiserror::Error;

use self::discover::{DiscoverInput, Found};
use self::inspect::{Identity, Inspected, Shape};
use self::probe::{ProbeError, ProbeReport, QuickReport};
use super::platform::HostEnv;
use super::{Os, PythonCandidate, PythonFacts, TorchFacts};
use crate::exec::{RunSpec, Runner};

/// Which candidates other than the target are run (one quick Python start each) to learn
/// their version and who they really are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateProbing {
    /// None: candidates are described from the filesystem only.
    Off,
    /// Interpreter binaries and venvs whose version the filesystem does not record; never
    /// scripts (a pyenv shim costs ~200 ms). The default: `detect` stays about one start-up.
    Binaries,
    /// Every candidate, shims included, so shims are deduplicated by `sys.executable`
    /// (for a front end that offers the list).
    All,
}

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
    pub probe_candidates: CandidateProbing,
}

impl PythonOptions {
    pub fn new(os: Os, env: HostEnv, cwd: PathBuf) -> Self {
        PythonOptions {
            os,
            env,
            cwd,
            explicit: None,
            timeout: Duration::from_secs(20),
            probe_candidates: CandidateProbing::Binaries,
        }
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

/// Whether candidate `i` gets a quick probe.
fn wants_quick(mode: CandidateProbing, f: &Found, seen: &Inspected) -> bool {
    if f.problem.is_some() {
        return false;
    }
    match (mode, &seen.shape) {
        (CandidateProbing::Off, _) => false,
        (_, Shape::Venv(_) | Shape::Binary) => seen.version.is_none(),
        (CandidateProbing::Binaries, _) => false,
        (CandidateProbing::All, _) => true,
    }
}

/// Find the target interpreter, probe it, and list every candidate.
pub async fn detect<R: Runner>(opts: &PythonOptions, runner: &R) -> PythonDetection {
    let input = DiscoverInput { os: opts.os, env: &opts.env, cwd: &opts.cwd, explicit: opts.explicit.as_deref() };
    let mut found = discover::discover(&input);
    let mut inspected: Vec<Inspected> = found.iter().map(|f| inspect::inspect(opts.os, &f.argv)).collect();

    // Quick-probe each statically distinct candidate once; the first eligible one gets the
    // full probe instead.
    let first_target = found.iter().position(|f| f.eligible && f.problem.is_none());
    let mut quick_targets = Vec::new();
    let mut static_seen: Vec<&Identity> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let id = inspected[i].identity.as_ref();
        let duplicate = id.is_some_and(|id| static_seen.contains(&id));
        if let Some(id) = id {
            static_seen.push(id);
        }
        if Some(i) != first_target && !duplicate && wants_quick(opts.probe_candidates, f, &inspected[i]) {
            quick_targets.push(i);
        }
    }

    let quick_fut = join_all(quick_targets.iter().map(|&i| {
        let skip_site = inspected[i].shape == Shape::Binary;
        probe::run_quick(runner, &found[i].argv, &opts.env, opts.timeout, skip_site)
    }));
    let (target, quick, listed) =
        tokio::join!(choose_target(opts, runner, &found), quick_fut, py_launcher_list(opts, runner, &found));
    let mut quick_by_index: HashMap<usize, Result<QuickReport, ProbeError>> =
        quick_targets.into_iter().zip(quick).collect();

    // Interpreters only the py launcher knows about (Windows).
    let extra: Vec<Found> =
        listed.into_iter().filter(|f| !found.iter().any(|g| same_path(&g.display, &f.display))).collect();
    if !extra.is_empty() {
        let extra_inspected: Vec<Inspected> = extra.iter().map(|f| inspect::inspect(opts.os, &f.argv)).collect();
        let runs = extra.iter().zip(&extra_inspected).map(|(f, seen)| async {
            if wants_quick(opts.probe_candidates, f, seen) {
                Some(probe::run_quick(runner, &f.argv, &opts.env, opts.timeout, seen.shape == Shape::Binary).await)
            } else {
                None
            }
        });
        let results = join_all(runs).await;
        for ((f, seen), r) in extra.into_iter().zip(extra_inspected).zip(results) {
            if let Some(r) = r {
                quick_by_index.insert(found.len(), r);
            }
            found.push(f);
            inspected.push(seen);
        }
    }

    let TargetChoice { chosen, report, failures } = target;
    let mut detection = PythonDetection::default();
    // Identity -> index in `candidates`.
    let mut seen: HashMap<Identity, usize> = HashMap::new();
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
            version: inspected[i].version.clone(),
            chosen: false,
            problem: f.problem.clone(),
        };
        let mut identity = inspected[i].identity.clone();
        if let Some(err) = failures.get(&i) {
            cand.problem = Some(err.to_string());
            identity = None;
        } else if let Some(result) = quick_by_index.remove(&i) {
            match result {
                Ok(q) => {
                    identity = Some(q.identity());
                    cand.version = Some(q.version);
                }
                Err(e) => {
                    cand.problem = Some(e.to_string());
                    identity = None;
                }
            }
        }
        if cand.problem.is_some() {
            identity = None;
        }
        if let Some(id) = identity {
            if let Some(&pos) = seen.get(&id) {
                merge_found_by(&mut candidates[pos], &f.found_by, &f.display);
                continue;
            }
            seen.insert(id, candidates.len());
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
