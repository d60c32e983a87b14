//! Effects: work the wizard asks for. `update` returns them; the runtime hands every
//! effect except [`Effect::Quit`] to an [`EngineHandle`], which does the work on its own
//! tasks and reports back with [`Msg`]s over the channel it is given. The TUI never runs
//! a process itself.

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::facts::Facts;
use crate::plan::{Manager, Plan, Request};

use super::msg::Msg;

/// Where engine results go: a bounded channel, so a flood of install output waits for the
/// wizard instead of queueing without limit. Engine tasks send with `send().await`;
/// `perform` itself must not wait (the loop that drains the channel is the one calling it):
/// it spawns a task or uses `try_send`.
pub type MsgSender = mpsc::Sender<Msg>;
/// The wizard's end of the channel.
pub type MsgReceiver = mpsc::Receiver<Msg>;

/// Messages waiting for the wizard at most. The loop handles up to a few hundred between
/// two draws, so a full channel means the terminal, not the engine, is the bottleneck.
pub const MSG_BUFFER: usize = 1024;

/// The wizard's message channel.
pub fn channel() -> (MsgSender, MsgReceiver) {
    mpsc::channel(MSG_BUFFER)
}

/// One request from the wizard.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Detect the machine. `python`: the interpreter to target (None = the default
    /// discovery, honouring `--python`). Answer: [`Msg::Gpu`] and [`Msg::Python`] as each
    /// probe finishes (optional but makes the Check screen live), then [`Msg::Facts`].
    Detect { python: Option<String> },
    /// Plan for these facts and this request. Answer: [`Msg::Plan`] with the same `id`
    /// (the wizard ignores answers to superseded requests).
    Plan { id: u64, facts: Box<Facts>, request: Request },
    /// Check the machine before carrying out `plan` (free space, Python processes holding
    /// the environment, the VC++ runtime on Windows). Answer: [`Msg::Preflight`] with the
    /// same `id` (engine: `preflight::check`).
    Preflight { id: u64, facts: Box<Facts>, plan: Box<Plan> },
    /// Run the plan's steps for the machine `facts` describes (or only show them,
    /// `dry_run`), without automatic rollback: the wizard offers it. Answer: a stream of
    /// [`Msg::Install`] ending with `InstallEvent::Finished` (engine: `Installer::run`).
    Install { facts: Box<Facts>, plan: Box<Plan>, dry_run: bool },
    /// Stop whatever engine work is running (kill the child process group). The running
    /// install still ends with `InstallEvent::Finished` (outcome Cancelled).
    Cancel,
    /// Put the previous build back into `python` after a failed or cancelled install (the
    /// engine reads what to put back from the run's journal). `prefix`: the environment,
    /// whose one-torchup lock the rollback holds. Answer: a stream of [`Msg::Install`] like
    /// an install, ending with `InstallEvent::Finished` (engine: `Installer::rollback`).
    Rollback { python: String, prefix: Option<String>, manager: Manager },
    /// Run the smoke test with this interpreter (None = the default target) and load the
    /// last saved result. Answer: [`Msg::Verified`].
    Verify { python: Option<String> },
    /// Read this log file and explain it (src/explain) for the machine `facts` describe
    /// (None: this OS). Answer: [`Msg::Explained`].
    ExplainFile { path: PathBuf, facts: Option<Box<Facts>> },
    /// Show this log file to the user (system opener or pager). Answer: optionally a
    /// [`Msg::Notice`] saying what happened.
    OpenLog(PathBuf),
    /// Leave the wizard. Handled by the runtime, never sent to the engine.
    Quit,
}

/// The engine as the wizard sees it. The lead implements it over detect/plan/install/
/// smoke; tests implement it with scripted answers.
pub trait EngineHandle {
    /// Start the work `effect` asks for and return at once (spawn tasks for anything slow);
    /// report results by sending [`Msg`]s on `tx` (clone it into the tasks and
    /// `send().await` there; from `perform` itself only `try_send`). Never called with
    /// [`Effect::Quit`].
    fn perform(&mut self, effect: Effect, tx: &MsgSender);
}
