//! Datafiles travel inside a vendor's configuration and can be swapped by anyone who handles it, so
//! [`datafile::parse`] must refuse any byte string cleanly. A forged signature is out of the
//! fuzzer's reach; the seed corpus holds genuinely signed files so that mutations of them exercise
//! every check on the way to the signature. A file that does parse is taken all the way: every
//! object is looked up by name and decrypted with a fixed wrong key, which must be refused.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::datafile::{self, DatafileError, ObjectKey, MAX_FILE_LEN, MAX_NAME_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = datafile::parse(data) else { return };
    assert!(data.len() <= MAX_FILE_LEN, "a file of {} bytes parsed", data.len());
    let wrong = ObjectKey::from_bytes([0x5a; 32]);
    for entry in file.objects() {
        assert!(!entry.name.is_empty() && entry.name.len() <= MAX_NAME_LEN, "name {:?} accepted", entry.name);
        assert!(std::ptr::eq(file.object(&entry.name).expect("an object is found by its own name"), entry));
        assert!(std::ptr::eq(file.object_ignoring_case(&entry.name).expect("found ignoring case"), entry));
        let request = entry.key_request(&file);
        assert_eq!(request.file_id, file.file_id);
        match entry.decrypt(&file, &wrong) {
            Err(DatafileError::WrongKey(_)) => {}
            other => panic!("object {:?} with a wrong key: {other:?}", entry.name),
        }
    }
});
