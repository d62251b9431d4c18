//! A Solana network as the chains file configures it (`[[solana]]`).

/// An SPL token a Solana vault may move.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolToken {
    /// Mint address.
    pub mint: String,
    /// Decimals (checked against the mint account when building).
    pub decimals: u8,
}

/// One Solana network as configured (`[[solana]]` in the chains file).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolConfig {
    /// Display name.
    pub name: String,
    /// Request network (`solana:devnet`, `solana:mainnet-beta`, …).
    pub network: String,
    /// JSON-RPC endpoints.
    pub endpoints: Vec<String>,
    /// Durable nonce accounts under the vault's authority: one per request in flight.
    pub nonce_accounts: Vec<String>,
    /// Tokens.
    #[serde(default)]
    pub tokens: Vec<SolToken>,
    /// `confirmed` or `finalized`.
    #[serde(default = "default_commitment")]
    pub commitment: String,
    /// The registered station whose Solana key is the vault (needed when more than one
    /// station holds a Solana key).
    #[serde(default)]
    pub station: Option<String>,
    /// Compute unit limit of one transfer (a batch asks for it once per recipient, at
    /// most 1,400,000).
    #[serde(default)]
    pub compute_unit_limit: Option<u32>,
    /// Priority fee, micro-lamports per compute unit.
    #[serde(default)]
    pub compute_unit_price: Option<u64>,
}

fn default_commitment() -> String {
    "confirmed".into()
}
