//! The per-connection channel every licence call after `connect` travels in, authenticated by the
//! server's proof that it holds a genuine key of the series the add-in pins, so that nobody watching
//! the network sees a field of a licence call or any protected plaintext, a fake or replaying server
//! gets nothing accepted, and an altered, replayed or reordered message is refused.
//!
//! # Agreement
//! At `connect` the add-in sends the series public key its configuration pins (`SeriesPublicKey`) and
//! a fresh X25519 public key (`ClientKey`); the server answers with its own fresh one (`ServerKey`).
//! Both compute the shared secret and derive, with HKDF-SHA256 (salt: the `ConnectionID`; info: a label
//! and both public keys), one AES-256-GCM key per direction. The private halves live only in memory
//! and are zeroized; a server restart forgets them, and the add-in then connects again (error 14,
//! `NoChannel`).
//!
//! # Proof
//! The server signs [`connect_transcript`] — a label, the SHA-256 of the exact `connect` request body
//! it received (which holds the add-in's fresh key and pin), of its answer's terms (which hold its own
//! key and the `ConnectionID`) and of the key file shown — with the per-key key (`KeyPublicKey`,
//! `keyfile`) of every key of the pinned series it holds on its own computer. The add-in accepts the
//! connection only when at least one proof's key file is signed by its pin and the signature verifies
//! ([`verify_proof`]); every grant must then name a key proved so. A relay that swaps either public key
//! breaks the transcript; a fake server has no per-key key of a genuine key; a recorded conversation
//! answers another `ClientKey`.
//!
//! # Messages
//! A sealed call is `{ConnectionID, Seq, Sealed}`: `Sealed` is the base64 of AES-256-GCM over the inner
//! JSON, with the nonce taken from `Seq` and the call's path, the `ConnectionID` and `Seq` as associated
//! data. The add-in numbers its requests 1, 2, 3…; the server accepts each number once and only upwards,
//! so a replayed request is refused, and answers under the other direction's key with the same `Seq`,
//! so an answer cannot be replayed to a later request or reflected back.
//!
//! Sealed answers carry `{"Ok": …}` or `{"Err": WireError}` ([`SealedAnswer`]), so refusals are
//! authenticated and unreadable too.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::keyfile::{self, KeyFileError, VerifiedKeyFile};
use crate::wire::WireError;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

const INFO_LABEL: &[u8] = b"licence channel v2\0";
const TRANSCRIPT_LABEL: &[u8] = b"licence connect proof v2\0";
/// Sealed inner messages are small (an object key and a key file); anything larger is refused.
pub const MAX_SEALED_LEN: usize = 128 * 1024;

/// Why a channel message cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("the peer's channel key is not 64 hex digits")]
    BadPeerKey,
    #[error("the peer's channel key is not acceptable (a low-order point)")]
    WeakPeerKey,
    #[error("the sealed message is not base64 or too large")]
    Malformed,
    #[error("the sealed message was altered or is not for this connection")]
    Altered,
    #[error("message number {got} was already used (the last was {last}): a replay")]
    Replayed { got: u64, last: u64 },
    #[error("the answer is numbered {got}, the request was {sent}")]
    OutOfOrder { got: u64, sent: u64 },
}

/// One key's proof at `connect` (a message of `wire`'s `ConnectResponse`), made by [`prove`].
pub use crate::wire::KeyProof;

/// Why a proof is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("the key file it shows is not valid: {0}")]
    KeyFile(#[source] KeyFileError),
    #[error("key {key_no} is signed by another key than the series key this configuration pins ({signer}…)")]
    OtherSigner { key_no: u64, signer: String },
    #[error("key {key_no} is of series {found}, not {expected}")]
    OtherSeries { key_no: u64, found: String, expected: String },
    #[error("the signature of key {0} does not cover this connection: a relay, a replay or a forged key")]
    BadSignature(u64),
}

/// A sealed answer's inner message: the call's answer, or its refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SealedAnswer<T> {
    Ok(T),
    Err(WireError),
}

/// What the server signs at `connect` (see the module's "Proof").
pub fn connect_transcript(request_body: &[u8], terms: &[u8], key_file: &[u8]) -> Vec<u8> {
    let mut t = TRANSCRIPT_LABEL.to_vec();
    t.extend_from_slice(&Sha256::digest(request_body));
    t.extend_from_slice(&Sha256::digest(terms));
    t.extend_from_slice(&Sha256::digest(key_file));
    t
}

/// The server's side: one key's proof for this connection.
pub fn prove(key: &SigningKey, key_file: &str, request_body: &[u8], terms: &[u8]) -> KeyProof {
    let signature = key.sign(&connect_transcript(request_body, terms, key_file.as_bytes()));
    KeyProof { key_file: key_file.to_owned(), signature: BASE64.encode(signature.to_bytes()) }
}

/// The add-in's side: the key a proof shows, when its file is signed by `pin`, of `series`, and its
/// per-key key signed this connection's transcript.
pub fn verify_proof(
    proof: &KeyProof,
    pin: &[u8; 32],
    series: crate::key::SeriesId,
    request_body: &[u8],
    terms: &[u8],
) -> Result<VerifiedKeyFile, ProofError> {
    let key = keyfile::verify(proof.key_file.as_bytes()).map_err(ProofError::KeyFile)?;
    let key_no = key.fields.key_no;
    if !key.signed_by(pin) {
        return Err(ProofError::OtherSigner { key_no, signer: hex::encode(&key.series_public_key[..4]) });
    }
    if key.fields.key_id != series {
        return Err(ProofError::OtherSeries {
            key_no,
            found: key.fields.key_id.to_string(),
            expected: series.to_string(),
        });
    }
    let signature = BASE64
        .decode(proof.signature.as_bytes())
        .ok()
        .and_then(|raw| <[u8; 64]>::try_from(raw.as_slice()).ok())
        .map(|raw| Signature::from_bytes(&raw))
        .ok_or(ProofError::BadSignature(key_no))?;
    let public = VerifyingKey::from_bytes(&key.key_public_key).map_err(|_| ProofError::BadSignature(key_no))?;
    public
        .verify_strict(&connect_transcript(request_body, terms, proof.key_file.as_bytes()), &signature)
        .map_err(|_| ProofError::BadSignature(key_no))?;
    Ok(key)
}

/// Which side of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// One side's key pair for one agreement; the secret is zeroized when dropped.
pub struct Handshake {
    secret: StaticSecret,
    public: PublicKey,
}

/// The agreed keys of one connection.
pub struct Channel {
    connection_id: String,
    role: Role,
    to_server: Aes256Gcm,
    to_client: Aes256Gcm,
    /// The server's record of the last request number it accepted.
    last_request: u64,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("connection_id", &self.connection_id).field("role", &self.role).finish()
    }
}

/// A sealed call or answer on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SealedMessage {
    #[serde(rename = "ConnectionID")]
    pub connection_id: String,
    pub seq: u64,
    pub sealed: String,
}

impl Handshake {
    /// A fresh key pair from the operating system's random source.
    ///
    /// # Panics
    /// If the operating system cannot provide random bytes.
    pub fn new() -> Self {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::getrandom(bytes.as_mut()).expect("the OS random source works");
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// The public half, as `ClientKey` / `ServerKey` carry it.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public.as_bytes())
    }

    /// Agrees the channel of `connection_id` with the peer's public key (hex).
    pub fn finish(self, role: Role, connection_id: &str, peer_hex: &str) -> Result<Channel, ChannelError> {
        let mut peer = [0u8; 32];
        hex::decode_to_slice(peer_hex.trim(), &mut peer).map_err(|_| ChannelError::BadPeerKey)?;
        let peer = PublicKey::from(peer);
        let shared = self.secret.diffie_hellman(&peer);
        if !shared.was_contributory() {
            return Err(ChannelError::WeakPeerKey);
        }
        let (client, server) = match role {
            Role::Client => (self.public, peer),
            Role::Server => (peer, self.public),
        };
        let mut info = INFO_LABEL.to_vec();
        info.extend_from_slice(client.as_bytes());
        info.extend_from_slice(server.as_bytes());
        let mut okm = zeroize::Zeroizing::new([0u8; 64]);
        Hkdf::<Sha256>::new(Some(connection_id.as_bytes()), shared.as_bytes())
            .expand(&info, okm.as_mut())
            .expect("64 bytes is a valid HKDF-SHA256 length");
        let key = |half: &[u8]| Aes256Gcm::new_from_slice(half).expect("32-byte AES-256 keys");
        Ok(Channel {
            connection_id: connection_id.to_owned(),
            role,
            to_server: key(&okm[..32]),
            to_client: key(&okm[32..]),
            last_request: 0,
        })
    }
}

impl Default for Handshake {
    fn default() -> Self {
        Self::new()
    }
}

/// The 96-bit GCM nonce of message `seq` in one direction: each key is used for one direction only
/// and each number once, so a nonce never repeats under a key.
fn nonce(seq: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_be_bytes());
    n
}

fn associated(path: &str, connection_id: &str, seq: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(path.len() + connection_id.len() + 10);
    aad.extend_from_slice(path.as_bytes());
    aad.push(0);
    aad.extend_from_slice(connection_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad
}

impl Channel {
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    fn outgoing(&self) -> &Aes256Gcm {
        match self.role {
            Role::Client => &self.to_server,
            Role::Server => &self.to_client,
        }
    }

    fn incoming(&self) -> &Aes256Gcm {
        match self.role {
            Role::Client => &self.to_client,
            Role::Server => &self.to_server,
        }
    }

    /// Seals `plaintext` as message `seq` of the call `path`, in this side's direction.
    pub fn seal(&self, path: &str, seq: u64, plaintext: &[u8]) -> SealedMessage {
        let aad = associated(path, &self.connection_id, seq);
        let sealed = self
            .outgoing()
            .encrypt(Nonce::from_slice(&nonce(seq)), Payload { msg: plaintext, aad: &aad })
            .expect("AES-GCM seals any message of a sane length");
        SealedMessage { connection_id: self.connection_id.clone(), seq, sealed: BASE64.encode(sealed) }
    }

    fn open(&self, path: &str, message: &SealedMessage) -> Result<zeroize::Zeroizing<Vec<u8>>, ChannelError> {
        if message.sealed.len() > MAX_SEALED_LEN * 4 / 3 + 4 {
            return Err(ChannelError::Malformed);
        }
        let bytes = BASE64.decode(message.sealed.as_bytes()).map_err(|_| ChannelError::Malformed)?;
        if message.connection_id != self.connection_id {
            return Err(ChannelError::Altered);
        }
        let aad = associated(path, &self.connection_id, message.seq);
        self.incoming()
            .decrypt(Nonce::from_slice(&nonce(message.seq)), Payload { msg: &bytes, aad: &aad })
            .map(zeroize::Zeroizing::new)
            .map_err(|_| ChannelError::Altered)
    }

    /// The server's side: opens a request, accepting each number once and only upwards.
    pub fn open_request(
        &mut self,
        path: &str,
        message: &SealedMessage,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, ChannelError> {
        let plain = self.open(path, message)?;
        if message.seq <= self.last_request {
            return Err(ChannelError::Replayed { got: message.seq, last: self.last_request });
        }
        self.last_request = message.seq;
        Ok(plain)
    }

    /// The add-in's side: opens the answer to its request number `sent`.
    pub fn open_answer(
        &self,
        path: &str,
        sent: u64,
        message: &SealedMessage,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, ChannelError> {
        if message.seq != sent {
            return Err(ChannelError::OutOfOrder { got: message.seq, sent });
        }
        self.open(path, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Channel, Channel) {
        let (client, server) = (Handshake::new(), Handshake::new());
        let (client_pub, server_pub) = (client.public_hex(), server.public_hex());
        (
            client.finish(Role::Client, "CONN1", &server_pub).unwrap(),
            server.finish(Role::Server, "CONN1", &client_pub).unwrap(),
        )
    }

    #[test]
    fn both_sides_agree_and_each_direction_has_its_own_key() {
        let (client, mut server) = pair();
        let request = client.seal("/licence/object", 1, b"request");
        assert!(!request.sealed.contains("request"));
        assert_eq!(&server.open_request("/licence/object", &request).unwrap()[..], b"request");
        let answer = server.seal("/licence/object", 1, b"answer");
        assert_eq!(&client.open_answer("/licence/object", 1, &answer).unwrap()[..], b"answer");
        // A request reflected back as an answer does not open: the directions' keys differ.
        assert_eq!(client.open_answer("/licence/object", 1, &request).unwrap_err(), ChannelError::Altered);
    }

    #[test]
    fn replays_alterations_and_other_paths_are_refused() {
        let (client, mut server) = pair();
        let first = client.seal("/licence/object", 1, b"one");
        server.open_request("/licence/object", &first).unwrap();
        assert!(matches!(server.open_request("/licence/object", &first), Err(ChannelError::Replayed { .. })));
        let second = client.seal("/licence/object", 2, b"two");
        assert_eq!(server.open_request("/licence/other", &second).unwrap_err(), ChannelError::Altered);
        let mut renumbered = client.seal("/licence/object", 3, b"three");
        renumbered.seq = 4;
        assert_eq!(server.open_request("/licence/object", &renumbered).unwrap_err(), ChannelError::Altered);
        let mut flipped = client.seal("/licence/object", 5, b"five");
        let mut raw = BASE64.decode(&flipped.sealed).unwrap();
        raw[0] ^= 1;
        flipped.sealed = BASE64.encode(raw);
        assert_eq!(server.open_request("/licence/object", &flipped).unwrap_err(), ChannelError::Altered);
        let mut elsewhere = client.seal("/licence/object", 6, b"six");
        elsewhere.connection_id = "CONN2".into();
        assert_eq!(server.open_request("/licence/object", &elsewhere).unwrap_err(), ChannelError::Altered);
        // An answer for an earlier request is not taken as the answer to a later one.
        let old_answer = server.seal("/licence/object", 1, b"old");
        assert!(matches!(client.open_answer("/licence/object", 7, &old_answer), Err(ChannelError::OutOfOrder { .. })));
    }

    #[test]
    fn a_third_party_cannot_open_and_bad_peer_keys_are_refused() {
        let (client, _) = pair();
        let (_, mut stranger) = pair();
        let request = client.seal("/licence/object", 1, b"secret");
        assert_eq!(stranger.open_request("/licence/object", &request).unwrap_err(), ChannelError::Altered);
        assert_eq!(Handshake::new().finish(Role::Server, "C", "zz").unwrap_err(), ChannelError::BadPeerKey);
        let zero = "00".repeat(32);
        assert_eq!(Handshake::new().finish(Role::Server, "C", &zero).unwrap_err(), ChannelError::WeakPeerKey);
    }

    #[test]
    fn a_proof_verifies_only_for_its_pin_its_request_and_its_terms() {
        use crate::identity::MachineIdentity;
        use crate::series::SeriesKeys;
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let machine = MachineIdentity::from_material(b"server");
        let mut fields = crate::key::tests::sample_fields();
        fields.key_id = series.series;
        let file = String::from_utf8(crate::keyfile::issue(&fields, &series, &machine.binding())).unwrap();
        let secrets = crate::keyfile::verify(file.as_bytes()).unwrap().unwrap_secrets(&machine.binding()).unwrap();
        let proof = prove(&secrets.key, &file, b"request", b"terms");
        let pin = series.public_key();
        let key = verify_proof(&proof, &pin, series.series, b"request", b"terms").unwrap();
        assert_eq!(key.fields.key_no, fields.key_no);
        for (request, terms) in [(&b"other request"[..], &b"terms"[..]), (b"request", b"other terms")] {
            assert!(matches!(
                verify_proof(&proof, &pin, series.series, request, terms),
                Err(ProofError::BadSignature(n)) if n == fields.key_no
            ));
        }
        let stranger = SeriesKeys::generate("672B".parse().unwrap());
        assert!(matches!(
            verify_proof(&proof, &stranger.public_key(), series.series, b"request", b"terms"),
            Err(ProofError::OtherSigner { .. })
        ));
        // A key of a self-made series, proved with its own per-key key, is still not signed by the pin.
        let forged = String::from_utf8(crate::keyfile::issue(&fields, &stranger, &machine.binding())).unwrap();
        let forged_secrets =
            crate::keyfile::verify(forged.as_bytes()).unwrap().unwrap_secrets(&machine.binding()).unwrap();
        let forged_proof = prove(&forged_secrets.key, &forged, b"request", b"terms");
        assert!(matches!(
            verify_proof(&forged_proof, &pin, series.series, b"request", b"terms"),
            Err(ProofError::OtherSigner { .. })
        ));
        // The genuine file shown with a signature of another key does not verify.
        let swapped = KeyProof { key_file: file.clone(), signature: forged_proof.signature };
        assert!(matches!(
            verify_proof(&swapped, &pin, series.series, b"request", b"terms"),
            Err(ProofError::BadSignature(_))
        ));
        assert!(matches!(
            verify_proof(&proof, &pin, "1A2B".parse().unwrap(), b"request", b"terms"),
            Err(ProofError::OtherSeries { .. })
        ));
    }
}
