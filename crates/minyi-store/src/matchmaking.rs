//! Matchmaking (我帮企业找市场 / 找资金): needs posted for enterprises, registered resources, and
//! the matches between them followed to their outcome, plus the programme's key figures
//! (考核指标) per team, street and district.
//!
//! The store does not score: the caller (the server, the demo) ranks resources with
//! `minyi_engine::matching` and hands the proposals here. A match moves only as
//! [`MatchStatus::advance`] allows, checked inside the write transaction.

use crate::enterprise::{day_ms, ms_day};
use crate::reference::{Val, bulk_insert};
use crate::{Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use minyi_domain::division::{DivisionLevel, DivisionTree};
use minyi_domain::enterprise::{EnterpriseId, TeamId, VisitPlan};
use minyi_domain::matchmaking::{MatchStatus, NeedKind, NeedStatus, ResourceKind};
use minyi_domain::request::EventKind;
use minyi_domain::{DivisionId, UserId};
use rustc_hash::FxHashMap;
use sqlx::Row;

/// A resource to register (资源).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResource {
    pub kind: ResourceKind,
    pub name: String,
    /// Who offers it (a bureau, a bank, a buyer).
    pub provider: String,
    pub description: String,
    /// The industries it serves; empty for every industry.
    pub industries: Vec<String>,
    /// The district or street it is open to; `None` for the whole city.
    pub scope: Option<DivisionId>,
}

/// A registered resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceRecord {
    pub id: i64,
    pub kind: ResourceKind,
    pub name: String,
    pub provider: String,
    pub description: String,
    pub industries: Vec<String>,
    pub scope: Option<DivisionId>,
    /// The need kinds it serves (from its kind).
    pub serves: Vec<NeedKind>,
    pub active: bool,
}

/// A need to post for an enterprise (企业需求).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNeed {
    pub enterprise: EnterpriseId,
    pub kind: NeedKind,
    pub title: String,
    pub detail: String,
}

/// A posted need with what matching needs to know of its enterprise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NeedRecord {
    pub id: i64,
    pub enterprise: EnterpriseId,
    pub enterprise_name: String,
    pub industry: String,
    pub division: DivisionId,
    /// The team the enterprise is assigned to, if any.
    pub team: Option<TeamId>,
    pub kind: NeedKind,
    pub title: String,
    pub detail: String,
    pub status: NeedStatus,
    pub created_on: NaiveDate,
    /// Matches of this need by status: proposed, contacted, agreed, declined.
    pub matches: [i64; 4],
}

/// A match proposed by the caller's scoring.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub resource: i64,
    /// Similarity 0–1.
    pub score: f64,
    /// Shared words shown as the reason.
    pub terms: Vec<String>,
}

/// One step of a match (推荐, 对接, 达成 …) with its note.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatchStep {
    pub status: MatchStatus,
    pub note: String,
    pub at: DateTime<Utc>,
    pub user: Option<UserId>,
}

/// A match of a need with a resource.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MatchRecord {
    pub id: i64,
    pub need: i64,
    pub enterprise: EnterpriseId,
    pub team: Option<TeamId>,
    pub resource: i64,
    pub resource_name: String,
    pub resource_kind: ResourceKind,
    pub provider: String,
    pub score: f64,
    pub terms: Vec<String>,
    pub status: MatchStatus,
    pub proposed_on: NaiveDate,
    pub contacted_on: Option<NaiveDate>,
    pub decided_on: Option<NaiveDate>,
    pub steps: Vec<MatchStep>,
}

/// A generated need with its matches (the demo): (resource, score, final status, day of contact,
/// day of the outcome).
#[derive(Debug, Clone)]
pub struct SeedNeed {
    pub enterprise: EnterpriseId,
    pub kind: NeedKind,
    pub title: String,
    pub detail: String,
    pub created: NaiveDate,
    pub matches: Vec<SeedMatch>,
}

/// A generated match of a [`SeedNeed`].
#[derive(Debug, Clone)]
pub struct SeedMatch {
    pub resource: i64,
    pub score: f64,
    pub terms: Vec<String>,
    pub status: MatchStatus,
    pub contacted: Option<NaiveDate>,
    pub decided: Option<NaiveDate>,
}

/// An enterprise as matching sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseBrief {
    pub id: EnterpriseId,
    pub team: Option<TeamId>,
    pub industry: String,
    pub division: DivisionId,
}

/// How the programme's key figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgrammeGroup {
    Team,
    /// By the street a team serves (district teams are in no street).
    Street,
    /// By the district a team serves or lies in.
    District,
}

impl ProgrammeGroup {
    /// Parses `team`, `street` or `district`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "team" => Some(ProgrammeGroup::Team),
            "street" => Some(ProgrammeGroup::Street),
            "district" => Some(ProgrammeGroup::District),
            _ => None,
        }
    }
}

/// The programme's key figures for one team, street or district (考核指标).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProgrammeKpi {
    /// The team id, or the division id of the street or district.
    pub id: i64,
    pub name: String,
    pub teams: i64,
    pub enterprises: i64,
    pub visits_done: i64,
    pub visits_planned: i64,
    pub overdue: i64,
    pub requests_raised: i64,
    /// Raised requests now replied or closed.
    pub requests_resolved: i64,
    /// Ratings of raised requests, and of those satisfied or basically satisfied.
    pub rated: i64,
    pub satisfied: i64,
    pub needs: i64,
    pub matches_proposed: i64,
    pub matches_contacted: i64,
    /// Matches made (对接成功).
    pub matches_agreed: i64,
    pub matches_declined: i64,
}

fn split_list(s: &str) -> Vec<String> {
    s.split('|')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_or_corrupt<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| StoreError::Corrupt(format!("unknown value {value}")))
}

fn ms_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

const NEED_SELECT: &str = "SELECT n.id, n.enterprise_id, e.name, e.industry, e.division_id, \
     a.team_id, n.kind, n.title, n.detail, n.status, n.created_at, \
     (SELECT COUNT(*) FROM need_matches m WHERE m.need_id = n.id AND m.status = 'proposed'), \
     (SELECT COUNT(*) FROM need_matches m WHERE m.need_id = n.id AND m.status = 'contacted'), \
     (SELECT COUNT(*) FROM need_matches m WHERE m.need_id = n.id AND m.status = 'agreed'), \
     (SELECT COUNT(*) FROM need_matches m WHERE m.need_id = n.id AND m.status = 'declined') \
     FROM enterprise_needs n JOIN enterprises e ON e.id = n.enterprise_id \
     LEFT JOIN enterprise_assignments a ON a.enterprise_id = n.enterprise_id";

fn need_from_row(r: &sqlx::any::AnyRow) -> Result<NeedRecord, StoreError> {
    Ok(NeedRecord {
        id: r.get(0),
        enterprise: EnterpriseId(r.get(1)),
        enterprise_name: r.get(2),
        industry: r.get(3),
        division: DivisionId(r.get(4)),
        team: r.get::<Option<i64>, _>(5).map(TeamId),
        kind: parse_or_corrupt(&r.get::<String, _>(6), NeedKind::parse)?,
        title: r.get(7),
        detail: r.get(8),
        status: parse_or_corrupt(&r.get::<String, _>(9), NeedStatus::parse)?,
        created_on: ms_day(r.get(10)),
        matches: [r.get(11), r.get(12), r.get(13), r.get(14)],
    })
}

const MATCH_SELECT: &str = "SELECT m.id, m.need_id, n.enterprise_id, a.team_id, m.resource_id, \
     r.name, r.kind, r.provider, m.score, m.terms, m.status, m.proposed_at, m.contacted_at, \
     m.decided_at FROM need_matches m JOIN enterprise_needs n ON n.id = m.need_id \
     JOIN match_resources r ON r.id = m.resource_id \
     LEFT JOIN enterprise_assignments a ON a.enterprise_id = n.enterprise_id";

fn match_from_row(r: &sqlx::any::AnyRow) -> Result<MatchRecord, StoreError> {
    Ok(MatchRecord {
        id: r.get(0),
        need: r.get(1),
        enterprise: EnterpriseId(r.get(2)),
        team: r.get::<Option<i64>, _>(3).map(TeamId),
        resource: r.get(4),
        resource_name: r.get(5),
        resource_kind: parse_or_corrupt(&r.get::<String, _>(6), ResourceKind::parse)?,
        provider: r.get(7),
        score: r.get::<i64, _>(8) as f64 / 1000.0,
        terms: split_list(&r.get::<String, _>(9)),
        status: parse_or_corrupt(&r.get::<String, _>(10), MatchStatus::parse)?,
        proposed_on: ms_day(r.get(11)),
        contacted_on: r.get::<Option<i64>, _>(12).map(ms_day),
        decided_on: r.get::<Option<i64>, _>(13).map(ms_day),
        steps: Vec::new(),
    })
}

impl Store {
    /// Registers resources; returns their ids in order.
    pub async fn register_resources(
        &self,
        resources: &[NewResource],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        for r in resources {
            if r.name.trim().is_empty() {
                return Err(StoreError::Invalid("a resource needs a name".into()));
            }
            if r.industries.iter().any(|i| i.contains('|')) {
                return Err(StoreError::Invalid(
                    "an industry may not contain '|'".into(),
                ));
            }
        }
        let mut tx = self.begin_write().await?;
        let first = self.next_id(&mut tx, "match_resources").await?;
        let rows: Vec<Vec<Val>> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let serves: Vec<&str> = r
                    .kind
                    .served_needs()
                    .into_iter()
                    .map(NeedKind::as_str)
                    .collect();
                vec![
                    Val::Int(first + i as i64),
                    Val::Text(r.kind.as_str().into()),
                    Val::Text(r.name.trim().into()),
                    Val::Text(r.provider.trim().into()),
                    Val::Text(r.description.trim().into()),
                    Val::Text(r.industries.join("|")),
                    Val::OptInt(r.scope.map(|d| d.0)),
                    Val::Text(serves.join("|")),
                    Val::Int(now.timestamp_millis()),
                ]
            })
            .collect();
        bulk_insert(
            self.kind,
            &mut tx,
            "match_resources",
            &[
                "id",
                "kind",
                "name",
                "provider",
                "description",
                "industries",
                "scope_division_id",
                "serves",
                "created_at",
            ],
            &rows,
        )
        .await?;
        tx.commit().await?;
        Ok((0..resources.len() as i64).map(|i| first + i).collect())
    }

    /// The registered resources (only the active ones when `active_only`), by id.
    pub async fn resources(&self, active_only: bool) -> Result<Vec<ResourceRecord>, StoreError> {
        sqlx::query(
            "SELECT id, kind, name, provider, description, industries, scope_division_id, \
             active FROM match_resources WHERE ($1 = 0 OR active = 1) ORDER BY id",
        )
        .bind(i64::from(active_only))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let kind = parse_or_corrupt(&r.get::<String, _>(1), ResourceKind::parse)?;
            Ok(ResourceRecord {
                id: r.get(0),
                kind,
                name: r.get(2),
                provider: r.get(3),
                description: r.get(4),
                industries: split_list(&r.get::<String, _>(5)),
                scope: r.get::<Option<i64>, _>(6).map(DivisionId),
                serves: kind.served_needs(),
                active: r.get::<i64, _>(7) != 0,
            })
        })
        .collect()
    }

    /// Posts a need for an enterprise.
    pub async fn create_need(
        &self,
        need: &NewNeed,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<NeedRecord, StoreError> {
        if need.title.trim().is_empty() {
            return Err(StoreError::Invalid("a need needs a title".into()));
        }
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query("SELECT id FROM enterprises WHERE id = $1")
            .bind(need.enterprise.0)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get(0));
        if exists.is_none() {
            return Err(StoreError::NotFound("enterprise"));
        }
        let id = self.next_id(&mut tx, "enterprise_needs").await?;
        sqlx::query(
            "INSERT INTO enterprise_needs (id, enterprise_id, kind, title, detail, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(need.enterprise.0)
        .bind(need.kind.as_str())
        .bind(need.title.trim())
        .bind(need.detail.trim())
        .bind(by.map(|u| u.0))
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.need(id).await
    }

    /// One need.
    pub async fn need(&self, id: i64) -> Result<NeedRecord, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{NEED_SELECT} WHERE n.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("need"))?;
        need_from_row(&row)
    }

    /// Needs of the enterprises of `team` (every team when `None`), optionally of one status,
    /// newest first, at most `limit`.
    pub async fn needs(
        &self,
        team: Option<TeamId>,
        status: Option<NeedStatus>,
        limit: i64,
    ) -> Result<Vec<NeedRecord>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{NEED_SELECT} WHERE ($1 = 0 OR a.team_id = $1) AND ($2 = '' OR n.status = $2) \
             ORDER BY n.id DESC LIMIT $3"
        )))
        .bind(team.map_or(0, |t| t.0))
        .bind(status.map_or("", NeedStatus::as_str))
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(need_from_row)
        .collect()
    }

    /// Stores proposals for a need as `proposed` matches; a resource already matched with the
    /// need is skipped. Returns the matches of the need.
    pub async fn propose_matches(
        &self,
        need: i64,
        proposals: &[Proposal],
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Vec<MatchRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut next = self.next_id(&mut tx, "need_matches").await?;
        for p in proposals {
            let done = sqlx::query(
                "INSERT INTO need_matches (id, need_id, resource_id, score, terms, status, \
                 proposed_at) VALUES ($1, $2, $3, $4, $5, 'proposed', $6) \
                 ON CONFLICT (need_id, resource_id) DO NOTHING",
            )
            .bind(next)
            .bind(need)
            .bind(p.resource)
            .bind((p.score.clamp(0.0, 1.0) * 1000.0).round() as i64)
            .bind(p.terms.join("|"))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO match_steps (match_id, seq, status, note, at, user_id) \
                     VALUES ($1, 1, 'proposed', $2, $3, $4)",
                )
                .bind(next)
                .bind(if by.is_some() {
                    ""
                } else {
                    "系统按相似度推荐"
                })
                .bind(now.timestamp_millis())
                .bind(by.map(|u| u.0))
                .execute(&mut *tx)
                .await?;
                next += 1;
            }
        }
        tx.commit().await?;
        self.matches_of_need(need).await
    }

    /// The matches of a need with their steps, best score first.
    pub async fn matches_of_need(&self, need: i64) -> Result<Vec<MatchRecord>, StoreError> {
        let mut out: Vec<MatchRecord> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{MATCH_SELECT} WHERE m.need_id = $1 ORDER BY m.score DESC, m.id"
        )))
        .bind(need)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(match_from_row)
        .collect::<Result<_, _>>()?;
        for m in &mut out {
            m.steps = self.match_steps(m.id).await?;
        }
        Ok(out)
    }

    async fn match_steps(&self, id: i64) -> Result<Vec<MatchStep>, StoreError> {
        sqlx::query(
            "SELECT status, note, at, user_id FROM match_steps WHERE match_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(MatchStep {
                status: parse_or_corrupt(&r.get::<String, _>(0), MatchStatus::parse)?,
                note: r.get(1),
                at: ms_time(r.get(2)),
                user: r.get::<Option<i64>, _>(3).map(UserId),
            })
        })
        .collect()
    }

    /// One match with its steps.
    pub async fn match_record(&self, id: i64) -> Result<MatchRecord, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{MATCH_SELECT} WHERE m.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("match"))?;
        let mut m = match_from_row(&row)?;
        m.steps = self.match_steps(id).await?;
        Ok(m)
    }

    /// Moves a match on (see [`MatchStatus::advance`]) with a note; an agreed match marks its
    /// need met. A refused move changes nothing and is reported as [`StoreError::Invalid`]
    /// with the reason.
    pub async fn advance_match(
        &self,
        id: i64,
        to: MatchStatus,
        note: &str,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<MatchRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT status, need_id FROM need_matches WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("match"))?;
        let from = parse_or_corrupt(&row.get::<String, _>(0), MatchStatus::parse)?;
        let need: i64 = row.get(1);
        from.advance(to)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let at = now.timestamp_millis();
        let column = if to == MatchStatus::Contacted {
            "contacted_at"
        } else {
            "decided_at"
        };
        let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE need_matches SET status = $1, {column} = $2 WHERE id = $3 AND status = $4"
        )))
        .bind(to.as_str())
        .bind(at)
        .bind(id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() != 1 {
            return Err(StoreError::Invalid(
                "the match changed meanwhile; reload it".into(),
            ));
        }
        let seq: i64 =
            sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM match_steps WHERE match_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
        sqlx::query(
            "INSERT INTO match_steps (match_id, seq, status, note, at, user_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(seq)
        .bind(to.as_str())
        .bind(note.trim())
        .bind(at)
        .bind(by.map(|u| u.0))
        .execute(&mut *tx)
        .await?;
        if to == MatchStatus::Agreed {
            sqlx::query("UPDATE enterprise_needs SET status = 'met' WHERE id = $1")
                .bind(need)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.match_record(id).await
    }

    /// Bulk-loads generated needs with their matches and steps (the demo).
    pub async fn insert_seed_needs(&self, needs: &[SeedNeed]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let first_need = self.next_id(&mut tx, "enterprise_needs").await?;
        let mut next_match = self.next_id(&mut tx, "need_matches").await?;
        let mut need_rows = Vec::with_capacity(needs.len());
        let mut match_rows = Vec::new();
        let mut step_rows = Vec::new();
        for (i, n) in needs.iter().enumerate() {
            let id = first_need + i as i64;
            let met = n.matches.iter().any(|m| m.status == MatchStatus::Agreed);
            need_rows.push(vec![
                Val::Int(id),
                Val::Int(n.enterprise.0),
                Val::Text(n.kind.as_str().into()),
                Val::Text(n.title.clone()),
                Val::Text(n.detail.clone()),
                Val::Text(if met { "met" } else { "open" }.into()),
                Val::Int(day_ms(n.created)),
            ]);
            for m in &n.matches {
                let proposed = day_ms(n.created);
                match_rows.push(vec![
                    Val::Int(next_match),
                    Val::Int(id),
                    Val::Int(m.resource),
                    Val::Int((m.score.clamp(0.0, 1.0) * 1000.0).round() as i64),
                    Val::Text(m.terms.join("|")),
                    Val::Text(m.status.as_str().into()),
                    Val::Int(proposed),
                    Val::OptInt(m.contacted.map(day_ms)),
                    Val::OptInt(m.decided.map(day_ms)),
                ]);
                let mut steps = vec![(MatchStatus::Proposed, proposed, "系统按相似度推荐")];
                if let Some(c) = m.contacted {
                    steps.push((MatchStatus::Contacted, day_ms(c), "已电话联系双方"));
                }
                if let (Some(d), true) = (m.decided, m.status.is_final()) {
                    let note = if m.status == MatchStatus::Agreed {
                        "双方达成合作"
                    } else {
                        "条件不符，未达成"
                    };
                    steps.push((m.status, day_ms(d), note));
                }
                for (seq, (status, at, note)) in steps.into_iter().enumerate() {
                    step_rows.push(vec![
                        Val::Int(next_match),
                        Val::Int(seq as i64 + 1),
                        Val::Text(status.as_str().into()),
                        Val::Text(note.into()),
                        Val::Int(at),
                    ]);
                }
                next_match += 1;
            }
        }
        bulk_insert(
            self.kind,
            &mut tx,
            "enterprise_needs",
            &[
                "id",
                "enterprise_id",
                "kind",
                "title",
                "detail",
                "status",
                "created_at",
            ],
            &need_rows,
        )
        .await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "need_matches",
            &[
                "id",
                "need_id",
                "resource_id",
                "score",
                "terms",
                "status",
                "proposed_at",
                "contacted_at",
                "decided_at",
            ],
            &match_rows,
        )
        .await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "match_steps",
            &["match_id", "seq", "status", "note", "at"],
            &step_rows,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The programme's key figures for the teams in `teams` (every team when `None`), grouped by
    /// team, by the street a team serves, or by district: enterprises, visits done against the
    /// plan, overdue enterprises, requests raised at visits and resolved, their ratings, needs
    /// and matches by outcome. Rows are ordered by id.
    pub async fn programme_kpis(
        &self,
        teams: Option<&[TeamId]>,
        group: ProgrammeGroup,
        plan: VisitPlan,
        today: NaiveDate,
    ) -> Result<Vec<ProgrammeKpi>, StoreError> {
        let keep = |t: TeamId| teams.is_none_or(|ts| ts.contains(&t));
        let mut per_team: FxHashMap<TeamId, ProgrammeKpi> = FxHashMap::default();
        for k in self.team_kpis(None, plan, today).await? {
            if !keep(k.team) {
                continue;
            }
            per_team.insert(
                k.team,
                ProgrammeKpi {
                    id: k.team.0,
                    name: k.name,
                    teams: 1,
                    enterprises: k.enterprises,
                    visits_done: k.visits_done,
                    visits_planned: k.visits_planned,
                    overdue: k.overdue,
                    requests_raised: k.requests_raised,
                    requests_resolved: k.requests_resolved,
                    ..ProgrammeKpi::default()
                },
            );
        }
        for r in sqlx::query(
            "SELECT v.team_id, e.payload FROM visits v \
             JOIN visit_problems p ON p.visit_id = v.id \
             JOIN events e ON e.request_id = p.request_id WHERE e.kind = 'rated'",
        )
        .fetch_all(&self.read)
        .await?
        {
            let Some(k) = per_team.get_mut(&TeamId(r.get(0))) else {
                continue;
            };
            let payload: String = r.get(1);
            let kind: EventKind = serde_json::from_str(&payload)
                .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
            if let EventKind::Rated { satisfaction, .. } = kind {
                k.rated += 1;
                k.satisfied += i64::from(satisfaction.counts_as_satisfied());
            }
        }
        for r in sqlx::query(
            "SELECT a.team_id, COUNT(DISTINCT n.id), \
             COUNT(CASE WHEN m.status = 'proposed' THEN 1 END), \
             COUNT(CASE WHEN m.status = 'contacted' THEN 1 END), \
             COUNT(CASE WHEN m.status = 'agreed' THEN 1 END), \
             COUNT(CASE WHEN m.status = 'declined' THEN 1 END) \
             FROM enterprise_needs n JOIN enterprise_assignments a \
             ON a.enterprise_id = n.enterprise_id \
             LEFT JOIN need_matches m ON m.need_id = n.id GROUP BY a.team_id",
        )
        .fetch_all(&self.read)
        .await?
        {
            if let Some(k) = per_team.get_mut(&TeamId(r.get(0))) {
                k.needs = r.get(1);
                k.matches_proposed = r.get(2);
                k.matches_contacted = r.get(3);
                k.matches_agreed = r.get(4);
                k.matches_declined = r.get(5);
            }
        }
        let mut rows: Vec<ProgrammeKpi> = if group == ProgrammeGroup::Team {
            per_team.into_values().collect()
        } else {
            let tree: DivisionTree = self.load_divisions().await?;
            let scopes: FxHashMap<TeamId, DivisionId> =
                sqlx::query("SELECT id, scope_division_id FROM service_teams")
                    .fetch_all(&self.read)
                    .await?
                    .into_iter()
                    .map(|r| (TeamId(r.get(0)), DivisionId(r.get(1))))
                    .collect();
            let level = if group == ProgrammeGroup::Street {
                DivisionLevel::Street
            } else {
                DivisionLevel::District
            };
            let mut groups: FxHashMap<DivisionId, ProgrammeKpi> = FxHashMap::default();
            for (team, k) in per_team {
                let Some(division) = scopes.get(&team).and_then(|s| {
                    tree.self_and_ancestors(*s)
                        .into_iter()
                        .find(|a| tree.get(*a).map(|d| d.level) == Some(level))
                }) else {
                    continue;
                };
                let g = groups.entry(division).or_insert_with(|| ProgrammeKpi {
                    id: division.0,
                    name: tree.path_name(division),
                    ..ProgrammeKpi::default()
                });
                g.teams += k.teams;
                g.enterprises += k.enterprises;
                g.visits_done += k.visits_done;
                g.visits_planned += k.visits_planned;
                g.overdue += k.overdue;
                g.requests_raised += k.requests_raised;
                g.requests_resolved += k.requests_resolved;
                g.rated += k.rated;
                g.satisfied += k.satisfied;
                g.needs += k.needs;
                g.matches_proposed += k.matches_proposed;
                g.matches_contacted += k.matches_contacted;
                g.matches_agreed += k.matches_agreed;
                g.matches_declined += k.matches_declined;
            }
            groups.into_values().collect()
        };
        rows.sort_by_key(|k| k.id);
        Ok(rows)
    }

    /// Every enterprise with its team, industry and division, by id (for generators).
    pub async fn enterprise_briefs(&self) -> Result<Vec<EnterpriseBrief>, StoreError> {
        Ok(sqlx::query(
            "SELECT e.id, a.team_id, e.industry, e.division_id FROM enterprises e \
             LEFT JOIN enterprise_assignments a ON a.enterprise_id = e.id ORDER BY e.id",
        )
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .map(|r| EnterpriseBrief {
            id: EnterpriseId(r.get(0)),
            team: r.get::<Option<i64>, _>(1).map(TeamId),
            industry: r.get(2),
            division: DivisionId(r.get(3)),
        })
        .collect())
    }

    /// How many needs, resources and matches (and agreed matches) are stored.
    pub async fn matchmaking_counts(&self) -> Result<[i64; 4], StoreError> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM enterprise_needs), \
             (SELECT COUNT(*) FROM match_resources), (SELECT COUNT(*) FROM need_matches), \
             (SELECT COUNT(*) FROM need_matches WHERE status = 'agreed')",
        )
        .fetch_one(&self.read)
        .await?;
        Ok([r.get(0), r.get(1), r.get(2), r.get(3)])
    }
}
