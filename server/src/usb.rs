//! USB licence keys and blanks plugged into this computer, found through libusb.
