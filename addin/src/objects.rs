//! `OpenObject` / `ОткрытьОбъект`: the plaintext of one protected object of a datafile, only while the
//! object's `Licence` holds a licence of the datafile's series from a licence server.
//!
//! The add-in checks everything it can itself before and after asking the server:
//! - the datafile parses and is signed by the series key the configuration pinned (`SeriesPublicKey`)
//!   for the series it set (`KeyID`), so a datafile made by anyone else is refused before any call;
//! - the server's answer comes through the connection's sealed channel (`protocol::channel`);
//! - the key file the server shows is signed by the pinned key, so a server holding a key signed by
//!   someone else is refused;
//! - the object key the server gives must open the object (its MAC is checked before decrypting): only a
//!   genuine key of the series carries the secret that makes it, so a server that answers "granted"
//!   to everything still gets nothing opened.

use licence_protocol::datafile::{self, ObjectKey, ObjectKind};
use licence_protocol::key::SeriesId;
use licence_protocol::keyfile;
use licence_protocol::text::shorten;
use licence_protocol::wire::{ErrorCode, ObjectGrant};

use crate::{Error, Value};

/// The pinned series public key: 64 hex digits in either case.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| format!("`{}` is not 64 hex digits", shorten(text.trim(), 70)))?;
    Ok(key)
}

fn refused(message: impl Into<String>) -> Error {
    Error::licence(ErrorCode::ObjectRefused, message)
}

/// What the caller checks before asking the server: the datafile, its series and signer, the object.
pub struct Opening {
    file: datafile::Datafile,
    index: usize,
}

impl Opening {
    /// Reads `datafile` and finds `name` (exactly, else ignoring letter case) for `series`, pinned to
    /// `pin`.
    pub fn prepare(datafile: &[u8], name: &str, series: SeriesId, pin: &[u8; 32]) -> Result<Self, Error> {
        let file = datafile::parse(datafile).map_err(|e| refused(format!("the datafile cannot be used: {e}")))?;
        if file.series != series {
            return Err(refused(format!("the datafile is of series {}; this object's KeyID is {series}", file.series)));
        }
        if &file.series_public_key != pin {
            return Err(refused(format!(
                "the datafile of series {series} is not signed by the series key the configuration pins (SeriesPublicKey)"
            )));
        }
        let wanted = name.trim();
        let entry = file
            .object(wanted)
            .or_else(|| file.object_ignoring_case(wanted))
            .ok_or_else(|| refused(format!("the datafile has no object named \"{wanted}\"")))?;
        let index = file.objects().iter().position(|o| std::ptr::eq(o, entry)).unwrap_or_default();
        Ok(Self { file, index })
    }

    fn entry(&self) -> &datafile::ObjectEntry {
        &self.file.objects()[self.index]
    }

    /// The object's name as the datafile spells it.
    pub fn name(&self) -> &str {
        &self.entry().name
    }

    pub fn key_request(&self) -> datafile::ObjectKeyRequest {
        self.entry().key_request(&self.file)
    }

    /// Checks the server's answer against the pin and opens the object: `ДвоичныеДанные` for a binary
    /// object, `Строка` for BSL text.
    pub fn open(&self, grant: &ObjectGrant, pin: &[u8; 32]) -> Result<Value, Error> {
        let series = self.file.series;
        let key = keyfile::verify(grant.key_file.as_bytes())
            .map_err(|e| refused(format!("the server's key file of series {series} cannot be checked: {e}")))?;
        if &key.series_public_key != pin || key.fields.key_id != series {
            return Err(refused(format!(
                "the server's key {} is not a key of series {series} signed by the pinned series key",
                key.fields.key_no
            )));
        }
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(grant.object_key.as_bytes(), raw.as_mut())
            .map_err(|_| refused("the server's object key is not 64 hex digits"))?;
        let object_key = ObjectKey::from_bytes(*raw);
        let plain = self.entry().decrypt(&self.file, &object_key).map_err(|_| {
            refused(format!(
                "the key the server gave does not open \"{}\": the server holds no genuine key of series {series}",
                self.name()
            ))
        })?;
        match self.entry().kind {
            ObjectKind::Binary => Ok(Value::Blob(plain.to_vec())),
            ObjectKind::Text => String::from_utf8(plain.to_vec())
                .map(Value::Str)
                .map_err(|_| refused(format!("the text object \"{}\" is not UTF-8", self.name()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::datafile::NewObject;
    use licence_protocol::series::SeriesKeys;

    fn file(series: &SeriesKeys) -> Vec<u8> {
        let objects = [
            NewObject { name: "Отчёт по складу".into(), kind: ObjectKind::Binary, content: vec![1, 2, 3] },
            NewObject {
                name: "Module".into(), kind: ObjectKind::Text, content: "Возврат 1;".as_bytes().to_vec()
            },
        ];
        datafile::pack(series, &objects).unwrap()
    }

    #[test]
    fn the_datafile_its_series_and_signer_are_checked_before_any_call() {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let pin = series.public_key();
        let bytes = file(&series);
        let opening = Opening::prepare(&bytes, "отчёт по складу", series.series, &pin).unwrap();
        assert_eq!(opening.name(), "Отчёт по складу");
        let fail = |r: Result<Opening, Error>| r.err().unwrap().to_string();
        assert!(fail(Opening::prepare(&bytes, "Нет такого", series.series, &pin)).contains("no object named"));
        assert!(fail(Opening::prepare(&bytes, "Module", "672C".parse().unwrap(), &pin)).contains("series 672B"));
        assert!(fail(Opening::prepare(&bytes, "Module", series.series, &[7; 32])).contains("not signed by"));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 1;
        assert!(fail(Opening::prepare(&flipped, "Module", series.series, &pin)).contains("cannot be used"));
    }

    #[test]
    fn only_a_genuine_key_signed_by_the_pin_opens_the_object() {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let pin = series.public_key();
        let bytes = file(&series);
        let opening = Opening::prepare(&bytes, "Module", series.series, &pin).unwrap();
        let machine = licence_protocol::identity::MachineIdentity::from_material(b"server");
        let fields = licence_protocol::key::KeyFields {
            key_id: series.series,
            computer_id: machine.computer_id(),
            ..licence_testkit::main_key(&series, "server", 1, 1)
        };
        let key_file = String::from_utf8(keyfile::issue(&fields, &series, &machine.binding())).unwrap();
        let key = datafile::derive_object_key(&series.secret, &opening.key_request());
        let grant = |object_key: String, key_file: &str| ObjectGrant { object_key, key_file: key_file.to_owned() };
        assert_eq!(
            opening.open(&grant(hex::encode(key.as_bytes()), &key_file), &pin),
            Ok(Value::Str("Возврат 1;".into()))
        );
        let wrong = opening.open(&grant("00".repeat(32), &key_file), &pin).unwrap_err();
        assert!(wrong.to_string().contains("holds no genuine key"), "{wrong}");
        let stranger = SeriesKeys::generate("672B".parse().unwrap());
        let forged = String::from_utf8(keyfile::issue(&fields, &stranger, &machine.binding())).unwrap();
        let e = opening.open(&grant(hex::encode(key.as_bytes()), &forged), &pin).unwrap_err();
        assert!(e.to_string().contains("pinned series key"), "{e}");
    }
}
