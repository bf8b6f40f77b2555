//! The declarative macros that let each fact of the description be written once. An interface, a
//! struct, the list of exports, the type codes and the numbered constants are each one macro call
//! that produces both the data the headers are rendered from ([`crate::Interface`], [`crate::Func`],
//! …) and the Rust item the add-in is built with (a `#[repr(C)]` vtable, an enum, a `const`), plus
//! compile-time assertions that the two agree on the target being built.

/// The Rust type of a described C type (the names of [`crate::CType`]).
macro_rules! rust_type {
    (Void) => { () };
    (Bool) => { bool };
    (Int) => { core::ffi::c_int };
    (Long) => { core::ffi::c_long };
    (UShort) => { u16 };
    (ULong) => { core::ffi::c_ulong };
    (VoidPtr) => { *mut core::ffi::c_void };
    (VoidPtrPtr) => { *mut *mut core::ffi::c_void };
    (WcharPtr) => { *mut $crate::WCHAR_T };
    (ConstWcharPtr) => { *const $crate::WCHAR_T };
    (WcharPtrPtr) => { *mut *mut $crate::WCHAR_T };
    (VariantPtr) => { *mut $crate::TVariant };
    (ComponentPtrPtr) => { *mut *mut core::ffi::c_void };
    (ConstAppInfoPtr) => { *const $crate::AppInfo };
}

/// A vtable slot: the interface's own sub-object as `this`, then the described parameters, with the
/// platform's method convention (`extern "system"`: `__stdcall` on 32-bit Windows, C elsewhere).
macro_rules! slot {
    (($($p:ident),*) -> Void) => {
        unsafe extern "system" fn(*mut core::ffi::c_void $(, rust_type!($p))*)
    };
    (($($p:ident),*) -> $r:ident) => {
        unsafe extern "system" fn(*mut core::ffi::c_void $(, rust_type!($p))*) -> rust_type!($r)
    };
}

/// An export: the C calling convention (cdecl on 32-bit Windows), no `this`.
macro_rules! export_fn {
    (($($p:ident),*) -> Void) => { unsafe extern "C" fn($(rust_type!($p)),*) };
    (($($p:ident),*) -> $r:ident) => { unsafe extern "C" fn($(rust_type!($p)),*) -> rust_type!($r) };
}

/// The `#[repr(C)]` vtable of an interface. The component's own slots are plain function pointers
/// (it fills every one); the platform's are `Option`s, so that a NULL slot is seen, never called.
macro_rules! vtable {
    ($(#[$doc:meta])* Component, true, $vtbl:ident { $( $field:ident ( $($p:ident),* ) -> $r:ident; )* }) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $vtbl {
            /// The destructor slots; the platform never calls them (it calls `DestroyObject`).
            pub dtors: [$crate::DtorFn; $crate::DESTRUCTOR_SLOTS],
            $( pub $field: slot!(($($p),*) -> $r), )*
        }
    };
    ($(#[$doc:meta])* Platform, true, $vtbl:ident { $( $field:ident ( $($p:ident),* ) -> $r:ident; )* }) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $vtbl {
            /// The platform's destructor slots; the add-in never calls them.
            pub dtors: $crate::HostDtors,
            $( pub $field: Option<slot!(($($p),*) -> $r)>, )*
        }
    };
    ($(#[$doc:meta])* Platform, false, $vtbl:ident { $( $field:ident ( $($p:ident),* ) -> $r:ident; )* }) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $vtbl {
            $( pub $field: Option<slot!(($($p),*) -> $r)>, )*
        }
    };
}

/// One interface: its description `$desc` (for the headers) and its Rust vtable `$vtbl`, from one
/// list of slots `rust_field = CName(param: CType, …) -> CType;` in vtable order. The size of the
/// vtable and the offset of every slot are asserted against the description on the target built.
macro_rules! interface {
    (
        $(#[$doc:meta])*
        $desc:ident = $cname:ident, $side:ident, destructors: $dtors:tt, $vtbl:ident {
            $( $field:ident = $method:ident ( $($pname:ident : $pty:ident),* ) -> $ret:ident; )*
        }
    ) => {
        #[doc = concat!("The description of `", stringify!($cname), "`, as the headers render it.")]
        pub const $desc: $crate::Interface = $crate::Interface {
            name: stringify!($cname),
            side: $crate::Side::$side,
            has_destructor: $dtors,
            methods: &[$(
                $crate::Func {
                    name: stringify!($method),
                    ret: $crate::CType::$ret,
                    params: &[$( (stringify!($pname), $crate::CType::$pty) ),*],
                },
            )*],
        };
        vtable!($(#[$doc])* $side, $dtors, $vtbl { $( $field ( $($pty),* ) -> $ret; )* });
        const _: () = {
            assert!(core::mem::size_of::<$vtbl>() == $desc.slots() * $crate::POINTER, "a vtable has a slot of the wrong size");
            $( assert!(
                core::mem::offset_of!($vtbl, $field) == $desc.slot_offset(stringify!($method)),
                "a vtable slot is not where the description puts it"
            ); )*
        };
    };
}

/// A plain C struct the platform hands over: its description and its `#[repr(C)]` Rust type.
macro_rules! c_struct {
    ($(#[$doc:meta])* $desc:ident = $cname:ident, $rust:ident { $( $field:ident = $cfield:ident : $ty:ident, )* }) => {
        #[doc = concat!("The description of `", stringify!($cname), "`, as the headers render it.")]
        pub const $desc: $crate::Struct = $crate::Struct {
            name: stringify!($cname),
            fields: &[$( (stringify!($cfield), $crate::CType::$ty), )*],
        };
        $(#[$doc])*
        #[repr(C)]
        pub struct $rust {
            $( pub $field: rust_type!($ty), )*
        }
    };
}

/// The exported functions: their descriptions ([`crate::EXPORTS`]) and their Rust function pointer
/// types (module [`crate::export`]), which the add-in's `#[no_mangle]` functions are checked against.
macro_rules! exports {
    ($( $(#[$doc:meta])* $name:ident ( $($pname:ident : $pty:ident),* ) -> $ret:ident; )*) => {
        /// The exports, in the order the headers declare them.
        pub const EXPORTS: &[$crate::Func] = &[$(
            $crate::Func {
                name: stringify!($name),
                ret: $crate::CType::$ret,
                params: &[$( (stringify!($pname), $crate::CType::$pty) ),*],
            },
        )*];

        /// The type of each export: `const _: export::GetClassNames = GetClassNames;` in the add-in
        /// fails to compile when its function does not have the described signature.
        #[allow(non_camel_case_types)]
        pub mod export {
            $( $(#[$doc])* pub type $name = export_fn!(($($pty),*) -> $ret); )*
        }
    };
}

/// The variant type codes: the enum [`crate::VarType`] (reached from a raw `u16` only through
/// `TryFrom`) and the table [`crate::TYPE_CODES`] the headers render, from one list.
macro_rules! type_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $cname:ident; )*) => {
        /// The platform's type codes (`TYPEVAR`). A raw `vt` becomes this only through [`TryFrom`], so
        /// an unknown code is an error value, never an invalid enum.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u16)]
        pub enum VarType {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl TryFrom<u16> for VarType {
            type Error = u16;

            fn try_from(vt: u16) -> Result<Self, u16> {
                match vt {
                    $( $code => Ok(VarType::$variant), )*
                    other => Err(other),
                }
            }
        }

        /// Every type code by its C name (`enum ENUMVAR` in the headers).
        pub const TYPE_CODES: &[(&str, u16)] = &[$( (stringify!($cname), $code), )*];
    };
}

/// Numbers that cross the boundary: each a Rust `const` and a row of [`crate::CONSTANTS`], which the
/// headers render as `#define NATIVEAPI_<NAME>`.
macro_rules! constants {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty = $value:literal; )*) => {
        $( $(#[$doc])* pub const $name: $ty = $value; )*

        /// Every numbered constant by name.
        pub const CONSTANTS: &[(&str, i64)] = &[$( (stringify!($name), $value), )*];
    };
}
