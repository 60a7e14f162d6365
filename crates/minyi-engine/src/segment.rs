//! Chinese word segmentation with jieba-rs and a user dictionary.
//!
//! The server adds catalogue, division and unit names through [`Segmenter::with_words`] so that
//! place and matter names stay whole (`福田区` rather than `福田` + `区`).

use jieba_rs::Jieba;

/// A jieba segmenter with the bundled dictionary plus the user's words.
#[derive(Debug, Clone)]
pub struct Segmenter {
    jieba: Jieba,
    hmm: bool,
    user_words: Vec<String>,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Segmenter {
    /// A segmenter with jieba's bundled dictionary and HMM recognition of unknown words.
    pub fn new() -> Self {
        Self {
            jieba: Jieba::new(),
            hmm: true,
            user_words: Vec::new(),
        }
    }

    /// A segmenter with the bundled dictionary plus `words` (blank entries are ignored), each
    /// given a frequency high enough that it is kept whole.
    pub fn with_words<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut segmenter = Self::new();
        segmenter.add_words(words);
        segmenter
    }

    /// Adds `words` to the user dictionary (blank entries and repeats are ignored).
    pub fn add_words<I, S>(&mut self, words: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for word in words {
            let word = word.as_ref().trim();
            if word.is_empty() || self.user_words.iter().any(|w| w == word) {
                continue;
            }
            self.jieba.add_word(word, None, None);
            self.user_words.push(word.to_owned());
        }
    }

    /// Turns HMM recognition of words missing from the dictionary on or off (on by default).
    #[must_use]
    pub fn with_hmm(mut self, hmm: bool) -> Self {
        self.hmm = hmm;
        self
    }

    /// The words added through [`Segmenter::with_words`] or [`Segmenter::add_words`], in order.
    pub fn user_words(&self) -> &[String] {
        &self.user_words
    }

    /// Every segment of `text`, punctuation and spaces included, in order.
    pub fn cut<'a>(&self, text: &'a str) -> Vec<&'a str> {
        self.jieba
            .cut(text, self.hmm)
            .into_iter()
            .map(|token| token.word)
            .collect()
    }

    /// The words of `text`: segments holding at least one letter or digit (punctuation and
    /// spaces dropped), each with a flag telling whether it directly follows the previous word
    /// (no punctuation in between), which is when a word bigram is meaningful.
    pub fn words<'a>(&self, text: &'a str) -> Vec<(&'a str, bool)> {
        let mut out = Vec::new();
        let mut adjacent = false;
        for token in self.jieba.cut(text, self.hmm) {
            if is_word(token.word) {
                out.push((token.word, adjacent));
                adjacent = true;
            } else if !token.word.chars().all(char::is_whitespace) {
                adjacent = false;
            }
        }
        out
    }
}

/// Whether a segment is a word: it holds at least one letter, ideograph or digit.
pub fn is_word(segment: &str) -> bool {
    segment.chars().any(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_punctuation_and_keep_order() {
        let segmenter = Segmenter::new();
        let words: Vec<&str> = segmenter
            .words("小区路灯坏了，请尽快维修！")
            .into_iter()
            .map(|(w, _)| w)
            .collect();
        assert!(words.contains(&"路灯"), "{words:?}");
        assert!(words.contains(&"维修"), "{words:?}");
        assert!(words.iter().all(|w| is_word(w)));
        assert_eq!(words.concat(), "小区路灯坏了请尽快维修");
    }

    #[test]
    fn punctuation_breaks_adjacency() {
        let segmenter = Segmenter::new();
        let words = segmenter.words("路灯，维修");
        assert_eq!(words, vec![("路灯", false), ("维修", false)]);
    }

    #[test]
    fn user_words_stay_whole() {
        let text = "梅林一村东区垃圾站很臭";
        let plain = Segmenter::new();
        assert!(!plain.cut(text).contains(&"梅林一村东区"));
        let custom = Segmenter::with_words(["梅林一村东区", "  ", "梅林一村东区"]);
        assert!(
            custom.cut(text).contains(&"梅林一村东区"),
            "{:?}",
            custom.cut(text)
        );
        assert_eq!(custom.user_words(), ["梅林一村东区".to_owned()]);
    }
}
