//! The 1C Native API's headers for C and C++ hosts and tools, rendered from the one description of
//! the interface, `licence-nativeapi` (the same crate the add-in's types come from): [`render`]
//! turns it into the checked-in `include/nativeapi_types.h` (scalars, type codes, `tVariant` with
//! its measured layout asserted, `AppInfo`, the numbered constants), `include/nativeapi.h` (C:
//! explicit vtable structs) and `include/nativeapi.hpp` (C++: abstract classes).
//! `cargo run -p licence-ffi-headers` rewrites them; a test fails when the checked-in files drift
//! from the description.
#![forbid(unsafe_code)]

pub mod render;

/// The headers, by file name, as the description renders them.
pub fn headers() -> [(&'static str, String); 3] {
    [
        ("nativeapi_types.h", render::types_header()),
        ("nativeapi.h", render::c_header()),
        ("nativeapi.hpp", render::cpp_header()),
    ]
}
