//! The runtime: performs effects, feeds messages to `update`, and draws — only when
//! something changed, and on an animation tick only while something animates, so an
//! idle wizard sleeps in `select!` with no timer armed.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;

use super::app::{App, update};
use super::effect::{Effect, EngineHandle, MsgReceiver, MsgSender};
use super::msg::Msg;
use super::view;

/// Spinner / elapsed-time refresh while something runs.
pub const TICK: Duration = Duration::from_millis(100);

/// Engine messages handled between two draws at most: a flood of log lines costs a few
/// draws, not one per line, and keys still get through.
pub const MAX_BATCH: usize = 2_000;

/// Why the loop stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("cannot draw on the terminal: {0}")]
    Draw(String),
    #[error("cannot read the keyboard: {0}")]
    Input(#[from] io::Error),
}

/// Translate a terminal event; None for events the wizard ignores (key releases,
/// mouse, focus).
pub fn event_to_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

/// Run the wizard until an [`Effect::Quit`] or the end of `events`.
///
/// `initial` are the effects [`App::new`] returned. Messages sent on `tx` (by the engine,
/// or a signal forwarder) arrive on `rx`. Effects are performed before the next input is
/// read, and messages the engine sends synchronously from `perform` are handled before
/// the next key: a scripted engine gives a deterministic order.
pub async fn run_loop<B, S, E>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    initial: Vec<Effect>,
    engine: &mut E,
    mut events: S,
    tx: MsgSender,
    mut rx: MsgReceiver,
) -> Result<(), TuiError>
where
    B: Backend,
    B::Error: std::fmt::Display,
    S: Stream<Item = io::Result<Event>> + Unpin,
    E: EngineHandle + ?Sized,
{
    let mut pending: VecDeque<Effect> = initial.into();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    loop {
        // 1. Effects, in order. Quit ends the loop at once.
        while let Some(effect) = pending.pop_front() {
            if effect == Effect::Quit {
                return Ok(());
            }
            engine.perform(effect, &tx);
        }
        // 2. Whatever the engine has already sent.
        let mut handled = 0;
        while handled < MAX_BATCH {
            let Ok(msg) = rx.try_recv() else { break };
            if handled == 0 {
                pending.extend(update(app, Msg::Tick(Instant::now())));
            }
            pending.extend(update(app, msg));
            handled += 1;
        }
        if handled > 0 {
            dirty = true;
            if !pending.is_empty() {
                continue;
            }
        }
        // 3. Draw only when something changed.
        if dirty {
            terminal.draw(|f| view::render(app, f)).map_err(|e| TuiError::Draw(e.to_string()))?;
            dirty = false;
        }
        // 4. Sleep until a message, a key, or (only while animating) the tick.
        let animating = app.animating();
        let msg = tokio::select! {
            m = rx.recv() => m,
            ev = events.next() => match ev {
                Some(Ok(ev)) => match event_to_msg(ev) {
                    Some(m) => Some(m),
                    None => continue,
                },
                Some(Err(e)) => return Err(TuiError::Input(e)),
                // The terminal went away: leave as if the user quit.
                None => return Ok(()),
            },
            _ = tick.tick(), if animating => None,
        };
        pending.extend(update(app, Msg::Tick(Instant::now())));
        if let Some(m) = msg {
            pending.extend(update(app, m));
        }
        dirty = true;
    }
}
