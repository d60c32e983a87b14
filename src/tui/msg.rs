//! Messages: everything that can change the wizard's state. Keys and terminal events
//! come from the runtime; engine results come from the [`EngineHandle`](super::effect::EngineHandle).
//! `update` is the only consumer.

use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::facts::gpu::GpuProbe;
use crate::facts::{Facts, PythonCandidate, PythonFacts, TorchFacts};
use crate::install::InstallEvent;
use crate::plan::Plan;
use crate::preflight::Issue;
use crate::smoke::SmokeReport;

/// One input to [`update`](super::app::update).
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press (the runtime drops key releases, which Windows also reports).
    Key(KeyEvent),
    /// The terminal is now this many columns × rows.
    Resize(u16, u16),
    /// The time is now this. The runtime sends it before each batch of messages and on
    /// the animation tick (only while something animates); views derive elapsed times,
    /// download rates and spinner frames from it, so tests control time exactly.
    Tick(Instant),
    /// SIGINT/SIGTERM from outside the terminal (raw mode turns a typed Ctrl-C into a key).
    Interrupt,

    /// Partial facts: the GPU probe finished (the Check screen fills in live).
    Gpu(Box<GpuProbe>),
    /// Partial facts: the Python probe finished.
    Python(Box<PythonProbe>),
    /// Detection is complete. Err = detection itself failed (not "no GPU": that is a state).
    Facts(Result<Box<Facts>, String>),
    /// The planner answered the [`Effect::Plan`](super::effect::Effect::Plan) with this id.
    Plan { id: u64, result: Result<Box<Plan>, String> },
    /// The answer to [`Effect::Preflight`](super::effect::Effect::Preflight) with this id:
    /// the problems found (empty: none).
    Preflight { id: u64, issues: Vec<Issue> },
    /// Progress of an install, retry or rollback, in engine order.
    Install(InstallEvent),
    /// The answer to [`Effect::Verify`](super::effect::Effect::Verify).
    Verified(Result<Box<VerifyOutcome>, String>),
    /// The answer to [`Effect::ExplainFile`](super::effect::Effect::ExplainFile).
    Explained(Result<Box<crate::explain::Explanation>, String>),
    /// A one-line message for the status line (e.g. "opened the log in your editor",
    /// "cannot open the log: ...").
    Notice(String),
}

/// What the Python probe found about the target interpreter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PythonProbe {
    pub python: Option<PythonFacts>,
    pub torch: Option<TorchFacts>,
    pub candidates: Vec<PythonCandidate>,
}

/// A smoke test run now, with the last saved one to compare against.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOutcome {
    pub now: SmokeReport,
    /// The previous saved result, if any.
    pub previous: Option<SmokeReport>,
    /// When the previous result was saved, for humans ("2026-08-20 14:03").
    pub previous_when: Option<String>,
    /// What changed since the previous result (driver, torch, checks, devices, speed…), as
    /// `smoke::compare` decides it for `torchup verify` too.
    pub changes: Vec<crate::smoke::Change>,
    /// Where this result was saved, if it was.
    pub saved_to: Option<String>,
}

impl Msg {
    /// A plain key press (tests, scripts).
    pub fn key(code: crossterm::event::KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, crossterm::event::KeyModifiers::NONE))
    }

    /// A character key press.
    pub fn char(c: char) -> Msg {
        Msg::key(crossterm::event::KeyCode::Char(c))
    }

    /// Ctrl-C as the terminal delivers it in raw mode.
    pub fn ctrl_c() -> Msg {
        Msg::Key(KeyEvent::new(crossterm::event::KeyCode::Char('c'), crossterm::event::KeyModifiers::CONTROL))
    }
}
