//! The working calendar's import (`PUT /api/v1/admin/calendar`): the day-overrides CSV and the
//! working-hours text. Any input parses or is refused with a line-numbered error; what parses
//! round-trips through the writer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minyi_domain::calendar::{WorkCalendar, WorkingHours};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (hours, csv) = input.split_once('\n').unwrap_or((input, ""));
    if let Ok(parsed) = WorkingHours::parse(hours) {
        let again = WorkingHours::parse(&parsed.to_string()).expect("written hours parse");
        assert_eq!(again, parsed);
    }
    for text in [input, csv] {
        if let Ok(overrides) = WorkCalendar::parse_overrides_csv(text) {
            let written = WorkCalendar::overrides_to_csv(&overrides);
            let again = WorkCalendar::parse_overrides_csv(&written).expect("written CSV parses");
            assert_eq!(again, overrides);
        }
    }
});
