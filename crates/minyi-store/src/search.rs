//! Full-text search over requests (全文检索): the search text a client types, the index kept
//! beside `requests`, and the clause `queries.rs` adds to a list.
//!
//! One row of `request_search` per request holds two documents: `body` (title, text, the
//! problem's address and every reply, each line ended by a line feed) and `personal` (the
//! requester's own address, personal data). A term is matched as a substring, which suits
//! Chinese without a segmenter: 路灯 finds 路灯不亮 and 小区路灯.
//!
//! - SQLite: an FTS5 table with the `trigram` tokenizer. A term of three or more characters is a
//!   phrase of its trigrams. A two-character term cannot be a trigram query, so it is expanded
//!   through the index's own vocabulary (`request_search_terms`, fts5vocab) into the trigrams
//!   that begin with it: every occurrence of the pair is followed by some character, since every
//!   line ends with a line feed, so the pair occurs exactly where one of those trigrams does.
//! - PostgreSQL: `pg_trgm` GIN indexes under `ILIKE '%term%'`. A two-character term has no
//!   trigram, so PostgreSQL scans (the bench measures it).
//!
//! A single character is refused (`TooShort`): it matches most of the city.
//!
//! On PostgreSQL the index is written in the transactions that write what it indexes: intake
//! (`insert_new`), the bulk history, and `save` for replies. On SQLite it is a file of its own,
//! kept by an indexer that follows the history, and a search first brings it up to every event
//! committed (`search_index.rs`). It is derived data: backups leave it out and a restore
//! rebuilds it.
//!
//! The personal document is searched only for roles that see personal data; the list's lines
//! carry no personal data either way.

use crate::StorageKind;
use crate::reference::{Batch, Val};
use minyi_domain::request::{Event, EventKind, Request};
use sqlx::Row;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// What the search text was refused for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchTextError {
    /// A term of one character.
    #[error(
        "every search term needs at least {} characters",
        SearchText::MIN_TERM_CHARS
    )]
    TooShort,
    /// More than [`SearchText::MAX_CHARS`] characters or [`SearchText::MAX_TERMS`] terms.
    #[error(
        "the search text is limited to {} characters and {} terms",
        SearchText::MAX_CHARS,
        SearchText::MAX_TERMS
    )]
    TooLong,
    /// Control characters other than whitespace.
    #[error("the search text contains control characters")]
    ControlCharacters,
}

/// A parsed search text: terms separated by whitespace, all of which must occur.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    terms: Vec<String>,
}

impl SearchText {
    /// The longest search text, in characters.
    pub const MAX_CHARS: usize = 64;
    /// The most terms.
    pub const MAX_TERMS: usize = 8;
    /// The shortest term, in characters.
    pub const MIN_TERM_CHARS: usize = 2;

    /// Parses what a client typed; blank text is `None` (no search).
    pub fn parse(text: &str) -> Result<Option<Self>, SearchTextError> {
        if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(SearchTextError::ControlCharacters);
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(SearchTextError::TooLong);
        }
        let mut terms: Vec<String> = Vec::new();
        for term in text.split_whitespace() {
            let term = term.to_lowercase();
            if term.chars().count() < Self::MIN_TERM_CHARS {
                return Err(SearchTextError::TooShort);
            }
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        if terms.len() > Self::MAX_TERMS {
            return Err(SearchTextError::TooLong);
        }
        Ok((!terms.is_empty()).then_some(SearchText { terms }))
    }

    /// The terms, lower-cased, without repeats.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }
}

/// A term as a `LIKE` pattern with `\` escaping (the default escape of PostgreSQL; SQLite is
/// told with `ESCAPE`).
pub(crate) fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A string as an FTS5 phrase.
fn fts_phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The reply texts among `events`, each ended by a line feed.
fn reply_lines(events: &[Event]) -> String {
    let mut lines = String::new();
    for e in events {
        match &e.kind {
            EventKind::Replied { text } => lines.push_str(text),
            EventKind::AnsweredAtIntake { answer } => lines.push_str(answer),
            _ => continue,
        }
        lines.push('\n');
    }
    lines
}

/// PostgreSQL: one row of the index for a request received with `events` (its whole history so
/// far). The same text as the SQLite indexer's documents (`search_index::INSERT_DOCUMENTS`).
pub(crate) fn document_row(
    request: &Request,
    requester_address: &str,
    events: &[Event],
) -> Vec<Val> {
    let intake = &request.intake;
    let body = format!(
        "{}\n{}\n{}\n{}",
        intake.title,
        intake.text,
        intake.location.address,
        reply_lines(events)
    );
    let personal = if requester_address.is_empty() {
        String::new()
    } else {
        format!("{requester_address}\n")
    };
    vec![Val::Int(request.id.0), Val::Text(body), Val::Text(personal)]
}

/// PostgreSQL: adds index rows made by [`document_row`].
pub(crate) async fn insert(
    kind: StorageKind,
    tx: &mut Tx,
    rows: &[Vec<Val>],
) -> Result<(), crate::StoreError> {
    let mut batch = Batch::new(kind);
    push_documents(&mut batch, rows);
    batch.run(tx).await
}

/// PostgreSQL: adds the INSERT of index rows made by [`document_row`] to `batch`.
pub(crate) fn push_documents(batch: &mut Batch, rows: &[Vec<Val>]) {
    batch.insert("request_search", &["request_id", "body", "personal"], rows);
}

/// PostgreSQL: appends the replies among a command's `events` to the request's document.
pub(crate) async fn append_replies(
    tx: &mut Tx,
    request: &Request,
    events: &[Event],
) -> Result<(), crate::StoreError> {
    let lines = reply_lines(events);
    if lines.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE request_search SET body = body || $1 WHERE request_id = $2")
        .bind(lines)
        .bind(request.id.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// PostgreSQL: rebuilds the whole index from the stored requests, replies and requesters (after
/// a restore). SQLite's index file is made again by its indexer (`search_index.rs`).
pub(crate) async fn rebuild(tx: &mut Tx) -> Result<(), crate::StoreError> {
    sqlx::query("DELETE FROM request_search")
        .execute(&mut **tx)
        .await?;
    sqlx::query(POSTGRES_BACKFILL).execute(&mut **tx).await?;
    Ok(())
}

const POSTGRES_BACKFILL: &str = "INSERT INTO request_search (request_id, body, personal) \
SELECT r.id, \
  r.title || chr(10) || COALESCE(r.snapshot::jsonb #>> '{intake,text}', '') || chr(10) \
  || COALESCE(r.snapshot::jsonb #>> '{intake,location,address}', '') || chr(10) \
  || COALESCE((SELECT string_agg(COALESCE(e.payload::jsonb ->> 'text', \
       e.payload::jsonb ->> 'answer', '') || chr(10), '' ORDER BY e.seq) FROM events e \
       WHERE e.request_id = r.id AND e.kind IN ('replied', 'answered_at_intake')), ''), \
  COALESCE((SELECT q.address || chr(10) FROM requesters q \
       WHERE q.request_id = r.id AND q.address <> ''), '') \
FROM requests r";

/// How a list's text clause is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextMode {
    /// Through `request_search`.
    Indexed,
    /// `LIKE '%term%'` over the stored title and snapshot (and the requester's address) without
    /// any index: the bench's baseline.
    NaiveScan,
}

/// The condition of a search on a list.
pub(crate) struct TextClause {
    /// A condition on `requests r` that every term occurs.
    pub condition: String,
    /// SQLite: the placeholder of the FTS5 expression when the list should walk the index in
    /// rowid order (CROSS JOIN, index outside) instead of testing `condition`.
    pub fts_match: Option<String>,
}

/// How much more testing one row the filters leave costs than reading one match from the index:
/// testing reads the row's document and looks for each term in it (about 10 µs a row at
/// 1,000,000 requests), the index hands out a match from its posting list (about 1 µs). Measured
/// on a unit's 20,000 requests against a road's 40,000 matches: checking took 193 ms, collecting
/// 50 ms.
pub(crate) const CHECK_COST: i64 = 8;

/// At or below this many rows left by the other filters, SQLite checks each one's document
/// without looking the terms up in the index's vocabulary: checking costs at most ~20 ms
/// (about 10 µs a row), while the lookup of a pair found in nearly every text scans its posting
/// lists (~100 ms at 1,000,000 requests). [`crate::Store::with_search_check_rows`] changes it.
pub const CHECK_ROWS: i64 = 2_000;

/// What the choice of a SQLite search plan rests on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanInputs {
    /// The list is in received order, which the index's rowid order gives.
    pub received_order: bool,
    /// All requests, and how many of them the other filters leave (counted only up to
    /// [`SqliteTerms::filtered_count_limit`]: beyond it checking each row cannot win).
    pub total_rows: i64,
    pub filtered_rows: i64,
    /// The rows the list needs: to the end of its page, or up to the count's cap.
    pub wanted_rows: i64,
}

impl PlanInputs {
    /// The plan that costs least, given at most `matches` matches of the text. Walking the
    /// index reads matches until enough pass the filters (they pass at the rate the filters
    /// leave rows); checking each row tests the rows the filters leave, at [`CHECK_COST`] a
    /// row; collecting reads every match.
    fn choose(&self, matches: i64) -> SqlitePlan {
        let collect = matches;
        let check = self.filtered_rows.saturating_mul(CHECK_COST);
        let pass_rate = self.filtered_rows.max(1) as f64 / self.total_rows.max(1) as f64;
        let walk = if self.received_order {
            ((self.wanted_rows as f64 / pass_rate) as i64).min(matches)
        } else {
            i64::MAX
        };
        if walk <= collect && walk <= check {
            SqlitePlan::WalkIndex
        } else if check < collect {
            SqlitePlan::CheckEachRow
        } else {
            SqlitePlan::CollectMatches
        }
    }
}

/// A search text turned into an FTS5 expression on SQLite, with the most documents it can match.
#[derive(Debug, Clone)]
pub(crate) struct SqliteTerms {
    /// One FTS5 expression per term, to be joined by AND.
    parts: Vec<String>,
    /// Each term occurs in at most as many documents as its rarest trigram, or for a pair the
    /// documents of its trigrams summed; the text in at most the least of its terms'.
    pub matches_at_most: i64,
}

impl SqliteTerms {
    /// Counting the rows the filters leave beyond this many cannot change the plan: checking
    /// them would cost more than collecting every match. The count is bounded by it, so that a
    /// broad filter is not counted row by row before a narrow search.
    pub fn filtered_count_limit(&self) -> i64 {
        self.matches_at_most / CHECK_COST + 1
    }
}

/// Looks the terms of `text` up in the index's vocabulary (SQLite); `None` when the text cannot
/// match anything (a two-character term the index has never seen).
pub(crate) async fn sqlite_terms(
    read: &sqlx::AnyPool,
    text: &SearchText,
) -> Result<Option<SqliteTerms>, crate::StoreError> {
    let mut parts = Vec::with_capacity(text.terms().len());
    let mut estimate = i64::MAX;
    for term in text.terms() {
        let chars: Vec<char> = term.chars().collect();
        if chars.len() >= 3 {
            // A phrase occurs at most in as many documents as its rarest trigram.
            for trigram in chars.windows(3) {
                let trigram: String = trigram.iter().collect();
                let docs: i64 = sqlx::query("SELECT doc FROM request_search_terms WHERE term = $1")
                    .bind(trigram)
                    .fetch_optional(read)
                    .await?
                    .map_or(0, |r| r.get(0));
                estimate = estimate.min(docs);
            }
            parts.push(fts_phrase(term));
            continue;
        }
        // Every trigram of the index that begins with the pair.
        let upper = format!("{term}{}", char::MAX);
        let trigrams: Vec<(String, i64)> = sqlx::query(
            "SELECT term, doc FROM request_search_terms WHERE term >= $1 AND term < $2",
        )
        .bind(term.as_str())
        .bind(upper)
        .fetch_all(read)
        .await?
        .into_iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
        .collect();
        if trigrams.is_empty() {
            return Ok(None);
        }
        estimate = estimate.min(trigrams.iter().map(|(_, docs)| docs).sum());
        let any: Vec<String> = trigrams.iter().map(|(t, _)| fts_phrase(t)).collect();
        parts.push(format!("({})", any.join(" OR ")));
    }
    Ok(Some(SqliteTerms {
        parts,
        matches_at_most: estimate,
    }))
}

/// `instr` of a term in a document column, case-insensitive as the index is. SQLite's `lower`
/// folds only ASCII letters, so for a term without them (Chinese) the column is searched as it
/// is, without copying it lower-cased.
fn contains(column: &str, term: &str, placeholder: &str) -> String {
    if term.bytes().any(|b| b.is_ascii_alphabetic()) {
        format!("instr(lower({column}), {placeholder}) > 0")
    } else {
        format!("instr({column}, {placeholder}) > 0")
    }
}

/// How SQLite finds the matches of a search, chosen from the estimated number of matches
/// (each term occurs in at most as many documents as its rarest trigram, or for a pair the
/// documents of its trigrams summed) against the rows the other filters leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqlitePlan {
    /// Walk the index in rowid order, test the filters on each match, stop at the page and
    /// the count's cap: for a text that matches many with no or loose filters.
    WalkIndex,
    /// Collect every match through the index, then filter and sort: few matches.
    CollectMatches,
    /// Test the terms in the document of each row the filters leave: narrow filters.
    CheckEachRow,
}

/// How a list's text condition is evaluated, with what that needs.
pub(crate) enum TextSearch {
    /// `LIKE` (SQLite) or `ILIKE` (PostgreSQL) over the stored rows, without any index.
    NaiveScan(StorageKind),
    /// PostgreSQL's trigram indexes on `request_search`.
    Postgres,
    /// SQLite's FTS5 index: the terms looked up in its vocabulary, and the plan's inputs.
    Sqlite(SqliteTerms, PlanInputs),
    /// SQLite, the other filters leaving at most [`CHECK_ROWS`] rows: each one's document is
    /// checked, without the vocabulary.
    SqliteCheckEachRow,
}

/// The SQL condition (on `requests r`) that every term of `text` occurs. Its parameters are
/// added to `binds`.
pub(crate) fn clause(
    text: &SearchText,
    personal: bool,
    how: TextSearch,
    binds: &mut Vec<Val>,
) -> TextClause {
    let mut bind = |v: Val| {
        binds.push(v);
        format!("${}", binds.len())
    };
    match how {
        TextSearch::NaiveScan(kind) => {
            let like = match kind {
                StorageKind::Sqlite => "LIKE",
                StorageKind::Postgres => "ILIKE",
            };
            let escape = match kind {
                StorageKind::Sqlite => " ESCAPE '\\'",
                StorageKind::Postgres => "",
            };
            let parts: Vec<String> = text
                .terms()
                .iter()
                .map(|t| {
                    let p = bind(Val::Text(like_pattern(t)));
                    // The snapshot holds the text, the problem's address and the latest reply.
                    let mut any =
                        format!("r.title {like} {p}{escape} OR r.snapshot {like} {p}{escape}");
                    if personal {
                        any.push_str(&format!(
                            " OR r.id IN (SELECT q.request_id FROM requesters q WHERE q.address {like} {p}{escape})"
                        ));
                    }
                    format!("({any})")
                })
                .collect();
            TextClause {
                condition: parts.join(" AND "),
                fts_match: None,
            }
        }
        TextSearch::Postgres => {
            let parts: Vec<String> = text
                .terms()
                .iter()
                .map(|t| {
                    let p = bind(Val::Text(like_pattern(t)));
                    if personal {
                        format!("(s.body ILIKE {p} OR s.personal ILIKE {p})")
                    } else {
                        format!("s.body ILIKE {p}")
                    }
                })
                .collect();
            TextClause {
                condition: format!(
                    "r.id IN (SELECT s.request_id FROM request_search s WHERE {})",
                    parts.join(" AND ")
                ),
                fts_match: None,
            }
        }
        TextSearch::SqliteCheckEachRow => check_each_row(text, personal, &mut bind),
        TextSearch::Sqlite(terms, plan_inputs) => {
            let plan = plan_inputs.choose(terms.matches_at_most);
            if plan == SqlitePlan::CheckEachRow {
                return check_each_row(text, personal, &mut bind);
            }
            let expression = terms.parts.join(" AND ");
            let expression = if personal {
                expression
            } else {
                format!("body : ({expression})")
            };
            let p = bind(Val::Text(expression));
            TextClause {
                condition: format!(
                    "r.id IN (SELECT rowid FROM request_search WHERE request_search MATCH {p})"
                ),
                fts_match: (plan == SqlitePlan::WalkIndex).then_some(p),
            }
        }
    }
}

/// SQLite: read each filtered row's document by rowid and look for the terms in it.
fn check_each_row(
    text: &SearchText,
    personal: bool,
    bind: &mut impl FnMut(Val) -> String,
) -> TextClause {
    let checks: Vec<String> = text
        .terms()
        .iter()
        .map(|t| {
            let p = bind(Val::Text(t.clone()));
            if personal {
                format!(
                    "({} OR {})",
                    contains("s.body", t, &p),
                    contains("s.personal", t, &p)
                )
            } else {
                contains("s.body", t, &p)
            }
        })
        .collect();
    TextClause {
        condition: format!(
            "EXISTS (SELECT 1 FROM request_search s WHERE s.rowid = r.id AND {})",
            checks.join(" AND ")
        ),
        fts_match: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<Option<Vec<&str>>, SearchTextError>) {
        let got = SearchText::parse(input).map(|t| t.map(|t| t.terms().to_vec()));
        let expect = expect.map(|t| t.map(|t| t.into_iter().map(String::from).collect()));
        assert_eq!(got, expect, "{input:?}");
    }

    #[test]
    fn search_text_is_split_into_terms_of_two_characters_or_more() {
        check("", Ok(None));
        check("   ", Ok(None));
        check("路灯", Ok(Some(vec!["路灯"])));
        check(" 路灯  不亮 路灯", Ok(Some(vec!["路灯", "不亮"])));
        check("Wi-Fi 噪音", Ok(Some(vec!["wi-fi", "噪音"])));
        check("灯", Err(SearchTextError::TooShort));
        check("路灯 a", Err(SearchTextError::TooShort));
        check(&"路".repeat(65), Err(SearchTextError::TooLong));
        check("aa bb cc dd ee ff gg hh ii", Err(SearchTextError::TooLong));
        check("路灯\u{1b}[31m", Err(SearchTextError::ControlCharacters));
        check("路灯\t不亮", Ok(Some(vec!["路灯", "不亮"])));
    }

    fn inputs(filtered_rows: i64, received_order: bool) -> PlanInputs {
        PlanInputs {
            received_order,
            total_rows: 1_000_000,
            filtered_rows,
            wanted_rows: 1001,
        }
    }

    #[test]
    fn the_plan_weighs_checking_a_row_against_reading_a_match() {
        // A busy unit's 20,000 requests and a road in 40,000 texts: collecting is cheaper.
        assert_eq!(
            inputs(20_000, false).choose(40_000),
            SqlitePlan::CollectMatches
        );
        // The unit's 1,000 open requests: checking them is cheaper than 40,000 matches.
        assert_eq!(
            inputs(1_000, false).choose(40_000),
            SqlitePlan::CheckEachRow
        );
        // A word in most texts, no filter, newest first: walk until the page and the cap.
        assert_eq!(
            inputs(1_000_000, true).choose(900_000),
            SqlitePlan::WalkIndex
        );
        // Few matches, sorted by due time: collect them rather than check every row.
        assert_eq!(
            inputs(1_000_000, false).choose(300),
            SqlitePlan::CollectMatches
        );
        // The bound on the filtered count is where checking stops being able to win.
        let terms = SqliteTerms {
            parts: Vec::new(),
            matches_at_most: 40_000,
        };
        let limit = terms.filtered_count_limit();
        assert_eq!(
            inputs(limit, false).choose(40_000),
            SqlitePlan::CollectMatches
        );
        assert_eq!(
            inputs(limit - 2, false).choose(40_000),
            SqlitePlan::CheckEachRow
        );
    }

    #[test]
    fn a_term_without_ascii_letters_is_looked_for_without_lowering_the_document() {
        assert_eq!(contains("s.body", "路灯", "$1"), "instr(s.body, $1) > 0");
        assert_eq!(
            contains("s.body", "wi-fi", "$1"),
            "instr(lower(s.body), $1) > 0"
        );
        assert_eq!(
            contains("s.personal", "5栋b座", "$2"),
            "instr(lower(s.personal), $2) > 0"
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
