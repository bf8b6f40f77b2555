//! The add-in's own `#[repr(C)]` definitions agree with the description the headers are rendered
//! from: the variant's size and offsets on this platform, and every type code (no more, no fewer).

use licence_ffi_headers::abi::{TYPE_CODES, VARIANT_LAYOUTS};
use licenceaddin::ffi::{TVariant, VarType};
use std::mem::{offset_of, size_of};

/// The described platform this test is compiled for.
const PLATFORM: &str = if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
    "Linux x86_64"
} else if cfg!(all(target_os = "linux", target_arch = "x86")) {
    "Linux i386"
} else if cfg!(all(windows, target_pointer_width = "64")) {
    "Windows x64"
} else {
    "Windows x86"
};

#[test]
fn the_addins_variant_has_the_described_layout() {
    let layout = VARIANT_LAYOUTS.iter().find(|l| l.platform == PLATFORM).unwrap();
    assert_eq!(size_of::<TVariant>(), layout.size);
    assert_eq!(offset_of!(TVariant, data), layout.pointer);
    assert_eq!(offset_of!(TVariant, cb_elements), layout.cb_elements);
    assert_eq!(offset_of!(TVariant, vt), layout.vt);
}

#[test]
fn the_addin_knows_exactly_the_described_type_codes() {
    for (name, code) in TYPE_CODES {
        assert!(VarType::try_from(code).is_ok(), "{name} = {code} is unknown to the add-in");
    }
    for code in 0..=u16::from(u8::MAX) {
        if !TYPE_CODES.iter().any(|(_, c)| *c == code) {
            assert!(VarType::try_from(code).is_err(), "the add-in accepts undescribed type code {code}");
        }
    }
}
