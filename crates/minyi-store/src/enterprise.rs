//! The enterprise service programme (组工助企行): enterprises, service teams and their members,
//! the assignment of enterprises to teams (包联), visits (走访) and the problems raised during
//! them. A problem becomes an enterprise request through [`Store::create_request`], the one
//! intake pipeline, and the visit keeps the request's id so the team can follow its outcome.

use crate::reference::{Val, bulk_insert};
use crate::requests::{NewRequest, RequesterInfo};
use crate::{StorageKind, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use minyi_domain::division::{DivisionLevel, DivisionTree};
use minyi_domain::enterprise::{
    self, Assignment, CreditCode, EnterpriseId, EnterpriseSize, EnterpriseSlot, TeamId, TeamSlot,
    VisitId, VisitPlan, VisitStatus,
};
use minyi_domain::personal::{PersonName, PhoneNumber};
use minyi_domain::request::{Channel, Location, RequesterKind, State};
use minyi_domain::unit::Actor;
use minyi_domain::{DivisionId, RequestId, UserId};
use rustc_hash::FxHashMap;
use sqlx::Row;
use std::time::{Duration, Instant};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// One row of the enterprise CSV file; the division is named by its code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnterpriseRow {
    pub credit_code: String,
    pub name: String,
    pub industry: String,
    /// `large`, `medium`, `small`, `micro` (or 大型/中型/小型/微型).
    pub size: String,
    pub division: String,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_phone: Option<String>,
    #[serde(default)]
    pub contact_position: Option<String>,
}

/// A row the import refused, with its line in the file (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedRow {
    pub line: usize,
    pub credit_code: String,
    pub reason: String,
}

/// What an enterprise import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub imported: usize,
    pub rejected: Vec<RejectedRow>,
}

/// A service team to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTeam {
    pub name: String,
    pub scope: DivisionId,
    pub members: Vec<UserId>,
}

/// What a rebalance did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AssignmentReport {
    pub teams: usize,
    pub enterprises: usize,
    pub assigned: usize,
    pub manual: usize,
    pub unassigned: usize,
    pub max_load: usize,
    pub min_load: usize,
    /// Time spent in the assignment algorithm itself.
    pub algorithm_ms: u128,
}

/// An enterprise as a team sees it in its list, with its place in the visit plan. The contact's
/// name and phone are not here: they are shown only on the enterprise's own page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TeamEnterprise {
    pub id: EnterpriseId,
    pub name: String,
    pub credit_code: String,
    pub industry: String,
    pub size: String,
    pub division: DivisionId,
    pub team: TeamId,
    pub manual: bool,
    pub assigned_on: NaiveDate,
    pub last_visit: Option<NaiveDate>,
    pub next_due: NaiveDate,
    pub status: VisitStatus,
}

/// A visit to record.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub enterprise: EnterpriseId,
    pub team: TeamId,
    pub date: NaiveDate,
    pub members: Vec<UserId>,
    pub notes: String,
    /// Each problem becomes one enterprise request.
    pub problems: Vec<String>,
}

/// A problem of a visit and the request it became, with that request's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProblemOutcome {
    pub seq: i64,
    pub text: String,
    pub request: Option<RequestId>,
    pub tracking_code: Option<String>,
    pub state: Option<&'static str>,
}

/// A stored visit with the outcome of its problems.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VisitRecord {
    pub id: VisitId,
    pub enterprise: EnterpriseId,
    pub team: TeamId,
    pub date: NaiveDate,
    pub members: Vec<UserId>,
    pub notes: String,
    pub problems: Vec<ProblemOutcome>,
}

/// Key figures of one team (考核指标).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TeamKpi {
    pub team: TeamId,
    pub name: String,
    pub enterprises: i64,
    pub visits_done: i64,
    pub visits_planned: i64,
    pub overdue: i64,
    pub requests_raised: i64,
    pub requests_resolved: i64,
}

/// Rows for bulk loading a generated programme (the demo).
#[derive(Debug, Clone)]
pub struct SeedVisit {
    pub enterprise: EnterpriseId,
    pub team: TeamId,
    pub date: NaiveDate,
    pub members: Vec<UserId>,
    pub notes: String,
    /// (problem text, request it became).
    pub problems: Vec<(String, Option<RequestId>)>,
}

pub(crate) fn day_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0)
}

pub(crate) fn ms_day(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// District and street of a division (either may be the division itself).
fn district_and_street(
    tree: &DivisionTree,
    id: DivisionId,
) -> Option<(DivisionId, Option<DivisionId>)> {
    let mut district = None;
    let mut street = None;
    for a in tree.self_and_ancestors(id) {
        match tree.get(a).map(|d| d.level) {
            Some(DivisionLevel::District) => district = Some(a),
            Some(DivisionLevel::Street) => street = Some(a),
            _ => {}
        }
    }
    district.map(|d| (d, street))
}

impl Store {
    /// The next free id of `table` inside a write transaction; on PostgreSQL the table is locked
    /// against other writers until the transaction ends, since ids are given explicitly.
    pub(crate) async fn next_id(&self, tx: &mut Tx, table: &str) -> Result<i64, StoreError> {
        if self.kind == StorageKind::Postgres {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"
            )))
            .execute(&mut **tx)
            .await?;
        }
        Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"
        )))
        .fetch_one(&mut **tx)
        .await?
        .get(0))
    }

    /// Imports enterprises from CSV rows. Rows with a bad credit code, an unknown division or
    /// size, a bad contact phone, or a code already present (in the store or earlier in the
    /// file) are refused and reported with their line; the others are stored in one transaction.
    pub async fn import_enterprises(
        &self,
        rows: &[EnterpriseRow],
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError> {
        let divisions: FxHashMap<String, i64> = sqlx::query("SELECT code, id FROM divisions")
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut tx = self.begin_write().await?;
        let mut seen: rustc_hash::FxHashSet<String> =
            sqlx::query("SELECT credit_code FROM enterprises")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
        let mut next = self.next_id(&mut tx, "enterprises").await?;
        let mut report = ImportReport::default();
        let mut values = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let line = i + 2;
            let reject = |reason: String| RejectedRow {
                line,
                credit_code: row.credit_code.clone(),
                reason,
            };
            let code = match CreditCode::parse(&row.credit_code) {
                Ok(c) => c,
                Err(e) => {
                    report.rejected.push(reject(e.to_string()));
                    continue;
                }
            };
            let Some(&division) = divisions.get(row.division.trim()) else {
                report
                    .rejected
                    .push(reject(format!("unknown division {}", row.division)));
                continue;
            };
            let Some(size) = EnterpriseSize::parse(&row.size) else {
                report
                    .rejected
                    .push(reject(format!("unknown size {}", row.size)));
                continue;
            };
            if row.name.trim().is_empty() {
                report.rejected.push(reject("the name is empty".into()));
                continue;
            }
            let name = match row.contact_name.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(n) => match PersonName::parse(n) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        report.rejected.push(reject(format!("contact name: {e}")));
                        continue;
                    }
                },
            };
            let phone = match row.contact_phone.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(p) => match PhoneNumber::parse(p) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        report.rejected.push(reject(format!("contact phone: {e}")));
                        continue;
                    }
                },
            };
            if !seen.insert(code.as_str().to_string()) {
                report
                    .rejected
                    .push(reject("the credit code is already registered".into()));
                continue;
            }
            values.push(vec![
                Val::Int(next),
                Val::Text(code.as_str().to_string()),
                Val::Text(row.name.trim().to_string()),
                Val::Text(row.industry.trim().to_string()),
                Val::Text(size.as_str().into()),
                Val::Int(division),
                Val::OptText(name.map(|n| n.reveal().to_string())),
                Val::OptText(phone.map(|p| p.reveal().to_string())),
                Val::Text(row.contact_position.clone().unwrap_or_default()),
                Val::Int(now.timestamp_millis()),
            ]);
            next += 1;
        }
        bulk_insert(
            self.kind,
            &mut tx,
            "enterprises",
            &[
                "id",
                "credit_code",
                "name",
                "industry",
                "size",
                "division_id",
                "contact_name",
                "contact_phone",
                "contact_position",
                "created_at",
            ],
            &values,
        )
        .await?;
        tx.commit().await?;
        report.imported = values.len();
        Ok(report)
    }

    /// Creates service teams with their members; returns their ids in order.
    pub async fn create_teams(
        &self,
        teams: &[NewTeam],
        now: DateTime<Utc>,
    ) -> Result<Vec<TeamId>, StoreError> {
        let mut tx = self.begin_write().await?;
        let first = self.next_id(&mut tx, "service_teams").await?;
        let mut rows = Vec::with_capacity(teams.len());
        let mut members = Vec::new();
        let mut ids = Vec::with_capacity(teams.len());
        for (i, t) in teams.iter().enumerate() {
            let id = first + i as i64;
            ids.push(TeamId(id));
            rows.push(vec![
                Val::Int(id),
                Val::Text(t.name.clone()),
                Val::Int(t.scope.0),
                Val::Int(now.timestamp_millis()),
            ]);
            let mut m = t.members.clone();
            m.sort();
            m.dedup();
            members.extend(m.into_iter().map(|u| vec![Val::Int(id), Val::Int(u.0)]));
        }
        bulk_insert(
            self.kind,
            &mut tx,
            "service_teams",
            &["id", "name", "scope_division_id", "created_at"],
            &rows,
        )
        .await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "service_team_members",
            &["team_id", "user_id"],
            &members,
        )
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// The teams a staff user belongs to.
    pub async fn teams_of_user(&self, user: UserId) -> Result<Vec<TeamId>, StoreError> {
        Ok(sqlx::query(
            "SELECT team_id FROM service_team_members WHERE user_id = $1 ORDER BY team_id",
        )
        .bind(user.0)
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .map(|r| TeamId(r.get(0)))
        .collect())
    }

    /// Pins an enterprise to a team by hand (kept by every rebalance).
    pub async fn assign_manually(
        &self,
        enterprise: EnterpriseId,
        team: TeamId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM enterprise_assignments WHERE enterprise_id = $1")
            .bind(enterprise.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO enterprise_assignments (enterprise_id, team_id, manual, assigned_at) \
             VALUES ($1, $2, 1, $3)",
        )
        .bind(enterprise.0)
        .bind(team.0)
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reassigns every enterprise that is not pinned by hand (see [`enterprise::assign`]). An
    /// enterprise that stays with its team keeps its assignment date (and so its visit plan).
    pub async fn rebalance_assignments(
        &self,
        now: DateTime<Utc>,
    ) -> Result<AssignmentReport, StoreError> {
        let tree = self.load_divisions().await?;
        let teams: Vec<TeamSlot> =
            sqlx::query("SELECT id, scope_division_id FROM service_teams ORDER BY id")
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(|r| TeamSlot {
                    id: TeamId(r.get(0)),
                    scope: DivisionId(r.get(1)),
                })
                .collect();
        let enterprises: Vec<EnterpriseSlot> =
            sqlx::query("SELECT id, division_id FROM enterprises ORDER BY id")
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .filter_map(|r| {
                    let id = EnterpriseId(r.get(0));
                    district_and_street(&tree, DivisionId(r.get(1))).map(|(district, street)| {
                        EnterpriseSlot {
                            id,
                            district,
                            street,
                        }
                    })
                })
                .collect();
        let mut tx = self.begin_write().await?;
        let existing: FxHashMap<i64, (i64, bool, i64)> = sqlx::query(
            "SELECT enterprise_id, team_id, manual, assigned_at FROM enterprise_assignments",
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.get(0), (r.get(1), r.get::<i64, _>(2) != 0, r.get(3))))
        .collect();
        let manual: Vec<(EnterpriseId, TeamId)> = existing
            .iter()
            .filter(|(_, (_, m, _))| *m)
            .map(|(e, (t, _, _))| (EnterpriseId(*e), TeamId(*t)))
            .collect();
        let started = Instant::now();
        let plan = enterprise::assign(&teams, &enterprises, &manual);
        let elapsed = started.elapsed();
        sqlx::query("DELETE FROM enterprise_assignments WHERE manual = 0")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<Vec<Val>> = plan
            .assignments
            .iter()
            .filter(|a| !a.manual)
            .map(|a: &Assignment| {
                let since = match existing.get(&a.enterprise.0) {
                    Some((t, _, at)) if *t == a.team.0 => *at,
                    _ => now.timestamp_millis(),
                };
                vec![
                    Val::Int(a.enterprise.0),
                    Val::Int(a.team.0),
                    Val::Int(0),
                    Val::Int(since),
                ]
            })
            .collect();
        bulk_insert(
            self.kind,
            &mut tx,
            "enterprise_assignments",
            &["enterprise_id", "team_id", "manual", "assigned_at"],
            &rows,
        )
        .await?;
        tx.commit().await?;
        Ok(AssignmentReport {
            teams: teams.len(),
            enterprises: enterprises.len(),
            assigned: plan.assignments.len(),
            manual: plan.assignments.iter().filter(|a| a.manual).count(),
            unassigned: plan.unassigned.len(),
            max_load: plan.loads.values().copied().max().unwrap_or(0),
            min_load: plan.loads.values().copied().min().unwrap_or(0),
            algorithm_ms: elapsed.as_millis(),
        })
    }

    /// The enterprises of a team (or of every team with `None`), with their visit status on
    /// `today`, most urgent first.
    pub async fn team_enterprises(
        &self,
        team: Option<TeamId>,
        plan: VisitPlan,
        today: NaiveDate,
        limit: i64,
    ) -> Result<Vec<TeamEnterprise>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.name, e.credit_code, e.industry, e.size, e.division_id, a.team_id, \
             a.manual, a.assigned_at, \
             (SELECT MAX(v.visited_on) FROM visits v WHERE v.enterprise_id = e.id AND v.team_id = a.team_id) \
             FROM enterprise_assignments a JOIN enterprises e ON e.id = a.enterprise_id \
             WHERE ($1 = 0 OR a.team_id = $1) ORDER BY e.id",
        )
        .bind(team.map_or(0, |t| t.0))
        .fetch_all(&self.read)
        .await?;
        let mut out: Vec<TeamEnterprise> = rows
            .into_iter()
            .map(|r| {
                let assigned_on = ms_day(r.get(8));
                let last_visit = r.get::<Option<i64>, _>(9).map(ms_day);
                TeamEnterprise {
                    id: EnterpriseId(r.get(0)),
                    name: r.get(1),
                    credit_code: r.get(2),
                    industry: r.get(3),
                    size: r.get(4),
                    division: DivisionId(r.get(5)),
                    team: TeamId(r.get(6)),
                    manual: r.get::<i64, _>(7) != 0,
                    assigned_on,
                    last_visit,
                    next_due: plan.next_due(assigned_on, last_visit),
                    status: plan.status(assigned_on, last_visit, today),
                }
            })
            .collect();
        out.sort_by_key(|e| (e.next_due, e.id));
        out.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
        Ok(out)
    }

    /// The team an enterprise is assigned to.
    pub async fn team_of_enterprise(
        &self,
        enterprise: EnterpriseId,
    ) -> Result<Option<TeamId>, StoreError> {
        Ok(
            sqlx::query("SELECT team_id FROM enterprise_assignments WHERE enterprise_id = $1")
                .bind(enterprise.0)
                .fetch_optional(&self.read)
                .await?
                .map(|r| TeamId(r.get(0))),
        )
    }

    /// Records a visit. Each problem is filed as an enterprise request (channel
    /// `enterprise_visit`, requester the enterprise, located at its division) through
    /// [`Store::create_request`] with an idempotency key per problem, and linked to the visit.
    pub async fn record_visit(
        &self,
        visit: NewVisit,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<VisitRecord, StoreError> {
        let row = sqlx::query(
            "SELECT e.name, e.division_id, e.contact_name, e.contact_phone, a.team_id \
             FROM enterprises e LEFT JOIN enterprise_assignments a ON a.enterprise_id = e.id \
             WHERE e.id = $1",
        )
        .bind(visit.enterprise.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("enterprise"))?;
        let name: String = row.get(0);
        let division = DivisionId(row.get(1));
        if row.get::<Option<i64>, _>(4) != Some(visit.team.0) {
            return Err(StoreError::Invalid(
                "the enterprise is not assigned to this team".into(),
            ));
        }
        let problems: Vec<String> = visit
            .problems
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let mut tx = self.begin_write().await?;
        let id = self.next_id(&mut tx, "visits").await?;
        sqlx::query(
            "INSERT INTO visits (id, enterprise_id, team_id, visited_on, notes, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(visit.enterprise.0)
        .bind(visit.team.0)
        .bind(day_ms(visit.date))
        .bind(visit.notes.trim().to_string())
        .bind(actor.user.map(|u| u.0))
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        let mut members = visit.members.clone();
        members.sort();
        members.dedup();
        let member_rows: Vec<Vec<Val>> = members
            .iter()
            .map(|u| vec![Val::Int(id), Val::Int(u.0)])
            .collect();
        bulk_insert(
            self.kind,
            &mut tx,
            "visit_members",
            &["visit_id", "user_id"],
            &member_rows,
        )
        .await?;
        let problem_rows: Vec<Vec<Val>> = problems
            .iter()
            .enumerate()
            .map(|(i, p)| vec![Val::Int(id), Val::Int(i as i64 + 1), Val::Text(p.clone())])
            .collect();
        bulk_insert(
            self.kind,
            &mut tx,
            "visit_problems",
            &["visit_id", "seq", "text"],
            &problem_rows,
        )
        .await?;
        tx.commit().await?;
        // Personal data of the contact goes only to `requesters`, through the intake.
        let requester = RequesterInfo {
            name: row
                .get::<Option<String>, _>(2)
                .and_then(|n| PersonName::parse(&n).ok()),
            phone: row
                .get::<Option<String>, _>(3)
                .and_then(|p| PhoneNumber::parse(&p).ok()),
            address: String::new(),
            enterprise_name: Some(name.clone()),
        };
        for (i, text) in problems.iter().enumerate() {
            let title: String = text.chars().take(30).collect();
            let (request, _) = self
                .create_request(
                    NewRequest {
                        channel: Channel::EnterpriseVisit,
                        requester_kind: RequesterKind::Enterprise,
                        title: format!("{name}: {title}"),
                        text: text.clone(),
                        location: Location {
                            division: Some(division),
                            address: String::new(),
                            lat_lng: None,
                        },
                        requester: requester.clone(),
                        idempotency_key: Some(format!("visit-{id}-{}", i + 1)),
                        follow_up: Vec::new(),
                    },
                    actor,
                    now,
                )
                .await?;
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "UPDATE visit_problems SET request_id = $1 WHERE visit_id = $2 AND seq = $3",
            )
            .bind(request.id.0)
            .bind(id)
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        self.visit(VisitId(id)).await
    }

    /// One visit with the outcome of its problems.
    pub async fn visit(&self, id: VisitId) -> Result<VisitRecord, StoreError> {
        let row = sqlx::query(
            "SELECT enterprise_id, team_id, visited_on, notes FROM visits WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("visit"))?;
        let members =
            sqlx::query("SELECT user_id FROM visit_members WHERE visit_id = $1 ORDER BY user_id")
                .bind(id.0)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(|r| UserId(r.get(0)))
                .collect();
        let problem_rows = sqlx::query(
            "SELECT p.seq, p.text, p.request_id, r.tracking_code, r.state FROM visit_problems p \
             LEFT JOIN requests r ON r.id = p.request_id WHERE p.visit_id = $1 ORDER BY p.seq",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        let problems = problem_rows
            .into_iter()
            .map(|r| ProblemOutcome {
                seq: r.get(0),
                text: r.get(1),
                request: r.get::<Option<i64>, _>(2).map(RequestId),
                tracking_code: r.get(3),
                state: r
                    .get::<Option<String>, _>(4)
                    .and_then(|s| State::ALL.into_iter().find(|x| x.as_str() == s))
                    .map(State::as_str),
            })
            .collect();
        Ok(VisitRecord {
            id,
            enterprise: EnterpriseId(row.get(0)),
            team: TeamId(row.get(1)),
            date: ms_day(row.get(2)),
            members,
            notes: row.get(3),
            problems,
        })
    }

    /// Key figures per team: enterprises, visits done against the plan, enterprises overdue,
    /// requests raised during visits and those replied or closed.
    pub async fn team_kpis(
        &self,
        team: Option<TeamId>,
        plan: VisitPlan,
        today: NaiveDate,
    ) -> Result<Vec<TeamKpi>, StoreError> {
        let filter = team.map_or(0, |t| t.0);
        let mut kpis: Vec<TeamKpi> =
            sqlx::query("SELECT id, name FROM service_teams WHERE ($1 = 0 OR id = $1) ORDER BY id")
                .bind(filter)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(|r| TeamKpi {
                    team: TeamId(r.get(0)),
                    name: r.get(1),
                    enterprises: 0,
                    visits_done: 0,
                    visits_planned: 0,
                    overdue: 0,
                    requests_raised: 0,
                    requests_resolved: 0,
                })
                .collect();
        let index: FxHashMap<TeamId, usize> =
            kpis.iter().enumerate().map(|(i, k)| (k.team, i)).collect();
        for e in self.team_enterprises(team, plan, today, i64::MAX).await? {
            if let Some(&i) = index.get(&e.team) {
                kpis[i].enterprises += 1;
                kpis[i].visits_planned +=
                    i64::try_from(plan.planned_visits(e.assigned_on, today)).unwrap_or(i64::MAX);
                if e.status == VisitStatus::Overdue {
                    kpis[i].overdue += 1;
                }
            }
        }
        for r in sqlx::query(
            "SELECT v.team_id, COUNT(DISTINCT v.id), COUNT(p.request_id), \
             COUNT(CASE WHEN r.state IN ('replied', 'closed') THEN 1 END) \
             FROM visits v LEFT JOIN visit_problems p ON p.visit_id = v.id \
             LEFT JOIN requests r ON r.id = p.request_id \
             WHERE ($1 = 0 OR v.team_id = $1) GROUP BY v.team_id",
        )
        .bind(filter)
        .fetch_all(&self.read)
        .await?
        {
            if let Some(&i) = index.get(&TeamId(r.get(0))) {
                kpis[i].visits_done = r.get(1);
                kpis[i].requests_raised = r.get(2);
                kpis[i].requests_resolved = r.get(3);
            }
        }
        Ok(kpis)
    }

    /// Bulk-loads generated visits (the demo); the requests they name must already be stored.
    pub async fn insert_seed_visits(
        &self,
        visits: &[SeedVisit],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let first = self.next_id(&mut tx, "visits").await?;
        let mut rows = Vec::with_capacity(visits.len());
        let mut members = Vec::new();
        let mut problems = Vec::new();
        for (i, v) in visits.iter().enumerate() {
            let id = first + i as i64;
            rows.push(vec![
                Val::Int(id),
                Val::Int(v.enterprise.0),
                Val::Int(v.team.0),
                Val::Int(day_ms(v.date)),
                Val::Text(v.notes.clone()),
                Val::Int(now.timestamp_millis()),
            ]);
            let mut m = v.members.clone();
            m.sort();
            m.dedup();
            members.extend(m.into_iter().map(|u| vec![Val::Int(id), Val::Int(u.0)]));
            for (k, (text, request)) in v.problems.iter().enumerate() {
                problems.push(vec![
                    Val::Int(id),
                    Val::Int(k as i64 + 1),
                    Val::Text(text.clone()),
                    Val::OptInt(request.map(|r| r.0)),
                ]);
            }
        }
        bulk_insert(
            self.kind,
            &mut tx,
            "visits",
            &[
                "id",
                "enterprise_id",
                "team_id",
                "visited_on",
                "notes",
                "recorded_at",
            ],
            &rows,
        )
        .await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "visit_members",
            &["visit_id", "user_id"],
            &members,
        )
        .await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "visit_problems",
            &["visit_id", "seq", "text", "request_id"],
            &problems,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Requests received through the enterprise-visit channel that no visit names yet: id,
    /// title, division and time of receipt (for generators linking them to visits).
    pub async fn unlinked_visit_requests(
        &self,
    ) -> Result<Vec<(RequestId, String, Option<DivisionId>, i64)>, StoreError> {
        Ok(sqlx::query(
            "SELECT r.id, r.title, r.division_id, r.received_at FROM requests r \
             WHERE r.channel = 'enterprise_visit' AND NOT EXISTS \
             (SELECT 1 FROM visit_problems p WHERE p.request_id = r.id) ORDER BY r.id",
        )
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .map(|r| {
            (
                RequestId(r.get(0)),
                r.get(1),
                r.get::<Option<i64>, _>(2).map(DivisionId),
                r.get(3),
            )
        })
        .collect())
    }

    /// Ids, teams, divisions and names of every enterprise with its team, for generators.
    pub async fn enterprise_assignments(
        &self,
    ) -> Result<Vec<(EnterpriseId, TeamId, DivisionId, String)>, StoreError> {
        Ok(sqlx::query(
            "SELECT e.id, a.team_id, e.division_id, e.name FROM enterprises e \
             JOIN enterprise_assignments a ON a.enterprise_id = e.id ORDER BY e.id",
        )
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .map(|r| {
            (
                EnterpriseId(r.get(0)),
                TeamId(r.get(1)),
                DivisionId(r.get(2)),
                r.get(3),
            )
        })
        .collect())
    }
}

/// How long [`Store::rebalance_assignments`]' algorithm took, for printing.
pub fn algorithm_time(report: &AssignmentReport) -> Duration {
    Duration::from_millis(u64::try_from(report.algorithm_ms).unwrap_or(u64::MAX))
}
