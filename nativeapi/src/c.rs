//! The shapes the description is written in: a C type as it appears in a signature ([`CType`]), a
//! function ([`Func`]), an interface with its vtable slots ([`Interface`]) and a plain struct
//! ([`Struct`]). They carry what the header renderer needs and what the compile-time checks of the
//! Rust types compare against; the facts themselves are in `interfaces.rs` and `variant.rs`.

use crate::target::{DESTRUCTOR_SLOTS, POINTER};

/// A C type as it appears in a signature. Its Rust spelling is the macro `rust_type!`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CType {
    Void,
    Bool,
    Int,
    Long,
    UShort,
    ULong,
    VoidPtr,
    VoidPtrPtr,
    WcharPtr,
    ConstWcharPtr,
    WcharPtrPtr,
    VariantPtr,
    ComponentPtrPtr,
    ConstAppInfoPtr,
}

impl CType {
    /// The type in C and C++ source.
    pub const fn c(self) -> &'static str {
        match self {
            CType::Void => "void",
            CType::Bool => "bool",
            CType::Int => "int",
            CType::Long => "long",
            CType::UShort => "unsigned short",
            CType::ULong => "unsigned long",
            CType::VoidPtr => "void*",
            CType::VoidPtrPtr => "void**",
            CType::WcharPtr => "WCHAR_T*",
            CType::ConstWcharPtr => "const WCHAR_T*",
            CType::WcharPtrPtr => "WCHAR_T**",
            CType::VariantPtr => "tVariant*",
            CType::ComponentPtrPtr => "IComponentBase**",
            CType::ConstAppInfoPtr => "const AppInfo*",
        }
    }
}

/// One virtual method (after the destructor slots) or one exported function.
#[derive(Debug, Clone, Copy)]
pub struct Func {
    pub name: &'static str,
    pub ret: CType,
    pub params: &'static [(&'static str, CType)],
}

/// Who implements an interface, and so who fills its vtable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The add-in fills the vtable; the platform calls it.
    Component,
    /// The platform fills the vtable; the add-in calls it.
    Platform,
}

/// One interface: a single vtable pointer at the start of its (sub-)object.
#[derive(Debug, Clone, Copy)]
pub struct Interface {
    pub name: &'static str,
    pub side: Side,
    /// Whether the vtable opens with the destructor slots ([`DESTRUCTOR_SLOTS`] of them).
    pub has_destructor: bool,
    /// The methods after the destructor slots, in slot order.
    pub methods: &'static [Func],
}

impl Interface {
    /// Destructor slots before the first method on the target being built.
    pub const fn destructor_slots(&self) -> usize {
        if self.has_destructor {
            DESTRUCTOR_SLOTS
        } else {
            0
        }
    }

    /// Every slot of the vtable on the target being built.
    pub const fn slots(&self) -> usize {
        self.destructor_slots() + self.methods.len()
    }

    /// The byte offset of method `name`'s slot on the target being built; a name the interface does
    /// not have stops the build.
    pub const fn slot_offset(&self, name: &str) -> usize {
        let mut i = 0;
        while i < self.methods.len() {
            if same(self.methods[i].name, name) {
                return (self.destructor_slots() + i) * POINTER;
            }
            i += 1;
        }
        panic!("no such method in the interface's description")
    }
}

/// A plain C struct: its fields in order.
#[derive(Debug, Clone, Copy)]
pub struct Struct {
    pub name: &'static str,
    pub fields: &'static [(&'static str, CType)],
}

/// `a == b`, usable in constants.
pub const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
