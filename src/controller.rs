//! The wizard's controller: the one place where the TUI's effects meet detection, the
//! planner, the preflight checks, the staged install, the smoke test and the system opener.
//! Each effect becomes a tokio task reporting back with [`Msg`]s; the TUI never sees a
//! process. Everything is built from the same [`Session`] the CLI commands use.
//!
//! Back-pressure holds end to end: the install engine's bounded event channel is drained
//! into the wizard's bounded message channel with `send().await`, so a wizard that falls
//! behind slows the engine's event stream instead of growing a queue.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::diagnose::OsContext;
use crate::exec::{RunSpec, Runner, TokioRunner};
use crate::facts::gather::Partial;
use crate::facts::platform::HostEnv;
use crate::facts::{Facts, Os};
use crate::install::lock::{EnvLock, LockError, holder_line};
use crate::install::{InstallEvent, InstallReport};
use crate::plan::{Manager, Plan, Request};
use crate::session::Session;
use crate::smoke::History;
use crate::smoke::verify::verify;
use crate::tui::{Effect, EngineHandle, Msg, MsgSender, PythonProbe, VerifyOutcome};

/// Install events waiting to be forwarded at most (the engine waits when it is full, and
/// the forwarder waits when the wizard's own channel is full).
const EVENT_BUFFER: usize = 512;

/// How long the system opener may take to hand the file over.
const OPENER_TIMEOUT: Duration = Duration::from_secs(15);

/// The [`EngineHandle`] over the real engine.
pub struct Controller {
    session: Session,
    /// The running install or rollback: its cancel token (stops the child's process group)
    /// and its task, which returns the final report.
    install: Option<(CancellationToken, JoinHandle<InstallReport>)>,
    /// Detection, planning, preflight, verify and opener tasks: aborted on Cancel (their
    /// children are killed when dropped).
    tasks: Vec<AbortHandle>,
    /// The facts the last install ran with (the rollback's diagnoses need the platform).
    facts: Option<Facts>,
}

impl Controller {
    pub fn new(session: Session) -> Controller {
        Controller { session, install: None, tasks: Vec::new(), facts: None }
    }

    /// After the wizard has left: stop what still runs and wait (up to `limit`) for the
    /// last install or rollback to stop its child, so no pip is left behind. Returns that
    /// run's final report (None without a run, or when it did not stop in time).
    pub async fn settle(&mut self, limit: Duration) -> Option<InstallReport> {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let (cancel, task) = self.install.take()?;
        // A finished run ignores this.
        cancel.cancel();
        tokio::time::timeout(limit, task).await.ok()?.ok()
    }

    fn spawn<F>(&mut self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::spawn(fut).abort_handle());
    }

    fn detect(&mut self, python: Option<String>, tx: &MsgSender) {
        let mut session = self.session.clone();
        if let Some(p) = python {
            session.python = Some(PathBuf::from(p));
        }
        let tx = tx.clone();
        self.spawn(async move {
            let observe = |part: Partial<'_>| {
                let msg = match part {
                    Partial::Gpu(g) => Msg::Gpu(Box::new(g.clone())),
                    Partial::Python(p) => Msg::Python(Box::new(PythonProbe {
                        python: p.python.clone(),
                        torch: p.torch.clone(),
                        candidates: p.candidates.clone(),
                    })),
                };
                // Partial results only make the Check screen live; the complete facts follow
                // with a waiting send, so a full channel may drop one of these, never them.
                let _ = tx.try_send(msg);
            };
            let gathered = session.detect_observed(&observe).await;
            let result = match gathered.python_error {
                Some(e) => Err(e.to_string()),
                None => Ok(Box::new(gathered.facts)),
            };
            let _ = tx.send(Msg::Facts(result)).await;
        });
    }

    fn plan(&mut self, id: u64, facts: Box<Facts>, request: Request, tx: &MsgSender) {
        let mut session = self.session.clone();
        // The Choose screen may pick another wheel source: the same validated type as the
        // CLI's (plain http only to loopback), and the index the snapshot is read from.
        // An empty one means the session's own index.
        let source = match request.index_url.trim() {
            "" => Ok(self.session.index_url.clone()),
            given => crate::compat::index_url::IndexUrl::parse(given),
        };
        let tx = tx.clone();
        self.spawn(async move {
            let result = match (source, session.complete_request(&request)) {
                (Err(e), _) => Err(e.to_string()),
                (_, Err(e)) => Err(e),
                (Ok(source), Ok(mut req)) => {
                    req.index_url = source.expose();
                    session.index_url = source;
                    session.plan(&facts, &req).await.map(|(mut plan, note)| {
                        // The CLI prints this note; the wizard shows it with the plan's warnings.
                        plan.warnings.extend(note);
                        Box::new(plan)
                    })
                }
            };
            let _ = tx.send(Msg::Plan { id, result }).await;
        });
    }

    fn preflight(&mut self, id: u64, facts: Box<Facts>, plan: Box<Plan>, tx: &MsgSender) {
        let env = self.session.env.clone();
        let tx = tx.clone();
        self.spawn(async move {
            // Listing processes and volumes is blocking work.
            let checked = tokio::task::spawn_blocking(move || {
                crate::preflight::check(&facts, &plan, &env, &crate::preflight::RealHost)
            })
            .await;
            let issues = match checked {
                Ok(issues) => issues,
                Err(e) => {
                    let _ = tx.send(Msg::Notice(format!("The checks before installing did not finish: {e}"))).await;
                    Vec::new()
                }
            };
            let _ = tx.send(Msg::Preflight { id, issues }).await;
        });
    }

    /// Start an install or rollback on its own task with a fresh cancel token; its events
    /// are forwarded in engine order.
    ///
    /// A run that changes the environment (`lock`: its prefix) first takes the environment's
    /// one-torchup lock, as the CLI does, and holds it until the run ends: held by another
    /// torchup, the run ends at once with an unchanged report naming the holder.
    fn start_run<F, Fut>(&mut self, ctx: OsContext, dry_run: bool, lock: Option<PathBuf>, tx: &MsgSender, run: F)
    where
        F: FnOnce(crate::session::InstallKit, mpsc::Sender<InstallEvent>, CancellationToken) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = InstallReport> + Send + 'static,
    {
        if let Some((cancel, task)) = self.install.take()
            && !task.is_finished()
        {
            // The wizard starts one run at a time; a leftover one must not keep going.
            cancel.cancel();
        }
        // Built in the task, on a blocking thread: it creates the run log and reads pip's
        // configuration and netrc, which `perform` (on the TUI loop) must not wait for.
        let (session, facts) = (self.session.clone(), self.facts.clone());
        let cancel = CancellationToken::new();
        let tx = tx.clone();
        let (etx, mut erx) = mpsc::channel::<InstallEvent>(EVENT_BUFFER);
        let token = cancel.clone();
        let state_dir = self.session.state_dir.clone();
        let task = tokio::spawn(async move {
            let kit =
                match tokio::task::spawn_blocking(move || session.install_kit(ctx, facts.as_ref(), dry_run, false))
                    .await
                {
                    Ok(kit) => kit,
                    Err(e) => {
                        let report = InstallReport::unchanged(None, format!("Nothing was changed: {e}."));
                        let _ = tx.send(Msg::Install(InstallEvent::Finished(Box::new(report.clone())))).await;
                        return report;
                    }
                };
            let _lock = match lock.filter(|_| !dry_run) {
                None => None,
                Some(prefix) => match EnvLock::acquire_async(state_dir, prefix, false).await {
                    Ok(l) => Some(l),
                    Err(e) => {
                        let why = match &e {
                            LockError::Held { pid, command, since } => {
                                format!("{}: let it finish, then try again", holder_line(pid, command, since))
                            }
                            LockError::Io { .. } => e.to_string(),
                        };
                        let report = InstallReport::unchanged(None, format!("Nothing was changed: {why}."));
                        let _ = tx.send(Msg::Install(InstallEvent::Finished(Box::new(report.clone())))).await;
                        return report;
                    }
                },
            };
            let forward = async move {
                while let Some(ev) = erx.recv().await {
                    // A closed wizard is no reason to stop the engine half-way: keep draining
                    // (a send to a closed channel returns at once).
                    let _ = tx.send(Msg::Install(ev)).await;
                }
            };
            let (report, ()) = tokio::join!(run(kit, etx, token), forward);
            report
        });
        self.install = Some((cancel, task));
    }

    fn install(&mut self, facts: Box<Facts>, plan: Box<Plan>, dry_run: bool, tx: &MsgSender) {
        let ctx = OsContext::from_facts(&facts);
        self.facts = Some((*facts).clone());
        let lock = facts.python.as_ref().map(|p| PathBuf::from(&p.prefix));
        self.start_run(ctx, dry_run, lock, tx, move |kit, etx, cancel| async move {
            kit.installer().run(&facts, &plan, &kit.options, &etx, &cancel).await
        });
    }

    fn rollback(&mut self, python: String, prefix: Option<String>, manager: Manager, tx: &MsgSender) {
        let ctx = match &self.facts {
            Some(f) => OsContext::from_facts(f),
            None => OsContext::new(self.session.platform.os, self.session.platform.wsl).with_python(python.clone()),
        };
        self.start_run(ctx, false, prefix.map(PathBuf::from), tx, move |kit, etx, cancel| async move {
            kit.installer().rollback(Path::new(&python), manager, &kit.options, &etx, &cancel).await
        });
    }

    fn cancel(&mut self) {
        if let Some((cancel, _)) = &self.install {
            cancel.cancel();
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    fn verify(&mut self, python: Option<String>, tx: &MsgSender) {
        let session = self.session.clone();
        let tx = tx.clone();
        self.spawn(async move {
            let mut opts = session.verify_options();
            if let Some(p) = python {
                opts.python = Some(PathBuf::from(p));
            }
            let history = History::in_dir(&session.state_dir);
            let result = match verify(&opts, &history, &TokioRunner).await {
                Err(e) => Err(e.to_string()),
                Ok(v) => {
                    if let Some(w) = &v.history_warning {
                        let _ = tx.send(Msg::Notice(format!("The previous results could not be read: {w}"))).await;
                    }
                    let saved = history.append_off_runtime(v.entry.clone()).await;
                    let saved_to = match saved {
                        Ok(()) => Some(history.path().display().to_string()),
                        Err(e) => {
                            let _ = tx.send(Msg::Notice(format!("The result was not saved: {e}"))).await;
                            None
                        }
                    };
                    let tz = TimeZone::system();
                    Ok(Box::new(VerifyOutcome {
                        now: v.report,
                        previous_when: v
                            .previous
                            .as_ref()
                            .map(|p| p.at.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()),
                        previous: v.previous.map(|p| p.report),
                        changes: v.changes,
                        saved_to,
                    }))
                }
            };
            let _ = tx.send(Msg::Verified(result)).await;
        });
    }

    fn open_log(&mut self, path: PathBuf, tx: &MsgSender) {
        let shown = path.display().to_string();
        let Some(argv) = opener_argv(self.session.platform.os, &self.session.env, &path) else {
            let tx = tx.clone();
            self.spawn(async move {
                let _ = tx.send(Msg::Notice(format!("No graphical session to open it in: the log is {shown}"))).await;
            });
            return;
        };
        let program = argv.first().cloned().unwrap_or_default();
        let tx = tx.clone();
        self.spawn(async move {
            let spec = RunSpec::new(argv).timeout(OPENER_TIMEOUT);
            let text = match TokioRunner.run(spec, None, CancellationToken::new()).await {
                Ok(out) if out.state.success() => format!("Opened the log: {shown}"),
                Ok(out) => format!("{program} could not open the log ({}): it is {shown}", out.state.describe()),
                Err(e) if e.is_not_found() => format!("{program} is not installed: the log is {shown}"),
                Err(e) => format!("Cannot open the log ({e}): it is {shown}"),
            };
            let _ = tx.send(Msg::Notice(text)).await;
        });
    }
}

impl EngineHandle for Controller {
    fn perform(&mut self, effect: Effect, tx: &MsgSender) {
        match effect {
            Effect::Detect { python } => self.detect(python, tx),
            Effect::Plan { id, facts, request } => self.plan(id, facts, request, tx),
            Effect::Preflight { id, facts, plan } => self.preflight(id, facts, plan, tx),
            Effect::Install { facts, plan, dry_run } => self.install(facts, plan, dry_run, tx),
            Effect::Cancel => self.cancel(),
            Effect::Rollback { python, prefix, manager } => self.rollback(python, prefix, manager, tx),
            Effect::Verify { python } => self.verify(python, tx),
            Effect::OpenLog(path) => self.open_log(path, tx),
            Effect::ExplainFile { path, facts } => explain_file(path, facts, tx),
            // The runtime handles Quit itself and never passes it here.
            Effect::Quit => {}
        }
    }
}

/// The system's "open this file" command as argv, or None where there is no graphical
/// session to open it in (a Linux console or SSH session: the path is shown instead).
pub fn opener_argv(os: Os, env: &HostEnv, path: &Path) -> Option<Vec<String>> {
    let file = path.display().to_string();
    match os {
        // `start` treats its first quoted argument as a window title: give it an empty one.
        Os::Windows => Some(vec!["cmd".into(), "/c".into(), "start".into(), String::new(), file]),
        Os::Macos => Some(vec!["open".into(), file]),
        Os::Linux => {
            let graphical = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|k| env.get(k).is_some_and(|v| !v.is_empty()));
            graphical.then(|| vec!["xdg-open".into(), file])
        }
    }
}

/// [`Effect::ExplainFile`]: read and explain the file on a blocking thread.
fn explain_file(path: std::path::PathBuf, facts: Option<Box<crate::facts::Facts>>, tx: &MsgSender) {
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let target = match facts {
            Some(f) => crate::explain::Target::for_facts(*f),
            None => crate::explain::Target::here(),
        };
        let result =
            std::fs::File::open(&path).map_err(|e| format!("Cannot read {}: {e}", path.display())).and_then(|file| {
                crate::explain::Explainer::bundled()
                    .explain_reader(std::io::BufReader::new(file), &target)
                    .map_err(|e| format!("{}: {e}", path.display()))
            });
        // A blocking thread, so a waiting send is fine here.
        let _ = tx.blocking_send(Msg::Explained(result.map(Box::new)));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> HostEnv {
        HostEnv::from_pairs(vars.iter().copied())
    }

    #[test]
    fn openers_per_platform() {
        let log = Path::new("/s/logs/torchup-install-1.log");
        assert_eq!(
            opener_argv(Os::Windows, &env(&[]), Path::new(r"C:\Users\Mei Lin\torchup\install.log")),
            Some(vec![
                "cmd".to_string(),
                "/c".into(),
                "start".into(),
                String::new(),
                r"C:\Users\Mei Lin\torchup\install.log".into()
            ])
        );
        assert_eq!(opener_argv(Os::Macos, &env(&[]), log), Some(vec!["open".to_string(), log.display().to_string()]));
        assert_eq!(
            opener_argv(Os::Linux, &env(&[("DISPLAY", ":0")]), log),
            Some(vec!["xdg-open".to_string(), log.display().to_string()])
        );
        assert_eq!(opener_argv(Os::Linux, &env(&[("WAYLAND_DISPLAY", "wayland-0")]), log).map(|a| a.len()), Some(2));
        // A console or SSH session: nothing to open it in.
        assert_eq!(opener_argv(Os::Linux, &env(&[("TERM", "linux")]), log), None);
        assert_eq!(opener_argv(Os::Linux, &env(&[("DISPLAY", "")]), log), None);
    }
}
