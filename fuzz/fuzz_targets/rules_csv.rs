//! The responsibility list's CSV import (`minyi import rules`): any bytes are read into rows or
//! refused with a line-numbered error; rows read round-trip through the CSV writer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minyi_store::{RuleRow, read_csv, write_csv};

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = read_csv::<RuleRow>(data) else {
        return;
    };
    let mut written = Vec::new();
    write_csv(&rows, &mut written).expect("rows read can be written");
    if rows.is_empty() {
        return;
    }
    let again: Vec<RuleRow> = read_csv(written.as_slice()).expect("written rows read back");
    assert_eq!(again, rows);
});
