//! The two wire formats of Open311 from one value: JSON as is, and XML with the spec's element
//! names, where a list `things` holds `thing` elements (`service_requests` holds `request`).

use serde_json::Value;
use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// The order of fields in XML, as the spec lists them; fields not named here come last, in
/// alphabetical order.
const FIELD_ORDER: &[&str] = &[
    "changeset",
    "contact",
    "key_service",
    "specification",
    "url",
    "service_request_id",
    "token",
    "status",
    "extended_status",
    "status_notes",
    "service_name",
    "service_code",
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
    "key",
    "name",
    "metadata",
    "type",
    "keywords",
    "group",
    "attributes",
    "agency_responsible",
    "service_notice",
    "account_id",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
    "endpoints",
    "formats",
];

/// The element name of one item of a list element.
pub fn item_name(list: &str) -> &str {
    match list {
        "service_requests" => "request",
        // A list named `s` keeps its name for its items: an element name cannot be empty
        // (found by the `open311_xml` fuzz target).
        other => match other.strip_suffix('s') {
            Some(singular) if !singular.is_empty() => singular,
            _ => other,
        },
    }
}

fn rank(field: &str) -> usize {
    FIELD_ORDER
        .iter()
        .position(|f| *f == field)
        .unwrap_or(FIELD_ORDER.len())
}

type XmlWriter = Writer<Cursor<Vec<u8>>>;

/// Whether XML 1.0 can carry a character (production `Char`): not the C0 controls but tab, line
/// feed and carriage return, not U+FFFE or U+FFFF (surrogates cannot occur in a `str`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text with every character XML cannot carry replaced by U+FFFD, so that the document stays
/// well-formed whatever was stored (found by the `open311_xml` fuzz target with U+FFFF).
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(
            text.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

fn write(w: &mut XmlWriter, name: &str, value: &Value) -> std::io::Result<()> {
    let text = match value {
        Value::Null => return w.write_event(Event::Empty(BytesStart::new(name))),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            let item = item_name(name);
            for v in items {
                write(w, item, v)?;
            }
            return w.write_event(Event::End(BytesEnd::new(name)));
        }
        Value::Object(fields) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            let mut ordered: Vec<(&String, &Value)> = fields.iter().collect();
            ordered.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
            for (k, v) in ordered {
                write(w, k, v)?;
            }
            return w.write_event(Event::End(BytesEnd::new(name)));
        }
    };
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(&xml_chars(&text))))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// The XML document for `value` under the root element `root`, with the declaration first.
pub fn to_xml(root: &str, value: &Value) -> Vec<u8> {
    let mut w = Writer::new(Cursor::new(Vec::new()));
    // Writing into memory cannot fail.
    let _ = w
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .and_then(|()| write(&mut w, root, value));
    w.into_inner().into_inner()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn list_items_are_named_by_the_singular_and_never_by_an_empty_name() {
        assert_eq!(item_name("service_requests"), "request");
        assert_eq!(item_name("values"), "value");
        assert_eq!(item_name("s"), "s");
        assert_eq!(item_name("data"), "data");
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        assert_eq!(xml_chars("a\u{FFFF}b\u{1}c\td"), "a\u{FFFD}b\u{FFFD}c\td");
        assert_eq!(xml_chars("深南大道 𠀀"), "深南大道 𠀀");
        let doc = String::from_utf8(to_xml("r", &serde_json::json!({"t": "x\u{FFFE}"}))).unwrap();
        assert!(doc.contains("<t>x\u{FFFD}</t>"), "{doc}");
    }

    #[test]
    fn lists_hold_singular_items_and_text_is_escaped() {
        let value = serde_json::json!([
            {"service_name": "a<b & c", "service_code": "01", "metadata": true, "group": null}
        ]);
        let xml = String::from_utf8(to_xml("services", &value)).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><services><service>\
             <service_name>a&lt;b &amp; c</service_name><service_code>01</service_code>\
             <metadata>true</metadata><group/></service></services>"
        );
        assert_eq!(item_name("service_requests"), "request");
        assert_eq!(item_name("attributes"), "attribute");
    }
}
