//! Tracking codes: parsing what a person types never panics; a parsed code parses again to
//! itself; every code drawn from entropy parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minyi_domain::personal::TrackingCode;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 16 {
        let mut entropy = [0u8; 16];
        entropy.copy_from_slice(&data[..16]);
        let drawn = TrackingCode::from_entropy(entropy);
        assert_eq!(TrackingCode::parse(drawn.as_str()).as_ref(), Ok(&drawn));
    }
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = TrackingCode::parse(input) {
        assert_eq!(code.as_str().len(), TrackingCode::RANDOM_LEN + 1);
        assert_eq!(TrackingCode::parse(code.as_str()).as_ref(), Ok(&code));
        assert_eq!(
            TrackingCode::parse(&code.as_str().to_ascii_lowercase()).as_ref(),
            Ok(&code)
        );
    }
});
