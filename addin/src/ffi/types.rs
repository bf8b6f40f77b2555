//! Rust mirrors of the platform's C types, byte for byte, with compile-time size and offset checks
//! (the numbers are NATIVEAPI.md's; `ffi-headers/` must carry the same ones as `static_assert`s).
#![allow(non_camel_case_types)]

use std::ffi::{c_int, c_long, c_void};
use std::mem::{offset_of, size_of};

/// A UTF-16 code unit on every OS (`wchar_t` is 4 bytes on Linux: never used).
pub type WCHAR_T = u16;

/// The platform's type codes (`TYPEVAR`). The raw `u16` from a variant becomes this only through
/// [`TryFrom`], so an unknown code is an error value, never an invalid enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum VarType {
    Empty = 0,
    Null = 1,
    I2 = 2,
    I4 = 3,
    R4 = 4,
    R8 = 5,
    Date = 6,
    Tm = 7,
    PStr = 8,
    Error = 10,
    Bool = 11,
    I1 = 13,
    UI1 = 14,
    UI2 = 15,
    UI4 = 16,
    I8 = 17,
    UI8 = 18,
    PWStr = 22,
    Blob = 23,
}

impl TryFrom<u16> for VarType {
    type Error = u16;

    fn try_from(vt: u16) -> Result<Self, u16> {
        use VarType::*;
        Ok(match vt {
            0 => Empty,
            1 => Null,
            2 => I2,
            3 => I4,
            4 => R4,
            5 => R8,
            6 => Date,
            7 => Tm,
            8 => PStr,
            10 => Error,
            11 => Bool,
            13 => I1,
            14 => UI1,
            15 => UI2,
            16 => UI4,
            17 => I8,
            18 => UI8,
            22 => PWStr,
            23 => Blob,
            other => return Err(other),
        })
    }
}

/// C `struct tm` as the platform's C library defines it: it sizes the variant's union.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Tm {
    pub tm_sec: c_int,
    pub tm_min: c_int,
    pub tm_hour: c_int,
    pub tm_mday: c_int,
    pub tm_mon: c_int,
    pub tm_year: c_int,
    pub tm_wday: c_int,
    pub tm_yday: c_int,
    pub tm_isdst: c_int,
    #[cfg(not(windows))]
    pub tm_gmtoff: c_long,
    #[cfg(not(windows))]
    pub tm_zone: *const std::ffi::c_char,
}

/// A string or blob in a variant: `pstrVal`/`strLen` (bytes) or `pwstrVal`/`wstrLen` (UTF-16 units, no NUL).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Counted<T> {
    pub ptr: *mut T,
    pub len: u32,
}

/// The variant's anonymous union. Booleans are read as a byte (`bool_val != 0`): the platform's byte
/// is not trusted to be 0 or 1.
#[repr(C)]
#[derive(Clone, Copy)]
pub union VariantData {
    pub i8_val: i8,
    pub i16_val: i16,
    pub i32_val: i32,
    pub i64_val: i64,
    pub u8_val: u8,
    pub u16_val: u16,
    pub u32_val: u32,
    pub u64_val: u64,
    pub f32_val: f32,
    pub f64_val: f64,
    pub bool_val: u8,
    pub tm_val: Tm,
    pub str_val: Counted<u8>,
    pub wstr_val: Counted<WCHAR_T>,
}

/// `tVariant`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TVariant {
    pub data: VariantData,
    pub cb_elements: u32,
    /// Raw type code; see [`VarType`].
    pub vt: u16,
}

/// Where the platform's C compiler puts `tVariant`'s parts, in bytes (NATIVEAPI.md's table).
struct VariantLayout {
    size: usize,
    /// `wstrLen`/`strLen`, after the pointer.
    length: usize,
    cb_elements: usize,
    vt: usize,
    /// C `struct tm`, the union's largest member.
    tm: usize,
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const LAYOUT: VariantLayout = VariantLayout { size: 64, length: 8, cb_elements: 56, vt: 60, tm: 56 };
/// Inferred from the System V i386 ABI, not measured on a 32-bit platform: glibc's `struct tm` is
/// 44 bytes and 8-byte scalars align to 4 in a struct, so nothing pads the union (the C harness's
/// `-m32` build computes the same numbers).
#[cfg(all(target_os = "linux", target_arch = "x86"))]
const LAYOUT: VariantLayout = VariantLayout { size: 52, length: 4, cb_elements: 44, vt: 48, tm: 44 };
/// MSVC's `struct tm` is nine `int`s; the union (doubles align to 8) rounds 36 up to 40.
#[cfg(all(windows, target_arch = "x86_64"))]
const LAYOUT: VariantLayout = VariantLayout { size: 48, length: 8, cb_elements: 40, vt: 44, tm: 36 };
#[cfg(all(windows, target_arch = "x86"))]
const LAYOUT: VariantLayout = VariantLayout { size: 48, length: 4, cb_elements: 40, vt: 44, tm: 36 };

const _: () = {
    assert!(size_of::<WCHAR_T>() == 2);
    assert!(size_of::<c_long>() == if cfg!(windows) { 4 } else { size_of::<usize>() });
    assert!(size_of::<Tm>() == LAYOUT.tm);
    assert!(size_of::<TVariant>() == LAYOUT.size);
    assert!(offset_of!(TVariant, data) == 0);
    assert!(offset_of!(Counted<WCHAR_T>, ptr) == 0);
    assert!(offset_of!(Counted<WCHAR_T>, len) == LAYOUT.length);
    assert!(offset_of!(Counted<u8>, len) == LAYOUT.length);
    assert!(offset_of!(TVariant, cb_elements) == LAYOUT.cb_elements);
    assert!(offset_of!(TVariant, vt) == LAYOUT.vt);
};

/// How many destructor slots open every vtable. The host decides, not our toolchain: the Linux
/// platform is built with g++ (Itanium ABI: complete and deleting destructor), the Windows platform
/// with MSVC (one scalar deleting destructor), even when this crate is built with the GNU toolchain.
pub const DTOR_SLOTS: usize = if cfg!(windows) { 1 } else { 2 };

/// A destructor slot of our vtables. The platform never calls it (it calls `DestroyObject`); the
/// slot holds a no-op with the right convention so that a stray call is harmless.
#[cfg(not(windows))]
pub type DtorFn = unsafe extern "C" fn(this: *mut c_void);
/// MSVC's scalar deleting destructor: `thiscall` on 32-bit, returns `this`.
#[cfg(all(windows, target_arch = "x86"))]
pub type DtorFn = unsafe extern "thiscall" fn(this: *mut c_void, flags: u32) -> *mut c_void;
#[cfg(all(windows, not(target_arch = "x86")))]
pub type DtorFn = unsafe extern "C" fn(this: *mut c_void, flags: u32) -> *mut c_void;

/// The leading slots of a vtable the host implements; never called by the add-in.
pub type HostDtors = [*const c_void; DTOR_SLOTS];

/// A C++ object as seen from outside: a pointer to its vtable.
#[repr(C)]
pub struct Interface<V> {
    pub vtbl: *const V,
}

/// `IMemoryManager` (host side). Slots are `Option` so a NULL slot is detected, not called.
#[repr(C)]
pub struct MemoryManagerVtbl {
    pub dtors: HostDtors,
    pub alloc_memory: Option<unsafe extern "system" fn(*mut c_void, *mut *mut c_void, std::ffi::c_ulong) -> bool>,
    pub free_memory: Option<unsafe extern "system" fn(*mut c_void, *mut *mut c_void)>,
}

/// `IAddInDefBase` and its `IAddInDefBaseEx` extension (host side), up to `GetInterface`.
#[repr(C)]
pub struct AddInDefBaseVtbl {
    pub dtors: HostDtors,
    pub add_error: Option<unsafe extern "system" fn(*mut c_void, u16, *const WCHAR_T, *const WCHAR_T, c_long) -> bool>,
    pub read: *const c_void,
    pub write: *const c_void,
    pub register_profile_as: *const c_void,
    pub set_event_buffer_depth: Option<unsafe extern "system" fn(*mut c_void, c_long) -> bool>,
    pub get_event_buffer_depth: Option<unsafe extern "system" fn(*mut c_void) -> c_long>,
    pub external_event:
        Option<unsafe extern "system" fn(*mut c_void, *mut WCHAR_T, *mut WCHAR_T, *mut WCHAR_T) -> bool>,
    pub clean_event_buffer: Option<unsafe extern "system" fn(*mut c_void)>,
    pub set_status_line: *const c_void,
    pub reset_status_line: *const c_void,
    pub get_interface: Option<unsafe extern "system" fn(*mut c_void, c_int) -> *mut c_void>,
}

/// `GetInterface`'s number for `IPlatformInfo`.
pub const PLATFORM_INFO: c_int = 1;

/// `IPlatformInfo` (host side): one slot, no destructors (NATIVEAPI.md).
#[repr(C)]
pub struct PlatformInfoVtbl {
    pub get_platform_info: Option<unsafe extern "system" fn(*mut c_void) -> *const AppInfo>,
}

/// `IPlatformInfo::AppInfo`: the platform's version, its user agent line and the kind of application.
#[repr(C)]
pub struct AppInfo {
    pub app_version: *const WCHAR_T,
    pub user_agent_information: *const WCHAR_T,
    pub application: c_int,
}

/// `IInitDoneBase` (ours).
#[repr(C)]
pub struct InitDoneVtbl {
    pub dtors: [DtorFn; DTOR_SLOTS],
    pub init: unsafe extern "system" fn(*mut c_void, *mut c_void) -> bool,
    pub set_mem_manager: unsafe extern "system" fn(*mut c_void, *mut c_void) -> bool,
    pub get_info: unsafe extern "system" fn(*mut c_void) -> c_long,
    pub done: unsafe extern "system" fn(*mut c_void),
}

/// `ILanguageExtenderBase` (ours).
#[repr(C)]
pub struct LanguageExtenderVtbl {
    pub dtors: [DtorFn; DTOR_SLOTS],
    pub register_extension_as: unsafe extern "system" fn(*mut c_void, *mut *mut WCHAR_T) -> bool,
    pub get_n_props: unsafe extern "system" fn(*mut c_void) -> c_long,
    pub find_prop: unsafe extern "system" fn(*mut c_void, *const WCHAR_T) -> c_long,
    pub get_prop_name: unsafe extern "system" fn(*mut c_void, c_long, c_long) -> *const WCHAR_T,
    pub get_prop_val: unsafe extern "system" fn(*mut c_void, c_long, *mut TVariant) -> bool,
    pub set_prop_val: unsafe extern "system" fn(*mut c_void, c_long, *mut TVariant) -> bool,
    pub is_prop_readable: unsafe extern "system" fn(*mut c_void, c_long) -> bool,
    pub is_prop_writable: unsafe extern "system" fn(*mut c_void, c_long) -> bool,
    pub get_n_methods: unsafe extern "system" fn(*mut c_void) -> c_long,
    pub find_method: unsafe extern "system" fn(*mut c_void, *const WCHAR_T) -> c_long,
    pub get_method_name: unsafe extern "system" fn(*mut c_void, c_long, c_long) -> *const WCHAR_T,
    pub get_n_params: unsafe extern "system" fn(*mut c_void, c_long) -> c_long,
    pub get_param_def_value: unsafe extern "system" fn(*mut c_void, c_long, c_long, *mut TVariant) -> bool,
    pub has_ret_val: unsafe extern "system" fn(*mut c_void, c_long) -> bool,
    pub call_as_proc: unsafe extern "system" fn(*mut c_void, c_long, *mut TVariant, c_long) -> bool,
    pub call_as_func: unsafe extern "system" fn(*mut c_void, c_long, *mut TVariant, *mut TVariant, c_long) -> bool,
}

/// `LocaleBase` (ours).
#[repr(C)]
pub struct LocaleVtbl {
    pub dtors: [DtorFn; DTOR_SLOTS],
    pub set_locale: unsafe extern "system" fn(*mut c_void, *const WCHAR_T),
}

/// `UserLanguageBase` (ours).
#[repr(C)]
pub struct UserLanguageVtbl {
    pub dtors: [DtorFn; DTOR_SLOTS],
    pub set_user_interface_language_code: unsafe extern "system" fn(*mut c_void, *const WCHAR_T),
}

const _: () = {
    let ptr = size_of::<*const c_void>();
    assert!(size_of::<MemoryManagerVtbl>() == (DTOR_SLOTS + 2) * ptr);
    assert!(offset_of!(AddInDefBaseVtbl, add_error) == DTOR_SLOTS * ptr);
    assert!(offset_of!(AddInDefBaseVtbl, external_event) == (DTOR_SLOTS + 6) * ptr);
    assert!(offset_of!(AddInDefBaseVtbl, get_interface) == (DTOR_SLOTS + 10) * ptr);
    assert!(size_of::<InitDoneVtbl>() == (DTOR_SLOTS + 4) * ptr);
    assert!(size_of::<LanguageExtenderVtbl>() == (DTOR_SLOTS + 16) * ptr);
    assert!(size_of::<LocaleVtbl>() == (DTOR_SLOTS + 1) * ptr);
    assert!(size_of::<UserLanguageVtbl>() == (DTOR_SLOTS + 1) * ptr);
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
