//! Text normalisation and TF-IDF features: character n-grams plus jieba word unigrams and
//! bigrams, with sublinear term frequency, smoothed IDF and L2 normalisation.
//!
//! Every feature has a *key*: one ASCII kind byte followed by its text — `c` for a character
//! n-gram (`c路灯`), `w` for a word (`w路灯`), `b` for a word bigram (`b路灯 维修`). Keys are what
//! the model file stores; [`display`] strips the kind for explanations.
//!
//! A document vector is built in three blocks, characters, words and the title's characters
//! (`t` keys), each L2-normalised and scaled by its weight ([`FeatureConfig::char_weight`],
//! [`FeatureConfig::word_weight`], [`FeatureConfig::title_weight`]); the concatenation is
//! L2-normalised again.

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
    /// Weight of the title block: character n-grams of the title alone (kind `t`), so a word
    /// in the title counts apart from the same word in the detail. 0 disables the block.
    pub title_weight: f32,
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
            title_weight: 0.7,
        }
    }
}

/// Kind byte of character n-gram keys.
pub(crate) const KIND_CHAR: u8 = b'c';
/// Kind byte of word keys.
pub(crate) const KIND_WORD: u8 = b'w';
/// Kind byte of word-bigram keys.
pub(crate) const KIND_BIGRAM: u8 = b'b';
/// Kind byte of title character n-gram keys.
pub(crate) const KIND_TITLE: u8 = b't';

/// Block of a feature kind: 0 characters, 1 words and word bigrams, 2 title.
fn block_of(kind: u8) -> u8 {
    match kind {
        KIND_CHAR => 0,
        KIND_TITLE => 2,
        _ => 1,
    }
}

/// The text of a feature key without its kind byte: what an explanation shows.
pub fn display(key: &str) -> &str {
    key.get(1..).unwrap_or("")
}

/// Normalises a message: title and detail joined by a space, full-width ASCII folded to
/// half-width, the ideographic space to a space, runs of white space to one space, letters
/// lower-cased, optionally digits folded to `0`; at most `config.max_chars` characters.
pub fn normalise(title: &str, detail: &str, config: &FeatureConfig) -> String {
    let mut out = String::new();
    normalise_into(title, detail, config, &mut out);
    out
}

/// [`normalise`] into `out` (cleared first). Returns the byte length of the normalised title,
/// the prefix of `out` that the title block reads.
pub(crate) fn normalise_into(
    title: &str,
    detail: &str,
    config: &FeatureConfig,
    out: &mut String,
) -> usize {
    out.clear();
    out.reserve((title.len() + detail.len() + 1).min(config.max_chars * 4));
    let mut count = 0usize;
    let mut last_space = true;
    let mut title_len = None;
    let title_end = title.chars().count();
    let chars = title
        .chars()
        .chain(std::iter::once(' '))
        .chain(detail.chars());
    for (position, c) in chars.enumerate() {
        if position == title_end {
            title_len = Some(out.trim_end_matches(' ').len());
        }
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
    title_len.unwrap_or(out.len()).min(out.len())
}

/// A normalised message: the text and the byte length of its title prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct Doc {
    pub text: String,
    pub title_len: usize,
}

impl Doc {
    /// Normalises a message (see [`normalise`]).
    pub(crate) fn new(title: &str, detail: &str, config: &FeatureConfig) -> Self {
        let mut text = String::new();
        let title_len = normalise_into(title, detail, config, &mut text);
        Self { text, title_len }
    }
}

/// Calls `emit(kind, parts)` for every feature occurrence in a normalised message (repeats
/// included, so the caller counts term frequencies); the feature's key is the kind byte
/// followed by the concatenated parts. Nothing is allocated per feature.
pub(crate) fn for_each_feature(
    doc: &Doc,
    segmenter: &Segmenter,
    config: &FeatureConfig,
    mut emit: impl FnMut(u8, &[&str]),
) {
    let text = doc.text.as_str();
    if config.char_min >= 1 && config.char_max >= config.char_min {
        let mut bounds: Vec<usize> = Vec::with_capacity(text.len() + 1);
        bounds.extend(text.char_indices().map(|(i, _)| i));
        bounds.push(text.len());
        char_grams(text, &bounds, config, KIND_CHAR, &mut emit);
        if config.title_weight > 0.0 && doc.title_len > 0 {
            let end = bounds.partition_point(|&b| b <= doc.title_len);
            char_grams(text, &bounds[..end], config, KIND_TITLE, &mut emit);
        }
    }
    if config.words || config.word_bigrams {
        let mut previous: Option<&str> = None;
        for (word, adjacent) in segmenter.words(text) {
            if config.words {
                emit(KIND_WORD, &[word]);
            }
            if config.word_bigrams
                && adjacent
                && let Some(previous) = previous
            {
                emit(KIND_BIGRAM, &[previous, " ", word]);
            }
            previous = Some(word);
        }
    }
}

/// Character n-grams of `text` up to the last boundary in `bounds` (char starts, then the end).
fn char_grams(
    text: &str,
    bounds: &[usize],
    config: &FeatureConfig,
    kind: u8,
    emit: &mut impl FnMut(u8, &[&str]),
) {
    let n_chars = bounds.len().saturating_sub(1);
    for n in config.char_min..=config.char_max {
        for start in 0..n_chars.saturating_sub(n - 1) {
            let gram = &text[bounds[start]..bounds[start + n]];
            if gram == " " {
                continue;
            }
            emit(kind, &[gram]);
        }
    }
}

/// Calls `emit` with the key of every feature occurrence in the normalised `text` (repeats
/// included). `buf` is scratch space. The tests compare it with the hashes of [`for_each_feature`].
#[cfg(test)]
pub(crate) fn for_each_key(
    doc: &Doc,
    segmenter: &Segmenter,
    config: &FeatureConfig,
    buf: &mut String,
    mut emit: impl FnMut(&str),
) {
    for_each_feature(doc, segmenter, config, |kind, parts| {
        buf.clear();
        buf.push(kind as char);
        for part in parts {
            buf.push_str(part);
        }
        emit(buf);
    });
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv_bytes(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// A stable 64-bit hash of a key (FNV-1a: deterministic across runs and platforms), used to
/// count document frequencies before the vocabulary exists and to look keys up.
pub(crate) fn key_hash(key: &str) -> u64 {
    fnv_bytes(FNV_OFFSET, key.as_bytes())
}

/// [`key_hash`] of the key made of `kind` and `parts`, without building it.
fn parts_hash(kind: u8, parts: &[&str]) -> u64 {
    parts.iter().fold(fnv_bytes(FNV_OFFSET, &[kind]), |h, p| {
        fnv_bytes(h, p.as_bytes())
    })
}

/// A sparse vector: feature indices ascending, with their values.
pub type SparseVec = Vec<(u32, f32)>;

/// An open-addressing table from a key's 64-bit hash to its feature index, one `u64` per slot
/// (the hash's low 32 bits as a tag, then the index + 1; 0 marks an empty slot), linear probing,
/// at most half full. A lookup usually reads one slot, so a message's lookups are independent
/// memory reads the processor overlaps. A query whose slot chain holds a key with the same tag
/// counts as that key: with ~5·10⁵ keys and ~4·10³ queries per message that happens about once
/// in 10⁶ messages, and shifts one feature of one message.
#[derive(Debug, Clone)]
struct HashIndex {
    slots: Vec<u64>,
    shift: u32,
}

impl HashIndex {
    fn new(hashes: impl ExactSizeIterator<Item = u64>) -> Self {
        let capacity = (hashes.len() * 2).max(16).next_power_of_two();
        let mut index = Self {
            slots: vec![0; capacity],
            shift: 64 - capacity.trailing_zeros(),
        };
        let mask = capacity - 1;
        for (id, h) in hashes.enumerate() {
            let mut i = index.home(h);
            while index.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            index.slots[i] = (h << 32) | (id as u64 + 1);
        }
        index
    }

    /// The home slot of a hash (Fibonacci hashing of all 64 bits).
    fn home(&self, h: u64) -> usize {
        (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    fn get(&self, h: u64) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let tag = h << 32;
        let mut i = self.home(h);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            if slot & 0xFFFF_FFFF_0000_0000 == tag {
                return Some((slot as u32).wrapping_sub(1));
            }
            i = (i + 1) & mask;
        }
    }
}

/// The fitted vocabulary: feature keys (sorted), their IDF and the lookup from key to index.
///
/// The lookup is keyed by the 64-bit FNV-1a hash of the key rather than by the key itself (see
/// `HashIndex`), so inference hashes each feature's parts in place without building its key
/// and never compares strings.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    keys: Vec<String>,
    idf: Vec<f32>,
    index: HashIndex,
    /// Block of every feature (see `block_of`).
    block: Vec<u8>,
}

impl Vocabulary {
    /// Rebuilds a vocabulary from stored keys and IDF values (the same length).
    pub(crate) fn from_parts(keys: Vec<String>, idf: Vec<f32>) -> Self {
        let index = HashIndex::new(keys.iter().map(|k| key_hash(k)));
        let block = keys
            .iter()
            .map(|k| block_of(k.as_bytes().first().copied().unwrap_or(KIND_WORD)))
            .collect();
        Self {
            keys,
            idf,
            index,
            block,
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
        self.index.get(key_hash(key))
    }

    /// Fits the vocabulary on normalised training messages: keeps keys occurring in at least
    /// `config.min_df` documents, with the smoothed IDF `ln((1 + n) / (1 + df)) + 1`.
    /// Returns the vocabulary and the vectors of the messages.
    pub(crate) fn fit(
        docs: &[Doc],
        segmenter: &Segmenter,
        config: &FeatureConfig,
    ) -> (Self, Vec<SparseVec>) {
        let min_df = config.min_df.max(1);
        // Pass 1: document frequency by key hash.
        let mut df_by_hash: FxHashMap<u64, u32> = FxHashMap::default();
        let mut hashes: Vec<u64> = Vec::new();
        for doc in docs {
            hashes.clear();
            for_each_feature(doc, segmenter, config, |kind, parts| {
                hashes.push(parts_hash(kind, parts));
            });
            hashes.sort_unstable();
            hashes.dedup();
            for &h in &hashes {
                *df_by_hash.entry(h).or_insert(0) += 1;
            }
        }
        // Pass 2: intern the frequent keys (by hash; the key text is built once per key) and
        // collect each document's feature ids.
        let mut interned: FxHashMap<u64, u32> = FxHashMap::default();
        let mut key_texts: Vec<String> = Vec::new();
        let mut doc_ids: Vec<Vec<u32>> = Vec::with_capacity(docs.len());
        for doc in docs {
            let mut ids = Vec::new();
            for_each_feature(doc, segmenter, config, |kind, parts| {
                let h = parts_hash(kind, parts);
                if df_by_hash.get(&h).copied().unwrap_or(0) >= min_df {
                    let id = *interned.entry(h).or_insert_with(|| {
                        let mut key =
                            String::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
                        key.push(kind as char);
                        parts.iter().for_each(|p| key.push_str(p));
                        key_texts.push(key);
                        key_texts.len() as u32 - 1
                    });
                    ids.push(id);
                }
            });
            doc_ids.push(ids);
        }
        // Sort keys for a deterministic layout; remap ids.
        let mut keys: Vec<(String, u32)> = key_texts.into_iter().zip(0..).collect();
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
        let n = docs.len() as f64;
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

    /// The sorted feature indices (with repeats) of a normalised message. The hashes are
    /// collected first and looked up in a second tight loop, so the lookups' memory reads
    /// overlap. `hashes` is scratch space.
    pub(crate) fn ids(
        &self,
        doc: &Doc,
        segmenter: &Segmenter,
        config: &FeatureConfig,
        hashes: &mut Vec<u64>,
    ) -> Vec<u32> {
        hashes.clear();
        for_each_feature(doc, segmenter, config, |kind, parts| {
            hashes.push(parts_hash(kind, parts));
        });
        let mut ids: Vec<u32> = hashes.iter().filter_map(|&h| self.index.get(h)).collect();
        ids.sort_unstable();
        ids
    }

    /// The TF-IDF vector of a normalised message.
    pub(crate) fn vectorise(
        &self,
        doc: &Doc,
        segmenter: &Segmenter,
        config: &FeatureConfig,
    ) -> SparseVec {
        let ids = self.ids(doc, segmenter, config, &mut Vec::new());
        self.weigh(&ids, config)
    }

    /// Weighs sorted feature ids (with repeats) into a normalised TF-IDF vector: sublinear tf
    /// times IDF, each block L2-normalised and scaled by its weight, then the whole normalised.
    fn weigh(&self, sorted_ids: &[u32], config: &FeatureConfig) -> SparseVec {
        self.weigh_with(sorted_ids, config, |id| {
            self.idf.get(id as usize).copied().unwrap_or(1.0)
        })
    }

    /// [`Vocabulary::weigh`] with the IDF of feature `id` given by `idf` (the model keeps IDF
    /// next to the weights so that inference reads one place in memory per feature).
    pub(crate) fn weigh_with(
        &self,
        sorted_ids: &[u32],
        config: &FeatureConfig,
        idf: impl Fn(u32) -> f32,
    ) -> SparseVec {
        let mut out: SparseVec = Vec::with_capacity(sorted_ids.len());
        let mut i = 0;
        while i < sorted_ids.len() {
            let id = sorted_ids[i];
            let mut j = i;
            while j < sorted_ids.len() && sorted_ids[j] == id {
                j += 1;
            }
            let tf = (j - i) as f32;
            out.push((id, (1.0 + tf.ln()) * idf(id)));
            i = j;
        }
        let block = |id: u32| usize::from(self.block.get(id as usize).copied().unwrap_or(1));
        let mut squares = [0.0f64; 3];
        for &(id, v) in &out {
            squares[block(id)] += f64::from(v) * f64::from(v);
        }
        let weights = [config.char_weight, config.word_weight, config.title_weight];
        let scale: [f64; 3] = std::array::from_fn(|b| {
            if squares[b] > 0.0 {
                f64::from(weights[b]) / squares[b].sqrt()
            } else {
                0.0
            }
        });
        let mut total_sq = 0.0f64;
        for (id, v) in &mut out {
            *v = (f64::from(*v) * scale[block(*id)]) as f32;
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

    fn doc(text: &str) -> Doc {
        Doc {
            text: text.to_owned(),
            title_len: 0,
        }
    }

    fn docs(texts: &[&str]) -> Vec<Doc> {
        texts.iter().map(|t| doc(t)).collect()
    }

    fn keys_of(text: &str, config: &FeatureConfig) -> Vec<String> {
        let segmenter = Segmenter::new();
        let mut keys = Vec::new();
        let mut buf = String::new();
        for_each_key(&doc(text), &segmenter, config, &mut buf, |k| {
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
        let texts = docs(&["甲乙", "甲丙", "甲丁"]);
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
            vocabulary.vectorise(&doc("甲乙"), &segmenter, &config),
            vectors[0]
        );
    }

    #[test]
    fn sublinear_tf_dampens_repeats() {
        let config = single_chars_only();
        let segmenter = Segmenter::new();
        let texts = docs(&["甲甲甲甲乙", "甲乙"]);
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
        let texts = docs(&["甲乙", "甲丙"]);
        let (vocabulary, _) = Vocabulary::fit(&texts, &Segmenter::new(), &config);
        assert_eq!(vocabulary.keys(), ["c甲".to_owned()]);
    }

    #[test]
    fn title_block_reads_the_title_alone_and_hashes_match_keys() {
        let config = FeatureConfig {
            title_weight: 1.0,
            words: false,
            word_bigrams: false,
            char_max: 2,
            ..FeatureConfig::default()
        };
        let d = Doc::new("路灯", "坏了", &config);
        assert_eq!(d.text, "路灯 坏了");
        assert_eq!(&d.text[..d.title_len], "路灯");
        let segmenter = Segmenter::new();
        let mut keys = Vec::new();
        let mut buf = String::new();
        for_each_key(&d, &segmenter, &config, &mut buf, |k| {
            keys.push(k.to_owned())
        });
        let title: Vec<&str> = keys
            .iter()
            .filter(|k| k.starts_with('t'))
            .map(String::as_str)
            .collect();
        assert_eq!(title, ["t路", "t灯", "t路灯"]);
        let mut hashes = Vec::new();
        for_each_feature(&d, &segmenter, &config, |kind, parts| {
            hashes.push(parts_hash(kind, parts));
        });
        let expected: Vec<u64> = keys.iter().map(|k| key_hash(k)).collect();
        assert_eq!(hashes, expected);
        let (vocabulary, _) = Vocabulary::fit(
            std::slice::from_ref(&d),
            &segmenter,
            &FeatureConfig {
                min_df: 1,
                ..config.clone()
            },
        );
        for (i, key) in vocabulary.keys().iter().enumerate() {
            assert_eq!(vocabulary.get(key), Some(i as u32));
        }
        assert_eq!(vocabulary.get("c不在"), None);
        // No title: no title block; a title longer than the limit is cut with the text.
        assert_eq!(Doc::new("", "坏了", &config).title_len, 0);
        let short = FeatureConfig {
            max_chars: 3,
            ..config
        };
        let cut = Doc::new("一二三四", "五", &short);
        assert_eq!((cut.text.as_str(), cut.title_len), ("一二三", 9));
        let spaced = Doc::new(" 标题 ", "正文", &short);
        assert_eq!(&spaced.text[..spaced.title_len], "标题");
    }
}
