//! Unlocking the HSM with k custodians' passphrases, signing or refusing, and showing the response.

use super::*;

impl App {
    pub(super) fn unlock_key(&mut self, r: ReviewState, mut u: UnlockState, key: Key) -> Screen {
        let need = usize::from(self.quorum.threshold);
        let names: Vec<String> = self
            .quorum
            .custodians
            .iter()
            .map(|c| c.name.clone())
            .collect();
        if u.confirm {
            return match key {
                Key::Char('y') => self.finish(r, u),
                Key::Char('n') | Key::Esc => {
                    self.say(Level::Info, "not signed");
                    Screen::Review(r)
                }
                _ => Screen::Unlock(r, u),
            };
        }
        if let Some(buf) = u.typing.as_mut() {
            match key {
                Key::Char(c) => buf.push(c),
                Key::Backspace => {
                    buf.pop();
                }
                Key::Esc => u.typing = None,
                Key::Enter => {
                    let name = names[u.selected].clone();
                    let pass = SecretString::from(buf.to_string());
                    u.typing = None;
                    let mut check = self.quorum.unlock();
                    match check.enter(&name, pass.clone()) {
                        Ok(_) => {
                            u.entered.push((name.clone(), pass));
                            if u.entered.len() >= need {
                                u.confirm = true;
                                let what = match &u.intent {
                                    Intent::Sign => {
                                        format!("sign {} payload(s)", r.review.payloads.len())
                                    }
                                    Intent::Refuse(_) => "sign the refusal".to_string(),
                                };
                                self.say(
                                    Level::Ok,
                                    format!("{need} of {need} custodians entered. {what}? y / n"),
                                );
                            } else {
                                self.say(
                                    Level::Ok,
                                    format!("{name} entered ({} of {need})", u.entered.len()),
                                );
                            }
                        }
                        Err(e) => self.say(Level::Error, e.to_string()),
                    }
                }
                _ => {}
            }
            return Screen::Unlock(r, u);
        }
        match key {
            Key::Up => u.selected = u.selected.saturating_sub(1),
            Key::Down => u.selected = (u.selected + 1).min(names.len().saturating_sub(1)),
            Key::Enter => {
                if u.entered.iter().any(|(n, _)| *n == names[u.selected]) {
                    self.say(
                        Level::Error,
                        format!("{} has already entered a passphrase", names[u.selected]),
                    );
                } else {
                    u.typing = Some(Zeroizing::new(String::new()));
                }
            }
            Key::Esc => {
                self.say(Level::Info, "unlock cancelled; nothing signed");
                return Screen::Review(r);
            }
            _ => {}
        }
        Screen::Unlock(r, u)
    }

    pub(super) fn finish(&mut self, r: ReviewState, u: UnlockState) -> Screen {
        let mut unlock = self.quorum.unlock();
        for (n, p) in &u.entered {
            if let Err(e) = unlock.enter(n, p.clone()) {
                self.say(Level::Error, e.to_string());
                return Screen::Review(r);
            }
        }
        let session = match unlock
            .finish()
            .map_err(|e| e.to_string())
            .and_then(|c| (self.opener)(c.expose()).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                self.say(Level::Error, format!("HSM not unlocked: {e}"));
                return Screen::Review(r);
            }
        };
        let now = (self.clock)();
        if let Some(standard) = r.standard.clone() {
            return self.finish_standard(r, &u.intent, &standard, session.as_ref(), now);
        }
        let result: Result<(SignResponse, Option<String>), Refusal> = match &u.intent {
            Intent::Sign => self
                .station
                .sign(&r.review, session.as_ref(), now)
                .map(|s| (s, None)),
            Intent::Refuse(reason) => {
                let refusal = Refusal::Custodians(reason.clone());
                self.station
                    .refuse(&r.review, &refusal, session.as_ref(), now)
                    .map(|s| (s, Some(reason.clone())))
            }
        };
        drop(session);
        let (boots, auths) = self.station.ledger().index().hsm_unlogged;
        if boots > 0 || auths > 0 {
            self.say(
                Level::Error,
                format!(
                    "the HSM's audit log was full: {boots} power-on(s) and {auths} \
                     authentication(s) went unlogged (recorded in the ledger)"
                ),
            );
        }
        match result
            .map_err(|e| e.to_string())
            .and_then(|(resp, refused)| self.show_response(resp, refused))
        {
            Ok(screen) => screen,
            Err(e) => {
                self.say(Level::Error, format!("nothing released: {e}"));
                Screen::Review(r)
            }
        }
    }

    /// Signs (or refuses) a standard wallet request; a signature goes back as the
    /// wallet's own answer (`eth-signature`, `sol-signature`). A refusal is recorded in
    /// the ledger; the wallet's format has no refusal, so nothing is shown for it.
    fn finish_standard(
        &mut self,
        r: ReviewState,
        intent: &Intent,
        standard: &StandardRequest,
        session: &dyn SigningBackend,
        now: u64,
    ) -> Screen {
        let answered = match intent {
            Intent::Sign => self
                .station
                .sign_standard(standard, &r.review, session, now)
                .map(Some),
            Intent::Refuse(reason) => {
                let refusal = Refusal::Custodians(reason.clone());
                self.station
                    .refuse(&r.review, &refusal, session, now)
                    .map(|_| None)
            }
        };
        let shown = answered.map_err(|e| e.to_string()).and_then(|a| match a {
            None => {
                self.say(
                    Level::Ok,
                    "refusal recorded in the ledger; a standard wallet gets no answer",
                );
                Ok(Screen::Home)
            }
            Some(answer) => {
                let (ur_type, cbor) = answer.to_ur();
                let written = self.outgoing.join("wallet-answer.cbor");
                std::fs::create_dir_all(&self.outgoing).map_err(|e| e.to_string())?;
                std::fs::write(&written, &cbor).map_err(|e| e.to_string())?;
                let screen =
                    self.show_stream("SIGNED WALLET ANSWER", ur_type, cbor, "", written)?;
                self.say(
                    Level::Ok,
                    format!("signed and recorded; show these frames to the wallet ({ur_type})"),
                );
                Ok(screen)
            }
        });
        match shown {
            Ok(screen) => screen,
            Err(e) => {
                self.say(Level::Error, format!("nothing released: {e}"));
                Screen::Review(r)
            }
        }
    }

    pub(super) fn show_response(
        &mut self,
        resp: SignResponse,
        refused: Option<String>,
    ) -> Result<Screen, String> {
        let env = Envelope::Response(resp);
        let (ur_type, message) = encode_envelope(&env);
        let written = self.outgoing.join("response.envelope");
        std::fs::create_dir_all(&self.outgoing).map_err(|e| e.to_string())?;
        std::fs::write(&written, &message).map_err(|e| e.to_string())?;
        let title = if refused.is_some() {
            "REFUSAL"
        } else {
            "SIGNED RESPONSE"
        };
        let screen = self.show_stream(title, ur_type, message, "", written)?;
        let parts = match &screen {
            Screen::Response(r) => r.parts,
            _ => 0,
        };
        match &refused {
            None => self.say(
                Level::Ok,
                format!(
                    "signed and recorded; show these frames to the coordinator ({parts} parts)"
                ),
            ),
            Some(_) => self.say(
                Level::Ok,
                "refusal signed and recorded; show these frames to the coordinator",
            ),
        }
        Ok(screen)
    }

    /// Writes `message` as PNG frames under `outgoing/sub` and shows it animated.
    pub(super) fn show_stream(
        &mut self,
        title: &'static str,
        ur_type: &'static str,
        message: Vec<u8>,
        sub: &str,
        written: PathBuf,
    ) -> Result<Screen, String> {
        let version = 12;
        let frag = qr::max_fragment_len_for_version(ur_type, version, message.len())
            .ok_or("message too large")?;
        let mut enc = airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag)
            .map_err(|e| e.to_string())?;
        let n = if enc.is_single_part() {
            1
        } else {
            enc.fragment_count() * 3
        };
        let parts: Vec<String> = (0..n).map(|_| enc.next_part()).collect();
        let renderer = FrameRenderer::new(version).map_err(|e| e.to_string())?;
        let dir = self.outgoing.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // Frames of an earlier, longer stream must not be left beside these.
        for e in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "png") {
                std::fs::remove_file(e.path()).map_err(|e| e.to_string())?;
            }
        }
        for (i, p) in parts.iter().enumerate() {
            std::fs::write(
                dir.join(format!("{:04}.png", i + 1)),
                renderer.to_png(p, 4).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(Screen::Response(ResponseState {
            title,
            parts: parts.len(),
            ur_type,
            message,
            frame: 0,
            ticks_per_frame: 3,
            tick: 0,
            invert: false,
            max_version: 25,
            written,
            fragments: Default::default(),
        }))
    }
}
