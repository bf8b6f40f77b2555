//! The vendor's side for the server's integration tests: a vendor store driven through the real
//! `licenceedit`, and the real `licencecentre` serving it on a loopback port it announces. Both live
//! in the test kit, which the devkit's own tests share.
#![allow(unused_imports)]

pub use licence_testkit::vendor::{Centre, Vendor};
