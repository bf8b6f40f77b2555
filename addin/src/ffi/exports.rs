//! The five C functions the platform looks up by name, and the table of classes they serve. Their
//! signatures are checked at compile time against the description (`licence_nativeapi::export`).
use std::ffi::{c_int, c_long, c_void};

use licence_nativeapi::{export, ATTACH_ANY, PLATFORM_CAPABILITIES};

use super::boundary::unreported;
use super::object::Object;
use super::types::{ascii_wide, WCHAR_T};
use super::variant::read_name;
use crate::component::Component;
use crate::licence::{self, Licence};
use crate::Error;

const _: export::GetClassNames = GetClassNames;
const _: export::GetClassObject = GetClassObject;
const _: export::DestroyObject = DestroyObject;
const _: export::SetPlatformCapabilities = SetPlatformCapabilities;
const _: export::GetAttachType = GetAttachType;

struct Class {
    name: &'static str,
    create: fn() -> Box<dyn Component>,
}

const CLASSES: [Class; 1] = [Class { name: licence::CLASS_NAME, create: || Box::new(Licence::new()) }];

/// `GetClassNames`' answer, `|`-separated (today one class).
const CLASS_NAMES: &str = licence::CLASS_NAME;
static CLASS_NAMES_WIDE: [WCHAR_T; CLASS_NAMES.len() + 1] = ascii_wide(CLASS_NAMES);

/// The `|`-separated class names as a static NUL-terminated UTF-16 string; never freed.
#[no_mangle]
pub extern "C" fn GetClassNames() -> *const WCHAR_T {
    unreported("GetClassNames", std::ptr::null(), || Ok(CLASS_NAMES_WIDE.as_ptr()))
}

/// Creates the class `name` (whole, exact name) into `*out`; non-zero on success.
///
/// # Safety
/// `name` is NULL or NUL-terminated UTF-16; `out` is NULL or a writable `IComponentBase**`.
#[no_mangle]
pub unsafe extern "C" fn GetClassObject(name: *const WCHAR_T, out: *mut *mut c_void) -> c_long {
    unreported("GetClassObject", 0, || {
        if out.is_null() {
            return Err(Error::NullArgument("pIntf"));
        }
        // SAFETY: the platform passes a NUL-terminated class name (or NULL, which reads as None).
        let Some(name) = (unsafe { read_name(name) }) else { return Ok(0) };
        let Some(class) = CLASSES.iter().find(|c| c.name == name) else { return Ok(0) };
        let object = Object::create((class.create)());
        // SAFETY: `out` is non-NULL and writable (the platform's IComponentBase* slot).
        unsafe { out.write(object) };
        Ok(1)
    })
}

/// Finishes (as `Done` does: threads joined, events cut off) and frees `*obj`, then sets it to NULL.
/// Returns 0, or -1 when `obj`/`*obj` is NULL or not an object of this add-in.
///
/// # Safety
/// `obj` is NULL or points at NULL or at an object from [`GetClassObject`] not destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn DestroyObject(obj: *mut *mut c_void) -> c_long {
    unreported("DestroyObject", -1, || {
        if obj.is_null() {
            return Ok(-1);
        }
        // SAFETY: `obj` is a readable, writable IComponentBase** (non-NULL checked).
        let object = unsafe { obj.read() };
        // SAFETY: `object` is NULL or one of ours, not yet destroyed (contract); `destroy` checks both.
        if !unsafe { Object::destroy(object) } {
            return Ok(-1);
        }
        // SAFETY: as above.
        unsafe { obj.write(std::ptr::null_mut()) };
        Ok(0)
    })
}

/// Accepts the platform's capabilities and answers 3 (8.3.21+ headers).
#[no_mangle]
pub extern "C" fn SetPlatformCapabilities(_capabilities: c_int) -> c_int {
    unreported("SetPlatformCapabilities", 0, || Ok(PLATFORM_CAPABILITIES))
}

/// 3: the add-in may be attached isolated or not.
#[no_mangle]
pub extern "C" fn GetAttachType() -> c_int {
    unreported("GetAttachType", ATTACH_ANY, || Ok(ATTACH_ANY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_list_every_class() {
        let names: Vec<&str> = CLASSES.iter().map(|c| c.name).collect();
        assert_eq!(CLASS_NAMES, names.join("|"));
        assert_eq!(String::from_utf16(&CLASS_NAMES_WIDE[..CLASS_NAMES.len()]).unwrap(), CLASS_NAMES);
        assert_eq!(CLASS_NAMES_WIDE.last(), Some(&0));
    }
}
