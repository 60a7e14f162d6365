//! The enterprise CSV import: rows are read (or refused with a line-numbered error), then each
//! row's fields go through the same checks as `Store::import_enterprises` (credit code, size,
//! contact name and phone); none of them panics and what they accept is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minyi_domain::enterprise::{CreditCode, EnterpriseSize};
use minyi_domain::personal::{PersonName, PhoneNumber};
use minyi_store::{EnterpriseRow, read_csv};

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = read_csv::<EnterpriseRow>(data) else {
        // The fields' checks also get the raw text, so they are fuzzed on every input.
        if let Ok(text) = std::str::from_utf8(data) {
            check_fields(text, text, text, text);
        }
        return;
    };
    for row in &rows {
        check_fields(
            &row.credit_code,
            &row.size,
            row.contact_name.as_deref().unwrap_or(""),
            row.contact_phone.as_deref().unwrap_or(""),
        );
    }
});

fn check_fields(code: &str, size: &str, name: &str, phone: &str) {
    if let Ok(parsed) = CreditCode::parse(code) {
        assert_eq!(parsed.as_str().len(), 18);
        assert_eq!(CreditCode::parse(parsed.as_str()).as_ref(), Ok(&parsed));
        assert_eq!(
            CreditCode::complete(&parsed.as_str()[..17]).as_ref(),
            Ok(&parsed)
        );
    }
    if let Some(size) = EnterpriseSize::parse(size) {
        assert_eq!(EnterpriseSize::parse(size.as_str()), Some(size));
    }
    if let Ok(name) = PersonName::parse(name) {
        assert!(!name.masked().is_empty());
        assert_eq!(PersonName::parse(name.reveal()).as_ref(), Ok(&name));
    }
    if let Ok(phone) = PhoneNumber::parse(phone) {
        assert_eq!(phone.last_four().len(), 4);
        assert_eq!(PhoneNumber::parse(phone.reveal()).as_ref(), Ok(&phone));
        assert!(!phone.masked().contains(phone.reveal()));
    }
}
