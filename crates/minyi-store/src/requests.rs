//! Requests and their history: intake (idempotent), life-cycle commands, merge and split across
//! requests, the clock sweeper, and bulk loading of a generated history.

use crate::reference::{Val, bulk_insert};
use crate::{StorageKind, Store, StoreError};
use chrono::{DateTime, Utc};
use minyi_domain::personal::{PersonName, PhoneNumber, TrackingCode};
use minyi_domain::request::{
    self, Channel, Command, Event, EventKind, Intake, Location, Request, RequesterKind,
};
use minyi_domain::unit::{Actor, Role};
use minyi_domain::{RequestId, UnitId, UserId};
use sqlx::Row;
use std::hash::{Hash, Hasher};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The requester's personal data, stored apart from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequesterInfo {
    pub name: Option<PersonName>,
    pub phone: Option<PhoneNumber>,
    /// The requester's own address (not the location of the problem).
    pub address: String,
    pub enterprise_name: Option<String>,
}

/// One request of a group commit, as [`Store::create_group_in`] takes it.
pub(crate) struct GroupItem<'a> {
    pub new: &'a NewRequest,
    pub suggestion: Option<&'a str>,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// A request to receive.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub channel: Channel,
    pub requester_kind: RequesterKind,
    pub title: String,
    pub text: String,
    pub location: Location,
    pub requester: RequesterInfo,
    /// With the same key, the same request comes back instead of a second one.
    pub idempotency_key: Option<String>,
    /// Commands run in the same transaction right after receipt (classification, dispatch at
    /// intake), so that what is acknowledged is already routed.
    pub follow_up: Vec<(Actor, Command)>,
}

/// A request with its whole history, generated elsewhere (the demo seeder) by the domain's own
/// commands, to be stored in bulk.
#[derive(Debug, Clone)]
pub struct SeedRequest {
    pub request: Request,
    pub requester: RequesterInfo,
    pub events: Vec<Event>,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub examined: u64,
    pub due_soon: u64,
    pub escalated: u64,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Times are stored in milliseconds; commands take their time truncated to a millisecond so that
/// the snapshot and the stored history agree exactly.
fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn snapshot_json(request: &Request) -> Result<String, StoreError> {
    serde_json::to_string(request).map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))
}

fn fingerprint(new: &NewRequest) -> String {
    let mut h = rustc_hash::FxHasher::default();
    new.channel.as_str().hash(&mut h);
    new.title.hash(&mut h);
    new.text.hash(&mut h);
    new.location.address.hash(&mut h);
    new.requester
        .phone
        .as_ref()
        .map(|p| p.reveal().to_string())
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The columns of `requests`, in the order of [`request_values`].
const REQUEST_COLUMNS: [&str; 19] = [
    "id",
    "tracking_code",
    "channel",
    "requester_kind",
    "state",
    "title",
    "division_id",
    "matter_id",
    "category_source",
    "urgency",
    "lead_unit_id",
    "parent_id",
    "received_at",
    "response_due_at",
    "handling_due_at",
    "next_check_at",
    "updated_at",
    "version",
    "snapshot",
];

fn request_values(r: &Request, version: i64) -> Result<Vec<Val>, StoreError> {
    let c = r.classification;
    Ok(vec![
        Val::Int(r.id.0),
        Val::Text(r.intake.tracking_code.as_str().to_string()),
        Val::Text(r.intake.channel.as_str().into()),
        Val::Text(
            match r.intake.requester_kind {
                RequesterKind::Citizen => "citizen",
                RequesterKind::Enterprise => "enterprise",
            }
            .into(),
        ),
        Val::Text(r.state.as_str().into()),
        Val::Text(r.intake.title.clone()),
        Val::OptInt(r.intake.location.division.map(|d| d.0)),
        Val::OptInt(c.map(|c| c.matter.0)),
        Val::OptText(c.map(|c| {
            match c.source {
                request::CategorySource::Engine => "engine",
                request::CategorySource::Person => "person",
            }
            .to_string()
        })),
        Val::OptText(c.map(|c| c.urgency.as_str().to_string())),
        Val::OptInt(r.lead().map(|u| u.0)),
        Val::OptInt(r.merged_into.or(r.intake.parent).map(|p| p.0)),
        Val::Int(ms(r.received_at)),
        Val::OptInt(r.response_clock.map(|c| ms(c.due_at))),
        Val::OptInt(r.handling_clock.map(|c| ms(c.due_at))),
        Val::OptInt(request::next_clock_check(r).map(ms)),
        Val::Int(ms(r.last_event_at)),
        Val::Int(version),
        Val::Text(snapshot_json(r)?),
    ])
}

fn event_values(e: &Event) -> Result<Vec<Val>, StoreError> {
    Ok(vec![
        Val::Int(e.request.0),
        Val::Int(i64::from(e.seq)),
        Val::Int(ms(e.at)),
        Val::OptInt(e.actor.user.map(|u| u.0)),
        Val::Text(e.actor.role.as_str().into()),
        Val::OptInt(e.actor.unit.map(|u| u.0)),
        Val::Text(e.kind.name().into()),
        Val::Text(
            serde_json::to_string(&e.kind)
                .map_err(|err| StoreError::Corrupt(format!("event: {err}")))?,
        ),
    ])
}

/// The columns of `events`: the values of [`event_values`], then the hash `audit` chains on.
const EVENT_COLUMNS: [&str; 9] = [
    "request_id",
    "seq",
    "at",
    "actor_user_id",
    "actor_role",
    "actor_unit_id",
    "kind",
    "payload",
    "hash",
];

/// The units of a request (lead and co-units) with its state, for the units' queues.
const UNIT_COLUMNS: [&str; 4] = ["request_id", "unit_id", "is_lead", "state"];

fn unit_values(r: &Request) -> Vec<Vec<Val>> {
    let row = |unit: UnitId, lead: bool| {
        vec![
            Val::Int(r.id.0),
            Val::Int(unit.0),
            Val::Int(i64::from(lead)),
            Val::Text(r.state.as_str().into()),
        ]
    };
    match &r.assignment {
        None => Vec::new(),
        Some(a) => std::iter::once(row(a.lead, true))
            .chain(
                a.co_units
                    .iter()
                    .filter(|u| **u != a.lead)
                    .map(|u| row(*u, false)),
            )
            .collect(),
    }
}

fn requester_values(id: RequestId, info: &RequesterInfo) -> Vec<Val> {
    vec![
        Val::Int(id.0),
        Val::OptText(info.name.as_ref().map(|n| n.reveal().to_string())),
        Val::OptText(info.phone.as_ref().map(|p| p.reveal().to_string())),
        Val::OptText(info.phone.as_ref().map(|p| p.last_four().to_string())),
        Val::Text(info.address.clone()),
        Val::OptText(info.enterprise_name.clone()),
    ]
}

const REQUESTER_COLUMNS: [&str; 6] = [
    "request_id",
    "name",
    "phone",
    "phone_last4",
    "address",
    "enterprise_name",
];

pub(crate) fn decode_snapshot(json: &str) -> Result<Request, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))
}

impl Store {
    async fn allocate_request_id(&self, tx: &mut Tx) -> Result<RequestId, StoreError> {
        let sql = match self.kind {
            StorageKind::Sqlite => "SELECT COALESCE(MAX(id), 0) + 1 FROM requests",
            StorageKind::Postgres => "SELECT nextval(pg_get_serial_sequence('requests', 'id'))",
        };
        Ok(RequestId(
            sqlx::query(sql).fetch_one(&mut **tx).await?.get(0),
        ))
    }

    async fn lock_request(&self, tx: &mut Tx, id: RequestId) -> Result<(Request, i64), StoreError> {
        let sql = match self.kind {
            StorageKind::Sqlite => "SELECT version, snapshot FROM requests WHERE id = $1",
            StorageKind::Postgres => {
                "SELECT version, snapshot FROM requests WHERE id = $1 FOR UPDATE"
            }
        };
        let row = sqlx::query(sql)
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound("request"))?;
        let snapshot: String = row.get(1);
        Ok((decode_snapshot(&snapshot)?, row.get(0)))
    }

    /// Writes a changed request and its new events; refuses if someone else changed it since
    /// `version` was read.
    async fn save(
        &self,
        tx: &mut Tx,
        before: &Request,
        request: &Request,
        version: i64,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let delta = minyi_domain::kpi::delta(Some(before), events, &self.calendar());
        crate::kpi::add_delta(self.kind, tx, &delta).await?;
        let values = request_values(request, version + 1)?;
        // Every column but the id, then the id and the expected version.
        let sets: Vec<String> = REQUEST_COLUMNS[1..]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let n = REQUEST_COLUMNS.len();
        let sql = format!(
            "UPDATE requests SET {} WHERE id = ${n} AND version = ${}",
            sets.join(", "),
            n + 1
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in values[1..]
            .iter()
            .cloned()
            .chain([Val::Int(request.id.0), Val::Int(version)])
        {
            query = v.bind_to(query);
        }
        if query.execute(&mut **tx).await?.rows_affected() != 1 {
            return Err(StoreError::Invalid(
                "the request was changed by someone else; try again".into(),
            ));
        }
        let rows: Vec<Vec<Val>> = events.iter().map(event_values).collect::<Result<_, _>>()?;
        let rows = self.chain_events(tx, request.id, rows).await?;
        bulk_insert(self.kind, tx, "events", &EVENT_COLUMNS, &rows).await?;
        crate::outbox::enqueue(self.kind, tx, request, events).await?;
        // On SQLite the indexer makes the document again from the stored reply (search_index.rs).
        if self.kind == StorageKind::Postgres {
            crate::search::append_replies(tx, request, events).await?;
        }
        if events.iter().any(|e| {
            matches!(
                e.kind,
                EventKind::Dispatched { .. } | EventKind::Arbitrated { .. }
            )
        }) {
            sqlx::query("DELETE FROM request_units WHERE request_id = $1")
                .bind(request.id.0)
                .execute(&mut **tx)
                .await?;
            bulk_insert(
                self.kind,
                tx,
                "request_units",
                &UNIT_COLUMNS,
                &unit_values(request),
            )
            .await?;
        } else if before.state != request.state {
            sqlx::query("UPDATE request_units SET state = $1 WHERE request_id = $2")
                .bind(request.state.as_str())
                .bind(request.id.0)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Inserts a new request with its first events, inside `tx`.
    async fn insert_new(
        &self,
        tx: &mut Tx,
        request: &Request,
        requester: &RequesterInfo,
        events: &[Event],
    ) -> Result<(), StoreError> {
        bulk_insert(
            self.kind,
            tx,
            "requests",
            &REQUEST_COLUMNS,
            &[request_values(request, 0)?],
        )
        .await?;
        bulk_insert(
            self.kind,
            tx,
            "requesters",
            &REQUESTER_COLUMNS,
            &[requester_values(request.id, requester)],
        )
        .await?;
        if self.kind == StorageKind::Postgres {
            crate::search::insert(
                self.kind,
                tx,
                &[crate::search::document_row(
                    request,
                    &requester.address,
                    events,
                )],
            )
            .await?;
        }
        let rows: Vec<Vec<Val>> = events.iter().map(event_values).collect::<Result<_, _>>()?;
        let rows = self.chain_events(tx, request.id, rows).await?;
        bulk_insert(self.kind, tx, "events", &EVENT_COLUMNS, &rows).await?;
        crate::outbox::enqueue(self.kind, tx, request, events).await?;
        let delta = minyi_domain::kpi::delta(None, events, &self.calendar());
        crate::kpi::add_delta(self.kind, tx, &delta).await?;
        bulk_insert(
            self.kind,
            tx,
            "request_units",
            &UNIT_COLUMNS,
            &unit_values(request),
        )
        .await?;
        Ok(())
    }

    /// Receives a request (受理) and runs its follow-up commands, all in one transaction that is
    /// committed before this returns. With an Idempotency-Key already used for the same content,
    /// returns the stored request and `false`.
    pub async fn create_request(
        &self,
        new: NewRequest,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(Request, bool), StoreError> {
        self.create_request_with_suggestion(new, None, actor, now)
            .await
    }

    /// [`Store::create_request`], also keeping the engine's suggestion (a JSON document) beside
    /// the request in the same transaction. A replay under the same Idempotency-Key keeps the
    /// first suggestion. Concurrent calls share one transaction and one durable commit
    /// (`group_commit.rs`); each still gets its own result.
    pub async fn create_request_with_suggestion(
        &self,
        new: NewRequest,
        suggestion: Option<&str>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(Request, bool), StoreError> {
        if new.text.trim().is_empty() {
            return Err(StoreError::Invalid(
                "the request text must not be empty".into(),
            ));
        }
        self.commit_intake(new, suggestion.map(str::to_string), actor, to_millis(now))
            .await
    }

    /// Receives a group of requests inside `tx` with one statement per table for the whole
    /// group instead of a dozen per request (the body of every intake, alone or grouped): one
    /// look-up of the Idempotency-Keys, one id allocation, each request decided in memory on
    /// its own, then one multi-row INSERT per table. A refusal (empty text, a key reused for other content, a
    /// refused follow-up) is that request's answer and writes nothing of it; a later request of
    /// the group with the key of an earlier one is a replay of it. `Err` is a database error:
    /// the caller rolls the group back. Also returns the group's KPI counters, to be added once.
    pub(crate) async fn create_group_in(
        &self,
        tx: &mut Tx,
        group: &[GroupItem<'_>],
        batch: &mut crate::reference::Batch,
    ) -> Result<
        (
            Vec<Result<(Request, bool), StoreError>>,
            crate::kpi::KpiTable,
        ),
        StoreError,
    > {
        let calendar = self.calendar();
        let mut answers: Vec<Option<Result<(Request, bool), StoreError>>> =
            group.iter().map(|_| None).collect();

        // Idempotency-Keys already stored, with the request each names; on SQLite, in the
        // same statement, the largest id (the writer holds the write lock, so the next ids
        // are free).
        let keys: Vec<&str> = group
            .iter()
            .filter_map(|g| g.new.idempotency_key.as_deref())
            .collect();
        let mut stored_keys: std::collections::HashMap<String, (i64, String)> =
            std::collections::HashMap::new();
        let mut largest_id = None;
        if !keys.is_empty() || self.kind == StorageKind::Sqlite {
            let marks: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
            let mut parts = Vec::new();
            if !keys.is_empty() {
                parts.push(format!(
                    "SELECT key, request_id, fingerprint FROM idempotency_keys WHERE key IN ({})",
                    marks.join(",")
                ));
            }
            if self.kind == StorageKind::Sqlite {
                parts.push("SELECT NULL, COALESCE(MAX(id), 0), NULL FROM requests".into());
            }
            let sql = parts.join(" UNION ALL ");
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for k in &keys {
                query = query.bind(*k);
            }
            for row in query.fetch_all(&mut **tx).await? {
                match row.get::<Option<String>, _>(0) {
                    Some(key) => {
                        stored_keys.insert(key, (row.get(1), row.get(2)));
                    }
                    None => largest_id = Some(row.get::<i64, _>(1)),
                }
            }
        }
        let replayed: Vec<i64> = stored_keys.values().map(|(id, _)| *id).collect();
        let mut snapshots: std::collections::HashMap<i64, Request> =
            std::collections::HashMap::new();
        if !replayed.is_empty() {
            let sql = format!(
                "SELECT id, snapshot FROM requests WHERE id IN ({})",
                crate::signals::id_list(&replayed)
            );
            for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut **tx)
                .await?
            {
                snapshots.insert(row.get(0), decode_snapshot(&row.get::<String, _>(1))?);
            }
        }

        // Ids: SQLite takes the next after the largest; PostgreSQL draws from the sequence (an
        // unused number is a harmless gap).
        let mut ids: std::collections::VecDeque<i64> = match self.kind {
            StorageKind::Sqlite => {
                let max = largest_id.ok_or(StoreError::Corrupt("no largest id".into()))?;
                (max + 1..=max + group.len() as i64).collect()
            }
            StorageKind::Postgres => {
                let mut ids: Vec<i64> = sqlx::query(
                    "SELECT nextval(pg_get_serial_sequence('requests', 'id')) \
                     FROM generate_series(1, $1)",
                )
                .bind(group.len() as i64)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
                ids.sort_unstable();
                ids.into()
            }
        };

        // Each request decided on its own, in memory.
        // Each with its index in the group and its content's fingerprint.
        let mut created: Vec<(usize, Request, Vec<Event>, String)> = Vec::new();
        // Keys first used in this group: fingerprint and the index in `created`.
        let mut claimed: std::collections::HashMap<&str, (String, usize)> =
            std::collections::HashMap::new();
        for (i, item) in group.iter().enumerate() {
            let new = item.new;
            let title = new.title.trim().to_string();
            let text = new.text.trim().to_string();
            if text.is_empty() {
                answers[i] = Some(Err(StoreError::Invalid(
                    "the request text must not be empty".into(),
                )));
                continue;
            }
            let print = fingerprint(new);
            if let Some(key) = new.idempotency_key.as_deref() {
                if let Some((id, stored)) = stored_keys.get(key) {
                    answers[i] = Some(if *stored != print {
                        Err(StoreError::IdempotencyMismatch)
                    } else {
                        snapshots
                            .get(id)
                            .cloned()
                            .map(|r| (r, false))
                            .ok_or(StoreError::NotFound("request"))
                    });
                    continue;
                }
                if let Some((stored, at)) = claimed.get(key) {
                    answers[i] = Some(if *stored != print {
                        Err(StoreError::IdempotencyMismatch)
                    } else {
                        Ok((created[*at].1.clone(), false))
                    });
                    continue;
                }
            }
            let Some(&id) = ids.front() else {
                return Err(StoreError::Invalid(
                    "no request id left for the group".into(),
                ));
            };
            let intake = Intake {
                tracking_code: TrackingCode::from_entropy(rand::random()),
                channel: new.channel,
                requester_kind: new.requester_kind,
                title,
                text,
                location: new.location.clone(),
                parent: None,
            };
            let (mut request, first) =
                Request::receive(RequestId(id), intake, item.actor, item.now);
            let mut events = vec![first];
            let mut refused = None;
            for (follow_actor, command) in &new.follow_up {
                match request.execute(follow_actor, command, item.now, &calendar) {
                    Ok(more) => events.extend(more),
                    Err(e) => {
                        refused = Some(StoreError::from(e));
                        break;
                    }
                }
            }
            if let Some(e) = refused {
                answers[i] = Some(Err(e));
                continue;
            }
            ids.pop_front();
            if let Some(key) = new.idempotency_key.as_deref() {
                claimed.insert(key, (print.clone(), created.len()));
            }
            created.push((i, request, events, print));
        }

        // One INSERT per table for everything created.
        let mut requests = Vec::with_capacity(created.len());
        let mut requesters = Vec::with_capacity(created.len());
        let mut documents = Vec::with_capacity(created.len());
        let mut event_rows = Vec::new();
        let mut heads = Vec::with_capacity(created.len());
        let mut outbox = Vec::new();
        let mut units = Vec::new();
        let mut suggestions = Vec::new();
        let mut key_rows = Vec::new();
        let mut kpi = crate::kpi::KpiTable::new();
        for (i, request, events, print) in &created {
            let item = &group[*i];
            requests.push(request_values(request, 0)?);
            requesters.push(requester_values(request.id, &item.new.requester));
            if self.kind == StorageKind::Postgres {
                documents.push(crate::search::document_row(
                    request,
                    &item.new.requester.address,
                    events,
                ));
            }
            // A new request has no chain yet: it starts from the empty hash.
            let mut rows: Vec<Vec<Val>> =
                events.iter().map(event_values).collect::<Result<_, _>>()?;
            let head = crate::audit::chain("", &mut rows);
            if let Some(last) = events.last() {
                heads.push(vec![
                    Val::Int(request.id.0),
                    Val::Int(i64::from(last.seq)),
                    Val::Text(head),
                ]);
            }
            event_rows.extend(rows);
            outbox.extend(crate::outbox::rows(request, events));
            minyi_domain::kpi::merge_into(
                &mut kpi,
                &minyi_domain::kpi::delta(None, events, &calendar),
            );
            units.extend(unit_values(request));
            if let Some(payload) = item.suggestion {
                suggestions.push(vec![
                    Val::Int(request.id.0),
                    Val::Int(ms(item.now)),
                    Val::Text(payload.to_string()),
                ]);
            }
            if let Some(key) = &item.new.idempotency_key {
                key_rows.push(vec![
                    Val::Text(key.clone()),
                    Val::Int(request.id.0),
                    Val::Text(print.clone()),
                    Val::Int(ms(item.now)),
                ]);
            }
        }
        // Written by the caller, with the KPI counters, in one batch.
        batch.insert("requests", &REQUEST_COLUMNS, &requests);
        batch.insert("requesters", &REQUESTER_COLUMNS, &requesters);
        crate::search::push_documents(batch, &documents);
        batch.insert("events", &EVENT_COLUMNS, &event_rows);
        batch.insert("history_heads", &["request_id", "seq", "hash"], &heads);
        batch.insert("outbox", &crate::outbox::OUTBOX_COLUMNS, &outbox);
        batch.insert("request_units", &UNIT_COLUMNS, &units);
        batch.insert(
            "engine_suggestions",
            &["request_id", "created_at", "payload"],
            &suggestions,
        );
        batch.insert(
            "idempotency_keys",
            &["key", "request_id", "fingerprint", "created_at"],
            &key_rows,
        );
        for (i, request, _, _) in created {
            answers[i] = Some(Ok((request, true)));
        }
        Ok((
            answers
                .into_iter()
                .map(|a| a.unwrap_or(Err(StoreError::Invalid("not filed".into()))))
                .collect(),
            kpi,
        ))
    }

    /// The engine's suggestion kept at intake, if any (a JSON document).
    pub async fn suggestion(&self, id: RequestId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT payload FROM engine_suggestions WHERE request_id = $1")
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?
                .map(|r| r.get(0)),
        )
    }

    /// Runs one life-cycle command on a request in its own transaction.
    pub async fn execute(
        &self,
        id: RequestId,
        actor: &Actor,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<(Request, Vec<Event>), StoreError> {
        let now = to_millis(now);
        if matches!(command, Command::MergeInto { .. } | Command::Split { .. }) {
            return Err(StoreError::Invalid(
                "merge and split involve several requests: use merge() or split()".into(),
            ));
        }
        let calendar = self.calendar();
        let mut tx = self.begin_write().await?;
        let (mut request, version) = self.lock_request(&mut tx, id).await?;
        let before = request.clone();
        let events = request.execute(actor, command, now, &calendar)?;
        self.save(&mut tx, &before, &request, version, &events)
            .await?;
        tx.commit().await?;
        self.wake_search_index();
        Ok((request, events))
    }

    /// Merges a duplicate into its parent (并案): both sides are recorded in one transaction.
    pub async fn merge(
        &self,
        child: RequestId,
        parent: RequestId,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = to_millis(now);
        let calendar = self.calendar();
        let mut tx = self.begin_write().await?;
        // Lock in id order so that two merges in opposite directions cannot deadlock.
        let (mut child_req, child_version, mut parent_req, parent_version) = if child < parent {
            let (c, cv) = self.lock_request(&mut tx, child).await?;
            let (p, pv) = self.lock_request(&mut tx, parent).await?;
            (c, cv, p, pv)
        } else {
            let (p, pv) = self.lock_request(&mut tx, parent).await?;
            let (c, cv) = self.lock_request(&mut tx, child).await?;
            (c, cv, p, pv)
        };
        let (child_before, parent_before) = (child_req.clone(), parent_req.clone());
        let child_events =
            child_req.execute(actor, &Command::MergeInto { parent }, now, &calendar)?;
        let kinds = request::decide_absorb(&parent_req, child, now)?;
        let parent_events = parent_req.record(actor, kinds, now);
        self.save(
            &mut tx,
            &child_before,
            &child_req,
            child_version,
            &child_events,
        )
        .await?;
        self.save(
            &mut tx,
            &parent_before,
            &parent_req,
            parent_version,
            &parent_events,
        )
        .await?;
        tx.commit().await?;
        self.wake_search_index();
        Ok(())
    }

    /// Splits a request into children (拆分), one per (title, text); the children are received
    /// with the parent's channel, location and requester, and the parent ends as `Split`.
    pub async fn split(
        &self,
        parent: RequestId,
        parts: &[(String, String)],
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<Request>, StoreError> {
        let now = to_millis(now);
        let calendar = self.calendar();
        let mut tx = self.begin_write().await?;
        let (mut parent_req, version) = self.lock_request(&mut tx, parent).await?;
        let requester = self
            .requester_in(&mut *tx, parent)
            .await?
            .unwrap_or_default();
        // Decide on the parent first with placeholder ids, so a refusal creates no child.
        let placeholder: Vec<RequestId> = (0..parts.len())
            .map(|i| RequestId(-(i as i64) - 1))
            .collect();
        request::decide(
            &parent_req,
            actor,
            &Command::Split {
                children: placeholder,
            },
            now,
            &calendar,
        )?;
        let mut children = Vec::with_capacity(parts.len());
        for (title, text) in parts {
            if text.trim().is_empty() {
                return Err(StoreError::Invalid(
                    "a child's text must not be empty".into(),
                ));
            }
            let id = self.allocate_request_id(&mut tx).await?;
            let intake = Intake {
                tracking_code: TrackingCode::from_entropy(rand::random()),
                channel: parent_req.intake.channel,
                requester_kind: parent_req.intake.requester_kind,
                title: title.trim().to_string(),
                text: text.trim().to_string(),
                location: parent_req.intake.location.clone(),
                parent: Some(parent),
            };
            let (child, event) = Request::receive(id, intake, *actor, now);
            self.insert_new(&mut tx, &child, &requester, &[event])
                .await?;
            children.push(child);
        }
        let ids = children.iter().map(|c| c.id).collect();
        let before = parent_req.clone();
        let events =
            parent_req.execute(actor, &Command::Split { children: ids }, now, &calendar)?;
        self.save(&mut tx, &before, &parent_req, version, &events)
            .await?;
        tx.commit().await?;
        self.wake_search_index();
        Ok(children)
    }

    /// One request.
    pub async fn get_request(&self, id: RequestId) -> Result<Request, StoreError> {
        let row = sqlx::query("SELECT snapshot FROM requests WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("request"))?;
        decode_snapshot(&row.get::<String, _>(0))
    }

    /// The request with this tracking code.
    pub async fn find_by_tracking_code(
        &self,
        code: &TrackingCode,
    ) -> Result<Option<Request>, StoreError> {
        let row = sqlx::query("SELECT snapshot FROM requests WHERE tracking_code = $1")
            .bind(code.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| decode_snapshot(&r.get::<String, _>(0)))
            .transpose()
    }

    async fn requester_in<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
        &self,
        executor: E,
        id: RequestId,
    ) -> Result<Option<RequesterInfo>, StoreError> {
        let row = sqlx::query(
            "SELECT name, phone, address, enterprise_name FROM requesters WHERE request_id = $1",
        )
        .bind(id.0)
        .fetch_optional(executor)
        .await?;
        Ok(row.map(|r| RequesterInfo {
            name: r
                .get::<Option<String>, _>(0)
                .and_then(|n| PersonName::parse(&n).ok()),
            phone: r
                .get::<Option<String>, _>(1)
                .and_then(|p| PhoneNumber::parse(&p).ok()),
            address: r.get(2),
            enterprise_name: r.get(3),
        }))
    }

    /// The requester's personal data; callers mask it unless the role needs it.
    pub async fn requester(&self, id: RequestId) -> Result<Option<RequesterInfo>, StoreError> {
        self.requester_in(&self.read, id).await
    }

    /// The whole history of a request, in order.
    pub async fn events(&self, id: RequestId) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor_user_id, actor_role, actor_unit_id, payload FROM events \
             WHERE request_id = $1 ORDER BY seq",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                let role: String = r.get(3);
                let payload: String = r.get(5);
                Ok(Event {
                    request: id,
                    seq: u32::try_from(r.get::<i64, _>(0))
                        .map_err(|_| StoreError::Corrupt("event seq".into()))?,
                    at: DateTime::from_timestamp_millis(r.get(1))
                        .ok_or_else(|| StoreError::Corrupt("event time".into()))?,
                    actor: Actor {
                        user: r.get::<Option<i64>, _>(2).map(UserId),
                        role: Role::parse(&role)
                            .ok_or_else(|| StoreError::Corrupt(format!("event role {role}")))?,
                        unit: r.get::<Option<i64>, _>(4).map(UnitId),
                    },
                    kind: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?,
                })
            })
            .collect()
    }

    /// Raises due-soon warnings and overdue escalations that have come due by `now`. Each is
    /// recorded exactly once: the row is locked and the domain refuses to raise a fact twice, so
    /// concurrent sweepers on several nodes cannot double it.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let now = to_millis(now);
        let mut report = SweepReport::default();
        loop {
            let ids: Vec<i64> = sqlx::query(
                "SELECT id FROM requests WHERE next_check_at IS NOT NULL AND next_check_at <= $1 \
                 ORDER BY next_check_at LIMIT 500",
            )
            .bind(ms(now))
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
            if ids.is_empty() {
                return Ok(report);
            }
            let mut progressed = false;
            for id in ids {
                report.examined += 1;
                let calendar = self.calendar();
                let mut tx = self.begin_write().await?;
                let (mut request, version) = self.lock_request(&mut tx, RequestId(id)).await?;
                let before = request.clone();
                let mut events = Vec::new();
                for command in request::due_clock_events(&request, now) {
                    // A refusal means it was raised meanwhile by another sweeper, or the clock
                    // stopped: nothing to do.
                    if let Ok(new) = request.execute(&Actor::SYSTEM, &command, now, &calendar) {
                        for e in &new {
                            match e.kind {
                                EventKind::DueSoon { .. } => report.due_soon += 1,
                                EventKind::Escalated { .. } => report.escalated += 1,
                                _ => {}
                            }
                        }
                        events.extend(new);
                    }
                }
                if events.is_empty() {
                    // Re-save the computed next check so this row is not picked again in vain.
                    self.save(&mut tx, &before, &request, version, &[]).await?;
                } else {
                    self.save(&mut tx, &before, &request, version, &events)
                        .await?;
                    progressed = true;
                }
                tx.commit().await?;
            }
            if !progressed {
                return Ok(report);
            }
        }
    }

    /// The next free request id, for a bulk loader that numbers its own requests.
    pub async fn next_request_id(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM requests")
            .fetch_one(&self.read)
            .await?
            .get(0))
    }

    /// Stores generated requests with their histories in one transaction. Each history must be
    /// the request's own (its fold equals the request); this is checked.
    pub async fn insert_history(&self, batch: &[SeedRequest]) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(batch.len());
        let mut requesters = Vec::with_capacity(batch.len());
        let mut documents = Vec::with_capacity(batch.len());
        let mut events = Vec::new();
        let mut units = Vec::new();
        let mut heads = Vec::with_capacity(batch.len());
        let calendar = self.calendar();
        let mut kpi = std::collections::BTreeMap::new();
        for seed in batch {
            if seed.events.iter().any(|e| to_millis(e.at) != e.at) {
                return Err(StoreError::Invalid(format!(
                    "request {}: event times must be whole milliseconds",
                    seed.request.id
                )));
            }
            let folded = Request::from_history(&seed.events);
            if folded.as_ref() != Some(&seed.request) {
                return Err(StoreError::Invalid(format!(
                    "request {}: history does not fold to the request",
                    seed.request.id
                )));
            }
            requests.push(request_values(&seed.request, 0)?);
            requesters.push(requester_values(seed.request.id, &seed.requester));
            if self.kind == StorageKind::Postgres {
                documents.push(crate::search::document_row(
                    &seed.request,
                    &seed.requester.address,
                    &seed.events,
                ));
            }
            let mut rows: Vec<Vec<Val>> = seed
                .events
                .iter()
                .map(event_values)
                .collect::<Result<_, _>>()?;
            let head = crate::audit::chain("", &mut rows);
            if let Some(last) = seed.events.last() {
                heads.push(vec![
                    Val::Int(seed.request.id.0),
                    Val::Int(i64::from(last.seq)),
                    Val::Text(head),
                ]);
            }
            events.extend(rows);
            units.extend(unit_values(&seed.request));
            minyi_domain::kpi::merge_into(
                &mut kpi,
                &minyi_domain::kpi::delta(None, &seed.events, &calendar),
            );
        }
        let mut tx = self.begin_write().await?;
        bulk_insert(self.kind, &mut tx, "requests", &REQUEST_COLUMNS, &requests).await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "requesters",
            &REQUESTER_COLUMNS,
            &requesters,
        )
        .await?;
        if self.kind == StorageKind::Postgres {
            crate::search::insert(self.kind, &mut tx, &documents).await?;
        }
        // A bulk-loaded history is the past: it goes to no outbox, so nothing floods the broker.
        bulk_insert(self.kind, &mut tx, "events", &EVENT_COLUMNS, &events).await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "history_heads",
            &["request_id", "seq", "hash"],
            &heads,
        )
        .await?;
        bulk_insert(self.kind, &mut tx, "request_units", &UNIT_COLUMNS, &units).await?;
        crate::kpi::add_delta(self.kind, &mut tx, &kpi).await?;
        if self.kind == StorageKind::Postgres {
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('requests', 'id'), (SELECT MAX(id) FROM requests))",
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.wake_search_index();
        Ok(())
    }
}
