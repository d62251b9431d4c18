//! Drawing. Every address and amount wraps; nothing is cut at 80x24.

use airgap_protocol::envelope::{format_utc, format_uuid, Chain};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Intent, Level, Screen};

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
                    Line::styled(
                        format!(
                            "{cursor} [{}] {}{typing}",
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
        Screen::Ledger(scroll) => {
            let text = std::fs::read_to_string(app.station.ledger().path()).unwrap_or_default();
            let lines: Vec<Line> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<crate::ledger::Entry>(l).ok())
                .map(|e| {
                    Line::from(format!(
                        "#{:<4} {}  {}",
                        e.seq,
                        format_utc(e.time),
                        serde_json::to_string(&e.record).unwrap_or_default()
                    ))
                })
                .collect();
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll as u16, 0))
                    .block(Block::bordered().title(" ledger ")),
                main,
            );
        }
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
        Screen::Home if app.usb.is_some() => {
            "c capture QR frames · u read USB bundle · l ledger · e ceremonies · q quit".into()
        }
        Screen::Home => "c capture request · l ledger · e ceremonies · q quit".into(),
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

fn review(_app: &App, r: &super::app::ReviewState, f: &mut Frame<'_>, area: Rect) {
    let req = &r.review.request;
    let n = r.review.payloads.len();
    // Pinned above the payload, whatever the screen's size: the request, the station's
    // verdict and what is left to read.
    let mut head = vec![
        Line::from(vec![
            Span::styled(
                format!("request {} ", format_uuid(&req.request_id)),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "— {:?} by {} — payload {} of {}",
                req.purpose,
                req.requester,
                r.page + 1,
                n.max(1)
            )),
        ]),
        match &r.review.verdict {
            Ok(()) => Line::styled("station policy: all checks passed", good()),
            Err(e) => Line::styled(format!("STATION REFUSES: {e}"), warn()),
        },
    ];
    let warnings = r.review.payloads.get(r.page).map_or(0, |p| {
        p.warnings.len() + p.summary.as_ref().map_or(0, |s| s.warnings.len())
    });
    let unread = r.unread();
    if warnings > 0 || unread > 0 {
        head.push(Line::styled(
            format!(
                "{warnings} warning(s) in this payload · {unread} payload(s) not read to the end"
            ),
            warn(),
        ));
    }
    let mut lines = vec![
        Line::from(format!(
            "valid until {}; memo: {}",
            format_utc(req.expires),
            req.memo
        )),
        Line::from(format!(
            "approved by: {}",
            r.review
                .approvers
                .iter()
                .map(|a| format!("{} ({:?})", a.name, a.role))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    ];
    if let Some(p) = r.review.payloads.get(r.page) {
        payload_lines(p, &mut lines);
    }
    lines.push(Line::styled("— end of this payload —", dim()));
    let block = Block::bordered().title(" review ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let head = Paragraph::new(head).wrap(Wrap { trim: false });
    let head_rows = u16::try_from(head.line_count(inner.width)).unwrap_or(u16::MAX);
    let [head_area, body_area] =
        Layout::vertical([Constraint::Length(head_rows), Constraint::Min(1)]).areas(inner);
    f.render_widget(head, head_area);
    let body = Paragraph::new(lines).wrap(Wrap { trim: false });
    let total = u16::try_from(body.line_count(body_area.width)).unwrap_or(u16::MAX);
    // When it does not fit, the last row says what is below.
    let visible = if total > body_area.height {
        body_area.height.saturating_sub(1)
    } else {
        body_area.height
    };
    let last = total.saturating_sub(visible);
    let scroll = r.scroll.min(last);
    r.rows.set((visible, total));
    if scroll >= last {
        if let Some(seen) = r.seen.get(r.page) {
            seen.set(true);
        }
    }
    let [shown, marker] =
        Layout::vertical([Constraint::Length(visible), Constraint::Min(0)]).areas(body_area);
    f.render_widget(body.scroll((scroll, 0)), shown);
    if scroll < last {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!(
                    "↓ {} more row(s) below — scroll down to read to the end",
                    last - scroll
                ),
                warn(),
            )),
            marker,
        );
    }
}

/// What signing sends away: each payload's transfers to anyone but this station, then
/// the totals per asset (fees included, per chain's coin).
fn leaving(r: &super::app::ReviewState) -> Vec<Line<'static>> {
    use crate::station::Class;
    use airgap_protocol::summary::Amount;
    let mut totals: Vec<(String, Option<u8>, u128)> = Vec::new();
    let mut add = |symbol: &str, decimals: Option<u8>, v: u128| match totals
        .iter_mut()
        .find(|t| t.0 == symbol && t.1 == decimals)
    {
        Some(t) => t.2 = t.2.saturating_add(v),
        None => totals.push((symbol.to_string(), decimals, v)),
    };
    let show = |symbol: &str, decimals: Option<u8>, v: u128| {
        Amount {
            base_units: v,
            decimals,
            symbol: symbol.to_string(),
        }
        .display()
    };
    let mut lines = Vec::new();
    for (n, p) in r.review.payloads.iter().enumerate() {
        let Some(f) = &p.facts else {
            lines.push(Line::styled(
                format!("payload {}: what it does could not be derived", n + 1),
                warn(),
            ));
            continue;
        };
        for t in f
            .transfers
            .iter()
            .filter(|t| !matches!(t.class, Class::Own { .. }))
        {
            lines.push(Line::from(format!(
                "payload {}: {} to {}",
                n + 1,
                show(&t.symbol, t.decimals, t.amount),
                grouped(&t.to)
            )));
            add(&t.symbol, t.decimals, t.amount);
        }
        let (decimals, coin) = match f.network {
            airgap_protocol::network::Network::Bitcoin(_) => (Some(8), "BTC"),
            airgap_protocol::network::Network::Evm(id) => {
                (Some(18), airgap_protocol::summary::evm_native_symbol(id))
            }
            airgap_protocol::network::Network::Solana(_) => (Some(9), "SOL"),
        };
        add(coin, decimals, f.fee);
    }
    let total: Vec<String> = totals.iter().map(|t| show(&t.0, t.1, t.2)).collect();
    lines.push(Line::styled(
        format!("in all, with fees: {}", total.join("; ")),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    lines
}

/// One payload as the station derived it: the facts policy decided on (network, every
/// transfer with its class, fee), then the decoder's details and the checks.
fn payload_lines(p: &crate::station::PayloadReview, lines: &mut Vec<Line<'static>>) {
    use crate::station::facts::TransferKind;
    use crate::station::Class;
    use airgap_protocol::summary::Amount;
    let amount = |base_units: u128, decimals: Option<u8>, symbol: &str| {
        Amount {
            base_units,
            decimals,
            symbol: symbol.to_string(),
        }
        .display()
    };
    match &p.facts {
        Some(f) => {
            let chain = match f.chain() {
                Chain::Bitcoin => "Bitcoin",
                Chain::Evm => "EVM",
                Chain::Solana => "Solana",
            };
            lines.push(Line::styled(
                format!("— {chain} on {} (derived by the station) —", f.network),
                Style::default().add_modifier(Modifier::BOLD),
            ));
            for i in &f.inputs {
                lines.push(Line::styled(
                    format!(
                        "  from {} — {} — {}",
                        i.outpoint,
                        amount(u128::from(i.value), Some(8), "BTC"),
                        i.proof
                    ),
                    dim(),
                ));
            }
            for t in &f.transfers {
                let what = match t.kind {
                    TransferKind::Payment => "",
                    TransferKind::AccountFunding => " (funds a new account)",
                    TransferKind::Rent => " (token account rent, collectable by its owner)",
                    TransferKind::Approval => " (ALLOWANCE: may take up to)",
                    TransferKind::Call => " (CALL of an undecoded contract or program)",
                };
                let tag = match &t.class {
                    Class::Own { proof } if f.chain() == Chain::Bitcoin => {
                        Span::styled(format!("  CHANGE (proven: {proof})"), good())
                    }
                    Class::Own { proof } => {
                        Span::styled(format!("  BACK TO THIS STATION ({proof})"), good())
                    }
                    Class::Internal => Span::styled(
                        format!("  INTERNAL (registered in station policy){what}"),
                        Style::default().fg(Color::Yellow),
                    ),
                    Class::External => Span::styled(format!("  SEND TO (external){what}"), warn()),
                };
                lines.push(Line::from(vec![tag]));
                lines.push(Line::from(format!("    {}", grouped(&t.to))));
                lines.push(Line::from(format!(
                    "    {}",
                    amount(t.amount, t.decimals, &t.symbol)
                )));
            }
            let native = match f.chain() {
                Chain::Bitcoin => (Some(8), "BTC"),
                Chain::Evm => (Some(18), "native coin"),
                Chain::Solana => (Some(9), "SOL"),
            };
            lines.push(Line::from(format!(
                "  fee {} — {}",
                amount(f.fee, native.0, native.1),
                f.fee_detail
            )));
        }
        None => lines.push(Line::styled(
            "— the station could not derive what this payload does —",
            warn(),
        )),
    }
    if let Some(s) = &p.summary {
        for (k, v) in &s.details {
            lines.push(Line::styled(format!("  {k}: {v}"), dim()));
        }
        for w in &s.warnings {
            lines.push(Line::styled(format!("  ! {w}"), warn()));
        }
    }
    for w in &p.warnings {
        lines.push(Line::styled(format!("  ! {w}"), warn()));
    }
    for c in &p.passed {
        lines.push(Line::styled(format!("  ✓ {c}"), good()));
    }
}

/// The response as an animated QR, at the largest version that fits the screen (and the
/// custodians' density choice); the stream is re-encoded when the version changes, so
/// every frame of one stream has one version.
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
