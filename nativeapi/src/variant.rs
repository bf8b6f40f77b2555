//! `tVariant`, the value every property, parameter and return value travels in: its type codes
//! ([`VarType`], [`TYPE_CODES`]), its Rust definition ([`TVariant`]), and its measured layout on each
//! platform ([`VARIANT_LAYOUTS`]). Two sets of compile-time checks guard the layout table: on every
//! build, each entry must obey C's layout rules for its platform (so a mistyped number stops the
//! build of every target); and the entry of the target being built must equal what the compiler
//! lays out for [`TVariant`] (so the Rust type and the table cannot disagree on any platform that
//! is built). The headers assert the same numbers with `static_assert`.

use core::ffi::c_int;
use core::mem::{align_of, offset_of, size_of};

use crate::target::{Target, TARGET};

/// A UTF-16 code unit on every OS (`wchar_t` is 4 bytes on Linux: never used).
#[allow(non_camel_case_types)]
pub type WCHAR_T = u16;

type_codes! {
    Empty = 0, VTYPE_EMPTY;
    Null = 1, VTYPE_NULL;
    I2 = 2, VTYPE_I2;
    I4 = 3, VTYPE_I4;
    R4 = 4, VTYPE_R4;
    R8 = 5, VTYPE_R8;
    /// An OLE date: days since 1899-12-30 as a `double`.
    Date = 6, VTYPE_DATE;
    /// A C `struct tm`.
    Tm = 7, VTYPE_TM;
    PStr = 8, VTYPE_PSTR;
    Error = 10, VTYPE_ERROR;
    Bool = 11, VTYPE_BOOL;
    I1 = 13, VTYPE_I1;
    UI1 = 14, VTYPE_UI1;
    UI2 = 15, VTYPE_UI2;
    UI4 = 16, VTYPE_UI4;
    I8 = 17, VTYPE_I8;
    UI8 = 18, VTYPE_UI8;
    PWStr = 22, VTYPE_PWSTR;
    Blob = 23, VTYPE_BLOB;
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
    pub tm_gmtoff: core::ffi::c_long,
    #[cfg(not(windows))]
    pub tm_zone: *const core::ffi::c_char,
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

/// A member of the C union: a named scalar (`c_type name`), or an anonymous pointer-and-length
/// pair (`pointer_type* pointer; uint32_t length;`, the length counted in `unit`).
#[derive(Debug, Clone, Copy)]
pub enum UnionMember {
    Scalar { c_type: &'static str, name: &'static str },
    Counted { pointer_type: &'static str, pointer: &'static str, length: &'static str, unit: &'static str },
}

/// The same union in C, member by member, with the platform's member names. Its layout is pinned
/// by the same [`VARIANT_LAYOUTS`] entry as [`VariantData`]'s.
pub const VARIANT_UNION_C: &[UnionMember] = &[
    UnionMember::Scalar { c_type: "int8_t", name: "i8Val" },
    UnionMember::Scalar { c_type: "int16_t", name: "shortVal" },
    UnionMember::Scalar { c_type: "int32_t", name: "lVal" },
    UnionMember::Scalar { c_type: "int32_t", name: "intVal" },
    UnionMember::Scalar { c_type: "uint32_t", name: "uintVal" },
    UnionMember::Scalar { c_type: "int64_t", name: "llVal" },
    UnionMember::Scalar { c_type: "uint8_t", name: "ui8Val" },
    UnionMember::Scalar { c_type: "uint16_t", name: "ushortVal" },
    UnionMember::Scalar { c_type: "uint32_t", name: "ulVal" },
    UnionMember::Scalar { c_type: "uint64_t", name: "ullVal" },
    UnionMember::Scalar { c_type: "int32_t", name: "errCode" },
    UnionMember::Scalar { c_type: "float", name: "fltVal" },
    UnionMember::Scalar { c_type: "double", name: "dblVal" },
    UnionMember::Scalar { c_type: "bool", name: "bVal" },
    UnionMember::Scalar { c_type: "char", name: "chVal" },
    UnionMember::Scalar { c_type: "WCHAR_T", name: "wchVal" },
    UnionMember::Scalar { c_type: "double", name: "date" },
    UnionMember::Scalar { c_type: "struct tm", name: "tmVal" },
    UnionMember::Counted { pointer_type: "char", pointer: "pstrVal", length: "strLen", unit: "bytes" },
    UnionMember::Counted {
        pointer_type: "WCHAR_T",
        pointer: "pwstrVal",
        length: "wstrLen",
        unit: "UTF-16 units, without the NUL",
    },
];

/// Where a platform's C compiler puts `tVariant`'s parts, in bytes. Measured; never renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantLayout {
    pub target: Target,
    /// `sizeof(tVariant)`.
    pub size: usize,
    /// `pwstrVal`/`pstrVal`.
    pub pointer: usize,
    /// `wstrLen`/`strLen`, after the pointer.
    pub length: usize,
    pub cb_elements: usize,
    pub vt: usize,
    /// `sizeof(struct tm)`, the union's largest member.
    pub tm: usize,
    /// The union's alignment: that of its 8-byte scalars inside a struct.
    pub align: usize,
}

/// One entry per platform, in [`Target::ALL`]'s order.
pub const VARIANT_LAYOUTS: [VariantLayout; 4] = [
    VariantLayout {
        target: Target::LinuxX86_64,
        size: 64,
        pointer: 0,
        length: 8,
        cb_elements: 56,
        vt: 60,
        tm: 56,
        align: 8,
    },
    // Inferred from the System V i386 ABI rather than measured on a 32-bit platform: glibc's
    // `struct tm` is 44 bytes and 8-byte scalars align to 4 in a struct, so nothing pads the union
    // (the C harness's `-m32` build computes the same numbers).
    VariantLayout {
        target: Target::LinuxI386,
        size: 52,
        pointer: 0,
        length: 4,
        cb_elements: 44,
        vt: 48,
        tm: 44,
        align: 4,
    },
    // MSVC's `struct tm` is nine `int`s; the union (doubles align to 8) rounds 36 up to 40.
    VariantLayout {
        target: Target::WindowsX64,
        size: 48,
        pointer: 0,
        length: 8,
        cb_elements: 40,
        vt: 44,
        tm: 36,
        align: 8,
    },
    VariantLayout {
        target: Target::WindowsX86,
        size: 48,
        pointer: 0,
        length: 4,
        cb_elements: 40,
        vt: 44,
        tm: 36,
        align: 8,
    },
];

const fn round_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

impl VariantLayout {
    /// The entry of `target`.
    pub const fn of(target: Target) -> VariantLayout {
        let mut i = 0;
        while i < VARIANT_LAYOUTS.len() {
            if VARIANT_LAYOUTS[i].target as u8 == target as u8 {
                return VARIANT_LAYOUTS[i];
            }
            i += 1;
        }
        panic!("a platform has no tVariant layout")
    }

    /// Stops (at compile time, where it is called from a constant) when the entry breaks C's layout
    /// rules for its platform: the counted string is a pointer then a `u32`; the union is as large as
    /// its largest member (`struct tm`, the counted string or an 8-byte scalar) rounded up to its
    /// alignment; `cbElements` (`u32`) and `vt` (`u16`) follow it; the whole rounds up to the alignment.
    pub const fn check(&self) {
        let pointer_width = self.target.pointer_width();
        let counted = round_up(pointer_width + 4, pointer_width);
        let union = round_up(max(max(self.tm, counted), 8), self.align);
        assert!(self.pointer == 0, "VARIANT_LAYOUTS: the string pointer must open the union");
        assert!(self.length == self.pointer + pointer_width, "VARIANT_LAYOUTS: the length must follow the pointer");
        assert!(self.cb_elements == union, "VARIANT_LAYOUTS: cb_elements must follow the union");
        assert!(self.vt == self.cb_elements + 4, "VARIANT_LAYOUTS: vt must follow cb_elements (a u32)");
        assert!(self.size == round_up(self.vt + 2, self.align), "VARIANT_LAYOUTS: size must round vt (a u16) up");
    }
}

/// The entry of the target being built.
pub const VARIANT_LAYOUT: VariantLayout = VariantLayout::of(TARGET);

// Every entry, on every build: one per platform, in order, each obeying its platform's layout rules
// (one line per platform, so that the compiler's error names the entry).
const _: () = {
    let mut i = 0;
    while i < Target::ALL.len() {
        assert!(VARIANT_LAYOUTS[i].target as u8 == Target::ALL[i] as u8, "VARIANT_LAYOUTS: one entry per platform");
        i += 1;
    }
};
const _: () = VariantLayout::of(Target::LinuxX86_64).check();
const _: () = VariantLayout::of(Target::LinuxI386).check();
const _: () = VariantLayout::of(Target::WindowsX64).check();
const _: () = VariantLayout::of(Target::WindowsX86).check();

// The entry of the target being built, against what the compiler lays out.
const _: () = {
    let l = VARIANT_LAYOUT;
    assert!(size_of::<WCHAR_T>() == 2);
    assert!(size_of::<Tm>() == l.tm, "struct tm's size differs from VARIANT_LAYOUT.tm");
    assert!(align_of::<VariantData>() == l.align, "the union's alignment differs from VARIANT_LAYOUT.align");
    assert!(size_of::<TVariant>() == l.size, "tVariant's size differs from VARIANT_LAYOUT.size");
    assert!(offset_of!(TVariant, data) == l.pointer, "the string pointer is not at VARIANT_LAYOUT.pointer");
    assert!(offset_of!(Counted<WCHAR_T>, ptr) == 0);
    assert!(offset_of!(Counted<WCHAR_T>, len) == l.length, "wstrLen is not at VARIANT_LAYOUT.length");
    assert!(offset_of!(Counted<u8>, len) == l.length, "strLen is not at VARIANT_LAYOUT.length");
    assert!(offset_of!(TVariant, cb_elements) == l.cb_elements, "cbElements is not at VARIANT_LAYOUT.cb_elements");
    assert!(offset_of!(TVariant, vt) == l.vt, "vt is not at VARIANT_LAYOUT.vt");
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_knows_exactly_the_described_type_codes() {
        for &(name, code) in TYPE_CODES {
            let known = VarType::try_from(code).unwrap_or_else(|_| panic!("{name} = {code} is not in VarType"));
            assert_eq!(known as u16, code, "{name}");
        }
        for code in 0..=u16::MAX {
            let described = TYPE_CODES.iter().any(|&(_, c)| c == code);
            assert_eq!(VarType::try_from(code).is_ok(), described, "code {code}");
        }
        assert_eq!(TYPE_CODES.len(), 19);
    }

    #[test]
    fn this_targets_variant_has_the_described_layout() {
        let layout = VariantLayout::of(TARGET);
        assert_eq!(layout, VARIANT_LAYOUT);
        assert_eq!(size_of::<TVariant>(), layout.size);
        assert_eq!(offset_of!(TVariant, data), layout.pointer);
        assert_eq!(offset_of!(Counted<WCHAR_T>, len), layout.length);
        assert_eq!(offset_of!(TVariant, cb_elements), layout.cb_elements);
        assert_eq!(offset_of!(TVariant, vt), layout.vt);
        assert_eq!(size_of::<Tm>(), layout.tm);
    }

    #[test]
    fn every_layout_entry_obeys_the_layout_rules() {
        for target in Target::ALL {
            VariantLayout::of(target).check();
        }
        let wrong = VariantLayout { vt: 45, ..VariantLayout::of(Target::WindowsX86) };
        assert!(std::panic::catch_unwind(|| wrong.check()).is_err(), "a vt off by one is caught");
    }
}
