//! The engine's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the engine: reading data, training, model files.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be parsed or written.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// A labelled CSV lacks a required column.
    #[error("{path}: no column named {column:?} in the header")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: &'static str,
    },
    /// A labelled CSV row has an empty label.
    #[error("{path}: record {record} has an empty label")]
    EmptyLabel {
        /// The file.
        path: PathBuf,
        /// The 1-based record number (header excluded).
        record: u64,
    },
    /// Training needs examples of at least two labels.
    #[error("training needs at least two distinct labels, found {found}")]
    TooFewLabels {
        /// Distinct labels found.
        found: usize,
    },
    /// A training configuration value is out of range.
    #[error("invalid training configuration: {0}")]
    InvalidConfig(String),
    /// A model file is not a minyi-engine model, is of an unknown version, or is damaged.
    #[error("{path}: not a valid model file: {reason}")]
    BadModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
