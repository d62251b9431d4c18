//! Solana end to end against the real runtime (LiteSVM behind a JSON-RPC endpoint): the
//! coordinator's RPC client reads chain state and builds messages, the request crosses to
//! a MockHsm station as QR frames read from their pixels, the station decodes and signs
//! with Ed25519, the response comes back the same way, and the coordinator places and
//! verifies the signatures and sends. Every transaction is executed by the runtime (the
//! system program, SPL Token and the associated token account program included).

use std::time::Duration;

use airgap_protocol::envelope::*;
use airgap_protocol::summary::{TokenInfo, TokenList};
use coordinator::rpc::RpcClient;
use coordinator::solana::*;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use signer_station::hsm::{SigningBackend, YubiHsm};
use signer_station::keys::StationKeys;
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit};
use signer_station::station::{Policy, Refusal, Station};
use signer_station::tui::rehearsal;
use solana_address::Address;
use strongroom_e2e::litesvm::LiteSvm;

const SOL: u64 = 1_000_000_000;
const USDC: u64 = 1_000_000;
const NET: &str = "solana:devnet";

/// A signer's key and its signature.
type KeySig = ([u8; 32], [u8; 64]);

use strongroom_e2e::requests::{now, round_trip, Channel};

#[path = "solana_litesvm/provision.rs"]
mod provision;
#[path = "solana_litesvm/standard_and_fees.rs"]
mod standard_and_fees;

fn seeded(label: &str) -> SigningKey {
    use sha2::Digest;
    SigningKey::from_bytes(&sha2::Sha256::digest(label.as_bytes()).into())
}

fn addr(k: &SigningKey) -> Address {
    Address::new_from_array(k.verifying_key().to_bytes())
}

struct Rig {
    _svm: LiteSvm,
    node: SolRpc,
    control: RpcClient,
    vault: Address,
    nonce_key: SigningKey,
    recipient: Address,
    mint: Address,
    keys: StationKeys,
    station: Station,
    dir: std::path::PathBuf,
}

fn policy(r: &Rig) -> Policy {
    policy_for(&r.nonce_key, &r.recipient, &r.mint)
}

fn policy_for(nonce_key: &SigningKey, recipient: &Address, mint: &Address) -> Policy {
    let mut p = rehearsal::policy().unwrap();
    p.networks = vec![NET.into()];
    p.limits = vec![
        AssetLimit::new(NET, "native", 5 * SOL, 20 * SOL),
        AssetLimit::new(NET, mint, 10_000 * USDC, 50_000 * USDC),
    ];
    p.allow_list = [
        *recipient,
        associated_token_address(recipient, mint),
        associated_token_address(recipient, &addr(&seeded("other mint"))),
        // The vault's own nonce account, registered when it is provisioned.
        addr(nonce_key),
    ]
    .iter()
    .map(|a| Destination::new(NET, a))
    .collect();
    p.fees = vec![FeeLimit::new(NET, "1000000", 1000)];
    p.standard_requests = true;
    p
}

fn rig(name: &str) -> (Rig, YubiHsm) {
    let svm = LiteSvm::start().unwrap();
    let node = SolRpc::new(svm.rpc());
    let control = svm.rpc();
    let dir = std::env::temp_dir().join(format!("strongroom-sol-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = rehearsal::station(&dir.join("rehearsal"), now()).unwrap();
    let vault = Address::new_from_array(strongroom_e2e::requests::devnet_vault(&r.keys));
    let nonce_key = seeded(&format!("{name} nonce account"));
    let recipient = addr(&seeded("market maker"));
    let mint = addr(&seeded("test usdc mint"));
    let tokens = TokenList(vec![TokenInfo {
        chain: Chain::Solana,
        contract: mint.to_string(),
        symbol: "USDC".into(),
        decimals: 6,
    }]);
    let station = strongroom_e2e::requests::station_of(
        &r,
        &dir,
        policy_for(&nonce_key, &recipient, &mint),
        tokens,
    )
    .unwrap();
    control
        .call_raw("test_airdrop", json!([vault.to_string(), 10 * SOL]))
        .unwrap();
    // A USDC-like mint and the vault's token account holding 5,000.
    let authority = addr(&seeded("mint authority"));
    control
        .call_raw(
            "test_setMint",
            json!([mint.to_string(), authority.to_string(), 1_000_000 * USDC, 6]),
        )
        .unwrap();
    control
        .call_raw(
            "test_setTokenAccount",
            json!([
                associated_token_address(&vault, &mint).to_string(),
                mint.to_string(),
                vault.to_string(),
                5_000 * USDC
            ]),
        )
        .unwrap();
    (
        Rig {
            _svm: svm,
            node,
            control,
            vault,
            nonce_key,
            recipient,
            mint,
            keys: r.keys,
            station,
            dir,
        },
        r.hsm,
    )
}

fn request(payload: Payload, id: &str) -> SignRequest {
    strongroom_e2e::requests::signed_request(payload, Purpose::Withdrawal, id)
}

impl Rig {
    fn builder(&self) -> SolBuilder<'_> {
        SolBuilder { node: &self.node }
    }

    fn durable(&self) -> Blockhash {
        Blockhash::Nonce(self.builder().nonce(&addr(&self.nonce_key)).unwrap())
    }

    /// `amount` of the test mint (6 decimals) from the vault to the recipient, under the
    /// durable nonce.
    fn usdc_to_recipient(&self, amount: u64, opts: TxOptions) -> UnsignedSolTx {
        let (vault, mint, to) = (&self.vault, &self.mint, &self.recipient);
        let bh = self.durable();
        self.builder()
            .spl_transfer(vault, mint, 6, to, amount, &bh, opts)
            .unwrap()
    }

    /// Through QR to the station and back: the station's signatures, or its refusal.
    fn sign(
        &mut self,
        tx: &UnsignedSolTx,
        id: &str,
        hsm: &dyn SigningBackend,
    ) -> Result<Vec<KeySig>, Refusal> {
        let req = request(tx.payload(NET, &self.vault), id);
        let identity = self.keys.identity.public_key.clone();
        let sigs = round_trip(&mut self.station, hsm, &identity, &req, Channel::Qr).unwrap()?;
        match sigs.as_slice() {
            [PayloadSignature::Solana(sigs)] => Ok(sigs.clone()),
            other => panic!("unexpected signatures {other:?}"),
        }
    }

    /// Places the signatures, sends, and waits for the runtime's verdict.
    fn send(&self, tx: &UnsignedSolTx, sigs: &[([u8; 32], [u8; 64])]) -> SolState {
        let wire = assemble(tx, sigs).unwrap();
        let sent = self.node.send(&wire).unwrap();
        let tracker = SolTracker::new(tx, &wire, "confirmed");
        assert_eq!(sent, tracker.signature);
        for _ in 0..100 {
            match tracker.poll(&self.node).unwrap() {
                SolState::NotFound | SolState::Processing { .. } => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                other => return other,
            }
        }
        SolState::NotFound
    }

    fn provision_nonce(&mut self, hsm: &YubiHsm) {
        let nonce = addr(&self.nonce_key);
        let tx = self
            .builder()
            .create_nonce_account(&self.vault, &nonce, TxOptions::default())
            .unwrap();
        assert_eq!(tx.signers, vec![self.vault, nonce]);
        let mut sigs = self.sign(&tx, "create nonce account", hsm).unwrap();
        // The nonce account's own key signs its creation, then is no longer needed.
        sigs.push((
            nonce.to_bytes(),
            self.nonce_key.sign(&tx.message).to_bytes(),
        ));
        assert!(matches!(self.send(&tx, &sigs), SolState::Landed { .. }));
        let info = self.builder().nonce(&nonce).unwrap();
        assert_eq!(info.authority, self.vault, "the vault controls its nonce");
    }
}

#[test]
fn nonce_provisioning_sol_and_spl_transfers_and_late_signing() {
    let (mut r, hsm) = rig("flows");
    r.provision_nonce(&hsm);

    // SOL with a durable nonce and a priority fee.
    let before = (
        r.node.balance(&r.vault).unwrap(),
        r.node.balance(&r.recipient).unwrap(),
    );
    let opts = TxOptions {
        compute_unit_limit: Some(10_000),
        compute_unit_price: Some(50_000),
        version: MessageVersion::Legacy,
    };
    let bh = r.durable();
    let Blockhash::Nonce(n0) = &bh else { panic!() };
    let n0 = n0.nonce.clone();
    let tx = r
        .builder()
        .sol_transfer(&r.vault, &r.recipient, 3 * SOL / 2, &bh, opts)
        .unwrap();
    let sigs = r.sign(&tx, "sol transfer", &hsm).unwrap();
    assert!(matches!(r.send(&tx, &sigs), SolState::Landed { .. }));
    let after = (
        r.node.balance(&r.vault).unwrap(),
        r.node.balance(&r.recipient).unwrap(),
    );
    assert_eq!(
        after.1,
        before.1 + 3 * SOL / 2,
        "recipient receives exactly"
    );
    // Fee: 5,000 lamports per signature plus 10,000 units x 50,000 micro-lamports.
    let fee = 5_000 + 10_000 * 50_000 / 1_000_000;
    assert_eq!(
        after.0,
        before.0 - 3 * SOL / 2 - fee,
        "vault pays amount + fee"
    );
    assert_ne!(
        r.builder().nonce(&addr(&r.nonce_key)).unwrap().nonce,
        n0,
        "the nonce advanced"
    );

    // SPL transfer_checked in a v0 message, creating the recipient's token account.
    let dest = associated_token_address(&r.recipient, &r.mint);
    assert_eq!(r.node.token_balance(&dest).unwrap(), None);
    let source = associated_token_address(&r.vault, &r.mint);
    let v0 = TxOptions {
        version: MessageVersion::V0,
        ..TxOptions::default()
    };
    let tx = r.usdc_to_recipient(1_250 * USDC, v0);
    assert_eq!(tx.message[0], 0x80, "a v0 message");
    let sigs = r.sign(&tx, "spl transfer", &hsm).unwrap();
    assert!(matches!(r.send(&tx, &sigs), SolState::Landed { .. }));
    assert_eq!(r.node.token_balance(&dest).unwrap(), Some(1_250 * USDC));
    assert_eq!(r.node.token_balance(&source).unwrap(), Some(3_750 * USDC));
    // A second transfer finds the account there; created idempotently, no failure.
    let tx = r.usdc_to_recipient(250 * USDC, TxOptions::default());
    let sigs = r.sign(&tx, "spl transfer again", &hsm).unwrap();
    assert!(matches!(r.send(&tx, &sigs), SolState::Landed { .. }));
    assert_eq!(r.node.token_balance(&dest).unwrap(), Some(1_500 * USDC));

    // Signed late: hundreds of slots pass (every recent blockhash expires) between
    // building and sending. The durable transaction lands; a recent-blockhash one
    // built at the same time does not.
    let bh = r.durable();
    let late = r
        .builder()
        .sol_transfer(&r.vault, &r.recipient, SOL / 10, &bh, TxOptions::default())
        .unwrap();
    let recent = r.builder().recent().unwrap();
    let stale = r
        .builder()
        .sol_transfer(
            &r.vault,
            &r.recipient,
            SOL / 10,
            &recent,
            TxOptions::default(),
        )
        .unwrap();
    assert!(
        stale.last_valid_block_height.is_some(),
        "expiry travels with it"
    );
    r.control
        .call_raw("test_advanceSlots", json!([600]))
        .unwrap();
    let late_sigs = r.sign(&late, "late", &hsm).unwrap();
    let stale_sigs = r.sign(&stale, "stale", &hsm).unwrap();
    let before = r.node.balance(&r.recipient).unwrap();
    let wire = assemble(&stale, &stale_sigs).unwrap();
    let e = r.node.send(&wire).unwrap_err().to_string();
    assert!(e.contains("Blockhash"), "{e}");
    assert!(matches!(r.send(&late, &late_sigs), SolState::Landed { .. }));
    assert_eq!(r.node.balance(&r.recipient).unwrap(), before + SOL / 10);
}

/// A transaction whose nonce another transaction advanced can never land: the node
/// refuses it and the tracker says so; nothing is rebuilt.
#[test]
fn already_advanced_nonce_is_failed_not_rebuilt() {
    let (mut r, hsm) = rig("advanced");
    r.provision_nonce(&hsm);
    let bh = r.durable();
    let a = r
        .builder()
        .sol_transfer(&r.vault, &r.recipient, SOL, &bh, TxOptions::default())
        .unwrap();
    let a_sigs = r.sign(&a, "a", &hsm).unwrap();
    // Another replica's transaction at the same nonce lands first (signed by a second
    // station holding the same key: this station refuses a second message at a nonce
    // it has signed, as the refusal test shows).
    let b = r
        .builder()
        .sol_transfer(&r.vault, &r.recipient, SOL / 2, &bh, TxOptions::default())
        .unwrap();
    let e = r.sign(&b, "b", &hsm).unwrap_err();
    assert!(matches!(e, Refusal::DoubleSpend { .. }), "{e}");
    let mut second = rehearsal::station_with(
        &hsm,
        &r.keys,
        &r.dir.join("second"),
        now(),
        policy(&r),
        TokenList(vec![]),
    )
    .unwrap();
    std::mem::swap(&mut r.station, &mut second);
    // A second ledger on the same HSM is what the HSM's ledger anchor exists to catch:
    // here custodians accept it on purpose, and accept the first again afterwards.
    r.station
        .reanchor(&hsm, now(), "second ledger, for the test")
        .unwrap();
    let b_sigs = r.sign(&b, "b", &hsm).unwrap();
    std::mem::swap(&mut r.station, &mut second);
    r.station
        .reanchor(&hsm, now(), "first ledger again, for the test")
        .unwrap();
    assert!(matches!(r.send(&b, &b_sigs), SolState::Landed { .. }));
    let wire = assemble(&a, &a_sigs).unwrap();
    assert!(r.node.send(&wire).is_err(), "the runtime refuses it");
    let t = SolTracker::new(&a, &wire, "confirmed");
    assert_eq!(t.poll(&r.node).unwrap(), SolState::NonceAdvanced);
}

#[test]
fn station_refusals() {
    let (mut r, hsm) = rig("refusals");
    r.provision_nonce(&hsm);

    // A nonce account the vault does not control (another authority).
    let stranger = seeded("stranger");
    let swapped = Blockhash::Nonce(NonceInfo {
        address: addr(&seeded("someone else's nonce")),
        authority: addr(&stranger),
        nonce: r.builder().nonce(&addr(&r.nonce_key)).unwrap().nonce,
    });
    let tx = r
        .builder()
        .sol_transfer(&r.vault, &r.recipient, SOL, &swapped, TxOptions::default())
        .unwrap();
    let e = r.sign(&tx, "swapped nonce", &hsm).unwrap_err();
    assert!(matches!(e, Refusal::ForeignNonce { .. }), "{e}");

    // An unknown program.
    let bh = r.durable();
    let odd = solana_instruction::Instruction {
        program_id: addr(&seeded("unknown program")),
        accounts: vec![solana_instruction::AccountMeta::new(r.vault, true)],
        data: vec![1, 2, 3],
    };
    let tx = r
        .builder()
        .compile(&r.vault, vec![odd], &bh, TxOptions::default())
        .unwrap();
    let e = r.sign(&tx, "unknown program", &hsm).unwrap_err();
    assert!(
        matches!(&e, Refusal::Disallowed { what, .. } if what.contains("unknown program")),
        "{e}"
    );

    // A mint the station does not list.
    let other_mint = addr(&seeded("other mint"));
    r.control
        .call_raw(
            "test_setMint",
            json!([other_mint.to_string(), r.vault.to_string(), 1_000 * USDC, 6]),
        )
        .unwrap();
    r.control
        .call_raw(
            "test_setTokenAccount",
            json!([
                associated_token_address(&r.vault, &other_mint).to_string(),
                other_mint.to_string(),
                r.vault.to_string(),
                500 * USDC
            ]),
        )
        .unwrap();
    let tx = r
        .builder()
        .spl_transfer(
            &r.vault,
            &other_mint,
            6,
            &r.recipient,
            100 * USDC,
            &bh,
            TxOptions::default(),
        )
        .unwrap();
    let e = r.sign(&tx, "unlisted mint", &hsm).unwrap_err();
    assert!(matches!(e, Refusal::UnlistedAsset { .. }), "{e}");

    // A v0 message using an address lookup table whose contents are not supplied.
    let mut tx = r
        .builder()
        .sol_transfer(
            &r.vault,
            &r.recipient,
            SOL,
            &bh,
            TxOptions {
                version: MessageVersion::V0,
                ..TxOptions::default()
            },
        )
        .unwrap();
    assert_eq!(tx.message.last(), Some(&0), "no lookups yet");
    tx.message.pop();
    tx.message.push(1);
    tx.message.extend_from_slice(&[7; 32]);
    tx.message.extend_from_slice(&[1, 0, 0]);
    let e = r.sign(&tx, "lookup tables", &hsm).unwrap_err();
    assert!(
        matches!(&e, Refusal::Disallowed { what, .. } if what.contains("lookup")),
        "{e}"
    );
    // Nothing was signed for any of them: the vault's balance only paid the nonce
    // account's creation.
    assert_eq!(r.control.call::<u64>("test_landed", json!([])).unwrap(), 1);
}
