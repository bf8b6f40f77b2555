//! A fake 1C platform for the Rust tests, written from NATIVEAPI.md alone (Linux x86_64 layout) and
//! independent of the crate's own mirrors, so a layout mistake in the add-in cannot hide in both:
//! a memory manager that accounts for every block, an `IAddInDefBase` that records errors and
//! events, and a driver that calls the component through its four vtables as the platform does.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::{c_long, c_ulong, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub const VT_EMPTY: u16 = 0;
pub const VT_I2: u16 = 2;
pub const VT_I4: u16 = 3;
pub const VT_R4: u16 = 4;
pub const VT_R8: u16 = 5;
pub const VT_BOOL: u16 = 11;
pub const VT_UI1: u16 = 14;
pub const VT_I8: u16 = 17;
pub const VT_PWSTR: u16 = 22;
pub const VT_BLOB: u16 = 23;

/// `tVariant` on Linux x86_64: union of 56 bytes, `cbElements` at +56, `vt` at +60, size 64.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    pub bytes: [u8; 56],
    pub cb_elements: u32,
    pub vt: u16,
    pad: u16,
}

const _: () = assert!(std::mem::size_of::<Variant>() == 64);

impl Variant {
    pub fn with_vt(vt: u16) -> Self {
        Self { bytes: [0; 56], cb_elements: 0, vt, pad: 0 }
    }
    pub fn empty() -> Self {
        Self::with_vt(VT_EMPTY)
    }
    fn with(vt: u16, data: &[u8]) -> Self {
        let mut v = Self::with_vt(vt);
        v.bytes[..data.len()].copy_from_slice(data);
        v
    }
    pub fn i4(i: i32) -> Self {
        Self::with(VT_I4, &i.to_ne_bytes())
    }
    pub fn i2(i: i16) -> Self {
        Self::with(VT_I2, &i.to_ne_bytes())
    }
    pub fn i8(i: i64) -> Self {
        Self::with(VT_I8, &i.to_ne_bytes())
    }
    pub fn ui1(i: u8) -> Self {
        Self::with(VT_UI1, &[i])
    }
    pub fn r4(f: f32) -> Self {
        Self::with(VT_R4, &f.to_ne_bytes())
    }
    pub fn r8(f: f64) -> Self {
        Self::with(VT_R8, &f.to_ne_bytes())
    }
    pub fn boolean(b: bool) -> Self {
        Self::with(VT_BOOL, &[u8::from(b)])
    }
    /// A counted string or blob pointing at memory the test owns (the platform's memory).
    pub fn counted(vt: u16, ptr: *const c_void, len: u32) -> Self {
        let mut v = Self::with(vt, &(ptr as usize).to_ne_bytes());
        v.bytes[8..12].copy_from_slice(&len.to_ne_bytes());
        v
    }
    /// A PWSTR over `units` (no NUL needed: the length says where it ends).
    pub fn wstr(units: &[u16]) -> Self {
        Self::counted(VT_PWSTR, units.as_ptr().cast(), units.len() as u32)
    }
    pub fn ptr(&self) -> *mut c_void {
        usize::from_ne_bytes(self.bytes[..8].try_into().unwrap()) as *mut c_void
    }
    pub fn len(&self) -> u32 {
        u32::from_ne_bytes(self.bytes[8..12].try_into().unwrap())
    }
    pub fn as_i32(&self) -> i32 {
        i32::from_ne_bytes(self.bytes[..4].try_into().unwrap())
    }
    pub fn as_f64(&self) -> f64 {
        f64::from_ne_bytes(self.bytes[..8].try_into().unwrap())
    }
}

/// UTF-16 with a NUL, as the platform passes names.
pub fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// Reads a NUL-terminated UTF-16 string.
///
/// # Safety
/// `p` points at a NUL-terminated UTF-16 string.
pub unsafe fn read_wide(p: *const u16) -> String {
    let mut len = 0;
    // SAFETY: the caller's contract.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` units were just read.
    String::from_utf16(unsafe { std::slice::from_raw_parts(p, len) }).expect("valid UTF-16")
}

type Dtor = unsafe extern "C" fn(*mut c_void);
unsafe extern "C" fn dtor(_: *mut c_void) {
    panic!("the platform never calls a destructor slot");
}

#[repr(C)]
struct MemoryVtbl {
    dtors: [Dtor; 2],
    alloc: unsafe extern "C" fn(*mut Memory, *mut *mut c_void, c_ulong) -> bool,
    free: unsafe extern "C" fn(*mut Memory, *mut *mut c_void),
}

/// `IMemoryManager` that records every block and counts frees; `outstanding()` must end at 0.
#[repr(C)]
pub struct Memory {
    vtbl: &'static MemoryVtbl,
    blocks: Mutex<HashMap<usize, usize>>,
    pub allocations: AtomicUsize,
    pub bad_frees: AtomicUsize,
}

static MEMORY_VTBL: MemoryVtbl = MemoryVtbl { dtors: [dtor, dtor], alloc: mem_alloc, free: mem_free };

unsafe extern "C" fn mem_alloc(this: *mut Memory, p: *mut *mut c_void, bytes: c_ulong) -> bool {
    // SAFETY: the add-in passes our object and a valid out-pointer.
    let (this, p) = unsafe { (&*this, &mut *p) };
    let layout = std::alloc::Layout::from_size_align(bytes.max(1) as usize, 8).unwrap();
    // SAFETY: non-zero size.
    let block = unsafe { std::alloc::alloc(layout) };
    // Fill with garbage so a missing NUL or an unwritten byte shows.
    // SAFETY: the block has `layout.size()` bytes.
    unsafe { block.write_bytes(0xAB, layout.size()) };
    this.blocks.lock().unwrap().insert(block as usize, layout.size());
    this.allocations.fetch_add(1, Ordering::SeqCst);
    *p = block.cast();
    true
}

unsafe extern "C" fn mem_free(this: *mut Memory, p: *mut *mut c_void) {
    // SAFETY: our object and a valid pointer to a block pointer.
    let (this, p) = unsafe { (&*this, &mut *p) };
    match this.blocks.lock().unwrap().remove(&(*p as usize)) {
        Some(size) => {
            let layout = std::alloc::Layout::from_size_align(size, 8).unwrap();
            // SAFETY: allocated above with this layout, freed once (removed from the map).
            unsafe { std::alloc::dealloc((*p).cast(), layout) };
        }
        None => {
            this.bad_frees.fetch_add(1, Ordering::SeqCst);
        }
    }
    *p = std::ptr::null_mut();
}

impl Memory {
    pub fn new() -> Box<Self> {
        Box::new(Self {
            vtbl: &MEMORY_VTBL,
            blocks: Mutex::default(),
            allocations: AtomicUsize::new(0),
            bad_frees: AtomicUsize::new(0),
        })
    }
    pub fn as_ptr(&self) -> *mut c_void {
        (self as *const Self).cast_mut().cast()
    }
    /// Frees a block the add-in handed over, as the platform does.
    pub fn free(&self, block: *mut c_void) {
        let mut p = block;
        // SAFETY: our own free function with our own object.
        unsafe { mem_free(self.as_ptr().cast(), &mut p) };
    }
    pub fn outstanding(&self) -> usize {
        self.blocks.lock().unwrap().len()
    }
    /// The size of a live block (to check `(len+1)*2`).
    pub fn size_of(&self, block: *mut c_void) -> Option<usize> {
        self.blocks.lock().unwrap().get(&(block as usize)).copied()
    }
    /// Reads the BLOB in `v` (checking its block size) and frees it.
    pub fn take_blob(&self, v: &Variant) -> Vec<u8> {
        assert_eq!(v.vt, VT_BLOB, "not binary data: {v:?}");
        let (ptr, len) = (v.ptr().cast::<u8>(), v.len() as usize);
        if len == 0 {
            if !ptr.is_null() {
                self.free(ptr.cast());
            }
            return Vec::new();
        }
        assert_eq!(self.size_of(ptr.cast()), Some(len), "a blob's block is its length");
        // SAFETY: the add-in allocated `len` bytes and wrote them.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec();
        self.free(ptr.cast());
        bytes
    }

    /// Reads the PWSTR in `v` (checking its NUL and block size) and frees it.
    pub fn take_string(&self, v: &Variant) -> String {
        assert_eq!(v.vt, VT_PWSTR, "not a string: {v:?}");
        let (ptr, len) = (v.ptr().cast::<u16>(), v.len() as usize);
        assert_eq!(self.size_of(ptr.cast()), Some((len + 1) * 2), "string block is (len+1)*2 bytes");
        // SAFETY: the add-in allocated len+1 units.
        let s = unsafe { read_wide(ptr) };
        assert_eq!(s.encode_utf16().count(), len, "wstrLen counts units without the NUL");
        self.free(ptr.cast());
        s
    }
}

/// One `AddError` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub wcode: u16,
    pub source: String,
    pub descr: String,
    pub scode: c_long,
}

#[repr(C)]
struct HostVtbl {
    dtors: [Dtor; 2],
    add_error: unsafe extern "C" fn(*mut Host, u16, *const u16, *const u16, c_long) -> bool,
    read: usize,
    write: usize,
    register_profile_as: usize,
    set_event_buffer_depth: usize,
    get_event_buffer_depth: usize,
    external_event: unsafe extern "C" fn(*mut Host, *mut u16, *mut u16, *mut u16) -> bool,
    clean_event_buffer: usize,
    set_status_line: usize,
    reset_status_line: usize,
    get_interface: usize,
}

/// `IAddInDefBase` that records what the add-in reports.
#[repr(C)]
pub struct Host {
    vtbl: &'static HostVtbl,
    pub errors: Mutex<Vec<Reported>>,
    pub events: Mutex<Vec<(String, String, String)>>,
}

static HOST_VTBL: HostVtbl = HostVtbl {
    dtors: [dtor, dtor],
    add_error,
    read: 0,
    write: 0,
    register_profile_as: 0,
    set_event_buffer_depth: 0,
    get_event_buffer_depth: 0,
    external_event,
    clean_event_buffer: 0,
    set_status_line: 0,
    reset_status_line: 0,
    get_interface: 0,
};

unsafe extern "C" fn add_error(
    this: *mut Host,
    wcode: u16,
    source: *const u16,
    descr: *const u16,
    scode: c_long,
) -> bool {
    // SAFETY: our object and two NUL-terminated strings from the add-in.
    let reported = unsafe { Reported { wcode, source: read_wide(source), descr: read_wide(descr), scode } };
    // SAFETY: our object.
    unsafe { &*this }.errors.lock().unwrap().push(reported);
    true
}

unsafe extern "C" fn external_event(this: *mut Host, source: *mut u16, message: *mut u16, data: *mut u16) -> bool {
    // SAFETY: our object and three NUL-terminated strings from the add-in.
    let event = unsafe { (read_wide(source), read_wide(message), read_wide(data)) };
    // SAFETY: our object.
    unsafe { &*this }.events.lock().unwrap().push(event);
    true
}

impl Host {
    pub fn new() -> Box<Self> {
        Box::new(Self { vtbl: &HOST_VTBL, errors: Mutex::default(), events: Mutex::default() })
    }
    pub fn as_ptr(&self) -> *mut c_void {
        (self as *const Self).cast_mut().cast()
    }
    pub fn take_errors(&self) -> Vec<Reported> {
        std::mem::take(&mut *self.errors.lock().unwrap())
    }
}

type This = *mut c_void;

#[repr(C)]
pub struct InitDoneVtbl {
    dtors: [usize; 2],
    pub init: unsafe extern "C" fn(This, *mut c_void) -> bool,
    pub set_mem_manager: unsafe extern "C" fn(This, *mut c_void) -> bool,
    pub get_info: unsafe extern "C" fn(This) -> c_long,
    pub done: unsafe extern "C" fn(This),
}

#[repr(C)]
pub struct LanguageVtbl {
    dtors: [usize; 2],
    pub register_extension_as: unsafe extern "C" fn(This, *mut *mut u16) -> bool,
    pub get_n_props: unsafe extern "C" fn(This) -> c_long,
    pub find_prop: unsafe extern "C" fn(This, *const u16) -> c_long,
    pub get_prop_name: unsafe extern "C" fn(This, c_long, c_long) -> *const u16,
    pub get_prop_val: unsafe extern "C" fn(This, c_long, *mut Variant) -> bool,
    pub set_prop_val: unsafe extern "C" fn(This, c_long, *mut Variant) -> bool,
    pub is_prop_readable: unsafe extern "C" fn(This, c_long) -> bool,
    pub is_prop_writable: unsafe extern "C" fn(This, c_long) -> bool,
    pub get_n_methods: unsafe extern "C" fn(This) -> c_long,
    pub find_method: unsafe extern "C" fn(This, *const u16) -> c_long,
    pub get_method_name: unsafe extern "C" fn(This, c_long, c_long) -> *const u16,
    pub get_n_params: unsafe extern "C" fn(This, c_long) -> c_long,
    pub get_param_def_value: unsafe extern "C" fn(This, c_long, c_long, *mut Variant) -> bool,
    pub has_ret_val: unsafe extern "C" fn(This, c_long) -> bool,
    pub call_as_proc: unsafe extern "C" fn(This, c_long, *mut Variant, c_long) -> bool,
    pub call_as_func: unsafe extern "C" fn(This, c_long, *mut Variant, *mut Variant, c_long) -> bool,
}

#[repr(C)]
pub struct StringVtbl {
    dtors: [usize; 2],
    pub call: unsafe extern "C" fn(This, *const u16),
}

/// Drives an `IComponentBase*` through its four vtables, `this` adjusted per interface (+0/+8/+16/+24).
pub struct Addin {
    pub object: *mut c_void,
}

impl Addin {
    /// `this` for interface `index` and its vtable.
    fn iface<V>(&self, index: usize) -> (This, &'static V) {
        // SAFETY: a live component object starts with four vtable pointers.
        unsafe {
            let this = self.object.cast::<*const V>().add(index);
            (this.cast(), &**this)
        }
    }
    pub fn init_done(&self) -> (This, &'static InitDoneVtbl) {
        self.iface(0)
    }
    pub fn language(&self) -> (This, &'static LanguageVtbl) {
        self.iface(1)
    }

    pub fn init(&self, host: &Host) -> bool {
        let (this, v) = self.init_done();
        // SAFETY: a live object and a live host.
        unsafe { (v.init)(this, host.as_ptr()) }
    }
    pub fn set_mem_manager(&self, mem: &Memory) -> bool {
        let (this, v) = self.init_done();
        // SAFETY: a live object and memory manager.
        unsafe { (v.set_mem_manager)(this, mem.as_ptr()) }
    }
    pub fn get_info(&self) -> c_long {
        let (this, v) = self.init_done();
        // SAFETY: a live object.
        unsafe { (v.get_info)(this) }
    }
    pub fn done(&self) {
        let (this, v) = self.init_done();
        // SAFETY: a live object.
        unsafe { (v.done)(this) }
    }
    /// `RegisterExtensionAs`, reading and freeing the name.
    pub fn register(&self, mem: &Memory) -> Option<String> {
        let (this, v) = self.language();
        let mut name: *mut u16 = std::ptr::null_mut();
        // SAFETY: a live object and a valid out-pointer.
        if !unsafe { (v.register_extension_as)(this, &mut name) } {
            return None;
        }
        Some(take_name(mem, name))
    }
    pub fn n_props(&self) -> c_long {
        let (this, v) = self.language();
        // SAFETY: a live object.
        unsafe { (v.get_n_props)(this) }
    }
    pub fn find_prop(&self, name: &str) -> c_long {
        let (this, v) = self.language();
        let name = wide(name);
        // SAFETY: a live object and a NUL-terminated name.
        unsafe { (v.find_prop)(this, name.as_ptr()) }
    }
    pub fn prop_name(&self, mem: &Memory, n: c_long, alias: c_long) -> Option<String> {
        let (this, v) = self.language();
        // SAFETY: a live object.
        let p = unsafe { (v.get_prop_name)(this, n, alias) };
        (!p.is_null()).then(|| take_name(mem, p.cast_mut()))
    }
    pub fn get_prop(&self, n: c_long) -> (bool, Variant) {
        let (this, v) = self.language();
        let mut out = Variant::empty();
        // SAFETY: a live object and a writable variant.
        let ok = unsafe { (v.get_prop_val)(this, n, &mut out) };
        (ok, out)
    }
    pub fn set_prop(&self, n: c_long, value: &mut Variant) -> bool {
        let (this, v) = self.language();
        // SAFETY: a live object and a readable variant.
        unsafe { (v.set_prop_val)(this, n, value) }
    }
    pub fn readable(&self, n: c_long) -> bool {
        let (this, v) = self.language();
        // SAFETY: a live object.
        unsafe { (v.is_prop_readable)(this, n) }
    }
    pub fn writable(&self, n: c_long) -> bool {
        let (this, v) = self.language();
        // SAFETY: a live object.
        unsafe { (v.is_prop_writable)(this, n) }
    }
    pub fn n_methods(&self) -> c_long {
        let (this, v) = self.language();
        // SAFETY: a live object.
        unsafe { (v.get_n_methods)(this) }
    }
    pub fn find_method(&self, name: &str) -> c_long {
        let (this, v) = self.language();
        let name = wide(name);
        // SAFETY: a live object and a NUL-terminated name.
        unsafe { (v.find_method)(this, name.as_ptr()) }
    }
    pub fn method_name(&self, mem: &Memory, n: c_long, alias: c_long) -> Option<String> {
        let (this, v) = self.language();
        // SAFETY: a live object.
        let p = unsafe { (v.get_method_name)(this, n, alias) };
        (!p.is_null()).then(|| take_name(mem, p.cast_mut()))
    }
    pub fn n_params(&self, n: c_long) -> c_long {
        let (this, v) = self.language();
        // SAFETY: a live object.
        unsafe { (v.get_n_params)(this, n) }
    }
    pub fn param_default(&self, n: c_long, param: c_long) -> (bool, Variant) {
        let (this, v) = self.language();
        let mut out = Variant::empty();
        // SAFETY: a live object and a writable variant.
        let ok = unsafe { (v.get_param_def_value)(this, n, param, &mut out) };
        (ok, out)
    }
    pub fn has_ret(&self, n: c_long) -> bool {
        let (this, v) = self.language();
        // SAFETY: a live object.
        unsafe { (v.has_ret_val)(this, n) }
    }
    /// `CallAsProc`; an empty slice is passed as NULL with count 0, as the platform may.
    pub fn call_proc(&self, n: c_long, params: &mut [Variant]) -> bool {
        let (this, v) = self.language();
        let ptr = if params.is_empty() { std::ptr::null_mut() } else { params.as_mut_ptr() };
        // SAFETY: a live object and `params.len()` variants.
        unsafe { (v.call_as_proc)(this, n, ptr, params.len() as c_long) }
    }
    pub fn call_func(&self, n: c_long, params: &mut [Variant]) -> (bool, Variant) {
        let (this, v) = self.language();
        let ptr = if params.is_empty() { std::ptr::null_mut() } else { params.as_mut_ptr() };
        let mut ret = Variant::empty();
        // SAFETY: a live object, a writable return variant and `params.len()` variants.
        let ok = unsafe { (v.call_as_func)(this, n, &mut ret, ptr, params.len() as c_long) };
        (ok, ret)
    }
    pub fn set_locale(&self, locale: &str) {
        let (this, v) = self.iface::<StringVtbl>(2);
        let locale = wide(locale);
        // SAFETY: a live object and a NUL-terminated string.
        unsafe { (v.call)(this, locale.as_ptr()) }
    }
    pub fn set_user_language(&self, code: &str) {
        let (this, v) = self.iface::<StringVtbl>(3);
        let code = wide(code);
        // SAFETY: a live object and a NUL-terminated string.
        unsafe { (v.call)(this, code.as_ptr()) }
    }
}

/// Reads a NUL-terminated name the add-in allocated through `mem`, checks its block size, frees it.
fn take_name(mem: &Memory, p: *mut u16) -> String {
    // SAFETY: the add-in returns NUL-terminated strings.
    let s = unsafe { read_wide(p) };
    assert_eq!(mem.size_of(p.cast()), Some((s.encode_utf16().count() + 1) * 2), "name block is (len+1)*2 bytes");
    mem.free(p.cast());
    s
}
