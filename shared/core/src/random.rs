//! The one source of the randomness Clavis draws itself (secrets, client IDs, salts, keys,
//! nonces, retry jitter): the operating system's CSPRNG, through `rand`. (aws-lc draws its own
//! for the signatures it makes: its API takes no other source.)

use rand::RngExt;
use rand::rngs::SysRng;
use rand_core::UnwrapErr;

/// The OS CSPRNG. It failing is unrecoverable: there is no safe secret, identifier or key to
/// hand out instead, so it panics rather than return something weaker.
pub fn os_rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> [u8; N] {
    os_rng().random()
}

/// A number drawn uniformly from `[0, 1]`.
pub fn unit() -> f64 {
    os_rng().random_range(0.0..=1.0)
}
