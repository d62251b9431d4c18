//! The schema of both backends, in one place: the same tables, indexes and migrations,
//! each written once, with the few words the two SQL dialects spell differently filled in
//! per backend. Migrations only ever append.

/// A backend's SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The migrations, oldest first; a database at version `v` has run the first `v`.
pub fn migrations(d: Dialect) -> Vec<String> {
    let int = match d {
        Dialect::Sqlite => "INTEGER",
        Dialect::Postgres => "BIGINT",
    };
    let common = [
        // 1: requests, audit, leases.
        "CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            idempotency_key TEXT,
            principal TEXT NOT NULL,
            body TEXT NOT NULL,
            body_hash TEXT NOT NULL,
            state TEXT NOT NULL,
            created {int} NOT NULL,
            updated {int} NOT NULL
         );
         CREATE UNIQUE INDEX requests_idem ON requests(principal, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
         CREATE INDEX requests_state ON requests(state, created);
         CREATE TABLE audit (
            seq {int} PRIMARY KEY,
            time {int} NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
         );
         CREATE TABLE leases (
            request_id TEXT NOT NULL,
            step TEXT NOT NULL,
            owner TEXT NOT NULL,
            until {int} NOT NULL,
            PRIMARY KEY (request_id, step)
         );",
        // 2: API tokens, stored as SHA-256 of the token.
        "CREATE TABLE tokens (
            hash TEXT PRIMARY KEY,
            principal TEXT NOT NULL,
            roles TEXT NOT NULL,
            created {int} NOT NULL
         );",
        // 3: the risk engine's history query.
        "CREATE INDEX requests_principal ON requests(principal, created);",
        // 4: write-once artifacts (envelopes, approvals, responses, final transactions).
        "CREATE TABLE artifacts (
            subject TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            created {int} NOT NULL,
            PRIMARY KEY (subject, kind, key)
         );",
    ];
    let mut out: Vec<String> = common.iter().map(|m| m.replace("{int}", int)).collect();
    // 5: the risk engine's history fields as columns, read from a covering index (no
    // JSON parsing per row).
    out.push(match d {
        Dialect::Sqlite => "ALTER TABLE requests ADD COLUMN network TEXT;
             ALTER TABLE requests ADD COLUMN asset TEXT;
             ALTER TABLE requests ADD COLUMN destination TEXT;
             ALTER TABLE requests ADD COLUMN amount TEXT;
             UPDATE requests SET network = json_extract(body, '$.network'),
                asset = json_extract(body, '$.asset'),
                destination = json_extract(body, '$.destination'),
                amount = json_extract(body, '$.amount');
             CREATE INDEX requests_history ON requests(principal, created, state, network, asset, destination, amount);"
            .into(),
        Dialect::Postgres => "ALTER TABLE requests ADD COLUMN network TEXT, ADD COLUMN asset TEXT,
                ADD COLUMN destination TEXT, ADD COLUMN amount TEXT;
             UPDATE requests SET network = body::jsonb->>'network', asset = body::jsonb->>'asset',
                destination = body::jsonb->>'destination', amount = body::jsonb->>'amount';
             CREATE INDEX requests_history ON requests(principal, created)
                INCLUDE (state, network, asset, destination, amount);"
            .into(),
    });
    // 6: a request's own audit rows (its history, with the reasons given).
    out.push("CREATE INDEX audit_subject ON audit(subject, seq);".into());
    // 7: how far each reader of the audit chain has got (the webhooks' outbox).
    out.push(format!(
        "CREATE TABLE cursors (name TEXT PRIMARY KEY, seq {int} NOT NULL);"
    ));
    // 8: token expiry, revocation and last use.
    out.push(match d {
        Dialect::Sqlite => "ALTER TABLE tokens ADD COLUMN expires INTEGER;
             ALTER TABLE tokens ADD COLUMN revoked INTEGER;
             ALTER TABLE tokens ADD COLUMN last_used INTEGER;"
            .into(),
        Dialect::Postgres => "ALTER TABLE tokens ADD COLUMN expires BIGINT,
                ADD COLUMN revoked BIGINT, ADD COLUMN last_used BIGINT;"
            .into(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both backends have the same migrations, in the same order.
    #[test]
    fn both_dialects_have_every_migration() {
        let (s, p) = (migrations(Dialect::Sqlite), migrations(Dialect::Postgres));
        assert_eq!(s.len(), p.len());
        for (a, b) in s.iter().zip(&p).take(4) {
            assert_eq!(a.replace("INTEGER", "BIGINT"), *b);
        }
    }
}
