//! The wizard: a ratatui front end over the engine (docs/architecture.md, docs/tui.md).
//!
//! Elm-style and one-directional: [`App`](app::App) is plain data; [`update`](app::update)
//! is the only function that changes it, fed by [`Msg`](msg::Msg)s (keys, resizes, time,
//! engine results); it returns [`Effect`](effect::Effect)s that the runtime
//! ([`terminal::run_loop`]) hands to an [`EngineHandle`](effect::EngineHandle). Views
//! ([`view::render`]) only read the state. The TUI runs no process itself.
//!
//! One file per screen: [`check`], [`choose`], [`review`], [`run`], [`result`], [`verify`],
//! and [`explain`] (reached from Check and Result).

pub(crate) mod advice;
pub mod app;
pub(crate) mod check;
pub mod choose;
pub mod effect;
pub mod explain;
pub(crate) mod msg;
pub mod result;
pub mod review;
pub mod run;
pub mod terminal;
pub(crate) mod theme;
pub(crate) mod verify;
pub mod view;
pub mod widgets;

pub use app::{App, AppOptions, Finish, Mode, Screen, update};
pub use effect::{Effect, EngineHandle, MSG_BUFFER, MsgReceiver, MsgSender, channel};
pub use msg::{Msg, PythonProbe, VerifyOutcome};
pub use theme::Theme;
