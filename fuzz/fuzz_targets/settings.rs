//! Settings parsing over arbitrary TOML: never panics; it either refuses with a message or
//! yields settings whose derived values can be used.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rft_core::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Settings::parse(text) {
        Ok(settings) => {
            let _ = settings.terms();
            let code = rft_core::code::Code::parse("7QK2A9").expect("a valid code");
            assert!(settings.link_for(&code).ends_with("/r/7QK2A9"));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
