//! Standard wallet requests (`eth-sign-request`, `sol-sign-request`) to a station whose
//! policy takes them (`policy.standard_requests = true`): the same rules as envelopes.

use airgap_protocol::registry::EthDataType;
use signer_station::station::standard::{StandardAnswer, StandardRequest};

use super::*;

fn eth_request(
    sign_data: Vec<u8>,
    data_type: EthDataType,
    chain_id: Option<i64>,
    id: u8,
) -> StandardRequest {
    use airgap_protocol::registry::{EthSignRequest, KeyPath};
    StandardRequest::Eth(EthSignRequest {
        request_id: Some([id; 16]),
        sign_data,
        data_type,
        chain_id,
        derivation_path: KeyPath::none(),
        address: None,
        origin: Some("mallory".into()),
    })
}

fn sol_request(sign_data: Vec<u8>, id: u8) -> StandardRequest {
    use airgap_protocol::registry::{KeyPath, SolSignRequest};
    StandardRequest::Sol(SolSignRequest {
        request_id: Some([id; 16]),
        sign_data,
        derivation_path: KeyPath::none(),
        address: None,
        origin: Some("mallory".into()),
        sign_type: Some(1),
    })
}

fn standard(r: &mut Rig, req: &StandardRequest) -> Result<StandardAnswer, Refusal> {
    let review = r.h.station.review_standard(req, NOW)?;
    review.verdict.clone()?;
    r.h.station.sign_standard(req, &review, &r.h.hsm, NOW)
}

fn std_rig(name: &str) -> Rig {
    Rig::with(name, |p| p.standard_requests = true)
}

fn refused_code(res: Result<StandardAnswer, Refusal>) -> u16 {
    match res {
        Ok(a) => panic!("SIGNED a standard request that must be refused: {a:?}"),
        Err(e) => e.code(),
    }
}

/// Standard requests the station must refuse with the code given, on a station whose
/// policy takes standard requests.
macro_rules! standard_attacks {
    ($($(#[$doc:meta])* $name:ident => $code:expr; $body:expr;)*) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            let mut r = std_rig(stringify!($name));
            let request: fn(&mut Rig) -> StandardRequest = $body;
            let req = request(&mut r);
            assert_eq!(refused_code(standard(&mut r, &req)), $code);
        }
    )*};
}

fn typed(tx: &Evm, chain_id: Option<i64>) -> StandardRequest {
    eth_request(tx.bytes(), EthDataType::TypedTransaction, chain_id, 1)
}

standard_attacks! {
    /// The token-call attack through a standard wallet request: no coordinator, no
    /// approvals at all — only the custodians' screen, which says "BACK TO THIS STATION".
    std_eth_token_call_into_an_unlisted_contract_paying_the_station => UNLISTED_ASSET; |r| {
        let ours = ours_evm(r);
        typed(&Evm::call(1, 0, EVM_ATTACKER, erc20_transfer(&ours, U256::from(5u64))), Some(1))
    };
    std_eth_off_list_payment_refused => NOT_ALLOW_LISTED; |_| {
        typed(&Evm::pay(1, 0, EVM_ATTACKER, ETH / 10), Some(1))
    };
    std_eth_approval_to_attacker_refused => NOT_ALLOW_LISTED; |_| {
        typed(&Evm::call(1, 0, EVM_TOKEN, erc20_approve(EVM_ATTACKER, U256::from(1u64))), Some(1))
    };
    /// A Polygon-limit label (1000 ETH) on an Ethereum tx.
    std_eth_chain_id_disagrees_with_tx_refused => NETWORK_MISMATCH; |_| {
        typed(&Evm::pay(1, 0, EVM_TO, 500 * ETH), Some(137))
    };
    std_eth_legacy_type_claimed_for_typed_tx_refused => UNDECODABLE; |_| {
        let tx = Evm::pay(1, 0, EVM_TO, ETH / 10);
        eth_request(tx.bytes(), EthDataType::LegacyTransaction, Some(1), 1)
    };
    std_eth_legacy_without_chain_id_but_request_chain_id_refused => DISALLOWED; |_| {
        let tx = Evm::pay(1, 0, EVM_TO, ETH / 10);
        eth_request(tx.legacy_without_chain_id(), EthDataType::LegacyTransaction, Some(1), 1)
    };
    std_eth_over_budget_across_standard_and_envelope_refused => OVER_DAY_LIMIT; |r| {
        let req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, 19 * ETH / 10))]);
        r.sign_ok(&req);
        let tx = Evm::pay(1, 1, EVM_TO, 19 * ETH / 10);
        eth_request(tx.bytes(), EthDataType::TypedTransaction, None, 2)
    };
    std_sol_nonce_account_of_another_authority_refused => FOREIGN_NONCE; |r| {
        let ours = devnet(r);
        let ixs = [advance_nonce([5; 32], [66; 32]), transfer(ours, [2; 32], SOL)];
        sol_request(message(ours, &ixs, 1), 1)
    };
    std_sol_off_list_refused => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        sol_request(message(ours, &[transfer(ours, [66; 32], SOL)], 1), 1)
    };
}

#[test]
fn std_eth_same_sign_data_new_request_id_refused() {
    let mut r = std_rig("std-replay");
    let tx = Evm::pay(1, 0, EVM_TO, ETH / 10);
    let req = typed(&tx, Some(1));
    assert!(standard(&mut r, &req).is_ok());
    assert_eq!(refused_code(standard(&mut r, &req)), REQUEST_REPLAYED);
    let again = eth_request(tx.bytes(), EthDataType::TypedTransaction, None, 2);
    assert_eq!(refused_code(standard(&mut r, &again)), PAYLOAD_REPLAYED);
}

#[test]
fn std_requests_off_by_default() {
    let mut r = Rig::new("std-off");
    let req = typed(&Evm::pay(1, 0, EVM_TO, ETH / 10), Some(1));
    assert_eq!(refused_code(standard(&mut r, &req)), DISALLOWED);
}
