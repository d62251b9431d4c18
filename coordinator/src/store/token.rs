//! An API token as the store keeps it.

/// An API token as stored (its secret never is: only its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    /// Its id: the first 16 hex digits of its hash (safe to show and log).
    pub id: String,
    /// Who it is for.
    pub principal: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// Made (Unix seconds).
    pub created: u64,
    /// Valid until (Unix seconds), if it expires.
    pub expires: Option<u64>,
    /// Revoked at (Unix seconds).
    pub revoked: Option<u64>,
    /// Last used (Unix seconds, to the minute).
    pub last_used: Option<u64>,
}

impl TokenRecord {
    /// Whether it is valid at `now`: not revoked, not expired.
    pub fn live(&self, now: u64) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|e| now < e)
    }
}
