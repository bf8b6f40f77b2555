//! `tVariant` ⇄ [`Value`], and the platform's NUL-terminated names ⇄ `String`. Reading checks the raw
//! type code and every pointer/length pair before touching memory; writing allocates through the
//! platform's [`MemoryManager`] first and fills the variant only when that succeeded.
use std::ffi::c_int;

use super::platform::MemoryManager;
use super::types::{Counted, TVariant, Tm, VarType, WCHAR_T};
use crate::error::BadVariant;
use crate::value::{Date, Value};
use crate::Error;

/// Longest name read from the platform, in units: a name without a NUL within it is rejected.
const MAX_NAME: usize = 4096;

/// Reads a NUL-terminated UTF-16 string the platform passed in (a name or a locale).
/// `None` for NULL or a string longer than [`MAX_NAME`].
///
/// # Safety
/// `p` is NULL or points at UTF-16 units readable up to their NUL or [`MAX_NAME`] units.
pub unsafe fn read_name(p: *const WCHAR_T) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: units are read one by one up to the NUL (caller's contract), at most MAX_NAME of them.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
        if len == MAX_NAME {
            return None;
        }
    }
    // SAFETY: the `len` units before the NUL were just read.
    let units = unsafe { std::slice::from_raw_parts(p, len) };
    Some(String::from_utf16_lossy(units))
}

/// Reads a variant the platform passed in. An unknown or unsupported type code, or a NULL pointer with a
/// non-zero length, is a [`BadVariant`].
///
/// # Safety
/// `v` points at a readable `tVariant` whose string/blob pointer, when not NULL, covers its length.
pub unsafe fn read(v: *const TVariant) -> Result<Value, BadVariant> {
    // SAFETY: the caller guarantees a readable variant; it is plain data, copied out.
    let TVariant { data, vt, .. } = unsafe { v.read() };
    let kind = VarType::try_from(vt).map_err(BadVariant::UnsupportedType)?;
    let int = |i: i64| i32::try_from(i).map_or(Value::Double(i as f64), Value::Int);
    // SAFETY: `vt` names the union member the platform wrote; every member is plain data valid for any
    // bit pattern (`bool_val` is a byte, not a Rust bool), and a counted string's pointer covers its
    // length by the caller's contract (`counted` rejects NULL with a non-zero length).
    let value = unsafe {
        match kind {
            VarType::Empty | VarType::Null => Value::Empty,
            VarType::Bool => Value::Bool(data.bool_val != 0),
            VarType::I1 => Value::Int(i32::from(data.i8_val)),
            VarType::I2 => Value::Int(i32::from(data.i16_val)),
            VarType::I4 => Value::Int(data.i32_val),
            VarType::I8 => int(data.i64_val),
            VarType::UI1 => Value::Int(i32::from(data.u8_val)),
            VarType::UI2 => Value::Int(i32::from(data.u16_val)),
            VarType::UI4 => int(i64::from(data.u32_val)),
            VarType::UI8 => i64::try_from(data.u64_val).map_or(Value::Double(data.u64_val as f64), int),
            VarType::R4 => Value::Double(f64::from(data.f32_val)),
            VarType::R8 => Value::Double(data.f64_val),
            VarType::Date => Value::Date(Date::from_ole(data.f64_val).ok_or(BadVariant::UnsupportedType(vt))?),
            VarType::Tm => Value::Date(date_from_tm(&data.tm_val)),
            VarType::PWStr => Value::Str(String::from_utf16_lossy(counted(data.wstr_val)?)),
            VarType::PStr => Value::Str(String::from_utf8_lossy(counted(data.str_val)?).into_owned()),
            VarType::Blob => Value::Blob(counted(data.str_val)?.to_vec()),
            VarType::Error => return Err(BadVariant::UnsupportedType(vt)),
        }
    };
    Ok(value)
}

/// The units a counted string covers; no NUL is required.
///
/// # Safety
/// A non-NULL `c.ptr` points at `c.len` readable elements.
unsafe fn counted<'a, T>(c: Counted<T>) -> Result<&'a [T], BadVariant> {
    match (c.ptr.is_null(), c.len) {
        (true, 0) => Ok(&[]),
        (true, len) => Err(BadVariant::NullPointer { len }),
        // SAFETY: caller's contract; u32 always fits usize on the supported targets.
        (false, len) => Ok(unsafe { std::slice::from_raw_parts(c.ptr, len as usize) }),
    }
}

fn date_from_tm(tm: &Tm) -> Date {
    let clamp = |v: c_int, lo: c_int, hi: c_int| v.clamp(lo, hi) as u8;
    Date {
        year: tm.tm_year.saturating_add(1900),
        month: clamp(tm.tm_mon + 1, 1, 12),
        day: clamp(tm.tm_mday, 1, 31),
        hour: clamp(tm.tm_hour, 0, 23),
        minute: clamp(tm.tm_min, 0, 59),
        second: clamp(tm.tm_sec, 0, 59),
    }
}

fn tm_from_date(d: Date) -> Tm {
    Tm {
        tm_sec: c_int::from(d.second),
        tm_min: c_int::from(d.minute),
        tm_hour: c_int::from(d.hour),
        tm_mday: c_int::from(d.day),
        tm_mon: c_int::from(d.month) - 1,
        tm_year: d.year - 1900,
        tm_wday: 0,
        tm_yday: 0,
        tm_isdst: 0,
        #[cfg(not(windows))]
        tm_gmtoff: 0,
        #[cfg(not(windows))]
        tm_zone: std::ptr::null(),
    }
}

/// Writes `value` into a variant the platform will read and free: strings and blobs go to memory
/// from `mem` (without one, only scalars can be written). The variant is left untouched on failure.
///
/// # Safety
/// `out` points at a writable `tVariant`. Its previous contents are the platform's and are not freed.
pub unsafe fn write(mem: Option<MemoryManager>, out: *mut TVariant, value: &Value) -> Result<(), Error> {
    // Allocate before touching `out`, so a failure leaves it as it was.
    let counted = match value {
        Value::Str(s) => {
            mem.ok_or(Error::NoMemoryManager)?.wide_string(s).map(|(p, len)| Some((p.as_ptr().cast::<u8>(), len)))?
        }
        Value::Blob(b) => mem.ok_or(Error::NoMemoryManager)?.blob(b).map(|(p, len)| Some((p.as_ptr(), len)))?,
        _ => None,
    };
    // SAFETY: the caller guarantees a writable variant. It is zeroed as a whole, then one union member
    // and `vt` are written through the raw pointer, so no uninitialised byte reaches the platform.
    unsafe {
        out.write_bytes(0, 1);
        let data = &raw mut (*out).data;
        let vt = match (value, counted) {
            (Value::Str(_), Some((ptr, len))) => {
                (*data).wstr_val = Counted { ptr: ptr.cast::<WCHAR_T>(), len };
                VarType::PWStr
            }
            (Value::Blob(_), Some((ptr, len))) => {
                (*data).str_val = Counted { ptr, len };
                VarType::Blob
            }
            (Value::Bool(b), _) => {
                (*data).bool_val = u8::from(*b);
                VarType::Bool
            }
            (Value::Int(i), _) => {
                (*data).i32_val = *i;
                VarType::I4
            }
            (Value::Double(d), _) => {
                (*data).f64_val = *d;
                VarType::R8
            }
            (Value::Date(d), _) => {
                (*data).tm_val = tm_from_date(*d);
                VarType::Tm
            }
            (Value::Empty | Value::Str(_) | Value::Blob(_), _) => VarType::Empty,
        };
        (*out).vt = vt as u16;
    }
    Ok(())
}
