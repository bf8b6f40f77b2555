//! Every add-in call's body is JSON from the network, and the add-in in turn reads the server's
//! answers. One input is tried as each message type of the protocol (and as the times, series, key
//! fields, public targets and activation codes they are made of; protocol 2's sealed messages, sealed
//! answers and connect proofs); whatever parses must write back
//! out and read back in as the same value, so nothing the server accepts can come back to it in a
//! form it refuses.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::activation::ActivationCode;
use licence_protocol::channel::{KeyProof, SealedAnswer, SealedMessage};
use licence_protocol::identity::PublicTarget;
use licence_protocol::key::{KeyFields, SeriesId};
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{
    ConnectRequest, ConnectResponse, ConnectionRequest, HeartbeatRequest, HeartbeatResponse, KeyInfoResponse,
    LicenceGrant, ObtainRequest, ReleaseResponse, SessionRequest, WireError,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

fuzz_target!(|data: &[u8]| {
    round_trip::<ConnectRequest>(data);
    round_trip::<ObtainRequest>(data);
    round_trip::<SessionRequest>(data);
    round_trip::<HeartbeatRequest>(data);
    round_trip::<ConnectionRequest>(data);
    round_trip::<UtcTime>(data);
    round_trip::<SeriesId>(data);
    round_trip::<ActivationCode>(data);
    round_trip::<ConnectResponse>(data);
    round_trip::<LicenceGrant>(data);
    round_trip::<HeartbeatResponse>(data);
    round_trip::<ReleaseResponse>(data);
    round_trip::<KeyInfoResponse>(data);
    round_trip::<WireError>(data);
    round_trip::<KeyFields>(data);
    round_trip::<PublicTarget>(data);
    round_trip::<SealedMessage>(data);
    round_trip::<KeyProof>(data);
    round_trip::<SealedAnswer<LicenceGrant>>(data);
    round_trip::<SealedAnswer<HeartbeatResponse>>(data);
    round_trip::<SealedAnswer<ReleaseResponse>>(data);
    // What `licenceedit key demo --identity` reads: an accepted target has both halves well formed.
    if let Ok(Ok(target)) = std::str::from_utf8(data).map(PublicTarget::from_json) {
        assert!(target.parse().is_ok(), "{target:?} accepted but not well formed");
    }
});

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(data) else { return };
    let name = std::any::type_name::<T>();
    let json =
        serde_json::to_vec(&value).unwrap_or_else(|e| panic!("{name} read from the input does not serialize: {e}"));
    let again = serde_json::from_slice::<T>(&json)
        .unwrap_or_else(|e| panic!("{name} does not read back from {}: {e}", String::from_utf8_lossy(&json)));
    assert_eq!(value, again, "{name} changed on the way through {}", String::from_utf8_lossy(&json));
}
