//! Urgency (紧急): spotting requests that describe a danger to life or property, so intake can
//! flag them for immediate transfer (紧急件) instead of the normal queue.
//!
//! An [`UrgencyDetector`] holds a lexicon of danger words and phrases, each with a level
//! ([`UrgencyLevel::Emergency`]: a life is at risk now, such as 燃气泄漏 a gas leak, 起火 a fire,
//! 被困 someone trapped; [`UrgencyLevel::Urgent`]: a hazard that must be made safe the same day,
//! such as 井盖缺失 a missing manhole cover or 漏电 current leaking). [`UrgencyDetector::assess`]
//! finds them with one Aho-Corasick pass and discards mentions that are negated (没有燃气泄漏,
//! 未发现漏电), hypothetical or preventive (预防火灾, 以防触电), or reported as already over
//! (火已扑灭, 已经修好), looking for negators only in the word's own clause and for "over" phrases in
//! that clause and the next.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Serialize;

/// How urgent a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyLevel {
    /// 一般: the normal queue.
    Ordinary,
    /// 紧急: a hazard to make safe the same day.
    Urgent,
    /// 特急: a danger to life now; transfer at once (to 110/119/120 where it applies).
    Emergency,
}

/// One danger word found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrgencyHit {
    /// The lexicon entry matched.
    pub term: String,
    /// Its level.
    pub level: UrgencyLevel,
    /// Byte offset of the start in the text.
    pub start: usize,
    /// Byte offset of the end in the text.
    pub end: usize,
}

/// The verdict of [`UrgencyDetector::assess`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrgencyReport {
    /// The highest level among the kept hits ([`UrgencyLevel::Ordinary`] when none).
    pub level: UrgencyLevel,
    /// The danger words that count, in text order.
    pub hits: Vec<UrgencyHit>,
    /// Danger words found but discarded as negated, preventive or over, in text order.
    pub discarded: Vec<UrgencyHit>,
}

/// The built-in lexicon.
const LEXICON: &[(&str, UrgencyLevel)] = {
    use UrgencyLevel::{Emergency as E, Urgent as U};
    &[
        // Gas.
        ("燃气泄漏", E),
        ("燃气泄露", E),
        ("煤气泄漏", E),
        ("煤气泄露", E),
        ("天然气泄漏", E),
        ("天然气泄露", E),
        ("漏气", E),
        ("煤气味", E),
        ("燃气味", E),
        ("天然气味", E),
        ("液化气味", E),
        // Fire and explosion.
        ("起火", E),
        ("着火", E),
        ("失火", E),
        ("火灾", E),
        ("火情", E),
        ("浓烟", E),
        ("爆炸", E),
        // Electricity.
        ("触电", E),
        ("漏电", U),
        ("电线裸露", U),
        ("电线掉落", U),
        ("电线垂落", U),
        ("高压线断", E),
        // Collapse.
        ("坍塌", E),
        ("倒塌", E),
        ("塌方", E),
        ("塌陷", U),
        ("地陷", U),
        ("危房", U),
        ("高空坠物", U),
        ("树木倒伏", U),
        ("大树倒", U),
        // People in danger.
        ("被困", E),
        ("困在电梯", E),
        ("电梯困人", E),
        ("关在电梯", E),
        ("溺水", E),
        ("落水", E),
        ("持刀", E),
        ("砍人", E),
        ("要跳楼", E),
        ("想跳楼", E),
        ("跳楼", E),
        ("轻生", E),
        ("自杀", E),
        ("有人晕倒", E),
        ("晕倒", E),
        ("昏迷", E),
        ("没有呼吸", E),
        ("大量出血", E),
        ("威胁我", U),
        ("威胁要", U),
        ("威胁恐吓", U),
        ("恐吓", U),
        ("扬言要", U),
        ("殴打", U),
        ("打人", U),
        ("家暴", U),
        ("老人走失", U),
        ("小孩走失", U),
        ("儿童走失", U),
        // Roads and pipes.
        ("井盖缺失", U),
        ("井盖丢失", U),
        ("井盖被盗", U),
        ("没有井盖", U),
        ("井盖破损", U),
        ("水管爆裂", U),
        ("爆管", U),
        ("路面塌陷", U),
        ("严重内涝", U),
        ("危化品", U),
        ("化学品泄漏", E),
    ]
};

/// Words that cancel a danger word placed shortly before it in the same clause.
const NEGATORS: &[&str] = &[
    "没有",
    "没",
    "无",
    "未",
    "不是",
    "并非",
    "不存在",
    "排除",
    "有没有",
    "是否",
    "会不会",
];

/// Words that make the rest of their clause hypothetical or preventive (如果发生火灾,
/// 随时可能坍塌): a danger word anywhere after them in the clause is cancelled.
const CONDITIONALS: &[&str] = &[
    "防止", "预防", "避免", "以防", "防范", "谨防", "以免", "担心", "害怕", "生怕", "万一", "如果",
    "假如", "假设", "一旦", "要是", "若是", "倘若", "难道", "可能", "随时", "容易", "将会", "恐将",
    "隐患",
];

/// Phrases after a danger word, in its clause or the next, that say it is over.
const OVER: &[&str] = &[
    "已扑灭",
    "已经扑灭",
    "被扑灭",
    "已处理",
    "已经处理",
    "已修好",
    "已经修好",
    "已修复",
    "已经修复",
    "已解决",
    "已经解决",
    "已排除",
    "已救出",
    "已被救出",
    "已恢复",
];

/// Words after a danger word, in its own clause, that make it a risk rather than an event
/// (火灾隐患, 触电的风险).
const RISK: &[&str] = &["隐患", "风险", "危险性", "可能性", "演练", "宣传", "知识"];

/// Characters before a word that make it part of another word (挑起火头 is not 起火; 淹没 is
/// not a negation 没).
const JOINED: &[(&str, &str)] = &[("起火", "挑掀激"), ("没", "淹埋出沉")];

/// Characters after a word that make it part of another word (看着火车站 is not 着火; 塌方式
/// is a figure of speech; 爆炸性 is an adjective).
const FOLLOWED: &[(&str, &str)] = &[("着火", "车"), ("塌方", "式"), ("爆炸", "性式")];

/// How many characters may separate a negator from the danger word (`没有发生燃气泄漏`).
const NEGATION_REACH: usize = 4;

/// Finds danger words and decides the urgency level. Build once, share, call per request.
#[derive(Debug, Clone)]
pub struct UrgencyDetector {
    automaton: Option<AhoCorasick>,
    terms: Vec<(String, UrgencyLevel)>,
}

impl Default for UrgencyDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl UrgencyDetector {
    /// The detector with the built-in lexicon.
    pub fn new() -> Self {
        Self::with_terms(LEXICON.iter().map(|&(t, l)| (t.to_owned(), l)))
    }

    /// A detector with the built-in lexicon plus `terms` (a term given again takes the new
    /// level; [`UrgencyLevel::Ordinary`] removes it).
    pub fn with_extra_terms<I>(terms: I) -> Self
    where
        I: IntoIterator<Item = (String, UrgencyLevel)>,
    {
        Self::with_terms(LEXICON.iter().map(|&(t, l)| (t.to_owned(), l)).chain(terms))
    }

    /// A detector with exactly `terms` (blank terms are skipped; the last level given for a
    /// term wins; [`UrgencyLevel::Ordinary`] entries are dropped).
    pub fn with_terms<I>(terms: I) -> Self
    where
        I: IntoIterator<Item = (String, UrgencyLevel)>,
    {
        let mut kept: Vec<(String, UrgencyLevel)> = Vec::new();
        for (term, level) in terms {
            let term = term.trim().to_owned();
            if term.is_empty() {
                continue;
            }
            kept.retain(|(t, _)| *t != term);
            if level != UrgencyLevel::Ordinary {
                kept.push((term, level));
            }
        }
        // Building fails only past the automaton's size limits, far beyond any lexicon; the
        // detector then finds nothing rather than failing intake.
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(kept.iter().map(|(t, _)| t.as_str()))
            .ok();
        Self {
            automaton,
            terms: kept,
        }
    }

    /// The lexicon in use.
    pub fn terms(&self) -> &[(String, UrgencyLevel)] {
        &self.terms
    }

    /// Assesses a text (give title and text joined, e.g. `"{title}。{text}"`).
    pub fn assess(&self, text: &str) -> UrgencyReport {
        let mut hits = Vec::new();
        let mut discarded = Vec::new();
        let Some(automaton) = &self.automaton else {
            return UrgencyReport {
                level: UrgencyLevel::Ordinary,
                hits,
                discarded,
            };
        };
        for m in automaton.find_iter(text) {
            let (term, level) = &self.terms[m.pattern().as_usize()];
            let hit = UrgencyHit {
                term: term.clone(),
                level: *level,
                start: m.start(),
                end: m.end(),
            };
            if cancelled(text, m.start(), m.end()) {
                discarded.push(hit);
            } else {
                hits.push(hit);
            }
        }
        UrgencyReport {
            level: hits
                .iter()
                .map(|h| h.level)
                .max()
                .unwrap_or(UrgencyLevel::Ordinary),
            hits,
            discarded,
        }
    }
}

fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        '，' | '。' | '！' | '？' | '；' | '：' | ',' | '.' | '!' | '?' | ';' | ':' | '\n' | '\r'
    )
}

/// Whether the danger word at `start..end` is negated, hypothetical or over.
fn cancelled(text: &str, start: usize, end: usize) -> bool {
    let before = &text[..start];
    let clause_start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| is_clause_break(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let prefix = &before[clause_start..];
    let joined = |word: &str, at: usize| {
        let previous = text[..at].chars().last();
        JOINED
            .iter()
            .any(|(w, chars)| *w == word && previous.is_some_and(|c| chars.contains(c)))
    };
    let word = &text[start..end];
    let next = text[end..].chars().next();
    if joined(word, start)
        || FOLLOWED
            .iter()
            .any(|(w, chars)| *w == word && next.is_some_and(|c| chars.contains(c)))
    {
        return true;
    }
    for negator in NEGATORS {
        for (at, _) in prefix.match_indices(negator) {
            let gap = prefix[at + negator.len()..].chars().count();
            if gap <= NEGATION_REACH && !joined(negator, clause_start + at) {
                return true;
            }
        }
    }
    if CONDITIONALS.iter().any(|c| prefix.contains(c)) {
        return true;
    }
    // "Over" may be said in the same clause or the next one (起火，现已扑灭).
    let after = &text[end..];
    let mut breaks = after
        .char_indices()
        .filter(|&(_, c)| is_clause_break(c))
        .map(|(i, _)| i);
    let reach = breaks.nth(1).unwrap_or(after.len());
    let suffix = &after[..reach];
    let own = &after[..after
        .char_indices()
        .find(|&(_, c)| is_clause_break(c))
        .map_or(after.len(), |(i, _)| i)];
    OVER.iter().any(|o| suffix.contains(o)) || RISK.iter().any(|r| own.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(text: &str) -> UrgencyLevel {
        UrgencyDetector::new().assess(text).level
    }

    #[test]
    fn danger_words_raise_the_level() {
        let d = UrgencyDetector::new();
        let r = d.assess("楼道里有很浓的煤气味，怀疑燃气泄漏，请马上派人来");
        assert_eq!(r.level, UrgencyLevel::Emergency);
        let terms: Vec<&str> = r.hits.iter().map(|h| h.term.as_str()).collect();
        assert_eq!(terms, ["煤气味", "燃气泄漏"]);
        let h = &r.hits[1];
        assert_eq!(
            &"楼道里有很浓的煤气味，怀疑燃气泄漏，请马上派人来"[h.start..h.end],
            "燃气泄漏"
        );
        assert_eq!(level("3栋有人困在电梯里半小时了"), UrgencyLevel::Emergency);
        assert_eq!(level("邻居说要跳楼，情绪很激动"), UrgencyLevel::Emergency);
        assert_eq!(level("小区门口有人晕倒了"), UrgencyLevel::Emergency);
        assert_eq!(level("路口井盖缺失，晚上很危险"), UrgencyLevel::Urgent);
        assert_eq!(level("配电箱漏电，小孩经常在旁边玩"), UrgencyLevel::Urgent);
        assert_eq!(level("路灯坏了一个月没人修"), UrgencyLevel::Ordinary);
    }

    #[test]
    fn negated_preventive_and_finished_mentions_do_not_count() {
        let d = UrgencyDetector::new();
        let r = d.assess("经检查没有燃气泄漏，但是热水器老化");
        assert_eq!(r.level, UrgencyLevel::Ordinary);
        assert_eq!(r.discarded.len(), 1);
        assert_eq!(level("没有发生火灾，只是烧烤冒烟"), UrgencyLevel::Ordinary);
        assert_eq!(level("建议加强消防检查，预防火灾"), UrgencyLevel::Ordinary);
        assert_eq!(
            level("昨晚起火，现已扑灭，请调查原因"),
            UrgencyLevel::Ordinary
        );
        assert_eq!(
            level("昨晚起火，请调查原因，火已扑灭"),
            UrgencyLevel::Emergency
        );
        assert_eq!(level("楼下着火已扑灭，想问赔偿"), UrgencyLevel::Ordinary);
        assert_eq!(level("请问小区是否有漏电隐患"), UrgencyLevel::Ordinary);
        assert_eq!(
            level("如果深夜周边发生火灾将面临无水可用"),
            UrgencyLevel::Ordinary
        );
        assert_eq!(level("一旦发生火灾，后果不堪设想"), UrgencyLevel::Ordinary);
        assert_eq!(
            level("楼道堆满杂物，存在严重的火灾隐患"),
            UrgencyLevel::Ordinary
        );
        assert_eq!(level("这栋楼随时可能坍塌"), UrgencyLevel::Ordinary);
        assert_eq!(
            level("有人在群里挑起火头，煽动闹事"),
            UrgencyLevel::Ordinary
        );
        // Abstract "threatens safety" is not a threat against a person.
        assert_eq!(level("搅拌站严重威胁居民健康"), UrgencyLevel::Ordinary);
        assert_eq!(level("房东威胁我说要砸门"), UrgencyLevel::Urgent);
    }

    #[test]
    fn negation_stays_inside_its_clause_and_reach() {
        // The negator is in another clause: the fire still counts.
        assert_eq!(
            level("物业没有人管，现在楼下着火了"),
            UrgencyLevel::Emergency
        );
        // Too far from the word to govern it.
        assert_eq!(
            level("没有想到今天在家里闻到了煤气味"),
            UrgencyLevel::Emergency
        );
        // 淹没 is not a negation.
        assert_eq!(level("车被淹没落水了"), UrgencyLevel::Emergency);
        // A negator inside the term itself is part of the danger.
        assert_eq!(level("路中间没有井盖"), UrgencyLevel::Urgent);
    }

    #[test]
    fn custom_terms_add_and_remove() {
        let d = UrgencyDetector::with_extra_terms([
            ("山体滑坡".to_owned(), UrgencyLevel::Emergency),
            ("威胁我".to_owned(), UrgencyLevel::Ordinary),
        ]);
        assert_eq!(d.assess("后山山体滑坡").level, UrgencyLevel::Emergency);
        assert_eq!(d.assess("他威胁我").level, UrgencyLevel::Ordinary);
        assert_eq!(
            UrgencyDetector::new().assess("他威胁我").level,
            UrgencyLevel::Urgent
        );
        let empty = UrgencyDetector::with_terms(Vec::new());
        assert_eq!(empty.assess("着火了").level, UrgencyLevel::Ordinary);
    }

    #[test]
    fn a_warning_about_a_hazard_is_not_an_emergency() {
        let d = UrgencyDetector::new();
        let text = "您好，我是翠海花园的住户，最近楼道里的灯一直不亮，物业说没有经费维修，\
                    晚上老人上下楼很不方便，之前还有人摔倒过。另外地下车库有很多电动车在充电，\
                    存在火灾隐患，希望相关部门能督促物业尽快处理，谢谢。";
        let rounds = 3u32;
        let mut ordinary = 0;
        for _ in 0..rounds {
            ordinary += usize::from(d.assess(text).level == UrgencyLevel::Ordinary);
        }
        assert_eq!(ordinary, rounds as usize);
    }

    #[test]
    fn shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<UrgencyDetector>();
    }
}
