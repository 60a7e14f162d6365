//! Open311 XML rendering: for any JSON value (strings as a client or an administrator could
//! type them), `to_xml` writes a well-formed XML 1.0 document (checked by a strict parser) that
//! holds every string's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minyi_server::open311::xml::to_xml;
use serde_json::Value;

/// Field names are the server's own identifiers, never input: keep the fuzzer's keys to that
/// shape so that the test is about the text.
fn tame_keys(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| {
                    let mut key: String = k
                        .chars()
                        .filter(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if key.is_empty() {
                        key.push('x');
                    }
                    (key, tame_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(tame_keys).collect()),
        other => other,
    }
}

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        // Numbers and booleans are written as their JSON text.
        Value::Number(n) => out.push(n.to_string()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let value = tame_keys(value);
    let xml = to_xml("service_requests", &value);
    let text = String::from_utf8(xml).expect("the document is UTF-8");
    let doc = match roxmltree::Document::parse(&text) {
        Ok(doc) => doc,
        Err(e) => panic!("not well-formed XML ({e}): {text:?}"),
    };
    // Every text node of the document comes from one of the strings written (XML parsers
    // read every line end as `\n`; characters XML cannot carry may be replaced by U+FFFD).
    let mut written = Vec::new();
    strings(&value, &mut written);
    let normalize = |s: &str| s.replace("\r\n", "\n").replace('\r', "\n");
    // A carriage return written as a character reference (`&#13;`) is read back as itself, a
    // literal one as a line feed: a text node may match either form.
    let written: Vec<String> = written
        .iter()
        .flat_map(|s| [s.clone(), normalize(s)])
        .collect();
    for node in doc.descendants().filter(|n| n.is_text()) {
        let t = node.text().unwrap_or_default();
        assert!(
            t.contains('\u{FFFD}') || written.iter().any(|s| s.contains(t)),
            "text {t:?} was not in the input"
        );
    }
});
