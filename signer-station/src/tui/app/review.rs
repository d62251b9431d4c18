//! The review screen's keys: paging and scrolling payloads, approving once the end of
//! every one was on screen, refusing with a reason.

use super::*;

impl App {
    pub(super) fn review_key(&mut self, mut r: ReviewState, key: Key) -> Screen {
        let n = r.seen.len();
        match key {
            Key::Right | Key::Char('n') if r.page + 1 < n => {
                r.page += 1;
                r.scroll = 0;
            }
            Key::Left | Key::Char('p') if r.page > 0 => {
                r.page -= 1;
                r.scroll = 0;
            }
            Key::Down => {
                let (visible, total) = r.rows.get();
                r.scroll = (r.scroll + 1).min(total.saturating_sub(visible));
            }
            Key::Up => r.scroll = r.scroll.saturating_sub(1),
            Key::Char('a') => {
                if let Err(e) = &r.review.verdict {
                    self.say(Level::Error, format!("cannot approve: {e}"));
                } else if !r.all_read() {
                    self.say(
                        Level::Error,
                        "read every payload to its end first (↓ to scroll, → for the next one)",
                    );
                } else {
                    self.say(
                        Level::Info,
                        "custodians: select your name and type your passphrase",
                    );
                    return Screen::Unlock(
                        r,
                        UnlockState {
                            intent: Intent::Sign,
                            selected: 0,
                            typing: None,
                            entered: vec![],
                            confirm: false,
                        },
                    );
                }
            }
            Key::Char('r') => {
                self.say(Level::Info, "type the reason for refusing, then Enter");
                let reason = r
                    .review
                    .verdict
                    .as_ref()
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                return Screen::Refuse(r, reason);
            }
            Key::Esc => {
                self.say(Level::Info, "review closed; nothing signed");
                return Screen::Home;
            }
            _ => {}
        }
        Screen::Review(r)
    }

    pub(super) fn refuse_key(&mut self, r: ReviewState, mut reason: String, key: Key) -> Screen {
        match key {
            Key::Esc => return Screen::Review(r),
            Key::Backspace => {
                reason.pop();
            }
            Key::Char(c) if reason.chars().count() < 200 => reason.push(c),
            Key::Enter if !reason.trim().is_empty() => {
                self.say(Level::Info, "custodians unlock to sign the refusal");
                return Screen::Unlock(
                    r,
                    UnlockState {
                        intent: Intent::Refuse(reason),
                        selected: 0,
                        typing: None,
                        entered: vec![],
                        confirm: false,
                    },
                );
            }
            _ => {}
        }
        Screen::Refuse(r, reason)
    }
}
