//! The four platforms the add-in is built for, which one is being built ([`TARGET`]), and the facts
//! that follow from the platform's C++ compiler rather than from ours: how many destructor slots
//! open a vtable and what a destructor slot's function looks like.

use core::ffi::c_void;

/// A platform the add-in ships for; each has one entry in [`crate::VARIANT_LAYOUTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    LinuxX86_64,
    LinuxI386,
    WindowsX64,
    WindowsX86,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::LinuxX86_64, Target::LinuxI386, Target::WindowsX64, Target::WindowsX86];

    /// The platform's name in the headers' messages and in the bundle's manifest terms.
    pub const fn name(self) -> &'static str {
        match self {
            Target::LinuxX86_64 => "Linux x86_64",
            Target::LinuxI386 => "Linux i386",
            Target::WindowsX64 => "Windows x64",
            Target::WindowsX86 => "Windows x86",
        }
    }

    /// The preprocessor test that selects the platform in the headers.
    pub const fn condition(self) -> &'static str {
        match self {
            Target::LinuxX86_64 => "defined(__linux__) && defined(__x86_64__)",
            Target::LinuxI386 => "defined(__linux__) && defined(__i386__)",
            Target::WindowsX64 => "defined(_WIN64)",
            Target::WindowsX86 => "defined(_WIN32) && !defined(_WIN64)",
        }
    }

    /// Bytes in a pointer.
    pub const fn pointer_width(self) -> usize {
        match self {
            Target::LinuxX86_64 | Target::WindowsX64 => 8,
            Target::LinuxI386 | Target::WindowsX86 => 4,
        }
    }

    pub const fn is_windows(self) -> bool {
        matches!(self, Target::WindowsX64 | Target::WindowsX86)
    }

    /// Bytes in a C `long`: 4 on Windows, a pointer's width on Linux.
    pub const fn long_width(self) -> usize {
        if self.is_windows() {
            4
        } else {
            self.pointer_width()
        }
    }

    /// Destructor slots that open a vtable with a virtual destructor. The platform's compiler
    /// decides, not ours: the Linux platform is built with g++ (Itanium ABI: a complete and a deleting
    /// destructor), the Windows platform with MSVC (one scalar deleting destructor), even when the
    /// add-in is built with the GNU toolchain.
    pub const fn destructor_slots(self) -> usize {
        if self.is_windows() {
            1
        } else {
            2
        }
    }
}

/// The platform being built for.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub const TARGET: Target = Target::LinuxX86_64;
#[cfg(all(target_os = "linux", target_arch = "x86"))]
pub const TARGET: Target = Target::LinuxI386;
#[cfg(all(windows, target_arch = "x86_64"))]
pub const TARGET: Target = Target::WindowsX64;
#[cfg(all(windows, target_arch = "x86"))]
pub const TARGET: Target = Target::WindowsX86;
#[cfg(not(any(
    all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86")),
    all(windows, any(target_arch = "x86_64", target_arch = "x86"))
)))]
compile_error!("the Native API is described for Linux and Windows on x86_64 and i386 only");

/// Bytes in a pointer, and so in a vtable slot, on the target being built.
pub const POINTER: usize = TARGET.pointer_width();

/// Destructor slots on the target being built; see [`Target::destructor_slots`].
pub const DESTRUCTOR_SLOTS: usize = TARGET.destructor_slots();

/// A destructor slot of the add-in's vtables. The platform never calls it (it calls
/// `DestroyObject`); the add-in puts a no-op of this type there, so that a stray call is harmless.
#[cfg(not(windows))]
pub type DtorFn = unsafe extern "C" fn(this: *mut c_void);
/// MSVC's scalar deleting destructor: `thiscall` on 32-bit, returns `this`.
#[cfg(all(windows, target_arch = "x86"))]
pub type DtorFn = unsafe extern "thiscall" fn(this: *mut c_void, flags: u32) -> *mut c_void;
/// MSVC's scalar deleting destructor: returns `this`.
#[cfg(all(windows, not(target_arch = "x86")))]
pub type DtorFn = unsafe extern "C" fn(this: *mut c_void, flags: u32) -> *mut c_void;

/// The destructor slots of a vtable the platform implements; never called by the add-in.
pub type HostDtors = [*const c_void; DESTRUCTOR_SLOTS];

const _: () = {
    assert!(core::mem::size_of::<*const c_void>() == POINTER, "the target's pointer width is not the described one");
    assert!(core::mem::size_of::<core::ffi::c_long>() == TARGET.long_width(), "C `long` is not the described width");
    assert!(core::mem::size_of::<DtorFn>() == POINTER);
};
