//! The Native API's types as the add-in uses them. Every one comes from `licence-nativeapi`, the one
//! description of the interface (`nativeapi/README.md`), which also asserts at compile time that the
//! variant and the vtables have the described layout on the target being built. What is left here
//! is the add-in's own helper for static wide strings.

pub use licence_nativeapi::{
    AddInDefBaseVtbl, AppInfo, ComponentVtables, Counted, DtorFn, HostObject, InitDoneVtbl, LanguageExtenderVtbl,
    LocaleVtbl, MemoryManagerVtbl, PlatformInfoVtbl, TVariant, Tm, UserLanguageVtbl, VarType, VariantData,
    DESTRUCTOR_SLOTS, WCHAR_T,
};

/// Encodes an ASCII `s` as NUL-terminated UTF-16 at compile time; `N` must be `s.len() + 1`.
pub const fn ascii_wide<const N: usize>(s: &str) -> [WCHAR_T; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() + 1 == N, "N must be the length plus the NUL");
    let mut out = [0; N];
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii() && bytes[i] != 0);
        out[i] = bytes[i] as WCHAR_T;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_code_round_trips_and_unknown_ones_are_errors() {
        for vt in 0..=u16::MAX {
            match VarType::try_from(vt) {
                Ok(t) => assert_eq!(t as u16, vt),
                Err(raw) => {
                    assert_eq!(raw, vt);
                    assert!(matches!(vt, 9 | 12 | 19..=21 | 24..), "{vt} is a documented code");
                }
            }
        }
        assert_eq!(VarType::try_from(999), Err(999));
    }
}
