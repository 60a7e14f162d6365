//! Knowledge base (知识库) retrieval: the operator answering a consultation (咨询) sees the
//! entries most likely to answer it, so a policy question can be answered on the phone (直接办结)
//! instead of being dispatched.
//!
//! [`KnowledgeBase`] indexes question-and-answer entries with BM25 (Okapi, k1 = 1.2, b = 0.75)
//! over two kinds of terms: jieba words (single-character function words dropped) and character
//! bigrams of the normalised text, which catch matches that segmentation splits differently
//! (`公积金提取` against `提取公积金`). The question and the tags count twice, the answer once.

use crate::segment::Segmenter;
use crate::similar::normalise;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// One entry of the knowledge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's id.
    pub id: String,
    /// The question it answers.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// Topic tags (`公积金`, `提取`).
    pub tags: Vec<String>,
}

/// An entry that matches a request, with its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnowledgeHit {
    /// The entry's id.
    pub id: String,
    /// The BM25 score (higher is better; comparable within one query only).
    pub score: f64,
    /// The words the request shares with the entry, best first.
    pub matched: Vec<String>,
}

const K1: f64 = 1.2;
const B: f64 = 0.75;
const QUESTION_WEIGHT: f64 = 2.0;

/// Single characters too common to carry meaning.
const STOP: &str =
    "的了是我在有和就不都也很吗呢啊吧请您你他她它们这那个一上下要会能想问怎么为什么哪里谁";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Word,
    Bigram,
}

/// Question-and-answer entries indexed for retrieval. Build once, share, query per request.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    segmenter: Segmenter,
    entries: Vec<Entry>,
    /// Term → postings (entry index, weighted term frequency).
    postings: FxHashMap<(Kind, String), Vec<(u32, f64)>>,
    lengths: Vec<f64>,
    mean_length: f64,
}

impl KnowledgeBase {
    /// Indexes `entries` with a fresh segmenter (jieba's bundled dictionary).
    pub fn new(entries: Vec<Entry>) -> Self {
        Self::with_segmenter(entries, Segmenter::new())
    }

    /// Indexes `entries` with `segmenter` (one with the city's words keeps place and matter
    /// names whole).
    pub fn with_segmenter(entries: Vec<Entry>, segmenter: Segmenter) -> Self {
        let mut postings: FxHashMap<(Kind, String), Vec<(u32, f64)>> = FxHashMap::default();
        let mut lengths = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let mut tf: FxHashMap<(Kind, String), f64> = FxHashMap::default();
            let tags = e.tags.join("，");
            for (text, weight) in [
                (e.question.as_str(), QUESTION_WEIGHT),
                (tags.as_str(), QUESTION_WEIGHT),
                (e.answer.as_str(), 1.0),
            ] {
                for term in terms(&segmenter, text) {
                    *tf.entry(term).or_default() += weight;
                }
            }
            lengths.push(tf.values().sum());
            for (term, f) in tf {
                postings.entry(term).or_default().push((i as u32, f));
            }
        }
        let mean_length = if lengths.is_empty() {
            1.0
        } else {
            (lengths.iter().sum::<f64>() / lengths.len() as f64).max(1.0)
        };
        Self {
            segmenter,
            entries,
            postings,
            lengths,
            mean_length,
        }
    }

    /// How many entries are indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry with `id`.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The `k` entries that best match `text` (title and text of a request), best first.
    /// Entries sharing no term with the text are never returned.
    pub fn search(&self, text: &str, k: usize) -> Vec<KnowledgeHit> {
        let n = self.entries.len() as f64;
        let mut query = terms(&self.segmenter, text);
        query.sort();
        query.dedup();
        let mut scores: FxHashMap<u32, (f64, Vec<(f64, String)>)> = FxHashMap::default();
        for term in &query {
            let Some(list) = self.postings.get(term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for &(doc, tf) in list {
                let norm = K1 * (1.0 - B + B * self.lengths[doc as usize] / self.mean_length);
                let s = idf * tf * (K1 + 1.0) / (tf + norm);
                let slot = scores.entry(doc).or_default();
                slot.0 += s;
                if term.0 == Kind::Word {
                    slot.1.push((s, term.1.clone()));
                }
            }
        }
        let mut hits: Vec<KnowledgeHit> = scores
            .into_iter()
            .map(|(doc, (score, mut words))| {
                words.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                KnowledgeHit {
                    id: self.entries[doc as usize].id.clone(),
                    score,
                    matched: words.into_iter().map(|(_, w)| w).collect(),
                }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(k);
        hits
    }
}

/// The terms of a text: jieba words (lower-cased, stop characters dropped) and character
/// bigrams of the normalised text.
fn terms(segmenter: &Segmenter, text: &str) -> Vec<(Kind, String)> {
    let mut out: Vec<(Kind, String)> = segmenter
        .words(text)
        .into_iter()
        .map(|(w, _)| w.to_lowercase())
        .filter(|w| !(w.chars().count() == 1 && w.chars().all(|c| STOP.contains(c))))
        .map(|w| (Kind::Word, w))
        .collect();
    let chars = normalise(text);
    out.extend(
        chars
            .windows(2)
            .filter(|pair| !pair.iter().all(|c| STOP.contains(*c)))
            .map(|pair| (Kind::Bigram, pair.iter().collect())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn entry(id: &str, question: &str, answer: &str, tags: &[&str]) -> Entry {
        Entry {
            id: id.to_owned(),
            question: question.to_owned(),
            answer: answer.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn base() -> &'static KnowledgeBase {
        static BASE: OnceLock<KnowledgeBase> = OnceLock::new();
        BASE.get_or_init(|| {
            KnowledgeBase::new(vec![
                entry(
                    "gjj-tq",
                    "怎样提取住房公积金？",
                    "职工购房、租房或离职后可申请提取住房公积金，携带身份证和银行卡到公积金中心窗口办理，也可在网上办理。",
                    &["公积金", "提取"],
                ),
                entry(
                    "jzz",
                    "居住证怎么办理？",
                    "在本市居住满半年、有合法稳定住所的，可持身份证和租房合同到社区工作站申领居住证。",
                    &["居住证", "户籍"],
                ),
                entry(
                    "yjsg",
                    "夜间施工噪音扰民如何处理？",
                    "晚上十点至次日早上七点禁止产生噪音的建筑施工，确需连续作业须取得夜间施工许可；无许可施工可向住建部门或生态环境部门投诉。",
                    &["噪音", "施工", "扰民"],
                ),
                entry(
                    "tsh",
                    "停水了去哪里查询停水通知？",
                    "计划停水会提前在水务集团网站和小区公告栏公布；突发爆管停水可拨打水务集团热线查询恢复时间。",
                    &["停水", "供水"],
                ),
                entry(
                    "sbk",
                    "社保卡丢失了怎么补办？",
                    "社保卡遗失后先电话挂失，再持身份证到合作银行网点或社保服务窗口申请补办，一般十个工作日内制卡。",
                    &["社保卡", "补办", "挂失"],
                ),
                entry(
                    "yq",
                    "养狗需要办理犬只登记吗？",
                    "饲养犬只须办理犬只登记并定期接种狂犬疫苗，遛狗须牵绳，烈性犬禁止饲养。",
                    &["养犬", "登记"],
                ),
            ])
        })
    }

    fn top(text: &str) -> Option<String> {
        base().search(text, 3).into_iter().next().map(|h| h.id)
    }

    #[test]
    fn consultations_find_their_entry() {
        assert_eq!(
            top("我想问一下离职了公积金怎么取出来").as_deref(),
            Some("gjj-tq")
        );
        assert_eq!(
            top("旁边工地每天晚上十一点还在施工，吵得睡不着").as_deref(),
            Some("yjsg")
        );
        assert_eq!(top("社保卡丢了，怎么重新办一张").as_deref(), Some("sbk"));
        assert_eq!(
            top("我们小区今天突然停水，什么时候恢复").as_deref(),
            Some("tsh")
        );
        assert_eq!(
            top("外地人租房想办居住证要什么材料").as_deref(),
            Some("jzz")
        );
        assert_eq!(top("楼上养的大狗不牵绳，有没有登记").as_deref(), Some("yq"));
    }

    #[test]
    fn hits_are_ranked_limited_and_explained() {
        let hits = base().search("公积金提取需要带什么材料", 2);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].id, "gjj-tq");
        assert!(hits[0].score > hits[1].score);
        assert!(
            hits[0].matched.iter().any(|w| w == "公积金"),
            "{:?}",
            hits[0]
        );
        assert_eq!(base().entry("gjj-tq").map(|e| e.tags.len()), Some(2));
        assert_eq!(base().len(), 6);
    }

    #[test]
    fn unrelated_text_and_an_empty_base_give_nothing() {
        assert!(base().search("今日天气晴朗", 5).is_empty());
        assert!(base().search("", 5).is_empty());
        let empty = KnowledgeBase::with_segmenter(Vec::new(), Segmenter::new());
        assert!(empty.is_empty());
        assert!(empty.search("公积金", 3).is_empty());
    }

    #[test]
    fn repeated_searches_give_the_same_best_entry() {
        let base = base();
        let text = "您好，我去年从公司离职了，现在想把住房公积金里的钱取出来，请问需要带哪些材料，\
                    是去公积金中心窗口办理还是可以在网上办理？谢谢。";
        let rounds = 3u32;
        let mut first = 0;
        for _ in 0..rounds {
            first += usize::from(
                base.search(text, 3)
                    .first()
                    .is_some_and(|h| h.id == "gjj-tq"),
            );
        }
        assert_eq!(first, rounds as usize);
    }

    #[test]
    fn shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<KnowledgeBase>();
    }
}
