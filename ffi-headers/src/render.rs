//! Renders the description in `licence-nativeapi` as C and C++ text. Each header opens with a
//! "generated, do not edit" line; the measured layouts become static assertions, so a compiler on a
//! listed platform refuses a header that disagrees with them, just as rustc refuses to build the
//! add-in when its types disagree with the same numbers.

use licence_nativeapi::{
    Func, Interface, Side, Struct, UnionMember, APP_INFO, COMPONENT_BASES, CONSTANTS, EXPORTS, INTERFACES, TYPE_CODES,
    VARIANT_LAYOUTS, VARIANT_UNION_C,
};
use std::fmt::Write;

const GENERATED: &str =
    "Generated from the licence-nativeapi crate (nativeapi/) by `cargo run -p licence-ffi-headers`; do not edit.";

fn params(f: &Func, self_param: bool) -> String {
    let mut list: Vec<String> = Vec::new();
    if self_param {
        list.push("void* self".into());
    }
    list.extend(f.params.iter().map(|(name, ty)| format!("{} {name}", ty.c())));
    if list.is_empty() {
        "void".into()
    } else {
        list.join(", ")
    }
}

fn variant(h: &mut String) {
    h.push_str("typedef struct tVariant {\n    union {\n");
    for member in VARIANT_UNION_C {
        match member {
            UnionMember::Scalar { c_type, name } => {
                let _ = writeln!(h, "        {c_type} {name};");
            }
            UnionMember::Counted { pointer_type, pointer, length, unit } => {
                let _ = writeln!(
                    h,
                    "        struct {{\n            {pointer_type}* {pointer};\n            uint32_t {length}; /* {unit} */\n        }};"
                );
            }
        }
    }
    h.push_str("    };\n    uint32_t cbElements;\n    uint16_t vt;\n} tVariant;\n\n");
    for (i, l) in VARIANT_LAYOUTS.iter().enumerate() {
        let platform = l.target.name();
        let _ = writeln!(h, "#{} {} /* {platform} */", if i == 0 { "if" } else { "elif" }, l.target.condition());
        let checks = [
            ("sizeof(tVariant)", l.size),
            ("offsetof(tVariant, pwstrVal)", l.pointer),
            ("offsetof(tVariant, pstrVal)", l.pointer),
            ("offsetof(tVariant, wstrLen)", l.length),
            ("offsetof(tVariant, strLen)", l.length),
            ("offsetof(tVariant, cbElements)", l.cb_elements),
            ("offsetof(tVariant, vt)", l.vt),
            ("sizeof(struct tm)", l.tm),
        ];
        for (expr, value) in checks {
            let _ = writeln!(h, "NATIVEAPI_STATIC_ASSERT({expr} == {value}, \"{expr} on {platform}\");");
        }
    }
    h.push_str("#endif\nNATIVEAPI_STATIC_ASSERT(sizeof(WCHAR_T) == 2, \"WCHAR_T is one UTF-16 unit\");\n\n");
}

fn c_struct(h: &mut String, s: &Struct) {
    let _ = writeln!(h, "typedef struct {} {{", s.name);
    for (name, ty) in s.fields {
        let _ = writeln!(h, "    {} {name};", ty.c());
    }
    let _ = writeln!(h, "}} {};\n", s.name);
}

pub fn types_header() -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "/* nativeapi_types.h: scalars, constants, variant type codes and tVariant of the 1C Native API. */"
    );
    let _ = writeln!(h, "/* {GENERATED} */");
    h.push_str(
        "#ifndef LICENCE_NATIVEAPI_TYPES_H\n#define LICENCE_NATIVEAPI_TYPES_H\n\n\
         #include <stddef.h>\n#include <stdint.h>\n#include <time.h>\n\
         #ifndef __cplusplus\n#include <stdbool.h>\n#endif\n\n\
         #if defined(_WIN32) && !defined(_WIN64)\n#define ADDIN_API __stdcall\n#else\n#define ADDIN_API\n#endif\n\n\
         #ifdef __cplusplus\n#define NATIVEAPI_STATIC_ASSERT(c, m) static_assert(c, m)\n\
         #else\n#define NATIVEAPI_STATIC_ASSERT(c, m) _Static_assert(c, m)\n#endif\n\n\
         /* A UTF-16 code unit on every OS (wchar_t is 4 bytes on Linux: never use it). */\n\
         typedef uint16_t WCHAR_T;\n\n",
    );
    h.push_str("/* Numbers that cross the boundary; never renumbered. */\n");
    for (name, value) in CONSTANTS {
        let _ = writeln!(h, "#define NATIVEAPI_{name} ({value})");
    }
    h.push_str("\nenum ENUMVAR {\n");
    for (name, code) in TYPE_CODES {
        let _ = writeln!(h, "    {name} = {code},");
    }
    h.push_str("};\n\n");
    variant(&mut h);
    h.push_str("/* IPlatformInfo::GetPlatformInfo's answer; Application is one of NATIVEAPI_APP_TYPE_*. */\n");
    c_struct(&mut h, &APP_INFO);
    h.push_str("#endif /* LICENCE_NATIVEAPI_TYPES_H */\n");
    h
}

fn c_vtable(h: &mut String, i: &Interface) {
    let _ = writeln!(h, "typedef struct {}Vtbl {{", i.name);
    if i.has_destructor {
        h.push_str("    NATIVEAPI_DESTRUCTOR_SLOTS\n");
    }
    for m in i.methods {
        let _ = writeln!(h, "    {} (ADDIN_API *{})({});", m.ret.c(), m.name, params(m, true));
    }
    let _ = writeln!(h, "}} {}Vtbl;\n", i.name);
    let _ = writeln!(h, "typedef struct {0} {{\n    const {0}Vtbl* vtbl;\n}} {0};\n", i.name);
    if let Some(first) = i.methods.first() {
        let (offset, why) = if i.has_destructor {
            ("NATIVEAPI_FIRST_METHOD", "follow the destructor slots")
        } else {
            ("0", "open the vtable (no destructor)")
        };
        let _ = writeln!(
            h,
            "NATIVEAPI_STATIC_ASSERT(offsetof({}Vtbl, {}) == {offset}, \"methods of {} {why}\");",
            i.name, first.name, i.name
        );
        let _ = writeln!(
            h,
            "NATIVEAPI_STATIC_ASSERT(sizeof({}Vtbl) == {offset} + {} * sizeof(void*), \"one slot per method of {}\");\n",
            i.name,
            i.methods.len(),
            i.name
        );
    }
}

pub fn c_header() -> String {
    let mut h = String::new();
    let _ = writeln!(h, "/* nativeapi.h: the 1C Native API for C, with every vtable spelled out. */");
    let _ = writeln!(h, "/* {GENERATED} */");
    h.push_str(
        "#ifndef LICENCE_NATIVEAPI_H\n#define LICENCE_NATIVEAPI_H\n\n#include \"nativeapi_types.h\"\n\n\
         #ifdef __cplusplus\nextern \"C\" {\n#endif\n\n\
         /* Itanium C++ ABI (Linux, g++/clang anywhere): two destructor slots; MSVC: one. The platform never\n\
         \x20  calls them. Methods take the interface's own sub-object as `self`. */\n\
         #if defined(_MSC_VER)\n#define NATIVEAPI_DESTRUCTOR_SLOTS void* destructor;\n#define NATIVEAPI_FIRST_METHOD (1 * sizeof(void*))\n\
         #else\n#define NATIVEAPI_DESTRUCTOR_SLOTS void* complete_destructor; void* deleting_destructor;\n\
         #define NATIVEAPI_FIRST_METHOD (2 * sizeof(void*))\n#endif\n\n\
         typedef struct IComponentBase IComponentBase;\n\n",
    );
    for i in INTERFACES {
        let side = match i.side {
            Side::Platform => "the platform implements it, the component calls it",
            Side::Component => "the component implements it, the platform calls it",
        };
        let _ = writeln!(h, "/* {}: {side}. */", i.name);
        c_vtable(&mut h, i);
    }
    h.push_str("/* The component object: one vtable pointer per base, in this order. */\nstruct IComponentBase {\n");
    for b in COMPONENT_BASES {
        let _ = writeln!(h, "    const {0}Vtbl* {0};", b.name);
    }
    h.push_str("};\n");
    for (n, b) in COMPONENT_BASES.iter().enumerate() {
        let _ = writeln!(
            h,
            "NATIVEAPI_STATIC_ASSERT(offsetof(IComponentBase, {}) == {n} * sizeof(void*), \"{} sub-object\");",
            b.name, b.name
        );
    }
    h.push_str("\n/* Exports (C calling convention) and their types for dlsym/GetProcAddress. */\n");
    for e in EXPORTS {
        let _ = writeln!(h, "{} {}({});", e.ret.c(), e.name, params(e, false));
        let _ = writeln!(h, "typedef {} (*{}Fn)({});", e.ret.c(), e.name, params(e, false));
    }
    h.push_str("\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* LICENCE_NATIVEAPI_H */\n");
    h
}

pub fn cpp_header() -> String {
    let mut h = String::new();
    let _ = writeln!(h, "// nativeapi.hpp: the 1C Native API for C++, as abstract classes.");
    let _ = writeln!(h, "// {GENERATED}");
    h.push_str("#ifndef LICENCE_NATIVEAPI_HPP\n#define LICENCE_NATIVEAPI_HPP\n\n#include \"nativeapi_types.h\"\n\n");
    for i in INTERFACES {
        let _ = writeln!(h, "class {} {{\npublic:", i.name);
        if i.has_destructor {
            let _ = writeln!(h, "    virtual ~{}() {{}}", i.name);
        }
        for m in i.methods {
            let list: Vec<String> = m.params.iter().map(|(n, t)| format!("{} {n}", t.c())).collect();
            let _ = writeln!(h, "    virtual {} ADDIN_API {}({}) = 0;", m.ret.c(), m.name, list.join(", "));
        }
        if !i.has_destructor {
            let _ = writeln!(h, "\nprotected:\n    ~{}() {{}}", i.name);
        }
        h.push_str("};\n\n");
    }
    let bases: Vec<String> = COMPONENT_BASES.iter().map(|b| format!("public {}", b.name)).collect();
    let _ = writeln!(
        h,
        "class IComponentBase : {} {{\npublic:\n    virtual ~IComponentBase() {{}}\n}};\n",
        bases.join(", ")
    );
    let _ = writeln!(
        h,
        "NATIVEAPI_STATIC_ASSERT(sizeof(IComponentBase) == {} * sizeof(void*), \"one vtable pointer per base\");\n",
        COMPONENT_BASES.len()
    );
    h.push_str("extern \"C\" {\n");
    for e in EXPORTS {
        let list: Vec<String> = e.params.iter().map(|(n, t)| format!("{} {n}", t.c())).collect();
        let _ = writeln!(h, "{} {}({});", e.ret.c(), e.name, list.join(", "));
        let _ = writeln!(h, "typedef {} (*{}Fn)({});", e.ret.c(), e.name, list.join(", "));
    }
    h.push_str("}\n\n#endif // LICENCE_NATIVEAPI_HPP\n");
    h
}
