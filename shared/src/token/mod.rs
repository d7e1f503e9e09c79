//! Tokens: signing keys and their public JWKs.

pub mod keys;
