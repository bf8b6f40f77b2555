//! The interfaces of the Native API, each written once as its list of vtable slots: the platform's
//! (`IMemoryManager`, `IAddInDefBase` with its `IAddInDefBaseEx` extension, `IPlatformInfo`) and the
//! component's (`IInitDoneBase`, `ILanguageExtenderBase`, `LocaleBase`, `UserLanguageBase`, which
//! open the component object in that order), then the five exports and the numbers that cross the
//! boundary. Every entry gives the headers their text and the add-in its `#[repr(C)]` vtable.

use core::mem::offset_of;

use crate::c::{same, Interface};
use crate::target::POINTER;

/// An object the platform implements, as the add-in sees it: a pointer to its vtable.
#[repr(C)]
pub struct HostObject<V> {
    pub vtbl: *const V,
}

interface! {
    /// `IMemoryManager`: where everything the add-in hands to the platform is allocated.
    MEMORY_MANAGER = IMemoryManager, Platform, destructors: true, MemoryManagerVtbl {
        alloc_memory = AllocMemory(pMemory: VoidPtrPtr, ulCountByte: ULong) -> Bool;
        free_memory = FreeMemory(pMemory: VoidPtrPtr) -> Void;
    }
}

interface! {
    /// `IAddInDefBase` and its `IAddInDefBaseEx` extension (`GetInterface`): the platform's connection.
    ADDIN_DEF_BASE = IAddInDefBase, Platform, destructors: true, AddInDefBaseVtbl {
        add_error = AddError(wcode: UShort, source: ConstWcharPtr, descr: ConstWcharPtr, scode: Long) -> Bool;
        read = Read(wszPropName: WcharPtr, pVal: VariantPtr, pErrCode: VoidPtr, errDescriptor: WcharPtrPtr) -> Bool;
        write = Write(wszPropName: WcharPtr, pVar: VariantPtr) -> Bool;
        register_profile_as = RegisterProfileAs(wszProfileName: WcharPtr) -> Bool;
        set_event_buffer_depth = SetEventBufferDepth(lDepth: Long) -> Bool;
        get_event_buffer_depth = GetEventBufferDepth() -> Long;
        external_event = ExternalEvent(wszSource: WcharPtr, wszMessage: WcharPtr, wszData: WcharPtr) -> Bool;
        clean_event_buffer = CleanEventBuffer() -> Void;
        set_status_line = SetStatusLine(wszStatusLine: WcharPtr) -> Bool;
        reset_status_line = ResetStatusLine() -> Void;
        get_interface = GetInterface(iface: Int) -> VoidPtr;
    }
}

interface! {
    /// `IPlatformInfo` (`GetInterface(INTERFACE_PLATFORM_INFO)`): one slot and no destructor.
    PLATFORM_INFO = IPlatformInfo, Platform, destructors: false, PlatformInfoVtbl {
        get_platform_info = GetPlatformInfo() -> ConstAppInfoPtr;
    }
}

c_struct! {
    /// `IPlatformInfo::AppInfo`: the platform's version, its user agent line and the kind of
    /// application (`APP_TYPE_*`).
    APP_INFO = AppInfo, AppInfo {
        app_version = AppVersion: ConstWcharPtr,
        user_agent_information = UserAgentInformation: ConstWcharPtr,
        application = Application: Int,
    }
}

interface! {
    /// `IInitDoneBase` (the component's).
    INIT_DONE = IInitDoneBase, Component, destructors: true, InitDoneVtbl {
        init = Init(disp: VoidPtr) -> Bool;
        set_mem_manager = setMemManager(mem: VoidPtr) -> Bool;
        get_info = GetInfo() -> Long;
        done = Done() -> Void;
    }
}

interface! {
    /// `ILanguageExtenderBase` (the component's): properties and methods by number and name.
    LANGUAGE_EXTENDER = ILanguageExtenderBase, Component, destructors: true, LanguageExtenderVtbl {
        register_extension_as = RegisterExtensionAs(wsExtensionName: WcharPtrPtr) -> Bool;
        get_n_props = GetNProps() -> Long;
        find_prop = FindProp(wsPropName: ConstWcharPtr) -> Long;
        get_prop_name = GetPropName(lPropNum: Long, lPropAlias: Long) -> ConstWcharPtr;
        get_prop_val = GetPropVal(lPropNum: Long, pvarPropVal: VariantPtr) -> Bool;
        set_prop_val = SetPropVal(lPropNum: Long, varPropVal: VariantPtr) -> Bool;
        is_prop_readable = IsPropReadable(lPropNum: Long) -> Bool;
        is_prop_writable = IsPropWritable(lPropNum: Long) -> Bool;
        get_n_methods = GetNMethods() -> Long;
        find_method = FindMethod(wsMethodName: ConstWcharPtr) -> Long;
        get_method_name = GetMethodName(lMethodNum: Long, lMethodAlias: Long) -> ConstWcharPtr;
        get_n_params = GetNParams(lMethodNum: Long) -> Long;
        get_param_def_value = GetParamDefValue(lMethodNum: Long, lParamNum: Long, pvarParamDefValue: VariantPtr) -> Bool;
        has_ret_val = HasRetVal(lMethodNum: Long) -> Bool;
        call_as_proc = CallAsProc(lMethodNum: Long, paParams: VariantPtr, lSizeArray: Long) -> Bool;
        call_as_func = CallAsFunc(lMethodNum: Long, pvarRetValue: VariantPtr, paParams: VariantPtr, lSizeArray: Long) -> Bool;
    }
}

interface! {
    /// `LocaleBase` (the component's).
    LOCALE = LocaleBase, Component, destructors: true, LocaleVtbl {
        set_locale = SetLocale(loc: ConstWcharPtr) -> Void;
    }
}

interface! {
    /// `UserLanguageBase` (the component's; platforms before 8.3.21 know only the first three bases).
    USER_LANGUAGE = UserLanguageBase, Component, destructors: true, UserLanguageVtbl {
        set_user_interface_language_code = SetUserInterfaceLanguageCode(lang: ConstWcharPtr) -> Void;
    }
}

/// Every interface, in the order the headers declare them.
pub const INTERFACES: &[Interface] =
    &[MEMORY_MANAGER, ADDIN_DEF_BASE, PLATFORM_INFO, INIT_DONE, LANGUAGE_EXTENDER, LOCALE, USER_LANGUAGE];

/// The component object's bases, in the order of their vtable pointers at its start.
pub const COMPONENT_BASES: &[Interface] = &[INIT_DONE, LANGUAGE_EXTENDER, LOCALE, USER_LANGUAGE];

/// The opening of the component object (`IComponentBase`): one vtable pointer per base, in
/// [`COMPONENT_BASES`]' order. The platform calls each method with `this` pointing at that base's
/// pointer, so the add-in steps back by the base's offset to reach its object.
#[repr(C)]
pub struct ComponentVtables {
    pub init_done: &'static InitDoneVtbl,
    pub language: &'static LanguageExtenderVtbl,
    pub locale: &'static LocaleVtbl,
    pub user_language: &'static UserLanguageVtbl,
}

/// The byte offset of base `name`'s vtable pointer in the component object.
pub const fn base_offset(name: &str) -> usize {
    let mut i = 0;
    while i < COMPONENT_BASES.len() {
        if same(COMPONENT_BASES[i].name, name) {
            return i * POINTER;
        }
        i += 1;
    }
    panic!("no such base in COMPONENT_BASES")
}

const _: () = {
    assert!(offset_of!(ComponentVtables, init_done) == base_offset(INIT_DONE.name));
    assert!(offset_of!(ComponentVtables, language) == base_offset(LANGUAGE_EXTENDER.name));
    assert!(offset_of!(ComponentVtables, locale) == base_offset(LOCALE.name));
    assert!(offset_of!(ComponentVtables, user_language) == base_offset(USER_LANGUAGE.name));
    assert!(core::mem::size_of::<ComponentVtables>() == COMPONENT_BASES.len() * POINTER);
};

exports! {
    /// The `|`-separated class names, a static string the platform never frees.
    GetClassNames() -> ConstWcharPtr;
    /// Creates class `wsName` into `*pIntf`; non-zero on success.
    GetClassObject(wsName: ConstWcharPtr, pIntf: ComponentPtrPtr) -> Long;
    /// Finishes and frees `*pIntf`, sets it to NULL; 0 on success.
    DestroyObject(pIntf: ComponentPtrPtr) -> Long;
    /// Takes the platform's capabilities, answers the ones the add-in is built for.
    SetPlatformCapabilities(capabilities: Int) -> Int;
    /// How the add-in may be attached (`ATTACH_*`).
    GetAttachType() -> Int;
}

constants! {
    /// `GetInfo`'s answer: the Native API version the component implements.
    COMPONENT_INFO: core::ffi::c_long = 2000;
    /// `SetPlatformCapabilities`' answer: built for the 8.3.21+ header set.
    PLATFORM_CAPABILITIES: core::ffi::c_int = 3;
    /// `GetAttachType`'s answers.
    ATTACH_NOT_ISOLATED: core::ffi::c_int = 1;
    ATTACH_ISOLATED: core::ffi::c_int = 2;
    ATTACH_ANY: core::ffi::c_int = 3;
    /// `GetInterface`'s numbers (these interfaces have no destructor slot).
    INTERFACE_MSG_BOX: core::ffi::c_int = 0;
    INTERFACE_PLATFORM_INFO: core::ffi::c_int = 1;
    INTERFACE_ATTACHED_INFO: core::ffi::c_int = 2;
    /// `AppInfo::Application`.
    APP_TYPE_UNKNOWN: core::ffi::c_int = -1;
    APP_TYPE_THIN_CLIENT: core::ffi::c_int = 0;
    APP_TYPE_THICK_CLIENT: core::ffi::c_int = 1;
    APP_TYPE_WEB_CLIENT: core::ffi::c_int = 2;
    APP_TYPE_SERVER: core::ffi::c_int = 3;
    APP_TYPE_EXT_CONNECTION: core::ffi::c_int = 4;
    APP_TYPE_MOBILE_CLIENT: core::ffi::c_int = 5;
    APP_TYPE_MOBILE_SERVER: core::ffi::c_int = 6;
    /// `AddError`'s `wcode`s: message kinds, then the three message boxes.
    ADDIN_E_NONE: u16 = 1000;
    ADDIN_E_ORDINARY: u16 = 1001;
    ADDIN_E_ATTENTION: u16 = 1002;
    ADDIN_E_IMPORTANT: u16 = 1003;
    ADDIN_E_VERY_IMPORTANT: u16 = 1004;
    ADDIN_E_INFO: u16 = 1005;
    ADDIN_E_FAIL: u16 = 1006;
    ADDIN_E_MSGBOX_ATTENTION: u16 = 1007;
    ADDIN_E_MSGBOX_INFO: u16 = 1008;
    ADDIN_E_MSGBOX_FAIL: u16 = 1009;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::DESTRUCTOR_SLOTS;

    #[test]
    fn every_vtable_is_one_pointer_per_described_slot() {
        let sizes = [
            (MEMORY_MANAGER, core::mem::size_of::<MemoryManagerVtbl>()),
            (ADDIN_DEF_BASE, core::mem::size_of::<AddInDefBaseVtbl>()),
            (PLATFORM_INFO, core::mem::size_of::<PlatformInfoVtbl>()),
            (INIT_DONE, core::mem::size_of::<InitDoneVtbl>()),
            (LANGUAGE_EXTENDER, core::mem::size_of::<LanguageExtenderVtbl>()),
            (LOCALE, core::mem::size_of::<LocaleVtbl>()),
            (USER_LANGUAGE, core::mem::size_of::<UserLanguageVtbl>()),
        ];
        assert_eq!(sizes.len(), INTERFACES.len());
        for (interface, size) in sizes {
            assert_eq!(size, interface.slots() * POINTER, "{}", interface.name);
        }
        assert_eq!(ADDIN_DEF_BASE.slot_offset("GetInterface"), (DESTRUCTOR_SLOTS + 10) * POINTER);
        assert_eq!(offset_of!(AddInDefBaseVtbl, external_event), (DESTRUCTOR_SLOTS + 6) * POINTER);
        assert_eq!(PLATFORM_INFO.slot_offset("GetPlatformInfo"), 0);
    }

    #[test]
    fn the_numbers_are_the_platforms() {
        let value = |name: &str| CONSTANTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert_eq!(value("COMPONENT_INFO"), Some(2000));
        assert_eq!(value("PLATFORM_CAPABILITIES"), Some(3));
        assert_eq!(value("ADDIN_E_FAIL"), Some(1006));
        assert_eq!(value("INTERFACE_PLATFORM_INFO"), Some(1));
        let names: Vec<&str> = EXPORTS.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            ["GetClassNames", "GetClassObject", "DestroyObject", "SetPlatformCapabilities", "GetAttachType"]
        );
    }
}
