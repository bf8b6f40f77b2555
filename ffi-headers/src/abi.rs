//! The Native API's binary interface, described once as data: the interfaces and their slots, the
//! exports, the variant type codes and the measured `tVariant` layouts (`shared/NATIVEAPI.md`). The
//! headers are rendered from this description, and the add-in's own `#[repr(C)]` types are checked
//! against the same numbers, so the C, C++ and Rust sides cannot drift apart unnoticed.

/// A C type as it appears in a signature.
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
}

impl CType {
    pub fn c(self) -> &'static str {
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

/// One interface: a single vtable pointer at the start of its sub-object.
#[derive(Debug, Clone, Copy)]
pub struct Interface {
    pub name: &'static str,
    /// The component implements it (the platform calls it) or the platform does (the component calls it).
    pub implemented_by_component: bool,
    /// Whether the vtable starts with destructor slots (two Itanium, one MSVC).
    pub has_destructor: bool,
    pub methods: &'static [Func],
}

use CType::*;

const fn f(name: &'static str, ret: CType, params: &'static [(&'static str, CType)]) -> Func {
    Func { name, ret, params }
}

pub const MEMORY_MANAGER: Interface = Interface {
    name: "IMemoryManager",
    implemented_by_component: false,
    has_destructor: true,
    methods: &[
        f("AllocMemory", Bool, &[("pMemory", VoidPtrPtr), ("ulCountByte", ULong)]),
        f("FreeMemory", Void, &[("pMemory", VoidPtrPtr)]),
    ],
};

pub const ADDIN_DEF_BASE: Interface = Interface {
    name: "IAddInDefBase",
    implemented_by_component: false,
    has_destructor: true,
    methods: &[
        f("AddError", Bool, &[("wcode", UShort), ("source", ConstWcharPtr), ("descr", ConstWcharPtr), ("scode", Long)]),
        f(
            "Read",
            Bool,
            &[("wszPropName", WcharPtr), ("pVal", VariantPtr), ("pErrCode", VoidPtr), ("errDescriptor", WcharPtrPtr)],
        ),
        f("Write", Bool, &[("wszPropName", WcharPtr), ("pVar", VariantPtr)]),
        f("RegisterProfileAs", Bool, &[("wszProfileName", WcharPtr)]),
        f("SetEventBufferDepth", Bool, &[("lDepth", Long)]),
        f("GetEventBufferDepth", Long, &[]),
        f("ExternalEvent", Bool, &[("wszSource", WcharPtr), ("wszMessage", WcharPtr), ("wszData", WcharPtr)]),
        f("CleanEventBuffer", Void, &[]),
        f("SetStatusLine", Bool, &[("wszStatusLine", WcharPtr)]),
        f("ResetStatusLine", Void, &[]),
        f("GetInterface", VoidPtr, &[("iface", Int)]),
    ],
};

pub const INIT_DONE: Interface = Interface {
    name: "IInitDoneBase",
    implemented_by_component: true,
    has_destructor: true,
    methods: &[
        f("Init", Bool, &[("disp", VoidPtr)]),
        f("setMemManager", Bool, &[("mem", VoidPtr)]),
        f("GetInfo", Long, &[]),
        f("Done", Void, &[]),
    ],
};

pub const LANGUAGE_EXTENDER: Interface = Interface {
    name: "ILanguageExtenderBase",
    implemented_by_component: true,
    has_destructor: true,
    methods: &[
        f("RegisterExtensionAs", Bool, &[("wsExtensionName", WcharPtrPtr)]),
        f("GetNProps", Long, &[]),
        f("FindProp", Long, &[("wsPropName", ConstWcharPtr)]),
        f("GetPropName", ConstWcharPtr, &[("lPropNum", Long), ("lPropAlias", Long)]),
        f("GetPropVal", Bool, &[("lPropNum", Long), ("pvarPropVal", VariantPtr)]),
        f("SetPropVal", Bool, &[("lPropNum", Long), ("varPropVal", VariantPtr)]),
        f("IsPropReadable", Bool, &[("lPropNum", Long)]),
        f("IsPropWritable", Bool, &[("lPropNum", Long)]),
        f("GetNMethods", Long, &[]),
        f("FindMethod", Long, &[("wsMethodName", ConstWcharPtr)]),
        f("GetMethodName", ConstWcharPtr, &[("lMethodNum", Long), ("lMethodAlias", Long)]),
        f("GetNParams", Long, &[("lMethodNum", Long)]),
        f("GetParamDefValue", Bool, &[("lMethodNum", Long), ("lParamNum", Long), ("pvarParamDefValue", VariantPtr)]),
        f("HasRetVal", Bool, &[("lMethodNum", Long)]),
        f("CallAsProc", Bool, &[("lMethodNum", Long), ("paParams", VariantPtr), ("lSizeArray", Long)]),
        f(
            "CallAsFunc",
            Bool,
            &[("lMethodNum", Long), ("pvarRetValue", VariantPtr), ("paParams", VariantPtr), ("lSizeArray", Long)],
        ),
    ],
};

pub const LOCALE: Interface = Interface {
    name: "LocaleBase",
    implemented_by_component: true,
    has_destructor: true,
    methods: &[f("SetLocale", Void, &[("loc", ConstWcharPtr)])],
};

pub const USER_LANGUAGE: Interface = Interface {
    name: "UserLanguageBase",
    implemented_by_component: true,
    has_destructor: true,
    methods: &[f("SetUserInterfaceLanguageCode", Void, &[("lang", ConstWcharPtr)])],
};

/// The component object's sub-objects, in order: each starts with its vtable pointer.
pub const COMPONENT_BASES: [Interface; 4] = [INIT_DONE, LANGUAGE_EXTENDER, LOCALE, USER_LANGUAGE];

pub const INTERFACES: [Interface; 6] =
    [MEMORY_MANAGER, ADDIN_DEF_BASE, INIT_DONE, LANGUAGE_EXTENDER, LOCALE, USER_LANGUAGE];

pub const EXPORTS: [Func; 5] = [
    f("GetClassNames", ConstWcharPtr, &[]),
    f("GetClassObject", Long, &[("wsName", ConstWcharPtr), ("pIntf", ComponentPtrPtr)]),
    f("DestroyObject", Long, &[("pIntf", ComponentPtrPtr)]),
    f("SetPlatformCapabilities", Int, &[("capabilities", Int)]),
    f("GetAttachType", Int, &[]),
];

/// Variant type codes; never renumbered.
pub const TYPE_CODES: [(&str, u16); 19] = [
    ("VTYPE_EMPTY", 0),
    ("VTYPE_NULL", 1),
    ("VTYPE_I2", 2),
    ("VTYPE_I4", 3),
    ("VTYPE_R4", 4),
    ("VTYPE_R8", 5),
    ("VTYPE_DATE", 6),
    ("VTYPE_TM", 7),
    ("VTYPE_PSTR", 8),
    ("VTYPE_ERROR", 10),
    ("VTYPE_BOOL", 11),
    ("VTYPE_I1", 13),
    ("VTYPE_UI1", 14),
    ("VTYPE_UI2", 15),
    ("VTYPE_UI4", 16),
    ("VTYPE_I8", 17),
    ("VTYPE_UI8", 18),
    ("VTYPE_PWSTR", 22),
    ("VTYPE_BLOB", 23),
];

/// `tVariant` as measured on one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantLayout {
    /// The preprocessor test that selects the platform in the headers.
    pub condition: &'static str,
    pub platform: &'static str,
    pub size: usize,
    pub pointer: usize,
    pub length: usize,
    pub cb_elements: usize,
    pub vt: usize,
}

pub const VARIANT_LAYOUTS: [VariantLayout; 4] = [
    VariantLayout {
        condition: "defined(__linux__) && defined(__x86_64__)",
        platform: "Linux x86_64",
        size: 64,
        pointer: 0,
        length: 8,
        cb_elements: 56,
        vt: 60,
    },
    VariantLayout {
        condition: "defined(__linux__) && defined(__i386__)",
        platform: "Linux i386",
        size: 52,
        pointer: 0,
        length: 4,
        cb_elements: 44,
        vt: 48,
    },
    VariantLayout {
        condition: "defined(_WIN64)",
        platform: "Windows x64",
        size: 48,
        pointer: 0,
        length: 8,
        cb_elements: 40,
        vt: 44,
    },
    VariantLayout {
        condition: "defined(_WIN32) && !defined(_WIN64)",
        platform: "Windows x86",
        size: 48,
        pointer: 0,
        length: 4,
        cb_elements: 40,
        vt: 44,
    },
];

/// `GetInfo`'s answer: the interface version the component implements.
pub const COMPONENT_INFO: i64 = 2000;
/// `SetPlatformCapabilities`' answer: built for the 8.3.21+ header set.
pub const PLATFORM_CAPABILITIES: i32 = 3;
