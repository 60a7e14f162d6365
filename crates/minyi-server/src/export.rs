//! Tables as downloads (导出): CSV (UTF-8 with a byte-order mark, so spreadsheet programs read
//! the Chinese headers) and XLSX (one worksheet per table: SpreadsheetML in a stored zip).
//!
//! A [`Sheet`] is plain cells; the handlers build it from their JSON rows, so every list that has
//! an export shows the same columns as its JSON.

use crate::error::ApiError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A number shown with two decimals.
    Num(f64),
    /// A rate in `[0, 1]` shown as a percentage.
    Percent(f64),
    Empty,
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Cell::Empty, Cell::Num)
    }
}

/// A named table: a title (the worksheet name), headers and rows.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// The download formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    /// Parses `json` (default), `csv` or `xlsx`.
    pub fn parse(s: Option<&str>) -> Result<Format, ApiError> {
        match s {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(other) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_format",
                format!("不支持的导出格式 {other}，可选 json、csv、xlsx"),
                format!("unknown format {other}: json, csv or xlsx"),
            )),
        }
    }
}

fn export_failed() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "export_failed",
        "导出文件生成失败",
        "the file could not be generated",
    )
}

/// The first sheet as CSV bytes (UTF-8 with BOM).
pub fn csv_bytes(sheets: &[Sheet]) -> Result<Vec<u8>, ApiError> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::Writer::from_writer(&mut out);
        for (i, sheet) in sheets.iter().enumerate() {
            if i > 0 {
                // Tables after the first follow a blank line and their title.
                w.write_record([""]).map_err(|_| export_failed())?;
                w.write_record([sheet.title.as_str()])
                    .map_err(|_| export_failed())?;
            }
            w.write_record(&sheet.headers)
                .map_err(|_| export_failed())?;
            for row in &sheet.rows {
                let record: Vec<String> = row
                    .iter()
                    .map(|c| match c {
                        Cell::Text(s) => s.clone(),
                        Cell::Int(i) => i.to_string(),
                        Cell::Num(f) => format!("{f:.2}"),
                        Cell::Percent(f) => format!("{:.2}%", f * 100.0),
                        Cell::Empty => String::new(),
                    })
                    .collect();
                w.write_record(&record).map_err(|_| export_failed())?;
            }
        }
        w.flush().map_err(|_| export_failed())?;
    }
    Ok(out)
}

/// Escapes text for XML content and attributes; drops characters XML 1.0 cannot carry.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// The spreadsheet column name of a 0-based index (`A`, …, `Z`, `AA`, …).
fn column_name(mut col: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// One worksheet as SpreadsheetML: strings inline, numbers with the styles of `STYLES`
/// (1 bold header, 2 percentage, 3 two decimals).
fn sheet_xml(sheet: &Sheet) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet \
         xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><cols>\
         <col min=\"1\" max=\"2\" width=\"24\" customWidth=\"1\"/></cols><sheetData>",
    );
    let header = sheet.headers.iter().cloned().map(Cell::Text);
    let rows = std::iter::once(header.collect::<Vec<_>>()).chain(sheet.rows.iter().cloned());
    for (r, row) in rows.enumerate() {
        xml.push_str(&format!("<row r=\"{}\">", r + 1));
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{}", column_name(c), r + 1);
            let bold = if r == 0 { " s=\"1\"" } else { "" };
            match cell {
                Cell::Text(t) => xml.push_str(&format!(
                    "<c r=\"{at}\" t=\"inlineStr\"{bold}><is><t xml:space=\"preserve\">{}</t></is></c>",
                    xml_escape(t)
                )),
                Cell::Int(i) => xml.push_str(&format!("<c r=\"{at}\"><v>{i}</v></c>")),
                Cell::Num(f) if f.is_finite() => {
                    xml.push_str(&format!("<c r=\"{at}\" s=\"3\"><v>{f}</v></c>"))
                }
                Cell::Percent(f) if f.is_finite() => {
                    xml.push_str(&format!("<c r=\"{at}\" s=\"2\"><v>{f}</v></c>"))
                }
                _ => {}
            }
        }
        xml.push_str("</row>");
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

const STYLES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
<fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font>\
<font><b/><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>\
<fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill></fills>\
<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
<cellXfs count=\"4\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
<xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>\
<xf numFmtId=\"10\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/>\
<xf numFmtId=\"2\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/></cellXfs>\
<cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>\
</styleSheet>";

/// CRC-32 (IEEE), as the zip format needs it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive of stored (uncompressed) entries: the container format of XLSX. Written here
/// rather than with a zip crate because every zip writer in the registry turns on `flate2`
/// features that the rest of the workspace shares, which rebuilds most of the dependency tree.
fn stored_zip(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let u16_of = |n: usize| u16::try_from(n).map_err(|_| export_failed());
    let u32_of = |n: usize| u32::try_from(n).map_err(|_| export_failed());
    for (name, data) in entries {
        let offset = u32_of(out.len())?;
        let crc = crc32(data);
        let size = u32_of(data.len())?;
        let name_len = u16_of(name.len())?;
        // Version 2.0, flag bit 11 (UTF-8 names), stored, time/date 1980-01-01 00:00.
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&20u16.to_le_bytes());
            buf.extend_from_slice(&0x0800u16.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
            buf.extend_from_slice(&0x0021u16.to_le_bytes());
            buf.extend_from_slice(&crc.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&name_len.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        common(&mut central);
        central.extend_from_slice(&[0u8; 8]); // comment length, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = u32_of(out.len())?;
    let central_size = u32_of(central.len())?;
    let n = u16_of(entries.len())?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

/// The sheets as an XLSX workbook (Office Open XML SpreadsheetML, one worksheet per table).
pub fn xlsx_bytes(sheets: &[Sheet]) -> Result<Vec<u8>, ApiError> {
    let n = sheets.len();
    let mut types = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types \
         xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
         <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>",
    );
    let mut workbook = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<workbook \
         xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>",
    );
    let mut rels = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships \
         xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    );
    let mut entries = Vec::new();
    let mut used = std::collections::HashSet::new();
    for (i, sheet) in sheets.iter().enumerate() {
        let k = i + 1;
        types.push_str(&format!(
            "<Override PartName=\"/xl/worksheets/sheet{k}.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        ));
        // Worksheet names: unique, at most 31 characters, none of []:*?/\ .
        let mut name: String = sheet
            .title
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(28)
            .collect();
        if name.is_empty() || !used.insert(name.clone()) {
            name = format!("{name}{k}");
            used.insert(name.clone());
        }
        workbook.push_str(&format!(
            "<sheet name=\"{}\" sheetId=\"{k}\" r:id=\"rId{k}\"/>",
            xml_escape(&name)
        ));
        rels.push_str(&format!(
            "<Relationship Id=\"rId{k}\" \
             Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" \
             Target=\"worksheets/sheet{k}.xml\"/>"
        ));
        entries.push((
            format!("xl/worksheets/sheet{k}.xml"),
            sheet_xml(sheet).into_bytes(),
        ));
    }
    types.push_str("</Types>");
    workbook.push_str("</sheets></workbook>");
    rels.push_str(&format!(
        "<Relationship Id=\"rId{}\" \
         Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" \
         Target=\"styles.xml\"/></Relationships>",
        n + 1
    ));
    let root_rels = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships \
         xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
         <Relationship Id=\"rId1\" \
         Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" \
         Target=\"xl/workbook.xml\"/></Relationships>";
    let mut all = vec![
        ("[Content_Types].xml".to_string(), types.into_bytes()),
        ("_rels/.rels".to_string(), root_rels.as_bytes().to_vec()),
        ("xl/workbook.xml".to_string(), workbook.into_bytes()),
        ("xl/_rels/workbook.xml.rels".to_string(), rels.into_bytes()),
        ("xl/styles.xml".to_string(), STYLES.as_bytes().to_vec()),
    ];
    all.extend(entries);
    stored_zip(&all)
}

/// The sheets as a download named `{stem}.csv` or `{stem}.xlsx` (ASCII stem).
pub fn download(format: Format, stem: &str, sheets: &[Sheet]) -> Result<Response, ApiError> {
    let (bytes, mime, ext) = match format {
        Format::Csv => (csv_bytes(sheets)?, "text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            xlsx_bytes(sheets)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        Format::Json => return Err(export_failed()),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sheet() -> Sheet {
        Sheet {
            title: "单位排名".into(),
            headers: vec!["单位".into(), "得分".into(), "满意率".into()],
            rows: vec![vec![
                Cell::Text("福田区住建局, \"一科\"".into()),
                Cell::Num(91.256),
                Cell::Percent(0.5),
            ]],
        }
    }

    #[test]
    fn csv_has_a_bom_quotes_commas_and_formats_rates() {
        let bytes = csv_bytes(&[sheet()]).unwrap();
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(
            text,
            "单位,得分,满意率\n\"福田区住建局, \"\"一科\"\"\",91.26,50.00%\n"
        );
    }

    #[test]
    fn crc32_and_column_names_match_their_references() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(27 * 26), "AAA");
    }

    #[test]
    fn xlsx_is_a_zip_with_the_workbook_parts_and_escaped_cells() {
        let bytes = xlsx_bytes(&[sheet(), sheet()]).unwrap();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let text = String::from_utf8_lossy(&bytes);
        for part in [
            "[Content_Types].xml",
            "xl/workbook.xml",
            "xl/styles.xml",
            "xl/worksheets/sheet2.xml",
        ] {
            assert!(text.contains(part), "{part}");
        }
        assert!(text.contains("福田区住建局, &quot;一科&quot;"));
        assert!(text.contains("<c r=\"C2\" s=\"2\"><v>0.5</v></c>"));
        // Two sheets of the same title get distinct names.
        assert!(text.contains("name=\"单位排名\"") && text.contains("name=\"单位排名2\""));
        // The end-of-central-directory record counts 7 entries (5 parts + 2 sheets).
        let eocd = &bytes[bytes.len() - 22..];
        assert_eq!(&eocd[..4], &0x0605_4b50u32.to_le_bytes());
        assert_eq!(u16::from_le_bytes([eocd[10], eocd[11]]), 7);
    }
}
