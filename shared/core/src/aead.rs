//! Sealing with AES-256-GCM as Clavis stores it: a fresh random nonce, then the ciphertext and
//! its tag, with associated data binding the box to where it is kept. Idempotency records and
//! webhook signing secrets both keep their secrets this way, each under keys of their own.

use aws_lc_rs::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};
use aws_lc_rs::error::Unspecified;

/// `plain` sealed under `key`, bound to `context`: nonce followed by ciphertext and tag.
pub(crate) fn seal(
    key: &LessSafeKey,
    context: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, Unspecified> {
    let nonce: [u8; NONCE_LEN] = crate::random::bytes();
    let mut sealed = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(context),
        &mut sealed,
    )?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// What [`seal`] sealed, if `key` and `context` are the ones it was sealed with.
pub(crate) fn open(
    key: &LessSafeKey,
    context: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, Unspecified> {
    if sealed.len() < NONCE_LEN {
        return Err(Unspecified);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)?;
    let mut buffer = ciphertext.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(context), &mut buffer)?;
    Ok(plain.to_vec())
}
