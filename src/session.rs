//! One façade over the engine for both front ends: gather facts, read the index, plan,
//! and build the pieces an install needs — from one set of settings (the global flags).
//! The CLI and the TUI call this; neither repeats the wiring.

use std::path::PathBuf;

use std::path::Path;

use crate::compat::available::IndexSnapshot;
use crate::compat::data::CompatData;
use crate::compat::index::{IndexClient, IndexOptions};
use crate::compat::index_url::IndexUrl;
use crate::compat::probe::{ProbeOptions, ProbeReport, ProbeSource, ProbeTarget, probe};
use crate::compat::tags::InterpreterTags;
use crate::diagnose::OsContext;
use crate::exec::TokioRunner;
use crate::facts::Facts;
use crate::facts::gather::{GatherOptions, Gathered, Partial, gather_observed, gather_report};
use crate::facts::platform::{HostEnv, Platform};
use crate::fetch::{FetchOptions, NetConfig};
use crate::install::engine::{InstallOptions, Installer};
use crate::install::inspector::RealInspector;
use crate::install::log::RunLog;
use crate::install::real_swap::{RealSwap, SwapSettings};
use crate::plan::{Plan, Request};
use crate::smoke::verify::VerifyOptions;

/// Settings shared by every command (the global flags, resolved).
#[derive(Debug, Clone)]
pub struct Session {
    pub platform: Platform,
    pub env: HostEnv,
    pub cwd: PathBuf,
    /// `--python`.
    pub python: Option<PathBuf>,
    /// `--index-url` base (variants are `<base>/<variant>`), validated; prints redacted.
    pub index_url: IndexUrl,
    pub offline: bool,
    pub state_dir: PathBuf,
    pub cache_dir: PathBuf,
}

/// Why a session cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read the current directory ({0}); cd into your project and run torchup again")]
    Cwd(std::io::Error),
}

impl Session {
    /// This machine, this process's environment.
    pub fn for_host(python: Option<PathBuf>, index_url: &IndexUrl, offline: bool) -> Result<Session, SessionError> {
        let cwd = std::env::current_dir().map_err(SessionError::Cwd)?;
        Ok(Session {
            platform: Platform::current(),
            env: HostEnv::capture(),
            cwd,
            python,
            index_url: index_url.clone(),
            offline,
            state_dir: crate::paths::state_dir(),
            cache_dir: crate::paths::cache_dir(),
        })
    }

    pub fn gather_options(&self) -> GatherOptions {
        let mut opts = GatherOptions::for_host(self.platform.clone(), self.env.clone(), self.cwd.clone());
        opts.python = self.python.clone();
        opts
    }

    /// Every fact, probes run concurrently.
    pub async fn detect(&self) -> Gathered {
        gather_report(&self.gather_options()).await
    }

    /// [`Session::detect`], telling `observe` about the GPU and the Python probe as each
    /// finishes (the wizard fills its Check screen from these).
    pub async fn detect_observed(&self, observe: &(dyn Fn(Partial<'_>) + Sync)) -> Gathered {
        gather_observed(&self.gather_options(), &TokioRunner, observe).await
    }

    /// Where the requirements step's constraints file is written.
    pub fn constraints_file(&self) -> PathBuf {
        self.state_dir.join("constraints").join("torch-constraints.txt")
    }

    /// A front end's request with what only the session knows filled in: the working
    /// directory, the constraints file, and the requirements file checked and made absolute.
    pub fn complete_request(&self, req: &Request) -> Result<Request, String> {
        let requirements = match req.requirements.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(requirements_path(&self.cwd, p)?),
        };
        Ok(Request {
            requirements,
            workdir: req.workdir.clone().or_else(|| Some(self.cwd.display().to_string())),
            constraints_file: req
                .constraints_file
                .clone()
                .or_else(|| Some(self.constraints_file().display().to_string())),
            ..req.clone()
        })
    }

    /// Everything a staged install (or rollback) needs on this machine: the real inspector
    /// (diagnosing for `ctx`, usually `OsContext::from_facts`), a fresh run log in the
    /// state directory and the options.
    pub fn install_kit(&self, ctx: OsContext, facts: Option<&Facts>, dry_run: bool, auto_rollback: bool) -> InstallKit {
        InstallKit {
            inspector: RealInspector::new(self.platform.os, self.env.clone(), self.cwd.clone(), ctx),
            swap: RealSwap::new(self.swap_settings(facts)),
            log: RunLog::create_in(&crate::paths::log_dir_in(&self.state_dir)),
            options: InstallOptions { dry_run, auto_rollback, index_base: self.index_url.expose(), step_timeout: None },
        }
    }

    /// What fetching, the stash and the journal need, for the target described by `facts`.
    pub fn swap_settings(&self, facts: Option<&Facts>) -> SwapSettings {
        let python = facts.and_then(|f| f.python.as_ref());
        let prefix = python.map(|p| PathBuf::from(&p.prefix));
        SwapSettings {
            state_dir: self.state_dir.clone(),
            index_base: self.index_url.expose(),
            offline: self.offline,
            index_cache: Some(self.cache_dir.join("index")),
            index_layout: crate::compat::mirrors::layout_of(&self.index_url),
            wheelhouse: self.cache_dir.join("wheelhouse"),
            tags: facts.and_then(|f| {
                let p = f.python.as_ref()?;
                InterpreterTags::from_python(p, f.os, &f.cpu_arch).ok()
            }),
            os: self.platform.os,
            python: python.map(|p| PathBuf::from(&p.executable)),
            net: NetConfig::from_pip(self.platform.os, &self.env, prefix.as_deref()),
            prefix,
            pip_version: python.and_then(|p| p.pip_version.clone()),
            fetch: FetchOptions::default(),
            child_env: Vec::new(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }

    /// What `verify` needs, from the session.
    pub fn verify_options(&self) -> VerifyOptions {
        VerifyOptions::new(self.platform.clone(), self.env.clone(), self.cwd.clone(), self.python.clone())
    }

    /// What the index serves for every CUDA variant the data knows plus any new one it
    /// finds (a future cu134). None when the index URL is unusable; failures of single
    /// pages are recorded in the snapshot and the planner falls back to bundled data.
    pub async fn index_snapshot(&self, data: &CompatData) -> Result<IndexSnapshot, String> {
        let mut opts = IndexOptions::new(self.index_url.expose());
        opts.offline = self.offline;
        opts.cache_dir = Some(self.cache_dir.join("index"));
        opts.layout = crate::compat::mirrors::layout_of(&self.index_url);
        let client = IndexClient::new(opts).map_err(|e| e.to_string())?;
        let mut variants: Vec<String> = data.variants().map(|v| v.name.clone()).collect();
        let found = client.discover_variants(&crate::compat::index::variant_guesses(&variants)).await;
        for v in found.variants {
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        Ok(client.snapshot(&variants, &["torch", "torchvision", "torchaudio"]).await)
    }

    /// Plan for `facts` with the bundled data, refined by the index unless it cannot be
    /// read at all. Returns the plan and a note when the index was not usable.
    pub async fn plan(&self, facts: &Facts, req: &Request) -> Result<(Plan, Option<String>), String> {
        let data = CompatData::bundled().map_err(|e| format!("{e} (this is a torchup bug: please report it)"))?;
        let (snapshot, note) = match self.index_snapshot(data).await {
            Ok(s) if s.listings.is_empty() && self.offline => {
                (Some(s), Some("--offline with no cached index answers: planned from the bundled data".into()))
            }
            Ok(s) if s.listings.is_empty() && !s.failed.is_empty() => {
                let why = s.failed.values().next().cloned().unwrap_or_default();
                let note = format!("could not read {} ({why}); planned from the bundled data", self.index_url);
                (Some(s), Some(note))
            }
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(format!("the index was not used: {e}"))),
        };
        let mut plan = crate::plan::plan(facts, req, data, snapshot.as_ref());
        if plan.choice.is_some()
            && let Some(p) = &facts.python
        {
            // The user's PyPI mirror stays in charge of the dependencies; say so (Review shows it).
            let prefix = (!p.prefix.is_empty()).then(|| std::path::Path::new(&p.prefix));
            let settings = crate::facts::python::pipconf::pypi_index_settings(self.platform.os, &self.env, prefix);
            if !settings.is_empty() {
                plan.warnings.push(format!(
                    "kept for dependencies: your pip index ({}); torch's own wheels come from {}",
                    settings.join("; "),
                    self.index_url
                ));
            }
        }
        Ok((plan, note))
    }
}

impl Session {
    /// `--mirror auto`: plan on the current index, probe the built-in sources for the chosen
    /// build (concurrently, ~3 s), and re-plan on the fastest source that carries it; the
    /// session then points at that source (an install fetches from it). Returns the plan,
    /// the planning note and the probe report (None when there was no build to look for).
    pub async fn plan_auto_mirror(
        &mut self,
        facts: &Facts,
        req: &Request,
    ) -> Result<(Plan, Option<String>, Option<ProbeReport>), String> {
        let (plan, note) = self.plan(facts, req).await?;
        let (Some(choice), Some(tags)) = (
            plan.choice.as_ref(),
            facts.python.as_ref().and_then(|p| InterpreterTags::from_python(p, facts.os, &facts.cpu_arch).ok()),
        ) else {
            return Ok((plan, note, None));
        };
        if self.offline {
            return Ok((plan, Some("--mirror auto needs the network: kept the index given".into()), None));
        }
        let sources = auto_sources(facts.os);
        let target = ProbeTarget { variant: choice.variant.clone(), torch: choice.torch.clone(), tags };
        let report = probe(&sources, &target, ProbeOptions::default()).await;
        let Some(pick) = report.chosen.map(|i| &sources[i]) else {
            return Ok((plan, note, Some(report)));
        };
        if pick.url == self.index_url {
            return Ok((plan, note, Some(report)));
        }
        self.index_url = pick.url.clone();
        let req = Request { index_url: self.index_url.expose(), ..req.clone() };
        let (plan, note) = self.plan(facts, &req).await?;
        Ok((plan, note, Some(report)))
    }
}

/// The table's sources `auto` probes on this OS (PyPI only on Linux, where its wheels are
/// CUDA builds; the probe finds whether PyPI's default variant is the planned one).
pub fn auto_sources(os: crate::facts::Os) -> Vec<ProbeSource> {
    crate::compat::mirrors::offered(os == crate::facts::Os::Linux)
        .filter_map(|s| Some(ProbeSource { name: s.name.clone(), url: s.index_url().ok()?, layout: Some(s.layout) }))
        .collect()
}

/// The owned parts of one install run (inspector, log, options): a front end keeps this and
/// borrows an [`Installer`] from it, also inside a spawned task.
#[derive(Debug)]
pub struct InstallKit {
    pub inspector: RealInspector,
    pub swap: RealSwap,
    pub log: RunLog,
    pub options: InstallOptions,
}

impl InstallKit {
    pub fn installer(&self) -> Installer<'_, TokioRunner, RealInspector, RealSwap> {
        Installer {
            runner: &self.inspector.runner,
            inspector: &self.inspector,
            swap: &self.swap,
            log: &self.log,
            env: Vec::new(),
        }
    }
}

/// A requirements file given on the command line or in the wizard, made absolute against
/// `cwd`; an error names the file when it does not exist.
pub fn requirements_path(cwd: &Path, p: &str) -> Result<String, String> {
    let path = Path::new(p);
    let abs = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
    if !abs.is_file() {
        return Err(format!("requirements file {p}: no such file (in {})", cwd.display()));
    }
    Ok(abs.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(cwd: &Path) -> Session {
        Session {
            platform: Platform::current(),
            env: HostEnv::from_pairs(Vec::<(String, String)>::new()),
            cwd: cwd.to_path_buf(),
            python: None,
            index_url: IndexUrl::official(),
            offline: true,
            state_dir: cwd.join("state"),
            cache_dir: cwd.join("cache"),
        }
    }

    #[test]
    fn a_front_ends_request_gets_the_session_parts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "transformers\n").unwrap();
        let s = session(dir.path());
        let req = Request { requirements: Some("requirements.txt".into()), ..Request::default() };
        let done = s.complete_request(&req).unwrap();
        assert_eq!(done.requirements, Some(dir.path().join("requirements.txt").display().to_string()));
        assert_eq!(done.workdir, Some(dir.path().display().to_string()));
        assert_eq!(done.constraints_file, Some(s.constraints_file().display().to_string()));
        assert!(s.constraints_file().starts_with(&s.state_dir));
        // What the front end set stays; an empty field means none.
        let own = Request { workdir: Some("/elsewhere".into()), requirements: Some("  ".into()), ..Request::default() };
        let done = s.complete_request(&own).unwrap();
        assert_eq!(done.workdir.as_deref(), Some("/elsewhere"));
        assert_eq!(done.requirements, None);
        let missing = Request { requirements: Some("nope.txt".into()), ..Request::default() };
        assert!(s.complete_request(&missing).unwrap_err().starts_with("requirements file nope.txt: no such file"));
    }
}
