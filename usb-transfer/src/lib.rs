//! USB bundle files that carry one envelope across the air gap: encrypted to the
//! recipient, signed, written atomically and verified on read.
//!
//! Not built yet: the bundle format arrives with the envelope (see docs/ARCHITECTURE.md).
#![warn(missing_docs)]
