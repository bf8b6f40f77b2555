//! USB licence keys and blanks: the device protocol (see `USBKEY.md`), the host side of it, and a
//! software key that implements the device side.
