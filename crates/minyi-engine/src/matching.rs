//! Matchmaking by text similarity (我帮企业找市场 / 找资金): an enterprise's need is compared
//! with the registered resources (programmes, funds, buyers, talent services …) and the closest
//! ones that may serve it are proposed.
//!
//! Each text becomes a TF-IDF vector over two kinds of terms: jieba words (single-character
//! function words dropped) and character bigrams of the normalised text, which catch what
//! segmentation splits differently (`融资贷款` against `贷款融资`). Term frequencies are
//! sublinear (1 + ln tf), the IDF is smoothed over the resources (ln((1 + n) / (1 + df)) + 1),
//! vectors are L2-normalised and the score is their cosine. Words weigh twice as much as bigrams.
//!
//! Before scoring, resources are filtered: by industry (a resource that names industries serves
//! only those), by division (a resource scoped to a district or street serves only enterprises
//! inside it; the caller gives the need's division and its ancestors) and by need kind (the
//! kinds the resource serves). No I/O; the kinds are plain strings so the engine stays free of
//! the domain crate.

use crate::segment::Segmenter;
use crate::similar::normalise;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// Single characters too common to carry meaning.
const STOP: &str =
    "的了是我在有和就不都也很吗呢啊吧请您你他她它们这那个一上下要会能想与及等为对把被从向";

/// How much a word counts against a character bigram.
const WORD_WEIGHT: f64 = 2.0;

/// A resource as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResource {
    /// The resource's id.
    pub id: i64,
    /// Its name and description.
    pub text: String,
    /// The industries it serves; empty for every industry.
    pub industries: Vec<String>,
    /// The division (district or street) it is open to; `None` for the whole city.
    pub scope: Option<i64>,
    /// The need kinds it serves; empty for every kind.
    pub serves: Vec<String>,
}

/// A need to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchNeed<'a> {
    /// Its title and description.
    pub text: &'a str,
    /// The enterprise's industry.
    pub industry: &'a str,
    /// The enterprise's division and every ancestor of it.
    pub divisions: &'a [i64],
    /// The need's kind.
    pub kind: &'a str,
}

/// A proposed resource for a need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchProposal {
    /// The resource.
    pub resource: i64,
    /// Cosine similarity, 0–1.
    pub score: f64,
    /// The words need and resource share, heaviest first (at most five).
    pub terms: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Word,
    Bigram,
}

type Term = (Kind, String);

/// The registered resources, indexed for matching. Build when the resources change; query per
/// need.
#[derive(Debug, Clone)]
pub struct MatchIndex {
    resources: Vec<MatchResource>,
    /// Per resource, its normalised TF-IDF vector sorted by term.
    vectors: Vec<Vec<(Term, f64)>>,
    idf: FxHashMap<Term, f64>,
    /// The IDF of a term no resource has.
    unseen_idf: f64,
}

/// Weighted term counts of a text.
fn term_counts(segmenter: &Segmenter, text: &str) -> FxHashMap<Term, f64> {
    let mut tf: FxHashMap<Term, f64> = FxHashMap::default();
    for (word, _) in segmenter.words(text) {
        let word = word.to_lowercase();
        if word.chars().count() == 1 && word.chars().all(|c| STOP.contains(c)) {
            continue;
        }
        *tf.entry((Kind::Word, word)).or_default() += 1.0;
    }
    let chars = normalise(text);
    for pair in chars.windows(2) {
        *tf.entry((Kind::Bigram, pair.iter().collect())).or_default() += 1.0;
    }
    tf
}

fn weigh(tf: FxHashMap<Term, f64>, idf: impl Fn(&Term) -> f64) -> Vec<(Term, f64)> {
    let mut v: Vec<(Term, f64)> = tf
        .into_iter()
        .map(|(t, n)| {
            let kind_weight = if t.0 == Kind::Word { WORD_WEIGHT } else { 1.0 };
            let w = (1.0 + n.ln()) * idf(&t) * kind_weight;
            (t, w)
        })
        .collect();
    let norm = v.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
    if norm > 0.0 {
        for (_, w) in &mut v {
            *w /= norm;
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl MatchIndex {
    /// Indexes `resources` with `segmenter` (one with the city's words keeps names whole).
    pub fn new(resources: Vec<MatchResource>, segmenter: &Segmenter) -> Self {
        let counts: Vec<FxHashMap<Term, f64>> = resources
            .iter()
            .map(|r| term_counts(segmenter, &r.text))
            .collect();
        let mut df: FxHashMap<Term, f64> = FxHashMap::default();
        for c in &counts {
            for t in c.keys() {
                *df.entry(t.clone()).or_default() += 1.0;
            }
        }
        let n = resources.len() as f64;
        let idf: FxHashMap<Term, f64> = df
            .into_iter()
            .map(|(t, d)| (t, ((1.0 + n) / (1.0 + d)).ln() + 1.0))
            .collect();
        let unseen_idf = (1.0 + n).ln() + 1.0;
        let vectors = counts
            .into_iter()
            .map(|c| weigh(c, |t| idf.get(t).copied().unwrap_or(unseen_idf)))
            .collect();
        MatchIndex {
            resources,
            vectors,
            idf,
            unseen_idf,
        }
    }

    /// How many resources are indexed.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether no resource is indexed.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Whether `resource` may serve `need` (industry, division and kind filters).
    fn eligible(resource: &MatchResource, need: &MatchNeed<'_>) -> bool {
        let industry = need.industry.trim();
        (resource.industries.is_empty() || resource.industries.iter().any(|i| i.trim() == industry))
            && resource.scope.is_none_or(|s| need.divisions.contains(&s))
            && (resource.serves.is_empty() || resource.serves.iter().any(|k| k == need.kind))
    }

    /// The at most `limit` eligible resources closest to `need` with a score of at least
    /// `min_score`, best first (ties by resource id).
    pub fn propose(
        &self,
        segmenter: &Segmenter,
        need: &MatchNeed<'_>,
        limit: usize,
        min_score: f64,
    ) -> Vec<MatchProposal> {
        let query = weigh(term_counts(segmenter, need.text), |t| {
            self.idf.get(t).copied().unwrap_or(self.unseen_idf)
        });
        let query: FxHashMap<&Term, f64> = query.iter().map(|(t, w)| (t, *w)).collect();
        let mut out: Vec<MatchProposal> = self
            .resources
            .iter()
            .zip(&self.vectors)
            .filter(|(r, _)| Self::eligible(r, need))
            .filter_map(|(r, v)| {
                let mut score = 0.0;
                let mut shared: Vec<(&str, f64)> = Vec::new();
                for (t, w) in v {
                    if let Some(q) = query.get(t) {
                        score += q * w;
                        if t.0 == Kind::Word {
                            shared.push((t.1.as_str(), q * w));
                        }
                    }
                }
                (score >= min_score && score > 0.0).then(|| {
                    shared.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
                    MatchProposal {
                        resource: r.id,
                        score: score.min(1.0),
                        terms: shared.iter().take(5).map(|(t, _)| t.to_string()).collect(),
                    }
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.resource.cmp(&b.resource))
        });
        out.truncate(limit);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn resource(id: i64, text: &str, industries: &[&str], scope: Option<i64>) -> MatchResource {
        MatchResource {
            id,
            text: text.into(),
            industries: industries.iter().map(|s| s.to_string()).collect(),
            scope,
            serves: Vec::new(),
        }
    }

    fn need<'a>(text: &'a str, industry: &'a str, divisions: &'a [i64]) -> MatchNeed<'a> {
        MatchNeed {
            text,
            industry,
            divisions,
            kind: "funding",
        }
    }

    fn index() -> MatchIndex {
        MatchIndex::new(
            vec![
                resource(
                    1,
                    "科技型中小企业贷款贴息：银行信用贷款，最高500万元，利息补贴50%",
                    &[],
                    None,
                ),
                resource(
                    2,
                    "跨境电商出口平台：为制造业企业对接海外采购商，开拓国际市场",
                    &["制造业"],
                    None,
                ),
                resource(
                    3,
                    "福田区人才招聘会：每月一次，帮助企业招聘技术工人和研发人员",
                    &[],
                    Some(10),
                ),
                resource(
                    4,
                    "产业园厂房租赁：标准厂房，租金减免，适合精密制造",
                    &["制造业"],
                    Some(20),
                ),
            ],
            &Segmenter::new(),
        )
    }

    #[test]
    fn the_closest_resource_comes_first_with_the_shared_words() {
        let s = Segmenter::new();
        let idx = index();
        let out = idx.propose(
            &s,
            &need(
                "企业扩大生产急需银行贷款，希望获得贴息支持",
                "制造业",
                &[1, 10, 100],
            ),
            3,
            0.0,
        );
        assert_eq!(out[0].resource, 1, "{out:?}");
        assert!(out[0].terms.contains(&"贴息".to_string()), "{out:?}");
        assert!(out.iter().all(|p| (0.0..=1.0).contains(&p.score)));
        assert!(out.windows(2).all(|w| w[0].score >= w[1].score));
        let out = idx.propose(
            &s,
            &need("想找海外采购商，开拓国际市场，扩大出口", "制造业", &[1, 10]),
            3,
            0.0,
        );
        assert_eq!(out[0].resource, 2, "{out:?}");
    }

    #[test]
    fn identical_text_scores_one_and_unrelated_text_nothing() {
        let s = Segmenter::new();
        let idx = MatchIndex::new(
            vec![
                resource(7, "融资担保", &[], None),
                resource(8, "人才公寓", &[], None),
            ],
            &s,
        );
        let out = idx.propose(&s, &need("融资担保", "", &[]), 5, 0.0);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!((out[0].score - 1.0).abs() < 1e-9, "{out:?}");
        assert!(
            idx.propose(&s, &need("路灯不亮", "", &[]), 5, 0.0)
                .is_empty()
        );
    }

    #[test]
    fn industry_division_and_kind_filters_exclude_resources() {
        let s = Segmenter::new();
        let idx = index();
        let text = "需要招聘技术工人，也想租赁标准厂房，申请贷款贴息，对接海外采购商";
        let ids = |industry: &str, divisions: &[i64]| -> Vec<i64> {
            let mut ids: Vec<i64> = idx
                .propose(&s, &need(text, industry, divisions), 10, 0.0)
                .into_iter()
                .map(|p| p.resource)
                .collect();
            ids.sort();
            ids
        };
        // A manufacturer in street 10 (district 1): not the park of street 20.
        assert_eq!(ids("制造业", &[1, 10]), vec![1, 2, 3]);
        // A retailer in street 20: not the manufacturers' resources, not street 10's fair.
        assert_eq!(ids("批发和零售业", &[2, 20]), vec![1]);
        assert_eq!(ids("制造业", &[2, 20]), vec![1, 2, 4]);

        let mut only_talent = resource(9, "技术工人招聘", &[], None);
        only_talent.serves = vec!["talent".into()];
        let idx = MatchIndex::new(vec![only_talent], &s);
        assert!(
            idx.propose(&s, &need("招聘技术工人", "", &[]), 5, 0.0)
                .is_empty()
        );
        let talent = MatchNeed {
            kind: "talent",
            ..need("招聘技术工人", "", &[])
        };
        assert_eq!(idx.propose(&s, &talent, 5, 0.0).len(), 1);
    }

    #[test]
    fn limit_and_threshold_cut_the_list() {
        let s = Segmenter::new();
        let idx = index();
        let n = need("企业需要贷款、人才、厂房和市场", "制造业", &[1, 10, 2, 20]);
        let all = idx.propose(&s, &n, 10, 0.0);
        assert!(all.len() >= 3, "{all:?}");
        assert_eq!(idx.propose(&s, &n, 2, 0.0).len(), 2);
        let cut = all[1].score;
        let above = idx.propose(&s, &n, 10, cut);
        assert!(above.iter().all(|p| p.score >= cut));
        assert!(above.len() < all.len() || all.iter().all(|p| p.score >= cut));
        assert!(MatchIndex::new(Vec::new(), &s).is_empty());
        assert_eq!(idx.len(), 4);
    }
}
