//! The 1C Native API's binary interface, described once (see `README.md` beside this crate for the
//! interface in prose). Each fact is written here a single time and serves two readers:
//!
//! * the add-in (`licenceaddin`), whose `#[repr(C)]` variant, vtables, export signatures and
//!   constants are the types of this crate;
//! * the header renderer (`licence-ffi-headers`), which turns the same tables ([`INTERFACES`],
//!   [`EXPORTS`], [`TYPE_CODES`], [`VARIANT_LAYOUTS`], [`CONSTANTS`]) into `nativeapi_types.h`,
//!   `nativeapi.h` and `nativeapi.hpp` with the layouts as `static_assert`s.
//!
//! The Rust side is checked at compile time against the table entry of the target being built
//! ([`TARGET`]: Linux or Windows, x86_64 or i386), and every entry is checked on every build against
//! C's layout rules, so a wrong number stops the build of each of the four targets.
//!
//! The crate has no dependencies and no `unsafe`: it only defines types and constants.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[macro_use]
mod macros;

mod c;
mod interfaces;
mod target;
mod variant;

pub use c::{CType, Func, Interface, Side, Struct};
pub use interfaces::*;
pub use target::{DtorFn, HostDtors, Target, DESTRUCTOR_SLOTS, POINTER, TARGET};
pub use variant::{
    Counted, TVariant, Tm, UnionMember, VarType, VariantData, VariantLayout, TYPE_CODES, VARIANT_LAYOUT,
    VARIANT_LAYOUTS, VARIANT_UNION_C, WCHAR_T,
};
