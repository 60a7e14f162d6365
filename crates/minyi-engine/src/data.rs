//! Labelled examples and their CSV form (columns `title`, `detail`, `label`, any order, other
//! columns ignored; `title` may be empty or absent).

use crate::error::EngineError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The title (主题); often empty.
    pub title: String,
    /// The message body (详情).
    pub detail: String,
    /// The category: a first-level name (`城乡建设`) or a catalogue path (`城乡建设/物业管理`).
    pub label: String,
}

impl Example {
    /// An example from its three parts.
    pub fn new(
        title: impl Into<String>,
        detail: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            detail: detail.into(),
            label: label.into(),
        }
    }
}

/// Reads a labelled CSV (UTF-8 with a header row holding `detail` and `label`, and optionally
/// `title`). A record with an empty label is an error.
pub fn read_labelled_csv(path: impl AsRef<Path>) -> Result<Vec<Example>, EngineError> {
    let path = path.as_ref();
    let csv_error = |source| EngineError::Csv {
        path: path.to_owned(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(csv_error)?;
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
    };
    let title = column("title");
    let detail = column("detail").ok_or(EngineError::MissingColumn {
        path: path.to_owned(),
        column: "detail",
    })?;
    let label = column("label").ok_or(EngineError::MissingColumn {
        path: path.to_owned(),
        column: "label",
    })?;
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(csv_error)?;
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_owned();
        let example = Example {
            title: field(title),
            detail: field(Some(detail)),
            label: field(Some(label)).trim().to_owned(),
        };
        if example.label.is_empty() {
            return Err(EngineError::EmptyLabel {
                path: path.to_owned(),
                record: i as u64 + 1,
            });
        }
        out.push(example);
    }
    Ok(out)
}

/// Writes examples as a labelled CSV with the header `title,detail,label`.
pub fn write_labelled_csv(path: impl AsRef<Path>, examples: &[Example]) -> Result<(), EngineError> {
    let path = path.as_ref();
    let csv_error = |source| EngineError::Csv {
        path: path.to_owned(),
        source,
    };
    let mut writer = csv::Writer::from_path(path).map_err(csv_error)?;
    writer
        .write_record(["title", "detail", "label"])
        .map_err(csv_error)?;
    for e in examples {
        writer
            .write_record([&e.title, &e.detail, &e.label])
            .map_err(csv_error)?;
    }
    writer.flush().map_err(|source| EngineError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_keeps_empty_titles_and_ignores_extra_columns() -> Result<(), EngineError> {
        let dir = tempfile::tempdir().map_err(|source| EngineError::Io {
            path: "tmp".into(),
            source,
        })?;
        let path = dir.path().join("a.csv");
        std::fs::write(
            &path,
            "id,title,detail,label\n1,,\"路灯坏了，请修\",城乡建设\n2,噪音,夜间施工,环境保护\n",
        )
        .map_err(|source| EngineError::Io {
            path: path.clone(),
            source,
        })?;
        let examples = read_labelled_csv(&path)?;
        assert_eq!(
            examples,
            vec![
                Example::new("", "路灯坏了，请修", "城乡建设"),
                Example::new("噪音", "夜间施工", "环境保护")
            ]
        );
        let copy = dir.path().join("b.csv");
        write_labelled_csv(&copy, &examples)?;
        assert_eq!(read_labelled_csv(&copy)?, examples);
        Ok(())
    }

    #[test]
    fn csv_without_label_column_is_refused() {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else { return };
        let path = dir.path().join("a.csv");
        assert!(std::fs::write(&path, "title,detail\n,x\n").is_ok());
        assert!(matches!(
            read_labelled_csv(&path),
            Err(EngineError::MissingColumn {
                column: "label",
                ..
            })
        ));
    }
}
