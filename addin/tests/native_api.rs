//! The add-in driven through its exported C functions and vtables the way the 1C platform drives it,
//! with a fake platform (tests/support) that checks every block the add-in hands over is freed once.
#![allow(unsafe_code)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod support;

use std::ffi::{c_long, c_void};

use licenceaddin::ffi::{DestroyObject, GetAttachType, GetClassNames, GetClassObject, SetPlatformCapabilities};
use support::*;

/// A `Licence` object with a memory manager and a connection, as after `Init`/`setMemManager`.
struct Platform {
    addin: Addin,
    mem: Box<Memory>,
    host: Box<Host>,
}

fn create(name: &str) -> *mut c_void {
    let name = wide(name);
    let mut object: *mut c_void = std::ptr::null_mut();
    // SAFETY: a NUL-terminated name and a writable out-pointer.
    let ok = unsafe { GetClassObject(name.as_ptr(), &mut object) };
    assert_eq!(ok != 0, !object.is_null());
    object
}

impl Platform {
    fn new() -> Self {
        let (mem, host) = (Memory::new(), Host::new());
        let addin = Addin { object: create("Licence") };
        assert!(addin.init(&host));
        assert!(addin.set_mem_manager(&mem));
        Self { addin, mem, host }
    }

    fn prop(&self, name: &str) -> c_long {
        let n = self.addin.find_prop(name);
        assert!(n >= 0, "no property {name}");
        n
    }

    fn get_string(&self, name: &str) -> String {
        let (ok, v) = self.addin.get_prop(self.prop(name));
        assert!(ok, "GetPropVal {name}");
        self.mem.take_string(&v)
    }

    fn get_number(&self, name: &str) -> i32 {
        let (ok, v) = self.addin.get_prop(self.prop(name));
        assert!(ok && v.vt == VT_I4, "GetPropVal {name}: {v:?}");
        v.as_i32()
    }

    fn set(&self, name: &str, mut value: Variant) -> bool {
        self.addin.set_prop(self.prop(name), &mut value)
    }

    /// The one error the last failing call reported: AddError(1006, "Licence", text, non-zero).
    fn single_error(&self) -> String {
        let errors = self.host.take_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].wcode, 1006);
        assert_ne!(errors[0].scode, 0);
        assert_eq!(errors[0].source, "Licence");
        errors[0].descr.clone()
    }

    /// Done, DestroyObject, and the memory balance: everything handed over was freed exactly once.
    fn finish(self) {
        self.addin.done();
        let mut object = self.addin.object;
        // SAFETY: our live object.
        assert_eq!(unsafe { DestroyObject(&mut object) }, 0);
        assert!(object.is_null(), "DestroyObject sets *obj to NULL");
        assert_eq!(self.mem.outstanding(), 0, "blocks handed to the platform and never freed");
        assert_eq!(self.mem.bad_frees.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(self.host.take_errors(), vec![]);
    }
}

#[test]
fn exports_answer_as_documented() {
    // SAFETY: a static NUL-terminated string.
    assert_eq!(unsafe { read_wide(GetClassNames()) }, "Licence");
    assert_eq!(SetPlatformCapabilities(2), 3);
    assert_eq!(GetAttachType(), 3);
    for unknown in ["Licenc", "LicenceX", "", "Лицензия"] {
        assert!(create(unknown).is_null(), "{unknown}");
    }
    // SAFETY: NULL arguments must be refused, not dereferenced.
    unsafe {
        assert_eq!(GetClassObject(std::ptr::null(), &mut std::ptr::null_mut()), 0);
        assert_eq!(GetClassObject(wide("Licence").as_ptr(), std::ptr::null_mut()), 0);
        assert_eq!(DestroyObject(std::ptr::null_mut()), -1);
        assert_eq!(DestroyObject(&mut std::ptr::null_mut()), -1);
    }
}

#[test]
fn both_init_orders_work_and_get_info_is_2000() {
    for mem_first in [false, true] {
        let (mem, host) = (Memory::new(), Host::new());
        let addin = Addin { object: create("Licence") };
        if mem_first {
            assert!(addin.set_mem_manager(&mem));
            assert!(addin.init(&host));
        } else {
            assert!(addin.init(&host));
            assert!(addin.set_mem_manager(&mem));
        }
        assert_eq!(addin.get_info(), 2000);
        assert_eq!(addin.register(&mem).as_deref(), Some("Licence"));
        addin.set_locale("ru_RU");
        addin.set_user_language("ru");
        Platform { addin, mem, host }.finish();
    }
}

#[test]
fn without_a_memory_manager_strings_fail_cleanly() {
    let (mem, host) = (Memory::new(), Host::new());
    let addin = Addin { object: create("Licence") };
    assert!(addin.init(&host));
    assert_eq!(addin.register(&mem), None);
    assert!(host.take_errors()[0].descr.contains("memory manager"));
    let (ok, _) = addin.get_prop(addin.find_prop("Version"));
    assert!(!ok);
    // A number needs no platform memory.
    let (ok, v) = addin.get_prop(addin.find_prop("ServerPort"));
    assert!(ok && v.as_i32() == 9099);
    assert_eq!(mem.allocations.load(std::sync::atomic::Ordering::SeqCst), 0);
    host.take_errors();
    Platform { addin, mem, host }.finish();
}

#[test]
fn names_are_found_in_both_languages_and_any_case() {
    let p = Platform::new();
    let a = &p.addin;
    assert_eq!(a.n_props(), 17);
    assert_eq!(a.find_prop("открытыйключсерии"), a.find_prop("SeriesPublicKey"));
    assert_eq!(a.find_prop("терминальныйклиент"), a.find_prop("TERMINALCLIENT"));
    assert!(a.find_prop("TerminalClient") >= 0);
    assert_eq!(a.find_prop("sErVeRaDdR"), a.find_prop("адресСЕРВЕРА"));
    assert_eq!(a.find_prop("ВЕРСИЯ"), a.find_prop("version"));
    assert_eq!(a.find_prop("серияключей"), a.find_prop("KEYID"));
    assert_eq!(a.find_prop("ОПИСАНИЕОШИБКИ"), a.find_prop("lasterror"));
    for unknown in ["aDrEsSeRvErA", "Server", "Версия ", ""] {
        assert_eq!(a.find_prop(unknown), -1, "{unknown}");
        assert_eq!(a.find_method(unknown), -1, "{unknown}");
    }
    assert_eq!(a.find_method("RESETERROR"), 0);
    assert_eq!(a.find_method("сБРОСИТЬоШИБКУ"), 0);
    let names: Vec<(String, String)> =
        (0..a.n_props()).map(|n| (a.prop_name(&p.mem, n, 0).unwrap(), a.prop_name(&p.mem, n, 1).unwrap())).collect();
    for (en, ru) in &names {
        assert_eq!(a.find_prop(en), a.find_prop(ru));
    }
    assert!(names.contains(&("ServerPort".into(), "ПортСервера".into())));
    assert!(names.contains(&("LastErrorCode".into(), "КодОшибки".into())));
    assert!(names.contains(&("TerminalClient".into(), "ТерминальныйКлиент".into())));
    assert_eq!(a.method_name(&p.mem, 0, 1).as_deref(), Some("СброситьОшибку"));
    assert_eq!(a.prop_name(&p.mem, 0, 2), None);
    assert_eq!(a.prop_name(&p.mem, 17, 0), None);
    assert_eq!(a.method_name(&p.mem, -1, 0), None);
    p.finish();
}

#[test]
fn properties_round_trip() {
    let p = Platform::new();
    assert_eq!(p.get_string("Версия"), licenceaddin::CLIENT_VERSION);
    assert_eq!(p.get_string("ServerAddr"), "");
    // A PWSTR is read by its length: the unit after it is not a NUL.
    let text: Vec<u16> = "сервер.local|garbage".encode_utf16().collect();
    assert!(p.set("АдресСервера", Variant::wstr(&text[..12])));
    assert_eq!(p.get_string("serveraddr"), "сервер.local");

    assert_eq!(p.get_number("ServerPort"), 9099);
    for (value, expected) in [
        (Variant::i4(8080), 8080),
        (Variant::r8(443.0), 443),
        (Variant::i2(80), 80),
        (Variant::ui1(21), 21),
        (Variant::i8(65535), 65535),
        (Variant::r4(1.0), 1),
    ] {
        assert!(p.set("ПортСервера", value));
        assert_eq!(p.get_number("ServerPort"), expected);
    }

    let series: Vec<u16> = "672b".encode_utf16().collect();
    assert!(p.set("KeyID", Variant::wstr(&series)));
    assert_eq!(p.get_string("СерияКлючей"), "672B");
    assert_eq!(p.get_string("LastError"), "");
    assert_eq!(p.get_number("КодОшибки"), 0);
    p.finish();
}

#[test]
fn access_rules_follow_the_table() {
    let p = Platform::new();
    let version = p.prop("Version");
    assert!(p.addin.readable(version) && !p.addin.writable(version));
    assert!(p.addin.writable(p.prop("ServerPort")));
    assert!(!p.addin.readable(99) && !p.addin.writable(-1));
    let v: Vec<u16> = "9.9".encode_utf16().collect();
    assert!(!p.set("Version", Variant::wstr(&v)));
    assert_eq!(p.single_error(), "property `Version` is read-only");
    assert!(!p.set("LastErrorCode", Variant::i4(1)));
    p.single_error();
    assert!(p.addin.readable(p.prop("TerminalClient")) && p.addin.writable(p.prop("TerminalClient")));
    let (ok, _) = p.addin.get_prop(17);
    assert!(!ok);
    assert_eq!(p.single_error(), "there is no property number 17");
    p.finish();
}

#[test]
fn wrong_types_are_refused_with_an_error() {
    let p = Platform::new();
    let before = p.get_string("ServerAddr");
    let cases = [
        (Variant::empty(), "ServerAddr: expected String (Строка), got Undefined (Неопределено)"),
        (Variant::boolean(true), "ServerAddr: expected String (Строка), got Boolean (Булево)"),
        (Variant::with_vt(999), "ServerAddr: unsupported value type (variant type code 999)"),
        (Variant::with_vt(10), "ServerAddr: unsupported value type (variant type code 10)"),
        (
            Variant::counted(VT_PWSTR, std::ptr::null(), 5),
            "ServerAddr: a string or blob with a NULL pointer and length 5",
        ),
        (
            Variant::counted(VT_BLOB, std::ptr::null(), 3),
            "ServerAddr: a string or blob with a NULL pointer and length 3",
        ),
    ];
    for (value, message) in cases {
        assert!(!p.set("ServerAddr", value));
        assert_eq!(p.single_error(), message);
    }
    assert_eq!(p.get_string("ServerAddr"), before);

    for bad in [Variant::i4(0), Variant::i4(70000), Variant::r8(80.5), Variant::i8(-1)] {
        assert!(!p.set("ServerPort", bad));
        assert!(p.single_error().starts_with("ServerPort: "));
    }
    assert!(!p.set("ServerPort", Variant::i4(70000)));
    assert_eq!(p.single_error(), "ServerPort: port 70000 is not in 1..65535");
    let text: Vec<u16> = "80".encode_utf16().collect();
    assert!(!p.set("ServerPort", Variant::wstr(&text)));
    assert_eq!(p.single_error(), "ServerPort: expected a whole Number (Число), got String (Строка)");
    assert_eq!(p.get_number("ServerPort"), 9099);

    let bad: Vec<u16> = "67ZB".encode_utf16().collect();
    assert!(!p.set("KeyID", Variant::wstr(&bad)));
    assert_eq!(p.single_error(), "KeyID: series `67ZB` is not 4 hex digits");
    assert_eq!(p.get_number("LastErrorCode"), 5);
    assert_eq!(p.get_string("LastError"), "KeyID: series `67ZB` is not 4 hex digits");
    assert!(!p.set("KeyID", Variant::with_vt(12345)));
    assert_eq!(p.single_error(), "KeyID: unsupported value type (variant type code 12345)");
    p.finish();
}

#[test]
fn methods_are_described_and_called() {
    let p = Platform::new();
    let a = &p.addin;
    assert_eq!(a.n_methods(), 8);
    assert_eq!(a.find_method("ОТКРЫТЬОБЪЕКТ"), a.find_method("OpenObject"));
    let reset = a.find_method("СброситьОшибку");
    assert_eq!(a.n_params(reset), 0);
    assert!(!a.has_ret(reset));
    assert!(!a.param_default(reset, 0).0);
    assert!(a.call_proc(reset, &mut []));
    let (ok, ret) = a.call_func(reset, &mut []);
    assert!(ok);
    assert_eq!(ret.vt, VT_EMPTY);
    assert!(!a.call_proc(reset, &mut [Variant::i4(1)]));
    assert_eq!(p.single_error(), "method `ResetError` takes 0 parameters, the platform passed 1");
    assert!(!a.call_proc(50, &mut []));
    assert_eq!(p.single_error(), "there is no method number 50");
    // The last refusal stays readable (BadRequest = 5) until ResetError.
    assert_eq!(p.get_number("LastErrorCode"), 5);
    assert_eq!(p.get_string("ОписаниеОшибки"), "there is no method number 50");
    assert!(a.call_proc(reset, &mut []));
    assert_eq!(p.get_number("КодОшибки"), 0);
    assert_eq!(p.get_string("LastError"), "");
    p.finish();
}

#[test]
fn a_null_this_returns_the_safe_default() {
    let p = Platform::new();
    let (_, init_done) = p.addin.init_done();
    let (_, language) = p.addin.language();
    let null = std::ptr::null_mut();
    // SAFETY: the add-in must check `this` for NULL before touching it.
    unsafe {
        assert_eq!((init_done.get_info)(null), 0);
        assert!(!(init_done.init)(null, p.host.as_ptr()));
        assert_eq!((language.find_prop)(null, wide("Version").as_ptr()), -1);
        assert!((language.get_prop_name)(null, 0, 0).is_null());
        assert!(!(language.get_prop_val)(null, 0, &mut Variant::empty()));
        assert_eq!((language.find_prop)(p.addin.language().0, std::ptr::null()), -1);
        assert!(!(language.get_prop_val)(p.addin.language().0, 0, std::ptr::null_mut()));
        assert_eq!(p.single_error(), "the platform passed a NULL pointer for pvarPropVal");
        assert!(!(language.set_prop_val)(p.addin.language().0, 1, std::ptr::null_mut()));
        assert_eq!(p.single_error(), "the platform passed a NULL pointer for varPropVal");
    }
    p.finish();
}

#[test]
fn destroy_without_done_still_finishes_and_frees() {
    let (mem, host) = (Memory::new(), Host::new());
    let mut object = create("Licence");
    let addin = Addin { object };
    assert!(addin.set_mem_manager(&mem));
    assert!(addin.init(&host));
    // SAFETY: our live object.
    assert_eq!(unsafe { DestroyObject(&mut object) }, 0);
    assert!(object.is_null());
    assert_eq!(mem.outstanding(), 0);
}
