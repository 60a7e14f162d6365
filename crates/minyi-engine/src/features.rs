//! Text normalisation and TF-IDF features: character n-grams plus jieba word unigrams and
//! bigrams, with sublinear term frequency, smoothed IDF and L2 normalisation.
//!
//! Every feature has a *key*: one ASCII kind byte followed by its text — `c` for a character
//! n-gram (`c路灯`), `w` for a word (`w路灯`), `b` for a word bigram (`b路灯 维修`). Keys are what
//! the model file stores; [`display`] strips the kind for explanations.
//!
//! A document vector is built in two blocks, characters and words, each L2-normalised and scaled
//! by its weight ([`FeatureConfig::char_weight`], [`FeatureConfig::word_weight`]); the
//! concatenation is L2-normalised again.

use crate::segment::Segmenter;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// How text becomes features. Stored in the model file so inference matches training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureConfig {
    /// Characters of title + detail kept (the rest is ignored), bounding inference time.
    pub max_chars: usize,
    /// Shortest character n-gram (0 disables character n-grams).
    pub char_min: usize,
    /// Longest character n-gram.
    pub char_max: usize,
    /// Whether jieba word unigrams are features.
    pub words: bool,
    /// Whether bigrams of adjacent jieba words are features.
    pub word_bigrams: bool,
    /// Minimum number of training documents a feature must occur in to be kept.
    pub min_df: u32,
    /// Weight of the character block before the final normalisation.
    pub char_weight: f32,
    /// Weight of the word block before the final normalisation.
    pub word_weight: f32,
    /// Whether ASCII digits are folded to `0` (so `2019年` and `2020年` share n-grams).
    pub fold_digits: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            max_chars: 1000,
            char_min: 1,
            char_max: 3,
            words: true,
            word_bigrams: true,
            min_df: 2,
            char_weight: 1.0,
            word_weight: 1.0,
            fold_digits: false,
        }
    }
}

/// Kind byte of character n-gram keys.
pub(crate) const KIND_CHAR: u8 = b'c';
/// Kind byte of word keys.
pub(crate) const KIND_WORD: u8 = b'w';
/// Kind byte of word-bigram keys.
pub(crate) const KIND_BIGRAM: u8 = b'b';

/// The text of a feature key without its kind byte: what an explanation shows.
pub fn display(key: &str) -> &str {
    key.get(1..).unwrap_or("")
}

/// Normalises a message: title and detail joined by a space, full-width ASCII folded to
/// half-width, the ideographic space to a space, runs of white space to one space, letters
/// lower-cased, optionally digits folded to `0`; at most `config.max_chars` characters.
pub fn normalise(title: &str, detail: &str, config: &FeatureConfig) -> String {
    let mut out = String::with_capacity((title.len() + detail.len() + 1).min(config.max_chars * 4));
    let mut count = 0usize;
    let mut last_space = true;
    let chars = title
        .chars()
        .chain(std::iter::once(' '))
        .chain(detail.chars());
    for c in chars {
        if count >= config.max_chars {
            break;
        }
        let c = match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
                count += 1;
            }
            continue;
        }
        last_space = false;
        let c = if config.fold_digits && c.is_ascii_digit() {
            '0'
        } else {
            c
        };
        if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        count += 1;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Calls `emit` with the key of every feature occurrence in the normalised `text` (repeats
/// included, so the caller counts term frequencies). `buf` is scratch space.
pub(crate) fn for_each_key(
    text: &str,
    segmenter: &Segmenter,
    config: &FeatureConfig,
    buf: &mut String,
    mut emit: impl FnMut(&str),
) {
    if config.char_min >= 1 && config.char_max >= config.char_min {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .collect();
        let n_chars = bounds.len() - 1;
        for n in config.char_min..=config.char_max {
            for start in 0..n_chars.saturating_sub(n - 1) {
                let gram = &text[bounds[start]..bounds[start + n]];
                if gram == " " {
                    continue;
                }
                buf.clear();
                buf.push(KIND_CHAR as char);
                buf.push_str(gram);
                emit(buf);
            }
        }
    }
    if config.words || config.word_bigrams {
        let mut previous: Option<&str> = None;
        for (word, adjacent) in segmenter.words(text) {
            if config.words {
                buf.clear();
                buf.push(KIND_WORD as char);
                buf.push_str(word);
                emit(buf);
            }
            if config.word_bigrams
                && adjacent
                && let Some(previous) = previous
            {
                buf.clear();
                buf.push(KIND_BIGRAM as char);
                buf.push_str(previous);
                buf.push(' ');
                buf.push_str(word);
                emit(buf);
            }
            previous = Some(word);
        }
    }
}

/// A stable 64-bit hash of a key, used to count document frequencies before the vocabulary
/// exists.
pub(crate) fn key_hash(key: &str) -> u64 {
    // FNV-1a: deterministic across runs and platforms.
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A sparse vector: feature indices ascending, with their values.
pub type SparseVec = Vec<(u32, f32)>;

/// The fitted vocabulary: feature keys (sorted), their IDF and the lookup from key to index.
///
/// The lookup is keyed by the 64-bit FNV-1a hash of the key rather than by the key itself, so a
/// lookup touches one table slot instead of also comparing a string stored elsewhere in memory
/// (this halves inference time). With ~5·10⁵ keys the chance that any two of them, or a query
/// and a key, share a hash is below 10⁻⁸; should it happen, the query counts as that feature.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    keys: Vec<String>,
    idf: Vec<f32>,
    index: FxHashMap<u64, u32>,
    /// Indices of the character n-gram keys (contiguous, since keys are sorted by kind first).
    char_range: std::ops::Range<u32>,
}

impl Vocabulary {
    /// Rebuilds a vocabulary from stored keys and IDF values (the same length).
    pub(crate) fn from_parts(keys: Vec<String>, idf: Vec<f32>) -> Self {
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (key_hash(k), i as u32))
            .collect();
        let kind_is_char = |k: &String| k.as_bytes().first() == Some(&KIND_CHAR);
        let start = keys.iter().position(kind_is_char).unwrap_or(keys.len());
        let end = start + keys[start..].iter().take_while(|k| kind_is_char(k)).count();
        Self {
            keys,
            idf,
            index,
            char_range: start as u32..end as u32,
        }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key of feature `i`.
    pub fn key(&self, i: u32) -> &str {
        self.keys.get(i as usize).map_or("", String::as_str)
    }

    /// All keys, by index.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// IDF of every feature, by index.
    pub fn idf(&self) -> &[f32] {
        &self.idf
    }

    /// The index of `key`, if it is in the vocabulary.
    pub fn get(&self, key: &str) -> Option<u32> {
        self.index.get(&key_hash(key)).copied()
    }

    /// Fits the vocabulary on normalised training texts: keeps keys occurring in at least
    /// `config.min_df` documents, with the smoothed IDF `ln((1 + n) / (1 + df)) + 1`.
    /// Returns the vocabulary and the vectors of the texts.
    pub(crate) fn fit(
        texts: &[String],
        segmenter: &Segmenter,
        config: &FeatureConfig,
    ) -> (Self, Vec<SparseVec>) {
        let min_df = config.min_df.max(1);
        let mut buf = String::new();
        // Pass 1: document frequency by key hash.
        let mut df_by_hash: FxHashMap<u64, u32> = FxHashMap::default();
        let mut hashes: Vec<u64> = Vec::new();
        for text in texts {
            hashes.clear();
            for_each_key(text, segmenter, config, &mut buf, |key| {
                hashes.push(key_hash(key));
            });
            hashes.sort_unstable();
            hashes.dedup();
            for &h in &hashes {
                *df_by_hash.entry(h).or_insert(0) += 1;
            }
        }
        // Pass 2: intern the frequent keys and count term frequencies per document.
        let mut interned: FxHashMap<String, u32> = FxHashMap::default();
        let mut doc_ids: Vec<Vec<u32>> = Vec::with_capacity(texts.len());
        for text in texts {
            let mut ids = Vec::new();
            for_each_key(text, segmenter, config, &mut buf, |key| {
                if df_by_hash.get(&key_hash(key)).copied().unwrap_or(0) >= min_df {
                    let next = interned.len() as u32;
                    ids.push(*interned.entry(key.to_owned()).or_insert(next));
                }
            });
            doc_ids.push(ids);
        }
        // Sort keys for a deterministic layout; remap ids.
        let mut keys: Vec<(String, u32)> = interned.into_iter().collect();
        keys.sort_unstable();
        let mut remap = vec![0u32; keys.len()];
        for (new, (_, old)) in keys.iter().enumerate() {
            remap[*old as usize] = new as u32;
        }
        let keys: Vec<String> = keys.into_iter().map(|(k, _)| k).collect();
        let mut df = vec![0u32; keys.len()];
        for ids in &mut doc_ids {
            for id in ids.iter_mut() {
                *id = remap[*id as usize];
            }
            ids.sort_unstable();
            let mut previous = None;
            for &id in ids.iter() {
                if previous != Some(id) {
                    df[id as usize] += 1;
                    previous = Some(id);
                }
            }
        }
        let n = texts.len() as f64;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| (((1.0 + n) / (1.0 + f64::from(d))).ln() + 1.0) as f32)
            .collect();
        let vocabulary = Self::from_parts(keys, idf);
        let vectors = doc_ids
            .iter()
            .map(|ids| vocabulary.weigh(ids, config))
            .collect();
        (vocabulary, vectors)
    }

    /// The TF-IDF vector of a normalised text. `buf` and `ids` are scratch space.
    pub(crate) fn vectorise(
        &self,
        text: &str,
        segmenter: &Segmenter,
        config: &FeatureConfig,
    ) -> SparseVec {
        let mut buf = String::new();
        let mut ids = Vec::new();
        for_each_key(text, segmenter, config, &mut buf, |key| {
            if let Some(&id) = self.index.get(&key_hash(key)) {
                ids.push(id);
            }
        });
        ids.sort_unstable();
        self.weigh(&ids, config)
    }

    /// Weighs sorted feature ids (with repeats) into a normalised TF-IDF vector.
    fn weigh(&self, sorted_ids: &[u32], config: &FeatureConfig) -> SparseVec {
        let mut out: SparseVec = Vec::with_capacity(sorted_ids.len());
        let mut i = 0;
        while i < sorted_ids.len() {
            let id = sorted_ids[i];
            let mut j = i;
            while j < sorted_ids.len() && sorted_ids[j] == id {
                j += 1;
            }
            let tf = (j - i) as f32;
            let idf = self.idf.get(id as usize).copied().unwrap_or(1.0);
            out.push((id, (1.0 + tf.ln()) * idf));
            i = j;
        }
        let is_char = |id: u32| self.char_range.contains(&id);
        let (mut char_sq, mut word_sq) = (0.0f64, 0.0f64);
        for &(id, v) in &out {
            if is_char(id) {
                char_sq += f64::from(v) * f64::from(v);
            } else {
                word_sq += f64::from(v) * f64::from(v);
            }
        }
        let char_scale = if char_sq > 0.0 {
            f64::from(config.char_weight) / char_sq.sqrt()
        } else {
            0.0
        };
        let word_scale = if word_sq > 0.0 {
            f64::from(config.word_weight) / word_sq.sqrt()
        } else {
            0.0
        };
        let mut total_sq = 0.0f64;
        for (id, v) in &mut out {
            let scale = if is_char(*id) { char_scale } else { word_scale };
            *v = (f64::from(*v) * scale) as f32;
            total_sq += f64::from(*v) * f64::from(*v);
        }
        if total_sq > 0.0 {
            let norm = total_sq.sqrt() as f32;
            for (_, v) in &mut out {
                *v /= norm;
            }
        }
        out.retain(|&(_, v)| v != 0.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(text: &str, config: &FeatureConfig) -> Vec<String> {
        let segmenter = Segmenter::new();
        let mut keys = Vec::new();
        let mut buf = String::new();
        for_each_key(text, &segmenter, config, &mut buf, |k| {
            keys.push(k.to_owned())
        });
        keys
    }

    #[test]
    fn normalise_folds_width_case_and_space() {
        let config = FeatureConfig::default();
        assert_eq!(
            normalise("", "ＡＢｃ１２　 路灯\n\n坏了", &config),
            "abc12 路灯 坏了"
        );
        assert_eq!(normalise("标题", "正文", &config), "标题 正文");
        let folded = FeatureConfig {
            fold_digits: true,
            ..config.clone()
        };
        assert_eq!(normalise("", "2019年", &folded), "0000年");
        let short = FeatureConfig {
            max_chars: 3,
            ..config
        };
        assert_eq!(normalise("", "一二三四五", &short), "一二三");
    }

    #[test]
    fn character_ngrams_cover_one_to_three_characters() {
        let config = FeatureConfig {
            words: false,
            word_bigrams: false,
            ..FeatureConfig::default()
        };
        let keys = keys_of("路灯坏", &config);
        assert_eq!(keys, ["c路", "c灯", "c坏", "c路灯", "c灯坏", "c路灯坏"]);
    }

    #[test]
    fn words_and_bigrams_carry_their_kind() {
        let config = FeatureConfig {
            char_min: 0,
            ..FeatureConfig::default()
        };
        let keys = keys_of("路灯维修，谢谢", &config);
        assert!(keys.contains(&"w路灯".to_owned()), "{keys:?}");
        assert!(keys.contains(&"b路灯 维修".to_owned()), "{keys:?}");
        assert!(
            !keys
                .iter()
                .any(|k| k.starts_with('b') && k.contains("谢谢") && k.contains("维修"))
        );
        assert_eq!(display("b路灯 维修"), "路灯 维修");
    }

    /// Character unigrams only, kept even when they occur once.
    fn single_chars_only() -> FeatureConfig {
        FeatureConfig {
            min_df: 1,
            words: false,
            word_bigrams: false,
            char_max: 1,
            ..FeatureConfig::default()
        }
    }

    #[test]
    fn tfidf_vectors_are_unit_length_and_rare_terms_weigh_more() {
        let config = single_chars_only();
        let segmenter = Segmenter::new();
        let texts: Vec<String> = ["甲乙", "甲丙", "甲丁"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (vocabulary, vectors) = Vocabulary::fit(&texts, &segmenter, &config);
        assert_eq!(vocabulary.len(), 4);
        for v in &vectors {
            let norm: f32 = v.iter().map(|(_, x)| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-5);
        }
        let jia = vocabulary.get("c甲").map(|i| vocabulary.idf()[i as usize]);
        let yi = vocabulary.get("c乙").map(|i| vocabulary.idf()[i as usize]);
        assert!(matches!((jia, yi), (Some(a), Some(b)) if a < b));
        assert_eq!(
            vocabulary.vectorise("甲乙", &segmenter, &config),
            vectors[0]
        );
    }

    #[test]
    fn sublinear_tf_dampens_repeats() {
        let config = single_chars_only();
        let segmenter = Segmenter::new();
        let texts: Vec<String> = vec!["甲甲甲甲乙".into(), "甲乙".into()];
        let (vocabulary, vectors) = Vocabulary::fit(&texts, &segmenter, &config);
        let jia = vocabulary.get("c甲").unwrap_or(u32::MAX);
        let weight =
            |v: &SparseVec, id: u32| v.iter().find(|(i, _)| *i == id).map_or(0.0, |(_, x)| *x);
        let ratio = weight(&vectors[0], jia) / weight(&vectors[1], jia);
        // (1 + ln 4) / 1 before normalisation, not 4.
        assert!(ratio > 1.0 && ratio < 2.0, "{ratio}");
    }

    #[test]
    fn min_df_drops_rare_keys() {
        let config = FeatureConfig {
            min_df: 2,
            words: false,
            word_bigrams: false,
            char_max: 1,
            ..FeatureConfig::default()
        };
        let texts: Vec<String> = vec!["甲乙".into(), "甲丙".into()];
        let (vocabulary, _) = Vocabulary::fit(&texts, &Segmenter::new(), &config);
        assert_eq!(vocabulary.keys(), ["c甲".to_owned()]);
    }
}
