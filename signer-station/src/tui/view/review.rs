//! The review screen: the request, the station's verdict pinned above the payload as
//! the station derived it, and the last look before signing.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::*;

pub(super) fn review(_app: &App, r: &crate::tui::app::ReviewState, f: &mut Frame<'_>, area: Rect) {
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
    let mut lines = if r.review.standard {
        vec![Line::styled(
            "a standard wallet request: no coordinator signature and no approvals, so your \
             review is its only approval",
            warn(),
        )]
    } else {
        vec![
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
        ]
    };
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
pub(super) fn leaving(r: &crate::tui::app::ReviewState) -> Vec<Line<'static>> {
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
        let (decimals, coin) = native(&f.network);
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
            let (decimals, coin) = native(&f.network);
            lines.push(Line::from(format!(
                "  fee {} — {}",
                amount(f.fee, decimals, coin),
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

/// A network's native coin: its decimals and symbol (fees are paid in it).
fn native(network: &airgap_protocol::network::Network) -> (Option<u8>, &'static str) {
    use airgap_protocol::network::Network;
    match network {
        Network::Bitcoin(_) => (Some(8), "BTC"),
        Network::Evm(id) => (Some(18), airgap_protocol::summary::evm_native_symbol(*id)),
        Network::Solana(_) => (Some(9), "SOL"),
    }
}
