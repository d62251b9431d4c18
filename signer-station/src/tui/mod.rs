//! The custodians' terminal UI: home, capture, review, unlock, sign / refuse, response as
//! an animated QR, ledger. `App` holds the state and handles keys; `view` draws; `run`
//! is the event loop, generic over the ratatui backend so tests drive it on `TestBackend`.

mod app;
#[cfg(feature = "rehearsal")]
pub mod rehearsal;
mod view;

pub use app::{App, CeremonyStep, Intent, Key, Level, Opener, Screen, UsbSource, CEREMONY_STEPS};
pub use view::{draw, grouped};

use ratatui::backend::Backend;
use ratatui::Terminal;

/// An input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A key.
    Key(Key),
    /// A timer tick (about 100 ms).
    Tick,
}

/// Runs the app until it quits or `events` ends, drawing after every event.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: impl IntoIterator<Item = Event>,
) -> Result<(), B::Error> {
    terminal.draw(|f| draw(app, f))?;
    for e in events {
        match e {
            Event::Key(k) => app.key(k),
            Event::Tick => app.tick(),
        }
        terminal.draw(|f| draw(app, f))?;
        if app.quit {
            break;
        }
    }
    Ok(())
}
