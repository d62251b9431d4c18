//! One request through the service: created, approved, exported, signed at the stations, imported and confirmed.

use super::*;

/// How a request crosses to a station and back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    Qr,
    Usb,
}

pub(super) struct Demo {
    pub(super) svc: Service,
    pub(super) run: PathBuf,
    pub(super) coordinator_usb: PublicKeys,
    pub(super) tokens: strongroom_e2e::service::Desks,
    pub(super) seed: u64,
}

impl Demo {
    pub(super) fn ok(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let a = self.svc.call(method, path, Some(token), body)?;
        if a.status >= 300 {
            bail!("{method} {path}: {} {}", a.status, a.json);
        }
        Ok(a.json)
    }

    /// Creates a request through the API and clears risk's manual review if asked.
    pub(super) fn create(
        &self,
        network: &str,
        destination: &str,
        amount: &str,
        memo: &str,
    ) -> Result<String> {
        let body = json!({"network": network, "asset": "native", "destination": destination,
            "amount": amount, "purpose": "withdrawal", "memo": memo});
        let a = self.svc.call_with(
            "POST",
            "/v1/requests",
            Some(&self.tokens.treasury),
            Some(&body),
            &[("Idempotency-Key", memo)],
        )?;
        if a.status != 201 {
            bail!("create: {} {}", a.status, a.json);
        }
        let id = a.json["request"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let state = a.json["request"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (decimals, symbol) = match network {
            n if n.starts_with("evm:") => (18, "ETH"),
            n if n.starts_with("solana:") => (9, "SOL"),
            _ => (8, "BTC"),
        };
        let units = amount
            .parse::<u128>()
            .map(|v| airgap_protocol::summary::format_units(v, decimals))
            .unwrap_or_else(|_| amount.to_string());
        let held = if state == "manual-review" {
            ", held for manual review"
        } else {
            ""
        };
        step(
            "coordinator",
            format!("{network}: request {id} created: {units} {symbol} to {destination}{held}"),
        );
        if state == "manual-review" {
            let reasons: Vec<&str> = a.json["risk"]["reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str())
                .collect();
            let reasons = reasons.join("; ");
            self.ok(
                "POST",
                &format!("/v1/requests/{id}/review"),
                &self.tokens.risk,
                Some(&json!({"decision": "clear", "reason": "demo: known counterparty"})),
            )?;
            step(
                "risk",
                format!("cleared the manual review (the engine said: {reasons})"),
            );
        }
        Ok(id)
    }

    /// Approvals, export, the station(s), import; returns once the request is finalised
    /// or further.
    pub(super) fn sign(
        &mut self,
        label: &str,
        id: &str,
        stations: &mut [(&mut DemoStation, Via)],
    ) -> Result<()> {
        let view = self.svc.wait_envelope(id, &self.tokens.ana)?;
        step(
            "coordinator",
            format!("{label}: built by the worker: {}", built(&view["decoded"])),
        );
        let digest = view["digest"].as_str().unwrap_or_default().to_string();
        for (who, tok) in [("ana", &self.tokens.ana), ("ben", &self.tokens.ben)] {
            let (ok, said) = self.svc.approver(who, tok, id, "approve")?;
            if !ok {
                bail!("{who}'s approval: {said}");
            }
        }
        step(
            "approvers",
            format!(
                "{label}: ana and ben read it with their own tool (every payload decoded from its bytes) and approved digest {}",
                &digest[..16.min(digest.len())]
            ),
        );
        let e = self.ok(
            "POST",
            &format!("/v1/requests/{id}/export"),
            &self.tokens.treasury,
            None,
        )?;
        let count = e["frames"].as_array().map_or(0, Vec::len);
        let out = self.run.join(label);
        let frames_dir = out.join("request-frames");
        std::fs::create_dir_all(&frames_dir)?;
        for n in 0..count {
            let a = self.svc.call(
                "GET",
                &format!("/v1/requests/{id}/export/frames/{n}"),
                Some(&self.tokens.treasury),
                None,
            )?;
            std::fs::write(frames_dir.join(format!("{:04}.png", n + 1)), &a.bytes)?;
        }
        step(
            "coordinator",
            format!(
                "{label}: exported as {count} QR frames → {}",
                frames_dir.display()
            ),
        );
        for (s, via) in stations.iter_mut() {
            let request = match via {
                Via::Qr => {
                    self.seed += 1;
                    let (env, shown, lost) = read_frames(&frames_dir, self.seed)?;
                    step(&s.name, format!("{label}: request captured from {shown} frames ({lost} lost, JPEG and blur on the rest)"));
                    env
                }
                Via::Usb => {
                    let a = self.svc.call(
                        "GET",
                        &format!("/v1/requests/{id}/export/bundle?station={}", s.name),
                        Some(&self.tokens.treasury),
                        None,
                    )?;
                    if a.status != 200 {
                        bail!("bundle: {} {}", a.status, a.json);
                    }
                    let usb = out.join(format!("usb-to-{}", s.name));
                    std::fs::create_dir_all(&usb)?;
                    let path = usb_transfer::write_bundle(&usb, BundleKind::Request, id, &a.bytes)?;
                    let b = open_bundle(
                        &std::fs::read(&path)?,
                        &s.usb.identity,
                        &[self.coordinator_usb.ed25519],
                    )?;
                    step(&s.name, format!("{label}: USB bundle {} opened (signature, recipient, digests verified)", path.display()));
                    decode_envelope(REQUEST_UR_TYPE, &b.envelope)?
                }
            };
            let Envelope::Request(req) = request else {
                bail!("not a request")
            };
            let now = unix_now();
            let review = s
                .station
                .review(&req, now)
                .map_err(|e| anyhow!("refused: {e}"))?;
            for f in review.payloads.iter().filter_map(|p| p.facts.as_ref()) {
                for t in &f.transfers {
                    let class = match &t.class {
                        signer_station::station::Class::Own { proof } => {
                            format!(" (change, proven: {proof})")
                        }
                        signer_station::station::Class::Internal => " (internal)".into(),
                        signer_station::station::Class::External => String::new(),
                    };
                    let amount = airgap_protocol::summary::Amount {
                        base_units: t.amount,
                        decimals: t.decimals,
                        symbol: t.symbol.clone(),
                    };
                    step(
                        &s.name,
                        format!(
                            "{label}: review on {}: {} → {}{class}",
                            f.network,
                            amount.display(),
                            t.to
                        ),
                    );
                }
                step(
                    &s.name,
                    format!("{label}: review: fee {} base units", f.fee),
                );
            }
            review
                .verdict
                .clone()
                .map_err(|e| anyhow!("station refuses: {e}"))?;
            let resp = s
                .station
                .sign(&review, &s.session, now)
                .map_err(|e| anyhow!("signing: {e}"))?;
            step(
                &s.name,
                format!(
                    "{label}: signed; ledger {} entries",
                    s.station.ledger().len()
                ),
            );
            let answer = match via {
                Via::Qr => {
                    let dir = out.join(format!("response-frames-{}", s.name));
                    let n = write_frames(&Envelope::Response(resp), &dir)?;
                    let texts = scan_texts(&dir)?;
                    step(
                        "coordinator",
                        format!(
                            "{label}: response scanned from {n} frames → {}",
                            dir.display()
                        ),
                    );
                    self.svc.step(
                        id,
                        "import",
                        &self.tokens.treasury,
                        Some(&json!({"frames": texts})),
                    )?
                }
                Via::Usb => {
                    let (_, message) = encode_envelope(&Envelope::Response(resp));
                    let sealed = seal_bundle(
                        BundleKind::Response,
                        &message,
                        &self.coordinator_usb.x25519,
                        &s.usb.signing,
                        unix_now(),
                    )?;
                    let usb = out.join(format!("usb-from-{}", s.name));
                    std::fs::create_dir_all(&usb)?;
                    let path = usb_transfer::write_bundle(&usb, BundleKind::Response, id, &sealed)?;
                    step(
                        "coordinator",
                        format!("{label}: response bundle {}", path.display()),
                    );
                    self.svc.post_bytes(
                        &format!("/v1/requests/{id}/import"),
                        &self.tokens.treasury,
                        "application/octet-stream",
                        &std::fs::read(&path)?,
                    )?
                }
            };
            if answer.status != 200 {
                bail!("import: {} {}", answer.status, answer.json);
            }
            step(
                "coordinator",
                format!(
                    "{label}: imported from {} → {}",
                    s.name,
                    answer.json["request"]["state"].as_str().unwrap_or("?")
                ),
            );
        }
        Ok(())
    }

    pub(super) fn confirmed(&self, label: &str, id: &str, mine: impl FnMut()) -> Result<()> {
        self.svc
            .wait_state(id, &self.tokens.auditor, "confirmed", mine)?;
        let c = self.ok(
            "GET",
            &format!("/v1/requests/{id}/chain"),
            &self.tokens.auditor,
            None,
        )?;
        step(
            "coordinator",
            format!(
                "{label}: broadcast and confirmed: {}",
                c["hash"].as_str().unwrap_or("?")
            ),
        );
        Ok(())
    }
}
