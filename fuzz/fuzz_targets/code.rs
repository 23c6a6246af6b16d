//! The code parser over arbitrary text: never panics, and whatever it accepts is a canonical
//! six-character code that parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rft_core::code::Code;

const ALPHABET: &str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(code) = Code::parse(text) {
        let canonical = code.as_str();
        assert_eq!(canonical.len(), 6);
        assert!(canonical.chars().all(|c| ALPHABET.contains(c)), "{canonical:?} left the alphabet");
        assert_eq!(Code::parse(canonical).as_ref(), Ok(&code));
        assert!(text.trim().eq_ignore_ascii_case(canonical));
    }
});
