//! Open311 form and query-string parsing: any input is either refused with a `Fail` (400) or
//! parsed; reading single values, lists and `attribute[code]` never panics, and what parses once
//! parses the same after being encoded again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minyi_server::open311::form::Params;

/// Encodes a decoded component back into the form encoding.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(params) = Params::parse(input) else {
        return;
    };
    for name in [
        "api_key",
        "service_code",
        "description",
        "lat",
        "long",
        "status",
    ] {
        let _ = params.get(name);
        let _ = params.list(name);
    }
    let attributes = params.attributes();
    if let Ok(attributes) = &attributes {
        for (code, multi, values) in attributes {
            assert!(!values.is_empty(), "empty attribute {code} kept");
            assert!(
                *multi || values.len() == 1,
                "single attribute {code} with many values"
            );
        }
    }
    // Re-encoding the decoded pairs gives the same parameters.
    let again: Vec<String> = params
        .pairs()
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let reparsed = Params::parse(&again.join("&")).expect("re-encoded parameters parse");
    assert_eq!(reparsed.pairs(), params.pairs());
    assert_eq!(reparsed.attributes().is_ok(), attributes.is_ok());
});
