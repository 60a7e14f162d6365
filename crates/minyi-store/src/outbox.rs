//! The outbox: life-cycle events for other systems (an SMS gateway, a city data platform),
//! written in the same transaction as the events themselves and published later, at least once,
//! by a publisher job that holds the `outbox` lease.
//!
//! A message is built here, once, from the event and the request it happened to. It carries
//! ids, codes, times and the facts of the step, never personal data: no requester name, phone
//! or address, no request text or title, and none of the free texts staff write (replies,
//! reasons, notes, comments), which may quote the citizen.
//!
//! Order: rows of one request get increasing ids, because a request's commands are serialised
//! by its row lock and the outbox row is inserted while the lock is held; the publisher sends
//! in id order and waits for each acknowledgement, so one request's messages arrive in order.

use crate::reference::{Val, bulk_insert};
use crate::{StorageKind, Store, StoreError};
use chrono::{DateTime, Utc};
use minyi_domain::request::{Event, EventKind, Request, RequesterKind};
use serde_json::{Value, json};
use sqlx::Row;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

pub(crate) const OUTBOX_COLUMNS: [&str; 6] = [
    "event_id",
    "request_id",
    "seq",
    "kind",
    "payload",
    "created_at",
];

/// One message waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The outbox row (publishing order).
    pub id: i64,
    /// `<request_id>-<seq>`: the de-duplication id.
    pub event_id: String,
    pub request_id: i64,
    /// The event type (`received`, `dispatched`, …), the last part of the subject.
    pub kind: String,
    /// The JSON message.
    pub payload: String,
}

/// The de-duplication id of an event.
pub fn event_id(event: &Event) -> String {
    format!("{}-{}", event.request.0, event.seq)
}

/// The published message of one event: no personal data (see the module doc).
pub fn message(request: &Request, event: &Event) -> Value {
    let mut m = json!({
        "event_id": event_id(event),
        "request_id": event.request.0,
        "seq": event.seq,
        "kind": event.kind.name(),
        "at": event.at,
        "actor_role": event.actor.role.as_str(),
        "actor_unit_id": event.actor.unit.map(|u| u.0),
        "channel": request.intake.channel.as_str(),
        "requester_kind": match request.intake.requester_kind {
            RequesterKind::Citizen => "citizen",
            RequesterKind::Enterprise => "enterprise",
        },
        "division_id": request.intake.location.division.map(|d| d.0),
    });
    let facts = match &event.kind {
        EventKind::Received { intake } => json!({ "parent_id": intake.parent.map(|p| p.0) }),
        EventKind::Classified { classification: c } => json!({
            "matter_id": c.matter.0,
            "urgency": c.urgency.as_str(),
            "consultation": c.consultation,
        }),
        EventKind::Dispatched {
            assignment,
            response_due,
            handling_due,
        }
        | EventKind::Arbitrated {
            assignment,
            response_due,
            handling_due,
            ..
        } => json!({
            "lead_unit_id": assignment.lead.0,
            "co_unit_ids": assignment.co_units.iter().map(|u| u.0).collect::<Vec<_>>(),
            "rule_id": assignment.rule.map(|r| r.0),
            "response_due": response_due,
            "handling_due": handling_due,
        }),
        EventKind::CoUnitOpinion { unit, .. } => json!({ "unit_id": unit.0 }),
        EventKind::ExtensionRequested { working_days, .. } => {
            json!({ "working_days": working_days })
        }
        EventKind::ExtensionApproved { handling_due } | EventKind::Resumed { handling_due } => {
            json!({ "handling_due": handling_due })
        }
        EventKind::Reopened {
            response_due,
            handling_due,
        } => json!({ "response_due": response_due, "handling_due": handling_due }),
        EventKind::MergedInto { parent } => json!({ "parent_id": parent.0 }),
        EventKind::DuplicateAbsorbed { child } => json!({ "child_id": child.0 }),
        EventKind::SplitInto { children } => {
            json!({ "child_ids": children.iter().map(|c| c.0).collect::<Vec<_>>() })
        }
        EventKind::Rated {
            satisfaction,
            solved,
            ..
        } => json!({ "satisfaction": satisfaction, "solved": solved }),
        EventKind::DueSoon { clock } | EventKind::Escalated { clock } => {
            json!({ "clock": clock })
        }
        EventKind::AnsweredAtIntake { .. }
        | EventKind::Signed
        | EventKind::Replied { .. }
        | EventKind::Returned { .. }
        | EventKind::ExtensionRefused { .. }
        | EventKind::Paused { .. }
        | EventKind::Urged { .. }
        | EventKind::Closed { .. } => json!({}),
    };
    if let (Value::Object(m), Value::Object(facts)) = (&mut m, facts) {
        m.extend(facts);
    }
    m
}

/// Adds the outbox rows of `events` (all of `request`) inside the transaction that stores them.
pub(crate) async fn enqueue(
    kind: StorageKind,
    tx: &mut Tx,
    request: &Request,
    events: &[Event],
) -> Result<(), StoreError> {
    bulk_insert(kind, tx, "outbox", &OUTBOX_COLUMNS, &rows(request, events)).await
}

/// The outbox rows of a request's new events, in the order of [`OUTBOX_COLUMNS`].
pub(crate) fn rows(request: &Request, events: &[Event]) -> Vec<Vec<Val>> {
    events
        .iter()
        .map(|e| {
            vec![
                Val::Text(event_id(e)),
                Val::Int(e.request.0),
                Val::Int(i64::from(e.seq)),
                Val::Text(e.kind.name().into()),
                Val::Text(message(request, e).to_string()),
                Val::Int(e.at.timestamp_millis()),
            ]
        })
        .collect()
}

impl Store {
    /// Up to `limit` messages not yet published, oldest first.
    pub async fn unpublished_events(&self, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, event_id, request_id, kind, payload FROM outbox \
             WHERE published_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| OutboxMessage {
                id: r.get(0),
                event_id: r.get(1),
                request_id: r.get(2),
                kind: r.get(3),
                payload: r.get(4),
            })
            .collect())
    }

    /// Marks messages published (after the broker acknowledged them).
    pub async fn mark_published(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE outbox SET published_at = $1 WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.timestamp_millis());
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&self.write).await?;
        }
        Ok(())
    }

    /// How many messages wait to be published.
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&self.read)
                .await?
                .get(0),
        )
    }
}
