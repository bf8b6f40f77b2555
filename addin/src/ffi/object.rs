//! The component object the platform holds: the four vtable pointers the description puts at its
//! start ([`ComponentVtables`]: `IInitDoneBase`, `ILanguageExtenderBase`, `LocaleBase`,
//! `UserLanguageBase`) followed by Rust state, and the static vtables. Each method receives `this`
//! pointing at its own interface's sub-object, steps back to the object, and runs through [`entry`]
//! (the panic boundary, the state lock and error reporting).
use std::cell::Cell;
use std::ffi::{c_long, c_void};
use std::mem::offset_of;
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use licence_nativeapi as abi;

use super::boundary::boundary;
use super::platform::{Connection, EventGate, MemoryManager};
use super::types::*;
use super::variant;
use crate::component::{find, Component, Method, Params, Prop};
use crate::host::{Events, Host, Threads};
use crate::{Error, Value};

#[repr(C)]
pub struct Object {
    vtables: ComponentVtables,
    state: Mutex<State>,
}

/// Where each base's sub-object (its vtable pointer) sits in the object: where the description says.
const INIT_DONE: usize = offset_of!(Object, vtables.init_done);
const LANGUAGE: usize = offset_of!(Object, vtables.language);
const LOCALE: usize = offset_of!(Object, vtables.locale);
const USER_LANGUAGE: usize = offset_of!(Object, vtables.user_language);
const _: () = {
    assert!(INIT_DONE == abi::base_offset(abi::INIT_DONE.name));
    assert!(LANGUAGE == abi::base_offset(abi::LANGUAGE_EXTENDER.name));
    assert!(LOCALE == abi::base_offset(abi::LOCALE.name));
    assert!(USER_LANGUAGE == abi::base_offset(abi::USER_LANGUAGE.name));
};

struct State {
    component: Box<dyn Component>,
    memory: Option<MemoryManager>,
    connection: Option<Connection>,
    events: Arc<EventGate>,
    threads: Threads,
    attached: bool,
    finished: bool,
}

impl State {
    /// `Done`: the component stops, its threads are joined, events are cut off. Idempotent.
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.component.done();
        }
        self.threads.stop_and_join();
        self.events.revoke();
    }

    fn prop(&self, n: c_long) -> Option<(usize, &'static Prop)> {
        let props = self.component.props();
        let i = usize::try_from(n).ok().filter(|&i| i < props.len())?;
        Some((i, &props[i]))
    }

    fn method(&self, n: c_long) -> Option<(usize, &'static Method)> {
        let methods = self.component.methods();
        let i = usize::try_from(n).ok().filter(|&i| i < methods.len())?;
        Some((i, &methods[i]))
    }

    /// A name allocated for the platform, or NULL for an unknown alias.
    fn host_name(&self, name: Option<&str>) -> Result<*const WCHAR_T, Error> {
        let Some(name) = name else { return Ok(ptr::null()) };
        let memory = self.memory.ok_or(Error::NoMemoryManager)?;
        Ok(memory.wide_string(name)?.0.as_ptr())
    }

    /// Writes `value` into the platform's variant `out` (which must not be NULL).
    fn put(&self, out: *mut TVariant, what: &'static str, value: &Value) -> Result<(), Error> {
        if out.is_null() {
            return Err(Error::NullArgument(what));
        }
        // SAFETY: a non-NULL variant pointer from the platform is writable for the call's duration.
        unsafe { variant::write(self.memory, out, value) }
    }

    fn call(
        &mut self,
        n: c_long,
        ret: Option<*mut TVariant>,
        params: *mut TVariant,
        count: c_long,
    ) -> Result<bool, Error> {
        let (index, method) = self.method(n).ok_or(Error::NoSuchMethod(long(n)))?;
        let name = method.names.en;
        if usize::try_from(count).ok() != Some(method.params) {
            return Err(Error::ParamCount { method: name, expected: method.params, got: long(count) });
        }
        let args: &mut [TVariant] = match (params.is_null(), method.params) {
            (_, 0) => &mut [],
            (true, _) => return Err(Error::NullArgument("params")),
            // SAFETY: the platform passes `count` (checked equal to `method.params`) writable variants.
            (false, len) => unsafe { std::slice::from_raw_parts_mut(params, len) },
        };
        let mut values = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            // SAFETY: each element is a variant the platform filled in for this call.
            let value = unsafe { variant::read(arg) }
                .map_err(|problem| Error::BadVariant { target: format!("{name}, parameter {}", i + 1), problem })?;
            values.push(value);
        }
        let mut params = Params::new(values);
        let result = self.component.call(index, &mut params)?;
        for (i, value) in params.changed() {
            self.put(&mut args[i], "params", value)?;
        }
        if let Some(ret) = ret {
            self.put(ret, "pvarRetValue", &result)?;
        }
        Ok(true)
    }
}

impl Object {
    /// A new object as the platform's `IComponentBase*`.
    pub fn create(component: Box<dyn Component>) -> *mut c_void {
        let state = State {
            component,
            memory: None,
            connection: None,
            events: Arc::default(),
            threads: Threads::new(),
            attached: false,
            finished: false,
        };
        let object = Object {
            vtables: ComponentVtables {
                init_done: &INIT_DONE_VTBL,
                language: &LANGUAGE_VTBL,
                locale: &LOCALE_VTBL,
                user_language: &USER_LANGUAGE_VTBL,
            },
            state: Mutex::new(state),
        };
        Box::into_raw(Box::new(object)).cast()
    }

    /// Finishes and frees an object made by [`Object::create`]; `false` if `raw` is not one of ours.
    ///
    /// # Safety
    /// `raw` is a pointer [`Object::create`] returned that has not been destroyed yet.
    pub unsafe fn destroy(raw: *mut c_void) -> bool {
        let object = raw.cast::<Object>();
        // SAFETY: by the contract `raw` is a live Object; its first field is our vtable reference.
        if raw.is_null() || !ptr::eq(unsafe { (*object).vtables.init_done }, &INIT_DONE_VTBL) {
            return false;
        }
        // SAFETY: the pointer came from Box::into_raw in `create` and is destroyed exactly once.
        let object = unsafe { Box::from_raw(object) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| object.lock().finish()));
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(object)));
        true
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a call poisons the lock; the state is still memory-safe, so carry on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Object {
    /// The object whose sub-object at `offset` the platform passed as `this`.
    ///
    /// # Safety
    /// `this` is NULL or the platform's pointer to the sub-object at `offset` of a live [`Object`].
    unsafe fn from_iface<'a>(this: *mut c_void, offset: usize) -> Option<&'a Object> {
        if this.is_null() {
            return None;
        }
        // SAFETY: `this` points `offset` bytes into a live Object (contract), so stepping back stays inside it.
        Some(unsafe { &*this.byte_sub(offset).cast::<Object>() })
    }
}

/// The body of every vtable method: with the object (NULL `this` → `default`), runs `body` on its
/// state inside the panic boundary, and reports an error or a panic to the component
/// ([`Component::failed`]) and through `AddError`.
fn entry<R>(
    object: Option<&Object>,
    name: &'static str,
    default: R,
    body: impl FnOnce(&mut State) -> Result<R, Error>,
) -> R {
    let Some(object) = object else { return default };
    let reporter = Cell::new(None);
    let report = |error: &Error| {
        // The body's lock is released by now (also after a panic: the poisoned lock is recovered).
        let text = object.lock().component.failed(error);
        if let Some((connection, source)) = reporter.get() {
            Connection::report(&connection, source, &text);
        }
    };
    boundary(name, default, report, || {
        let mut state = object.lock();
        reporter.set(state.connection.map(|c| (c, state.component.extension_name())));
        body(&mut state)
    })
}

/// A C `long` (4 bytes on Windows, 8 on Linux x86_64) as `i64`.
#[allow(clippy::useless_conversion)]
fn long(n: c_long) -> i64 {
    i64::from(n)
}

fn to_long(n: usize) -> c_long {
    c_long::try_from(n).unwrap_or(c_long::MAX)
}

// ---- IInitDoneBase ----

unsafe extern "system" fn init(this: *mut c_void, connection: *mut c_void) -> bool {
    // SAFETY: the platform calls IInitDoneBase methods with `this` at offset INIT_DONE.
    let object = unsafe { Object::from_iface(this, INIT_DONE) };
    entry(object, "Init", false, |st| {
        // SAFETY: the platform's IAddInDefBase stays valid until the object is destroyed.
        let connection = unsafe { Connection::from_raw(connection) }.ok_or(Error::NullArgument("connection"))?;
        st.connection = Some(connection);
        st.events.connect(connection);
        if !st.attached {
            st.attached = true;
            let host = Host {
                events: Events::new(st.events.clone()),
                threads: st.threads.clone(),
                platform: connection.platform_info(),
            };
            st.component.attach(host);
        }
        Ok(true)
    })
}

unsafe extern "system" fn set_mem_manager(this: *mut c_void, memory: *mut c_void) -> bool {
    // SAFETY: `this` at offset INIT_DONE, as above.
    let object = unsafe { Object::from_iface(this, INIT_DONE) };
    entry(object, "setMemManager", false, |st| {
        // SAFETY: the platform's IMemoryManager stays valid until the object is destroyed.
        st.memory = Some(unsafe { MemoryManager::from_raw(memory) }.ok_or(Error::NullArgument("memory manager"))?);
        Ok(true)
    })
}

unsafe extern "system" fn get_info(this: *mut c_void) -> c_long {
    // SAFETY: `this` at offset INIT_DONE.
    let object = unsafe { Object::from_iface(this, INIT_DONE) };
    entry(object, "GetInfo", 0, |_| Ok(abi::COMPONENT_INFO))
}

unsafe extern "system" fn done(this: *mut c_void) {
    // SAFETY: `this` at offset INIT_DONE.
    let object = unsafe { Object::from_iface(this, INIT_DONE) };
    entry(object, "Done", (), |st| {
        st.finish();
        Ok(())
    })
}

// ---- ILanguageExtenderBase ----

unsafe extern "system" fn register_extension_as(this: *mut c_void, name: *mut *mut WCHAR_T) -> bool {
    // SAFETY: ILanguageExtenderBase methods get `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "RegisterExtensionAs", false, |st| {
        if name.is_null() {
            return Err(Error::NullArgument("wsExtensionName"));
        }
        let host_name = st.host_name(Some(st.component.extension_name()))?;
        // SAFETY: checked non-NULL; the platform passes a writable WCHAR_T* slot.
        unsafe { name.write(host_name.cast_mut()) };
        Ok(true)
    })
}

unsafe extern "system" fn get_n_props(this: *mut c_void) -> c_long {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "GetNProps", 0, |st| Ok(to_long(st.component.props().len())))
}

unsafe extern "system" fn find_prop(this: *mut c_void, name: *const WCHAR_T) -> c_long {
    // SAFETY: `this` at offset LANGUAGE; `name` is the platform's NUL-terminated string or NULL.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "FindProp", -1, |st| {
        // SAFETY: the platform passes a NUL-terminated name (or NULL, read as no name).
        let wanted = unsafe { variant::read_name(name) };
        let found = wanted.and_then(|w| find(st.component.props().iter().map(|p| &p.names), &w));
        Ok(found.map_or(-1, to_long))
    })
}

unsafe extern "system" fn get_prop_name(this: *mut c_void, n: c_long, alias: c_long) -> *const WCHAR_T {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "GetPropName", ptr::null(), |st| {
        st.host_name(st.prop(n).and_then(|(_, p)| p.names.alias(long(alias))))
    })
}

unsafe extern "system" fn get_prop_val(this: *mut c_void, n: c_long, out: *mut TVariant) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "GetPropVal", false, |st| {
        let (index, prop) = st.prop(n).ok_or(Error::NoSuchProperty(long(n)))?;
        if !prop.readable {
            return Err(Error::NotReadable(prop.names.en));
        }
        let value = st.component.get_prop(index)?;
        st.put(out, "pvarPropVal", &value)?;
        Ok(true)
    })
}

unsafe extern "system" fn set_prop_val(this: *mut c_void, n: c_long, value: *mut TVariant) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "SetPropVal", false, |st| {
        let (index, prop) = st.prop(n).ok_or(Error::NoSuchProperty(long(n)))?;
        if !prop.writable {
            return Err(Error::ReadOnly(prop.names.en));
        }
        if value.is_null() {
            return Err(Error::NullArgument("varPropVal"));
        }
        // SAFETY: a non-NULL variant the platform filled in for this call.
        let value = unsafe { variant::read(value) }
            .map_err(|problem| Error::BadVariant { target: prop.names.en.to_owned(), problem })?;
        st.component.set_prop(index, value)?;
        Ok(true)
    })
}

unsafe extern "system" fn is_prop_readable(this: *mut c_void, n: c_long) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "IsPropReadable", false, |st| Ok(st.prop(n).is_some_and(|(_, p)| p.readable)))
}

unsafe extern "system" fn is_prop_writable(this: *mut c_void, n: c_long) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "IsPropWritable", false, |st| Ok(st.prop(n).is_some_and(|(_, p)| p.writable)))
}

unsafe extern "system" fn get_n_methods(this: *mut c_void) -> c_long {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "GetNMethods", 0, |st| Ok(to_long(st.component.methods().len())))
}

unsafe extern "system" fn find_method(this: *mut c_void, name: *const WCHAR_T) -> c_long {
    // SAFETY: `this` at offset LANGUAGE; `name` is the platform's NUL-terminated string or NULL.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "FindMethod", -1, |st| {
        // SAFETY: the platform passes a NUL-terminated name (or NULL, read as no name).
        let wanted = unsafe { variant::read_name(name) };
        let found = wanted.and_then(|w| find(st.component.methods().iter().map(|m| &m.names), &w));
        Ok(found.map_or(-1, to_long))
    })
}

unsafe extern "system" fn get_method_name(this: *mut c_void, n: c_long, alias: c_long) -> *const WCHAR_T {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "GetMethodName", ptr::null(), |st| {
        st.host_name(st.method(n).and_then(|(_, m)| m.names.alias(long(alias))))
    })
}

unsafe extern "system" fn get_n_params(this: *mut c_void, n: c_long) -> c_long {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "GetNParams", 0, |st| Ok(st.method(n).map_or(0, |(_, m)| to_long(m.params))))
}

unsafe extern "system" fn get_param_def_value(this: *mut c_void, n: c_long, param: c_long, out: *mut TVariant) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "GetParamDefValue", false, |st| {
        let param = usize::try_from(param).ok();
        let default = st.method(n).zip(param).and_then(|((_, m), p)| m.default_of(p));
        let Some(default) = default else { return Ok(false) };
        st.put(out, "pvarParamDefValue", &default.to_value())?;
        Ok(true)
    })
}

unsafe extern "system" fn has_ret_val(this: *mut c_void, n: c_long) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "HasRetVal", false, |st| Ok(st.method(n).is_some_and(|(_, m)| m.has_ret)))
}

unsafe extern "system" fn call_as_proc(this: *mut c_void, n: c_long, params: *mut TVariant, count: c_long) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "CallAsProc", false, |st| st.call(n, None, params, count))
}

unsafe extern "system" fn call_as_func(
    this: *mut c_void,
    n: c_long,
    ret: *mut TVariant,
    params: *mut TVariant,
    count: c_long,
) -> bool {
    // SAFETY: `this` at offset LANGUAGE.
    let object = unsafe { Object::from_iface(this, LANGUAGE) };
    entry(object, "CallAsFunc", false, |st| {
        if ret.is_null() {
            return Err(Error::NullArgument("pvarRetValue"));
        }
        st.call(n, Some(ret), params, count)
    })
}

// ---- LocaleBase, UserLanguageBase ----

unsafe extern "system" fn set_locale(this: *mut c_void, locale: *const WCHAR_T) {
    // SAFETY: LocaleBase methods get `this` at offset LOCALE; `locale` is NUL-terminated or NULL.
    let object = unsafe { Object::from_iface(this, LOCALE) };
    entry(object, "SetLocale", (), |st| {
        // SAFETY: the platform passes a NUL-terminated string (or NULL, read as none).
        unsafe { variant::read_name(locale) }.inspect(|l| st.component.set_locale(l));
        Ok(())
    })
}

unsafe extern "system" fn set_user_interface_language_code(this: *mut c_void, code: *const WCHAR_T) {
    // SAFETY: UserLanguageBase methods get `this` at offset USER_LANGUAGE; `code` is NUL-terminated or NULL.
    let object = unsafe { Object::from_iface(this, USER_LANGUAGE) };
    entry(object, "SetUserInterfaceLanguageCode", (), |st| {
        // SAFETY: the platform passes a NUL-terminated string (or NULL, read as none).
        unsafe { variant::read_name(code) }.inspect(|c| st.component.set_user_language(c));
        Ok(())
    })
}

// ---- destructor slots and the static vtables ----

#[cfg(not(windows))]
unsafe extern "C" fn no_destructor(_this: *mut c_void) {}
#[cfg(all(windows, target_arch = "x86"))]
unsafe extern "thiscall" fn no_destructor(this: *mut c_void, _flags: u32) -> *mut c_void {
    this
}
#[cfg(all(windows, not(target_arch = "x86")))]
unsafe extern "C" fn no_destructor(this: *mut c_void, _flags: u32) -> *mut c_void {
    this
}

const DTORS: [DtorFn; DESTRUCTOR_SLOTS] = [no_destructor; DESTRUCTOR_SLOTS];

static INIT_DONE_VTBL: InitDoneVtbl = InitDoneVtbl { dtors: DTORS, init, set_mem_manager, get_info, done };

static LANGUAGE_VTBL: LanguageExtenderVtbl = LanguageExtenderVtbl {
    dtors: DTORS,
    register_extension_as,
    get_n_props,
    find_prop,
    get_prop_name,
    get_prop_val,
    set_prop_val,
    is_prop_readable,
    is_prop_writable,
    get_n_methods,
    find_method,
    get_method_name,
    get_n_params,
    get_param_def_value,
    has_ret_val,
    call_as_proc,
    call_as_func,
};

static LOCALE_VTBL: LocaleVtbl = LocaleVtbl { dtors: DTORS, set_locale };

static USER_LANGUAGE_VTBL: UserLanguageVtbl = UserLanguageVtbl { dtors: DTORS, set_user_interface_language_code };
