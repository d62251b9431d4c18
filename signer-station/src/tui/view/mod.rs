//! Drawing. Every address and amount wraps; nothing is cut at 80x24.

use airgap_protocol::envelope::{format_utc, format_uuid, Chain};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Intent, Level, Screen};

pub mod ledger;
mod review;
use review::{leaving, review};

/// Groups an address in fours, for reading aloud.
pub fn grouped(address: &str) -> String {
    let (bare, rest) = match address.split_once(" (") {
        Some((a, r)) => (a, format!(" ({r}")),
        None => (address, String::new()),
    };
    // The prefix stays whole: `0x`, or a bech32 address's `bc1` / `tb1` / `bcrt1`.
    let bech32 = ["bc1", "tb1", "bcrt1"]
        .iter()
        .find(|p| bare.to_ascii_lowercase().starts_with(*p));
    let (prefix, body) = match (bare.strip_prefix("0x"), bech32) {
        (Some(b), _) => ("0x ".to_string(), b),
        (None, Some(p)) => (format!("{} ", &bare[..p.len()]), &bare[p.len()..]),
        (None, None) => (String::new(), bare),
    };
    let g: Vec<String> = body
        .chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect())
        .collect();
    format!("{prefix}{}{rest}", g.join(" "))
}

/// The first `n` characters, without slicing through anything.
fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn warn() -> Style {
    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
}
fn good() -> Style {
    Style::default().fg(Color::Green)
}
fn dim() -> Style {
    Style::default().add_modifier(Modifier::DIM)
}

/// Draws the app.
pub fn draw(app: &App, f: &mut Frame<'_>) {
    let [top, main, status, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let mut title = vec![Span::styled(
        " STRONGROOM SIGNER STATION ",
        Style::default().add_modifier(Modifier::REVERSED),
    )];
    if app.info.is_mock {
        title.push(Span::styled(
            " MOCK HSM — REHEARSAL ONLY ",
            warn().add_modifier(Modifier::REVERSED),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(title)), top);
    match &app.screen {
        Screen::Home => home(app, f, main),
        Screen::Capture(c) => {
            let [g, t] = Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(main);
            let p = &c.progress;
            let label = format!(
                "{} of {} parts, {} frames read, {} without a code",
                p.useful, p.total, c.frames, c.unreadable
            );
            f.render_widget(
                Gauge::default()
                    .block(Block::bordered().title(format!(" capture from {} ", c.source)))
                    .ratio(p.fraction.clamp(0.0, 1.0))
                    .label(label),
                g,
            );
            let mut lines = vec![Line::from(format!(
                "format: {}",
                p.format
                    .map_or("waiting for a code".into(), |f| format!("{f:?}"))
            ))];
            if p.strangers > 0 {
                lines.push(Line::styled(
                    format!("{} codes of another stream ignored", p.strangers),
                    warn(),
                ));
            }
            if !c.last.is_empty() {
                lines.push(Line::styled(c.last.clone(), warn()));
            }
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), t);
        }
        Screen::Review(r) => review(app, r, f, main),
        Screen::Refuse(r, reason) => {
            let [top, panel] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(main);
            review(app, r, f, top);
            let p = Paragraph::new(Line::styled(format!("{reason}▏"), warn()))
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(" reason for refusing "));
            f.render_widget(p, panel);
        }
        Screen::Unlock(r, u) if u.confirm && u.intent == Intent::Sign => {
            // The last look before signing: everything that leaves, payload by payload,
            // and the totals per asset.
            let lines = leaving(r);
            let h = (lines.len() as u16 + 2).min(main.height.saturating_sub(3));
            let [top, panel] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(h)]).areas(main);
            review(app, r, f, top);
            let title = format!(
                " sign {} payload(s)? y sign · n cancel ",
                r.review.payloads.len()
            );
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(Block::bordered().title(title)),
                panel,
            );
        }
        Screen::Unlock(r, u) => {
            let h = app.quorum.custodians.len() as u16 + 2;
            let [top, panel] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(h)]).areas(main);
            review(app, r, f, top);
            let title = match &u.intent {
                Intent::Sign => format!(
                    " unlock to sign: {} of {} custodians ",
                    app.quorum.threshold,
                    app.quorum.custodians.len()
                ),
                Intent::Refuse(reason) => format!(" unlock to sign a refusal ({reason}) "),
            };
            let lines: Vec<Line> = app
                .quorum
                .custodians
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let done = u.entered.iter().any(|(n, _)| *n == c.name);
                    let cursor = if i == u.selected { ">" } else { " " };
                    let typing = if i == u.selected {
                        // Its length is not shown either.
                        u.typing
                            .as_ref()
                            .map(|_| "  passphrase: (hidden)▏".to_string())
                            .unwrap_or_default()
                    } else {
                        String::new()
                    };
                    let style = if done { good() } else { Style::default() };
                    // A rehearsal says what to type (MockHsm only: see App).
                    let hint = app
                        .rehearsal_passphrases
                        .iter()
                        .find(|(n, _)| *n == c.name)
                        .map(|(_, p)| format!("  (rehearsal passphrase: {p})"))
                        .unwrap_or_default();
                    Line::styled(
                        format!(
                            "{cursor} [{}] {}{typing}{hint}",
                            if done { "✓" } else { " " },
                            c.name
                        ),
                        style,
                    )
                })
                .collect();
            f.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(title)),
                panel,
            );
        }
        Screen::Response(r) => response(r, f, main),
        Screen::Ceremony(selected) => ceremony(*selected, f, main),
        Screen::Ledger(scroll) => ledger::draw(app, *scroll, f, main),
    }
    if let Some((level, msg)) = &app.status {
        let style = match level {
            Level::Info => Style::default(),
            Level::Ok => good(),
            Level::Error => warn(),
        };
        f.render_widget(
            Paragraph::new(Line::styled(msg.clone(), style)).wrap(Wrap { trim: false }),
            status,
        );
    }
    f.render_widget(Paragraph::new(Line::styled(help_text(app), dim())), help);
}

fn help_text(app: &App) -> String {
    match &app.screen {
        Screen::Home => {
            let usb = if app.usb.is_some() {
                "c capture QR frames · u read USB bundle"
            } else {
                "c capture request"
            };
            let again = if app.last_answer.is_some() {
                " · a last answer"
            } else {
                ""
            };
            format!("{usb}{again} · l ledger · e ceremonies · q quit")
        }
        Screen::Capture(_) => "Esc cancel".into(),
        Screen::Review(r) => {
            let approve = if r.all_read() && r.review.verdict.is_ok() {
                "a approve · "
            } else {
                ""
            };
            format!("← → payloads · ↑ ↓ scroll · {approve}r refuse · Esc close")
        }
        Screen::Refuse(..) => "type the reason · Enter confirm · Esc back".into(),
        Screen::Unlock(_, u) if u.confirm => "y sign · n cancel".into(),
        Screen::Unlock(_, u) if u.typing.is_some() => {
            "type passphrase · Enter submit · Esc cancel".into()
        }
        Screen::Unlock(..) => "↑ ↓ choose custodian · Enter type passphrase · Esc cancel".into(),
        Screen::Response(_) => "+ faster · - slower · d/D density · i invert · Esc home".into(),
        Screen::Ledger(_) => "↑ ↓ scroll · Esc home".into(),
        Screen::Ceremony(_) => "↑ ↓ choose step · Enter open · Esc home".into(),
    }
}

fn home(app: &App, f: &mut Frame<'_>, area: Rect) {
    let s = &app.station;
    let k = s.keys();
    let mut lines = vec![
        Line::from(format!(
            "station {}   HSM {} serial {} firmware {}",
            s.station_id(),
            app.info.model,
            app.info.serial,
            app.info.firmware
        )),
        Line::from(format!(
            "custodian quorum: {} of {} ({})",
            app.quorum.threshold,
            app.quorum.custodians.len(),
            app.quorum
                .custodians
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Line::from(format!("networks: {}", s.policy().networks.join(", "))),
        Line::from(format!(
            "approvals required: {}; allow-listed destinations: {}",
            s.policy().approvals,
            s.policy().allow_list.len()
        )),
        Line::from(format!(
            "ledger: {} entries, head {}",
            s.ledger().len(),
            short(s.ledger().head(), 16)
        )),
        Line::from(format!(
            "keys: evm {}…; bitcoin and solana: one per network ({} keys)",
            short(&hex::encode(&k.evm.public_key), 12),
            k.bitcoin.len() + k.solana.len()
        )),
        Line::from(""),
        Line::from(format!("requests are read from {}", app.incoming.display())),
    ];
    if app.info.is_mock {
        lines.push(Line::styled(
            "This station runs on MockHsm: it is for rehearsal and must never hold funds.",
            warn(),
        ));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" home ")),
        area,
    );
}

/// The ceremony menu: its steps, and what the selected one does.
fn ceremony(selected: usize, f: &mut Frame<'_>, area: Rect) {
    let steps = &super::app::CEREMONY_STEPS;
    let [list, detail] = Layout::vertical([
        Constraint::Length(steps.len() as u16 + 2),
        Constraint::Min(3),
    ])
    .areas(area);
    let lines: Vec<Line> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let cursor = if i == selected { "> " } else { "  " };
            let style = if i == selected {
                Style::default().add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            Line::styled(format!("{cursor}{}", s.name), style)
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" ceremonies ")),
        list,
    );
    let s = steps[selected.min(steps.len() - 1)];
    let text = vec![
        Line::from(s.what),
        Line::from(""),
        Line::styled(s.run, Style::default().add_modifier(Modifier::BOLD)),
    ];
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" {} ", s.name))),
        detail,
    );
}

/// The response as an animated QR, at the largest version that fits the screen (and the
/// custodians' density choice); the stream is re-encoded when the version changes, so
/// every frame of one stream has one version.
fn response(r: &super::app::ResponseState, f: &mut Frame<'_>, area: Rect) {
    let rows = usize::from(area.height.saturating_sub(1)) * 2;
    let cols = usize::from(area.width);
    let fits = |v: u8| {
        let side = 17 + 4 * usize::from(v) + 8;
        side <= cols && side <= rows
    };
    let Some(version) = (1..=r.max_version).rev().find(|v| fits(*v)) else {
        f.render_widget(
            Paragraph::new("the terminal is too small to show a QR code; enlarge it")
                .wrap(Wrap { trim: false }),
            area,
        );
        return;
    };
    let part = fragment_for(r, version)
        .and_then(|frag| airgap_protocol::ur::UrEncoder::new(r.ur_type, &r.message, frag).ok())
        .map(|mut enc| {
            let n = if enc.is_single_part() {
                1
            } else {
                enc.fragment_count() * 3
            };
            let i = r.frame % n;
            (0..i).for_each(|_| {
                enc.next_part();
            });
            (enc.next_part(), i + 1, n)
        });
    let Some((text, i, n)) = part else {
        f.render_widget(
            Paragraph::new("the response does not fit a QR stream at this size"),
            area,
        );
        return;
    };
    let qr = airgap_protocol::qr::FrameRenderer::new(version)
        .and_then(|q| q.to_halfblock(&text, r.invert))
        .unwrap_or_default();
    let mut t = Text::from(Line::from(vec![
        Span::styled(
            format!(" {} ", r.title),
            Style::default().add_modifier(Modifier::REVERSED),
        ),
        Span::raw(format!(
            " frame {i} of {n}, QR version {version}; also in {}",
            r.written.display()
        )),
    ]));
    t.extend(Text::from(qr));
    f.render_widget(Paragraph::new(t), area);
}

/// The largest fragment length whose shown parts (sequence numbers up to 3K) all fit
/// `version`: tighter than the encoder's worst case, which a small terminal needs.
fn fragment_for(r: &super::app::ResponseState, version: u8) -> Option<usize> {
    if let Some(f) = r.fragments.borrow().get(&version) {
        return *f;
    }
    let cap = airgap_protocol::qr::capacity(version)?;
    let fits = |frag: usize| {
        airgap_protocol::ur::UrEncoder::new(r.ur_type, &r.message, frag).is_ok_and(|mut enc| {
            let n = if enc.is_single_part() {
                1
            } else {
                enc.fragment_count() * 3
            };
            (0..n).all(|_| enc.next_part().len() <= cap)
        })
    };
    // Part length grows with the fragment length: binary search the largest that fits.
    let (mut lo, mut hi) = (0usize, cap);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let found = (lo > 0).then_some(lo);
    r.fragments.borrow_mut().insert(version, found);
    found
}
