//! The model file (format `minyi-engine`, version 2; version 1 files are refused: retrain).
//!
//! ```text
//! line 1   UTF-8 JSON header, then '\n':
//!          {"format":"minyi-engine","version":2,"model":"linear-ovr-svm",
//!           "labels":[…],"n_features":N,"temperature":T,"features":{FeatureConfig},
//!           "user_words":[…],"explanation_len":8,"trained_on":n,
//!           "body_bytes":B,"body_fnv1a64":"<16 hex digits>"}
//! body     B bytes, all integers and floats little-endian:
//!          N × (u32 byte length, UTF-8 feature key)     keys sorted, see crate::features
//!          N × f32                                      IDF per feature
//!          N × L × f32                                  weights, feature-major (L = labels)
//!          L × f32                                      bias per label
//! ```
//!
//! The header alone tells what a file is (`head -1 model.bin`). A reader refuses another
//! `format`, a `version` it does not know, and a body whose length or FNV-1a 64 checksum
//! differs from the header's. Files are written to a temporary sibling and renamed into place.

use crate::error::EngineError;
use crate::features::{FeatureConfig, Vocabulary};
use crate::model::Model;
use crate::segment::Segmenter;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` field of every model file.
pub const FORMAT: &str = "minyi-engine";
/// The version this build writes and reads.
pub const VERSION: u32 = 2;
const MODEL_KIND: &str = "linear-ovr-svm";

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    model: String,
    labels: Vec<String>,
    n_features: usize,
    temperature: f64,
    features: FeatureConfig,
    user_words: Vec<String>,
    explanation_len: usize,
    trained_on: usize,
    body_bytes: u64,
    body_fnv1a64: String,
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Model {
    /// The model file's bytes (see the module documentation for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.vocabulary.len() * (16 + 4 * self.labels.len()));
        for key in self.vocabulary.keys() {
            body.extend_from_slice(&(key.len() as u32).to_le_bytes());
            body.extend_from_slice(key.as_bytes());
        }
        for v in self
            .vocabulary
            .idf()
            .iter()
            .copied()
            .chain(self.weights())
            .chain(self.bias.iter().copied())
        {
            body.extend_from_slice(&v.to_le_bytes());
        }
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            model: MODEL_KIND.to_owned(),
            labels: self.labels.clone(),
            n_features: self.vocabulary.len(),
            temperature: self.temperature,
            features: self.features.clone(),
            user_words: self.segmenter.user_words().to_vec(),
            explanation_len: self.explanation_len,
            trained_on: self.trained_on,
            body_bytes: body.len() as u64,
            body_fnv1a64: format!("{:016x}", fnv1a64(&body)),
        };
        // A struct of strings and numbers always serialises.
        let mut out = serde_json::to_vec(&header).unwrap_or_default();
        out.push(b'\n');
        out.extend_from_slice(&body);
        out
    }

    /// Writes the model file to `path` (through a temporary sibling and a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), EngineError> {
        let path = path.as_ref();
        let io = |source| EngineError::Io {
            path: path.to_owned(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, self.to_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a model file written by [`Model::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, EngineError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| EngineError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|reason| EngineError::BadModelFile {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses a model file's bytes; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let newline = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("no header line")?;
        let header: Header = serde_json::from_slice(&bytes[..newline])
            .map_err(|e| format!("header is not a minyi-engine JSON header: {e}"))?;
        if header.format != FORMAT {
            return Err(format!("format is {:?}, not {FORMAT:?}", header.format));
        }
        if header.version != VERSION {
            return Err(format!(
                "version {} is not supported (this build reads {VERSION}); retrain the model with \
                 `minyi engine train`",
                header.version
            ));
        }
        if header.model != MODEL_KIND {
            return Err(format!("model kind {:?} is not supported", header.model));
        }
        let body = &bytes[newline + 1..];
        if body.len() as u64 != header.body_bytes {
            return Err(format!(
                "body is {} bytes, header says {}",
                body.len(),
                header.body_bytes
            ));
        }
        if format!("{:016x}", fnv1a64(body)) != header.body_fnv1a64 {
            return Err("body checksum mismatch (damaged file)".to_owned());
        }
        let n = header.n_features;
        let n_classes = header.labels.len();
        let mut reader = Body { bytes: body, at: 0 };
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            let len = reader.u32()? as usize;
            let raw = reader.take(len)?;
            keys.push(
                std::str::from_utf8(raw)
                    .map_err(|_| "feature key is not UTF-8")?
                    .to_owned(),
            );
        }
        let idf = reader.f32s(n)?;
        let weights = reader.f32s(n * n_classes)?;
        let bias = reader.f32s(n_classes)?;
        if reader.at != body.len() {
            return Err("trailing bytes after the bias".to_owned());
        }
        let segmenter = Segmenter::with_words(&header.user_words);
        Ok(Model {
            labels: header.labels,
            features: header.features,
            table: crate::model::pack(&idf, &weights, n_classes),
            vocabulary: Vocabulary::from_parts(keys, idf),
            bias,
            temperature: header.temperature,
            segmenter,
            explanation_len: header.explanation_len,
            trained_on: header.trained_on,
        })
    }
}

struct Body<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Body<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("body is truncated")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let raw = self.take(4)?;
        Ok(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, String> {
        let raw = self.take(n.checked_mul(4).ok_or("body is truncated")?)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrainConfig;
    use crate::model::tests::toy_examples;

    fn toy_model() -> Result<Model, EngineError> {
        let config = TrainConfig {
            features: FeatureConfig {
                min_df: 1,
                ..FeatureConfig::default()
            },
            user_words: vec!["补课费".into()],
            ..TrainConfig::default()
        };
        Model::train(&toy_examples(), &config)
    }

    #[test]
    fn save_then_load_predicts_identically() -> Result<(), EngineError> {
        let model = toy_model()?;
        let dir = tempfile::tempdir().map_err(|source| EngineError::Io {
            path: "tmp".into(),
            source,
        })?;
        let path = dir.path().join("model.bin");
        model.save(&path)?;
        let loaded = Model::load(&path)?;
        assert_eq!(loaded.labels(), model.labels());
        assert_eq!(loaded.temperature(), model.temperature());
        assert_eq!(loaded.segmenter().user_words(), ["补课费".to_owned()]);
        for text in ["小区路灯不亮", "学校乱收补课费", "河道污染"] {
            assert_eq!(loaded.predict("", text, 3), model.predict("", text, 3));
        }
        assert_eq!(loaded.to_bytes(), model.to_bytes());
        Ok(())
    }

    #[test]
    fn header_line_is_self_describing_json() -> Result<(), EngineError> {
        let bytes = toy_model()?.to_bytes();
        let newline = bytes.iter().position(|&b| b == b'\n').unwrap_or(0);
        let header: serde_json::Value =
            serde_json::from_slice(&bytes[..newline]).unwrap_or_default();
        assert_eq!(header["format"], "minyi-engine");
        assert_eq!(header["version"], VERSION);
        Ok(())
    }

    #[test]
    fn damaged_or_foreign_files_are_refused() -> Result<(), EngineError> {
        let bytes = toy_model()?.to_bytes();
        let mut damaged = bytes.clone();
        if let Some(last) = damaged.last_mut() {
            *last ^= 0xff;
        }
        assert!(Model::from_bytes(&damaged).is_err_and(|e| e.contains("checksum")));
        let truncated = &bytes[..bytes.len() - 3];
        assert!(Model::from_bytes(truncated).is_err());
        let text = String::from_utf8_lossy(&bytes).replace("\"version\":2", "\"version\":9");
        assert!(Model::from_bytes(text.as_bytes()).is_err_and(|e| e.contains("version 9")));
        // A version-1 file (before the title block and the packed table) is refused by name.
        let old = String::from_utf8_lossy(&bytes).replace("\"version\":2", "\"version\":1");
        assert!(
            Model::from_bytes(old.as_bytes())
                .is_err_and(|e| e.contains("version 1 is not supported") && e.contains("retrain"))
        );
        assert!(Model::from_bytes(b"{\"format\":\"other\"}\n").is_err());
        Ok(())
    }
}
