//! The layer driven with components that only tests have: one that panics, one that changes its
//! arguments and has defaults, one that sends events from its own thread. The fake platform is the
//! one the integration tests use (tests/support).
use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::exports::DestroyObject;
use super::object::Object;
use super::test_platform::*;
use crate::component::{Component, DefaultValue, Method, Names, Params, Prop};
use crate::host::Host as ComponentHost;
use crate::{Error, Value};

static PROPS: [Prop; 1] = [Prop { names: Names { en: "Boom", ru: "Бум" }, readable: true, writable: true }];
static METHODS: [Method; 2] = [
    Method {
        names: Names { en: "Swap", ru: "Обменять" },
        params: 3,
        has_ret: true,
        defaults: &[None, None, Some(DefaultValue::Str("по умолчанию"))],
    },
    Method { names: Names { en: "Start", ru: "Старт" }, params: 0, has_ret: false, defaults: &[] },
];

/// Panics on property access, rewrites argument 2 of `Swap`, sends events from a thread on `Start`.
#[derive(Default)]
struct TestComponent {
    host: Option<ComponentHost>,
    done_called: Arc<Mutex<bool>>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl Component for TestComponent {
    fn extension_name(&self) -> &'static str {
        "Test"
    }
    fn props(&self) -> &'static [Prop] {
        &PROPS
    }
    fn methods(&self) -> &'static [Method] {
        &METHODS
    }
    fn attach(&mut self, host: ComponentHost) {
        self.host = Some(host);
    }
    fn get_prop(&mut self, _: usize) -> Result<Value, Error> {
        panic!("the handler has a bug");
    }
    fn set_prop(&mut self, _: usize, _: Value) -> Result<(), Error> {
        let empty: Vec<u8> = Vec::new();
        let _ = empty.first().expect("another bug");
        Ok(())
    }
    fn call(&mut self, index: usize, params: &mut Params) -> Result<Value, Error> {
        if index == 1 {
            let host = self.host.clone().expect("attached at Init");
            let events = host.events.clone();
            host.threads
                .spawn("ticker", move |stop| {
                    let mut n = 0;
                    while !stop.wait(Duration::from_millis(1)) {
                        n += 1;
                        events.send("Test", "tick", &n.to_string());
                    }
                })
                .map_err(|e| Error::bad_value("Start", e.to_string()))?;
            return Ok(Value::Empty);
        }
        let second = params.get(1).clone();
        params.set(1, Value::from(format!("{second:?}")));
        Ok(Value::Double(2.5))
    }
    fn failed(&mut self, error: &Error) -> String {
        self.failures.lock().unwrap().push(error.to_string());
        error.to_string()
    }
    fn done(&mut self) {
        *self.done_called.lock().unwrap() = true;
    }
}

fn platform(component: TestComponent) -> (Addin, Box<Memory>, Box<Host>) {
    let (mem, host) = (Memory::new(), Host::new());
    let addin = Addin { object: Object::create(Box::new(component)) };
    assert!(addin.init(&host));
    assert!(addin.set_mem_manager(&mem));
    (addin, mem, host)
}

fn destroy(addin: Addin, mem: &Memory) {
    let mut object: *mut c_void = addin.object;
    // SAFETY: a live object made by Object::create.
    assert_eq!(unsafe { DestroyObject(&mut object) }, 0);
    assert!(object.is_null());
    assert_eq!(mem.outstanding(), 0);
    assert_eq!(mem.bad_frees.load(Ordering::SeqCst), 0);
}

#[test]
fn a_panic_in_a_handler_returns_false_and_is_reported() {
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (addin, mem, host) = platform(TestComponent { failures: Arc::clone(&failures), ..TestComponent::default() });
    let (ok, _) = addin.get_prop(0);
    assert!(!ok);
    let errors = host.take_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].wcode, 1006);
    assert_ne!(errors[0].scode, 0);
    assert_eq!(errors[0].source, "Test");
    assert_eq!(errors[0].descr, "internal error of the add-in in GetPropVal: the handler has a bug");
    assert_eq!(*failures.lock().unwrap(), vec![errors[0].descr.clone()], "the component hears of it too");

    assert!(!addin.set_prop(0, &mut Variant::i4(1)));
    assert_eq!(host.take_errors()[0].descr, "internal error of the add-in in SetPropVal: another bug");
    // The object still works after the panics (the poisoned lock is recovered).
    assert_eq!(addin.find_prop("бум"), 0);
    assert_eq!(addin.get_info(), 2000);
    addin.done();
    destroy(addin, &mem);
}

#[test]
fn only_changed_arguments_are_written_back() {
    let (addin, mem, host) = platform(TestComponent::default());
    let swap = addin.find_method("обменять");
    assert_eq!(addin.n_params(swap), 3);
    assert!(addin.has_ret(swap));
    assert!(!addin.param_default(swap, 0).0);
    let (ok, default) = addin.param_default(swap, 2);
    assert!(ok);
    assert_eq!(mem.take_string(&default), "по умолчанию");
    assert!(!addin.param_default(swap, 3).0);

    let mine: Vec<u16> = "caller's".encode_utf16().collect();
    let mut params = [Variant::wstr(&mine), Variant::i4(7), Variant::empty()];
    let original = params;
    let (ok, ret) = addin.call_func(swap, &mut params);
    assert!(ok, "{:?}", host.take_errors());
    assert_eq!(ret.vt, VT_R8);
    assert_eq!(ret.as_f64(), 2.5);
    assert_eq!(params[0], original[0], "an unchanged argument is left as the platform passed it");
    assert_eq!(params[2], original[2]);
    assert_eq!(mem.take_string(&params[1]), "Int(7)");

    assert!(!addin.call_proc(swap, &mut [Variant::i4(1), Variant::with_vt(999), Variant::empty()]));
    assert_eq!(host.take_errors()[0].descr, "Swap, parameter 2: unsupported value type (variant type code 999)");
    destroy(addin, &mem);
}

#[test]
fn events_flow_from_a_component_thread_until_destroy_joins_it() {
    let done_called = Arc::new(Mutex::new(false));
    let component = TestComponent { done_called: Arc::clone(&done_called), ..TestComponent::default() };
    let (addin, mem, host) = platform(component);
    assert!(addin.call_proc(addin.find_method("Start"), &mut []));
    while host.events.lock().unwrap().len() < 3 {
        std::thread::sleep(Duration::from_millis(1));
    }
    // No Done: DestroyObject alone must call done and join the thread.
    destroy(addin, &mem);
    assert!(*done_called.lock().unwrap());
    let after = host.events.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(host.events.lock().unwrap().len(), after, "no event after DestroyObject returned");
    let first = host.events.lock().unwrap()[0].clone();
    assert_eq!(first, ("Test".to_owned(), "tick".to_owned(), "1".to_owned()));
}

mod variants {
    use super::super::platform::MemoryManager;
    use super::super::types::{Counted, TVariant, VarType, VariantData};
    use super::super::variant::{read, write};
    use super::*;
    use crate::error::BadVariant;
    use crate::value::Date;

    fn variant(vt: VarType, data: VariantData) -> TVariant {
        TVariant { data, cb_elements: 0, vt: vt as u16 }
    }

    fn read_one(v: TVariant) -> Result<Value, BadVariant> {
        // SAFETY: a fully initialised variant on the stack whose pointers, if any, cover their lengths.
        unsafe { read(&v) }
    }

    #[test]
    fn every_number_type_is_read() {
        use VarType::*;
        let cases = [
            (variant(I1, VariantData { i8_val: -5 }), Value::Int(-5)),
            (variant(I2, VariantData { i16_val: -300 }), Value::Int(-300)),
            (variant(I4, VariantData { i32_val: 70_000 }), Value::Int(70_000)),
            (variant(I8, VariantData { i64_val: 1 << 40 }), Value::Double((1u64 << 40) as f64)),
            (variant(I8, VariantData { i64_val: -7 }), Value::Int(-7)),
            (variant(UI1, VariantData { u8_val: 200 }), Value::Int(200)),
            (variant(UI2, VariantData { u16_val: 60_000 }), Value::Int(60_000)),
            (variant(UI4, VariantData { u32_val: u32::MAX }), Value::Double(f64::from(u32::MAX))),
            (variant(UI8, VariantData { u64_val: u64::MAX }), Value::Double(u64::MAX as f64)),
            (variant(R4, VariantData { f32_val: 0.5 }), Value::Double(0.5)),
            (variant(R8, VariantData { f64_val: -1.25 }), Value::Double(-1.25)),
            (variant(Bool, VariantData { bool_val: 2 }), Value::Bool(true)),
            (variant(Bool, VariantData { bool_val: 0 }), Value::Bool(false)),
            (variant(Null, VariantData { i64_val: 0 }), Value::Empty),
        ];
        for (v, expected) in cases {
            assert_eq!(read_one(v), Ok(expected), "vt {}", v.vt);
        }
    }

    #[test]
    fn strings_blobs_and_dates_are_read() {
        let bytes = *b"\x00\x01binary";
        let blob = Counted { ptr: bytes.as_ptr().cast_mut(), len: 3 };
        assert_eq!(read_one(variant(VarType::Blob, VariantData { str_val: blob })), Ok(Value::Blob(vec![0, 1, b'b'])));
        let empty = Counted { ptr: std::ptr::null_mut(), len: 0 };
        assert_eq!(read_one(variant(VarType::PWStr, VariantData { wstr_val: empty })), Ok(Value::from("")));
        let utf8 = "Ключ".as_bytes();
        let pstr = Counted { ptr: utf8.as_ptr().cast_mut(), len: utf8.len() as u32 };
        assert_eq!(read_one(variant(VarType::PStr, VariantData { str_val: pstr })), Ok(Value::from("Ключ")));
        let date = Date { year: 2025, month: 3, day: 9, hour: 13, minute: 5, second: 59 };
        assert_eq!(
            read_one(variant(VarType::Date, VariantData { f64_val: 45_725.5 })),
            Ok(Value::Date(Date { hour: 12, minute: 0, second: 0, ..date }))
        );
        let mut out = variant(VarType::Empty, VariantData { i64_val: 0 });
        // SAFETY: a writable variant; a date needs no memory manager.
        unsafe { write(None, &mut out, &Value::Date(date)) }.unwrap();
        assert_eq!(out.vt, VarType::Tm as u16);
        assert_eq!(read_one(out), Ok(Value::Date(date)));
        assert_eq!(
            read_one(variant(VarType::Date, VariantData { f64_val: f64::INFINITY })),
            Err(BadVariant::UnsupportedType(6))
        );
    }

    #[test]
    fn blobs_and_strings_are_written_to_platform_memory() {
        let mem = Memory::new();
        // SAFETY: the test memory manager lives until the end of the test.
        let manager = unsafe { MemoryManager::from_raw(mem.as_ptr()) };
        let mut out = variant(VarType::Empty, VariantData { i64_val: 0 });
        // SAFETY: a writable variant.
        unsafe { write(manager, &mut out, &Value::Blob(vec![1, 2, 3])) }.unwrap();
        assert_eq!(out.vt, VarType::Blob as u16);
        // SAFETY: the BLOB member was just written.
        let blob = unsafe { out.data.str_val };
        assert_eq!(blob.len, 3);
        assert_eq!(read_one(out), Ok(Value::Blob(vec![1, 2, 3])));
        mem.free(blob.ptr.cast());
        // SAFETY: a writable variant; strings need the memory manager.
        assert_eq!(unsafe { write(None, &mut out, &Value::from("x")) }, Err(Error::NoMemoryManager));
        assert_eq!(out.vt, VarType::Blob as u16, "a failed write leaves the variant as it was");
        assert_eq!(mem.outstanding(), 0);
    }
}
