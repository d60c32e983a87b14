//! The real [`Inspector`]: the embedded smoke test, the fast Python probe (reads
//! `torch/version.py` without importing torch) and the bundled diagnosis rules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::Inspector;
use crate::diagnose::{self, Diagnosis, OsContext};
use crate::exec::TokioRunner;
use crate::facts::platform::HostEnv;
use crate::facts::python::probe::run_probe;
use crate::facts::python::report::{Context, to_facts};
use crate::facts::{Os, TorchFacts};
use crate::smoke::{Check, SmokeReport, VERIFY_SCHEMA, check_names};

/// The inspector of environments on this machine.
#[derive(Debug, Clone)]
pub struct RealInspector {
    pub runner: TokioRunner,
    pub os: Os,
    /// The environment children see (the process environment plus `child_env`).
    pub env: HostEnv,
    /// Changes for the smoke test's interpreter (tests; empty for users).
    pub child_env: Vec<(String, Option<String>)>,
    pub cwd: PathBuf,
    pub ctx: OsContext,
    pub smoke_timeout: Duration,
    pub probe_timeout: Duration,
}

impl RealInspector {
    pub fn new(os: Os, env: HostEnv, cwd: PathBuf, ctx: OsContext) -> Self {
        RealInspector {
            runner: TokioRunner,
            os,
            env,
            child_env: Vec::new(),
            cwd,
            ctx,
            smoke_timeout: crate::smoke::DEFAULT_TIMEOUT,
            probe_timeout: Duration::from_secs(30),
        }
    }
}

/// A report for a smoke test that could not run at all (the interpreter is missing or
/// broken): every expectation fails on it, so the engine stops rather than guesses.
fn not_run(python: &Path, why: String) -> SmokeReport {
    SmokeReport {
        schema: VERIFY_SCHEMA,
        checks: vec![Check {
            name: check_names::SMOKE_SCRIPT.into(),
            ok: false,
            detail: format!("{} could not run the smoke test: {why}", python.display()),
            ms: 0.0,
        }],
        ..SmokeReport::default()
    }
}

impl Inspector for RealInspector {
    async fn smoke(&self, python: &Path, cancel: &CancellationToken) -> SmokeReport {
        let run = crate::smoke::run::run_cancellable(
            python,
            &self.child_env,
            &self.runner,
            self.smoke_timeout,
            cancel.clone(),
        );
        match run.await {
            Ok(mut report) => {
                let ctx = self.ctx.clone().with_python(python.display().to_string());
                crate::smoke::diagnoses::attach(&mut report, &ctx);
                report
            }
            Err(e) => not_run(python, e.to_string()),
        }
    }

    async fn installed(&self, python: &Path) -> Option<TorchFacts> {
        let interpreter = [python.display().to_string()];
        let env = self.env.with_changes(&self.child_env);
        let report = run_probe(&self.runner, &interpreter, &env, self.probe_timeout).await.ok()?;
        let ctx = Context { os: self.os, env: &env, cwd: &self.cwd, chosen_because: "" };
        to_facts(&report, &ctx).1
    }

    fn diagnose_output(&self, stage: diagnose::TextSource, text: &str) -> Vec<Diagnosis> {
        diagnose::Rules::bundled().diagnose_text(stage, text, &self.ctx)
    }
}
