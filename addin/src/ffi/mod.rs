//! The Native API layer: the only module with `unsafe`. Its C types and vtables come from the one
//! description of the interface, `licence-nativeapi` ([`types`] re-exports them; the prose is
//! `nativeapi/README.md`). It exports the five C functions ([`exports`]), lays out the component
//! object with its four vtables (`object`), converts variants (`variant`), and wraps the platform's
//! memory manager and connection in safe handles (`platform`). Every entry point runs through one
//! panic boundary (`boundary`).
//!
//! ABI choices (the description's, checked at compile time where they can be):
//! * The exports are `extern "C"` (cdecl on 32-bit Windows, unmangled).
//! * Vtable methods, ours and the platform's, are `extern "system"`: the C convention on Linux and
//!   64-bit Windows, `__stdcall` on 32-bit Windows, where the platform declares its interface methods
//!   `__stdcall` (the explicit `this` is then the first stack argument, which is what a Rust
//!   `extern "system" fn(this, …)` passes; `thiscall` would be wrong for these).
//! * The destructor slots follow the *platform's* compiler, not ours: two (Itanium) on Linux, one
//!   (MSVC scalar deleting destructor, `thiscall` on 32-bit) on Windows, even when the add-in is
//!   built with the GNU toolchain. The platform never calls them; ours are harmless no-ops.
//! * `tVariant`'s layout and every vtable's slots are asserted at compile time, in
//!   `licence-nativeapi`, against the description's entry for the target being built.
#![allow(unsafe_code)]

mod boundary;
pub mod exports;
mod object;
mod platform;
pub mod types;
mod variant;

pub use exports::{DestroyObject, GetAttachType, GetClassNames, GetClassObject, SetPlatformCapabilities};
pub use types::{TVariant, VarType, WCHAR_T};

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
#[path = "../../tests/support/mod.rs"]
mod test_platform;
#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests;
