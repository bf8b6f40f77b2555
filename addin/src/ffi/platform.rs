//! Safe handles on the platform's two interfaces: [`MemoryManager`] (the one place that allocates
//! memory the platform will free) and [`Connection`] (`IAddInDefBase`: errors and events), plus the
//! revocable [`EventGate`] that component threads send events through.
use std::ffi::{c_long, c_ulong, c_void};
use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};

use licence_nativeapi::{ADDIN_E_FAIL, INTERFACE_PLATFORM_INFO};

use super::types::{AddInDefBaseVtbl, HostObject, MemoryManagerVtbl, PlatformInfoVtbl, WCHAR_T};
use super::variant::read_name;
use crate::host::{EventTarget, PlatformInfo};
use crate::Error;

/// The `scode` the add-in reports failures with: non-zero, so BSL raises an exception.
pub const FAIL_SCODE: c_long = 1;

/// The platform's `IMemoryManager`, valid from `setMemManager` until the object is destroyed.
#[derive(Clone, Copy)]
pub struct MemoryManager(NonNull<HostObject<MemoryManagerVtbl>>);

impl MemoryManager {
    /// # Safety
    /// `raw` is NULL or an `IMemoryManager*` that stays valid while the object lives (the platform's promise).
    pub unsafe fn from_raw(raw: *mut c_void) -> Option<Self> {
        NonNull::new(raw.cast()).map(Self)
    }

    /// The one allocation helper: `bytes` of platform memory, or an error (never Rust's allocator).
    fn alloc(&self, bytes: usize) -> Result<NonNull<u8>, Error> {
        let count = c_ulong::try_from(bytes).map_err(|_| Error::AllocFailed(bytes))?;
        let this = self.0.as_ptr();
        // SAFETY: `this` is a live IMemoryManager (constructor contract); its vtable pointer is read once.
        let alloc = unsafe { (*(*this).vtbl).alloc_memory }.ok_or(Error::AllocFailed(bytes))?;
        let mut block: *mut c_void = std::ptr::null_mut();
        // SAFETY: AllocMemory(void**, unsigned long) with a valid out-pointer, as declared by the platform.
        let ok = unsafe { alloc(this.cast(), &mut block, count) };
        match NonNull::new(block.cast::<u8>()) {
            Some(block) if ok => Ok(block),
            _ => Err(Error::AllocFailed(bytes)),
        }
    }

    /// `s` as a NUL-terminated UTF-16 string in platform memory, with its length in units (no NUL).
    pub fn wide_string(&self, s: &str) -> Result<(NonNull<WCHAR_T>, u32), Error> {
        let units: Vec<WCHAR_T> = s.encode_utf16().collect();
        let len = u32::try_from(units.len()).map_err(|_| Error::AllocFailed(usize::MAX))?;
        let block = self.alloc((units.len() + 1) * 2)?.cast::<WCHAR_T>();
        // SAFETY: the block holds len+1 units (allocated above); the host's allocator returns memory
        // aligned for any scalar, and `units` cannot overlap a fresh block.
        unsafe {
            std::ptr::copy_nonoverlapping(units.as_ptr(), block.as_ptr(), units.len());
            block.as_ptr().add(units.len()).write(0);
        }
        Ok((block, len))
    }

    /// `bytes` in platform memory (at least one byte is allocated, so the pointer is never NULL).
    pub fn blob(&self, bytes: &[u8]) -> Result<(NonNull<u8>, u32), Error> {
        let len = u32::try_from(bytes.len()).map_err(|_| Error::AllocFailed(bytes.len()))?;
        let block = self.alloc(bytes.len().max(1))?;
        // SAFETY: the block holds at least bytes.len() bytes and is fresh.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), block.as_ptr(), bytes.len()) };
        Ok((block, len))
    }
}

/// NUL-terminated UTF-16 of `s`, for passing *our* strings to the platform (it copies them).
fn wide_nul(s: &str) -> Vec<WCHAR_T> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// The platform's `IAddInDefBase`, valid from `Init` until the object is destroyed. Used only on the
/// thread the platform calls us on (it is not `Send`); threads get an [`EventGate`] instead.
#[derive(Clone, Copy)]
pub struct Connection(NonNull<HostObject<AddInDefBaseVtbl>>);

impl Connection {
    /// # Safety
    /// `raw` is NULL or an `IAddInDefBase*` that stays valid while the object lives.
    pub unsafe fn from_raw(raw: *mut c_void) -> Option<Self> {
        NonNull::new(raw.cast()).map(Self)
    }

    fn vtbl(&self) -> &AddInDefBaseVtbl {
        // SAFETY: a live interface (constructor contract) whose vtable is static for the platform's life.
        unsafe { &*(*self.0.as_ptr()).vtbl }
    }

    /// Reports a failure: `AddError(1006, source, text, 1)`, which makes BSL raise an exception.
    pub fn report(&self, source: &str, text: &str) -> bool {
        let Some(add_error) = self.vtbl().add_error else { return false };
        let (source, descr) = (wide_nul(source), wide_nul(text));
        // SAFETY: AddError with the platform's `this` and two NUL-terminated strings that outlive the call.
        unsafe { add_error(self.0.as_ptr().cast(), ADDIN_E_FAIL, source.as_ptr(), descr.as_ptr(), FAIL_SCODE) }
    }

    /// What the platform's `IPlatformInfo` (`GetInterface(1)`) tells; `None` when it offers none. A
    /// NULL or overlong string reads as empty.
    pub fn platform_info(&self) -> Option<PlatformInfo> {
        let get_interface = self.vtbl().get_interface?;
        // SAFETY: GetInterface with the platform's `this`; it returns NULL or an interface that lives as
        // long as the connection.
        let raw = unsafe { get_interface(self.0.as_ptr().cast(), INTERFACE_PLATFORM_INFO) };
        let iface = NonNull::new(raw.cast::<HostObject<PlatformInfoVtbl>>())?;
        // SAFETY: a live interface (as above); its vtable pointer is NULL or static for the platform's life.
        let vtbl = unsafe { (*iface.as_ptr()).vtbl.as_ref() }?;
        let get_platform_info = vtbl.get_platform_info?;
        // SAFETY: GetPlatformInfo with the interface's own `this`; the answer is NULL or a struct the
        // platform keeps alive, read at once.
        let info = unsafe { get_platform_info(iface.as_ptr().cast()).as_ref() }?;
        // SAFETY: each string is NULL or NUL-terminated (read_name stops at its length limit).
        let (version, user_agent) = unsafe { (read_name(info.app_version), read_name(info.user_agent_information)) };
        Some(PlatformInfo {
            version: version.unwrap_or_default(),
            user_agent: user_agent.unwrap_or_default(),
            app_type: info.application,
        })
    }

    fn external_event(&self, source: &str, message: &str, data: &str) -> bool {
        let Some(send) = self.vtbl().external_event else { return false };
        let (mut source, mut message, mut data) = (wide_nul(source), wide_nul(message), wide_nul(data));
        // SAFETY: ExternalEvent with the platform's `this` and three NUL-terminated buffers we own; the
        // platform copies them into its event queue.
        unsafe { send(self.0.as_ptr().cast(), source.as_mut_ptr(), message.as_mut_ptr(), data.as_mut_ptr()) }
    }
}

/// The [`EventTarget`] behind [`crate::host::Events`]: `ExternalEvent` from `Init` until revoked, `false`
/// before and after.
#[derive(Default)]
pub struct EventGate(Mutex<Option<EventPort>>);

/// A connection that may only send events.
struct EventPort(Connection);

// SAFETY: the platform accepts ExternalEvent from a component's own threads (nativeapi/README.md). An
// EventPort exposes nothing else, and EventGate serialises its use and drops it (revoke) before the
// object, and with it the connection's validity, ends.
unsafe impl Send for EventPort {}

impl EventGate {
    pub fn connect(&self, connection: Connection) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(EventPort(connection));
    }

    /// Waits for a send under way, then turns every later send into `false`.
    pub fn revoke(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl EventTarget for EventGate {
    fn external_event(&self, source: &str, message: &str, data: &str) -> bool {
        let port = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        port.as_ref().is_some_and(|p| p.0.external_event(source, message, data))
    }
}
