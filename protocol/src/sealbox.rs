//! Sealing a small secret to a target's public key, so that only the holder of the target's binding
//! can open it: what a key file's secrets and an activation response's backup code travel in.
//!
//! A sealed box is `ephemeral X25519 public key (32) ‖ AES-256-GCM ciphertext ‖ tag (16)`. The sealer
//! makes a fresh X25519 key pair, agrees a secret with the target's public key
//! ([`crate::identity::TargetKey`]) and derives the AEAD key with HKDF-SHA256 (salt: the ephemeral and
//! the target public keys; info: the caller's context). The same context is the associated data, so a
//! box opens only for the purpose it was sealed for. Each ephemeral key seals one message, so the
//! fixed nonce never repeats under a key.

use crate::identity::{MachineBinding, TargetKey};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// What sealing adds to the plaintext: the ephemeral public key and the tag.
pub const OVERHEAD: usize = 32 + 16;

/// The box does not open with this binding, or was altered, or sealed for another context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed secret does not open here")]
pub struct NotForUs;

fn cipher(shared: &[u8; 32], ephemeral: &[u8; 32], target: &TargetKey, context: &[u8]) -> Aes256Gcm {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(&target.0);
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&salt), shared).expand(context, okm.as_mut()).expect("32 bytes is a valid HKDF length");
    Aes256Gcm::new_from_slice(okm.as_ref()).expect("a 32-byte AES-256 key")
}

/// Seals `plaintext` to `target` for `context`.
///
/// # Panics
/// If the operating system cannot provide random bytes.
pub fn seal(target: &TargetKey, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut()).expect("the operating system's random source failed");
    let ephemeral = StaticSecret::from(*seed);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(&PublicKey::from(target.0));
    let sealed = cipher(shared.as_bytes(), &ephemeral_public, target, context)
        .encrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: plaintext, aad: context })
        .expect("AES-GCM seals a small message");
    let mut out = Vec::with_capacity(32 + sealed.len());
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&sealed);
    out
}

/// Opens a box sealed to `binding`'s target key for `context`.
pub fn open(binding: &MachineBinding, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, NotForUs> {
    if sealed.len() < OVERHEAD {
        return Err(NotForUs);
    }
    let secret = binding.target_secret();
    let target = TargetKey(PublicKey::from(&secret).to_bytes());
    let mut ephemeral = [0u8; 32];
    ephemeral.copy_from_slice(&sealed[..32]);
    let shared = secret.diffie_hellman(&PublicKey::from(ephemeral));
    if !shared.was_contributory() {
        return Err(NotForUs);
    }
    cipher(shared.as_bytes(), &ephemeral, &target, context)
        .decrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: &sealed[32..], aad: context })
        .map(Zeroizing::new)
        .map_err(|_| NotForUs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::MachineIdentity;

    #[test]
    fn only_the_target_opens_and_only_for_its_context() {
        let target = MachineIdentity::from_material(b"target").binding();
        let other = MachineIdentity::from_material(b"other").binding();
        let sealed = seal(&target.target_key(), b"ctx", b"secret");
        assert_eq!(sealed.len(), 6 + OVERHEAD);
        assert_eq!(&open(&target, b"ctx", &sealed).unwrap()[..], b"secret");
        assert_eq!(open(&other, b"ctx", &sealed), Err(NotForUs));
        assert_eq!(open(&target, b"another", &sealed), Err(NotForUs));
        let mut flipped = sealed.clone();
        flipped[40] ^= 1;
        assert_eq!(open(&target, b"ctx", &flipped), Err(NotForUs));
        assert_eq!(open(&target, b"ctx", &sealed[..20]), Err(NotForUs));
        assert_ne!(seal(&target.target_key(), b"ctx", b"secret"), sealed, "a fresh ephemeral key each time");
    }
}
