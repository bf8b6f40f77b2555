//! The one panic boundary. Every function the platform can call runs its body through [`boundary`]:
//! an `Err` or a panic becomes the entry's safe default (false, 0, -1, NULL) and is handed to the
//! entry's reporter (`AddError` when the platform's connection is known). Nothing unwinds into C++.
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::Error;

/// Runs `body`; on `Err` or panic, reports the error through `report` and returns `default`.
pub fn boundary<R>(
    entry: &'static str,
    default: R,
    report: impl FnOnce(&Error),
    body: impl FnOnce() -> Result<R, Error>,
) -> R {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error,
        Err(payload) => Error::Panic { entry, message: panic_message(payload.as_ref()) },
    };
    // The reporter calls into the platform; a panic there must not escape either.
    let _ = catch_unwind(AssertUnwindSafe(|| report(&error)));
    default
}

/// [`boundary`] for the exports that have no object and so nobody to report to.
pub fn unreported<R>(entry: &'static str, default: R, body: impl FnOnce() -> Result<R, Error>) -> R {
    boundary(entry, default, |_| {}, body)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn a_panic_becomes_the_default_and_is_reported() {
        let reported = RefCell::new(None);
        let r: i64 = boundary("FindProp", -1, |e| *reported.borrow_mut() = Some(e.clone()), || panic!("boom {}", 7));
        assert_eq!(r, -1);
        assert_eq!(reported.into_inner(), Some(Error::Panic { entry: "FindProp", message: "boom 7".to_owned() }));
    }

    #[test]
    fn an_error_is_reported_and_a_success_is_not() {
        let count = RefCell::new(0);
        assert!(!boundary("SetPropVal", false, |_| *count.borrow_mut() += 1, || Err(Error::NoMemoryManager)));
        assert!(boundary("SetPropVal", false, |_| *count.borrow_mut() += 1, || Ok(true)));
        assert_eq!(count.into_inner(), 1);
    }

    #[test]
    fn a_panicking_reporter_is_contained() {
        assert_eq!(unreported("GetInfo", 0, || Ok(2000)), 2000);
        assert_eq!(boundary("Init", 5, |_| panic!("reporter"), || Err(Error::NoMemoryManager)), 5);
    }
}
