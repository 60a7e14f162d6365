//! The request life cycle (一张工单跟到底): the states a request goes through, the commands that
//! move it, and the events that record each move.
//!
//! The shape is decide/apply: [`decide`] checks a command's preconditions (role, unit, state,
//! time) against the current [`Request`] and returns the events it produces, or a [`DomainError`]
//! and nothing; [`Request::apply`] folds one event into the request. A request is therefore always
//! the fold of its own history, which the property tests check. The store persists the events in
//! an append-only table and the folded request as a snapshot.
//!
//! Clocks: a dispatch starts two clocks, the response clock (until 签收) and the handling clock
//! (until 办结), both counted on the working-day calendar unless the span is in clock hours. A pause
//! stops the handling clock and remembers how much of it was left; an approved extension moves it
//! later. The sweeper asks [`due_clock_events`] which clocks are about to run out or have run out
//! and records each of those facts exactly once per clock.

use crate::calendar::{Span, WorkCalendar};
use crate::catalog::{Deadlines, Urgency};
use crate::personal::TrackingCode;
use crate::unit::{Actor, Role};
use crate::{DivisionId, MatterId, RequestId, RuleId, UnitId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most times an unsatisfied rating reopens a request (重办); after that it closes unsatisfied.
pub const MAX_REOPENS: u32 = 2;
/// The most extensions a request may be granted.
pub const MAX_EXTENSIONS: u32 = 2;
/// The longest extension one request may ask for, in working days.
pub const MAX_EXTENSION_DAYS: u32 = 30;
/// A clock is *due soon* (临期) when less than this share (in per mille) of its span is left.
pub const DUE_SOON_PERMILLE: i64 = 250;

/// The state of a request: exactly one at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// 已受理 / 待分拨: received, waiting for classification and dispatch.
    Received,
    /// 已派单 / 待签收: dispatched to the lead unit, waiting for it to sign.
    Dispatched,
    /// 办理中: signed for, being handled.
    Handling,
    /// 挂起: paused while waiting for the requester; the handling clock is stopped.
    Paused,
    /// 已退单 / 待裁决: returned by the unit, waiting for re-dispatch or arbitration.
    Returned,
    /// 已办结 / 待回访: replied, waiting for the callback and rating.
    Replied,
    /// 已归档: closed.
    Closed,
    /// 已并案: merged into a parent as a duplicate (重复件).
    Merged,
    /// 已拆分: split into child requests, which carry on.
    Split,
}

impl State {
    /// Every state.
    pub const ALL: [State; 9] = [
        State::Received,
        State::Dispatched,
        State::Handling,
        State::Paused,
        State::Returned,
        State::Replied,
        State::Closed,
        State::Merged,
        State::Split,
    ];

    /// Stable name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Dispatched => "dispatched",
            State::Handling => "handling",
            State::Paused => "paused",
            State::Returned => "returned",
            State::Replied => "replied",
            State::Closed => "closed",
            State::Merged => "merged",
            State::Split => "split",
        }
    }

    /// Parses [`State::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The Chinese label shown to people.
    pub fn label_zh(self) -> &'static str {
        match self {
            State::Received => "待分拨",
            State::Dispatched => "待签收",
            State::Handling => "办理中",
            State::Paused => "挂起",
            State::Returned => "已退单",
            State::Replied => "待回访",
            State::Closed => "已归档",
            State::Merged => "已并案",
            State::Split => "已拆分",
        }
    }

    /// Whether nothing more happens to the request in this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Closed | State::Merged | State::Split)
    }

    /// Whether the request is still being worked on (not replied and not terminal).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            State::Received | State::Dispatched | State::Handling | State::Paused | State::Returned
        )
    }
}

/// How the request came in (渠道).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 网页
    Web,
    /// 移动端 (app, WeChat)
    Mobile,
    /// 12345 热线, recorded by an operator.
    Hotline,
    /// Open311 GeoReport v2 clients.
    Open311,
    /// 助企走访: raised during an enterprise visit.
    EnterpriseVisit,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 5] = [
        Channel::Web,
        Channel::Mobile,
        Channel::Hotline,
        Channel::Open311,
        Channel::EnterpriseVisit,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Mobile => "mobile",
            Channel::Hotline => "hotline",
            Channel::Open311 => "open311",
            Channel::EnterpriseVisit => "enterprise_visit",
        }
    }

    /// Parses [`Channel::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Who filed the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequesterKind {
    /// 市民
    Citizen,
    /// 企业
    Enterprise,
}

/// Where the category came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategorySource {
    /// Suggested by the engine and taken without change.
    Engine,
    /// Chosen or corrected by a person.
    Person,
}

/// 回访评价: the requester's rating of the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Unsatisfied,
}

impl Satisfaction {
    /// Whether the rating counts as satisfied in the satisfaction rate.
    pub fn counts_as_satisfied(self) -> bool {
        !matches!(self, Satisfaction::Unsatisfied)
    }
}

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// 响应时限: until the unit signs for the request.
    Response,
    /// 办理时限: until the unit replies.
    Handling,
}

/// A running or finished deadline clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub span: Span,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// When the clock was met (signed or replied); `None` while running.
    pub met_at: Option<DateTime<Utc>>,
    /// Time left when paused, in the clock's own unit (working seconds, or plain seconds for
    /// clock-hour spans); `Some` while paused.
    pub paused_remaining: Option<i64>,
    /// Whether the due-soon warning (临期预警) was raised for this clock.
    pub due_soon_raised: bool,
    /// Whether the overdue escalation (超期督办) was raised for this clock.
    pub overdue_raised: bool,
}

impl Clock {
    /// Whether the clock is counting now.
    pub fn is_running(&self) -> bool {
        self.met_at.is_none() && self.paused_remaining.is_none()
    }

    /// Whether it was met after its deadline, or is still running past it at `now`.
    pub fn is_late(&self, now: DateTime<Utc>) -> bool {
        match self.met_at {
            Some(met) => met > self.due_at,
            None => self.paused_remaining.is_none() && now > self.due_at,
        }
    }

    fn remaining(&self, now: DateTime<Utc>, calendar: &WorkCalendar) -> i64 {
        match self.span {
            Span::ClockHours(_) => (self.due_at - now).num_seconds().max(0),
            _ => calendar.working_seconds_between(now, self.due_at),
        }
    }

    fn resume_due(
        &self,
        remaining: i64,
        now: DateTime<Utc>,
        calendar: &WorkCalendar,
    ) -> DateTime<Utc> {
        match self.span {
            Span::ClockHours(_) => now + chrono::Duration::seconds(remaining),
            _ => calendar.add_working_seconds(now, remaining),
        }
    }

    /// The instant from which the clock counts as due soon.
    pub fn due_soon_at(&self) -> DateTime<Utc> {
        // Whole seconds, so that instants stay representable in the store's milliseconds.
        let total = (self.due_at - self.started_at).num_seconds();
        self.due_at - chrono::Duration::seconds(total * DUE_SOON_PERMILLE / 1000)
    }
}

/// Where the problem is (位置).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// The deepest division known.
    pub division: Option<DivisionId>,
    pub address: String,
    pub lat_lng: Option<(f64, f64)>,
}

/// A pending extension request (延期申请).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    pub working_days: u32,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
}

/// The unit's reply (办结答复).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub at: DateTime<Utc>,
    pub by_unit: Option<UnitId>,
}

/// The requester's rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub satisfaction: Satisfaction,
    /// 是否解决
    pub solved: bool,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// Whom to dispatch to and under which deadlines, resolved by the caller from the responsibility
/// list (or chosen by a dispatcher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub lead: UnitId,
    pub co_units: Vec<UnitId>,
    /// The rule that gave the assignment, if any.
    pub rule: Option<RuleId>,
    pub legal_basis: String,
    pub deadlines: Deadlines,
}

/// What a new request carries when it is received (受理).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intake {
    pub tracking_code: TrackingCode,
    pub channel: Channel,
    pub requester_kind: RequesterKind,
    pub title: String,
    pub text: String,
    pub location: Location,
    /// Set when this request is a child of a split.
    pub parent: Option<RequestId>,
}

/// The category given to a request (分类).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub matter: MatterId,
    pub source: CategorySource,
    /// The engine's confidence in [0, 1], when the engine suggested it.
    pub confidence: Option<f32>,
    pub urgency: Urgency,
    /// Whether the matter is a consultation.
    pub consultation: bool,
}

/// A request: the fold of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    pub intake: Intake,
    pub received_at: DateTime<Utc>,
    pub state: State,
    pub classification: Option<Classification>,
    pub assignment: Option<Assignment>,
    pub response_clock: Option<Clock>,
    pub handling_clock: Option<Clock>,
    pub pending_extension: Option<ExtensionRequest>,
    pub reply: Option<Reply>,
    pub rating: Option<Rating>,
    /// The parent this request was merged into.
    pub merged_into: Option<RequestId>,
    /// Duplicates merged into this request.
    pub duplicates: Vec<RequestId>,
    /// Children this request was split into.
    pub children: Vec<RequestId>,
    pub n_dispatches: u32,
    pub n_returns: u32,
    pub n_reopens: u32,
    pub n_urges: u32,
    pub n_extensions: u32,
    pub n_escalations: u32,
    /// Number of events in the history; the next event gets this number.
    pub n_events: u32,
    pub last_event_at: DateTime<Utc>,
}

/// One entry of the append-only history: who, when, what, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub request: RequestId,
    /// Position in the request's history, from 0.
    pub seq: u32,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// 受理
    Received { intake: Intake },
    /// 分类 (or re-classified)
    Classified { classification: Classification },
    /// 即时办结: a consultation answered at intake.
    AnsweredAtIntake { answer: String },
    /// 派单 (first dispatch or re-dispatch after a return); clocks start.
    Dispatched {
        assignment: Assignment,
        response_due: DateTime<Utc>,
        handling_due: DateTime<Utc>,
    },
    /// 裁决: the dispatch centre rules on a disputed return and dispatches.
    Arbitrated {
        ruling: String,
        assignment: Assignment,
        response_due: DateTime<Utc>,
        handling_due: DateTime<Utc>,
    },
    /// 签收
    Signed,
    /// 协办意见: a co-unit's contribution.
    CoUnitOpinion { unit: UnitId, text: String },
    /// 办结
    Replied { text: String },
    /// 退单
    Returned { reason: String, legal_basis: String },
    /// 延期申请
    ExtensionRequested { working_days: u32, reason: String },
    /// 延期批准
    ExtensionApproved { handling_due: DateTime<Utc> },
    /// 延期驳回
    ExtensionRefused { reason: String },
    /// 挂起
    Paused { reason: String, remaining: i64 },
    /// 恢复
    Resumed { handling_due: DateTime<Utc> },
    /// 并案: this request was merged into `parent`.
    MergedInto { parent: RequestId },
    /// A duplicate was merged into this request.
    DuplicateAbsorbed { child: RequestId },
    /// 拆分
    SplitInto { children: Vec<RequestId> },
    /// 催办
    Urged { note: String },
    /// 回访评价
    Rated {
        satisfaction: Satisfaction,
        solved: bool,
        comment: String,
    },
    /// 重办: reopened to the same unit after an unsatisfied rating; clocks restart.
    Reopened {
        response_due: DateTime<Utc>,
        handling_due: DateTime<Utc>,
    },
    /// 归档
    Closed { reason: String },
    /// 临期预警
    DueSoon { clock: ClockKind },
    /// 超期督办: raised automatically when a clock runs out.
    Escalated { clock: ClockKind },
}

impl EventKind {
    /// Stable name of the event type.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Received { .. } => "received",
            EventKind::Classified { .. } => "classified",
            EventKind::AnsweredAtIntake { .. } => "answered_at_intake",
            EventKind::Dispatched { .. } => "dispatched",
            EventKind::Arbitrated { .. } => "arbitrated",
            EventKind::Signed => "signed",
            EventKind::CoUnitOpinion { .. } => "co_unit_opinion",
            EventKind::Replied { .. } => "replied",
            EventKind::Returned { .. } => "returned",
            EventKind::ExtensionRequested { .. } => "extension_requested",
            EventKind::ExtensionApproved { .. } => "extension_approved",
            EventKind::ExtensionRefused { .. } => "extension_refused",
            EventKind::Paused { .. } => "paused",
            EventKind::Resumed { .. } => "resumed",
            EventKind::MergedInto { .. } => "merged_into",
            EventKind::DuplicateAbsorbed { .. } => "duplicate_absorbed",
            EventKind::SplitInto { .. } => "split_into",
            EventKind::Urged { .. } => "urged",
            EventKind::Rated { .. } => "rated",
            EventKind::Reopened { .. } => "reopened",
            EventKind::Closed { .. } => "closed",
            EventKind::DueSoon { .. } => "due_soon",
            EventKind::Escalated { .. } => "escalated",
        }
    }
}

/// A command: something an actor asks to do to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Classify {
        classification: Classification,
    },
    AnswerAtIntake {
        answer: String,
    },
    Dispatch {
        assignment: Assignment,
    },
    Arbitrate {
        ruling: String,
        assignment: Assignment,
    },
    Sign,
    CoUnitOpinion {
        text: String,
    },
    Reply {
        text: String,
    },
    Return {
        reason: String,
        legal_basis: String,
    },
    RequestExtension {
        working_days: u32,
        reason: String,
    },
    ApproveExtension,
    RefuseExtension {
        reason: String,
    },
    Pause {
        reason: String,
    },
    Resume,
    /// Merge this request into `parent` (the caller records [`EventKind::DuplicateAbsorbed`] on
    /// the parent through [`decide_absorb`]).
    MergeInto {
        parent: RequestId,
    },
    /// Split into children already received by the caller.
    Split {
        children: Vec<RequestId>,
    },
    Urge {
        note: String,
    },
    Rate {
        satisfaction: Satisfaction,
        solved: bool,
        comment: String,
    },
    CloseWithoutRating {
        reason: String,
    },
    /// Raised by the sweeper.
    MarkDueSoon {
        clock: ClockKind,
    },
    /// Raised by the sweeper.
    Escalate {
        clock: ClockKind,
    },
}

impl Command {
    /// Stable name of the command, used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Classify { .. } => "classify",
            Command::AnswerAtIntake { .. } => "answer_at_intake",
            Command::Dispatch { .. } => "dispatch",
            Command::Arbitrate { .. } => "arbitrate",
            Command::Sign => "sign",
            Command::CoUnitOpinion { .. } => "co_unit_opinion",
            Command::Reply { .. } => "reply",
            Command::Return { .. } => "return",
            Command::RequestExtension { .. } => "request_extension",
            Command::ApproveExtension => "approve_extension",
            Command::RefuseExtension { .. } => "refuse_extension",
            Command::Pause { .. } => "pause",
            Command::Resume => "resume",
            Command::MergeInto { .. } => "merge",
            Command::Split { .. } => "split",
            Command::Urge { .. } => "urge",
            Command::Rate { .. } => "rate",
            Command::CloseWithoutRating { .. } => "close",
            Command::MarkDueSoon { .. } => "mark_due_soon",
            Command::Escalate { .. } => "escalate",
        }
    }

    /// The roles allowed to issue the command at all (the unit checks come on top).
    pub fn allowed_roles(&self) -> &'static [Role] {
        use Role::*;
        match self {
            Command::Classify { .. } => &[Operator, Dispatcher, System],
            Command::AnswerAtIntake { .. } => &[Operator, Dispatcher],
            Command::Dispatch { .. } => &[Dispatcher, System],
            Command::Arbitrate { .. } => &[Dispatcher],
            Command::Sign
            | Command::CoUnitOpinion { .. }
            | Command::Reply { .. }
            | Command::Return { .. }
            | Command::RequestExtension { .. }
            | Command::Pause { .. } => &[UnitHandler, UnitLeader],
            Command::Resume => &[UnitHandler, UnitLeader, Dispatcher, Requester],
            Command::ApproveExtension | Command::RefuseExtension { .. } => &[Dispatcher],
            Command::MergeInto { .. } | Command::Split { .. } => &[Dispatcher],
            Command::Urge { .. } => &[Requester, Operator, Supervisor],
            Command::Rate { .. } => &[Requester, Operator],
            Command::CloseWithoutRating { .. } => &[Operator, System],
            Command::MarkDueSoon { .. } | Command::Escalate { .. } => &[System],
        }
    }
}

/// Why a command was refused. Each variant has a stable [`DomainError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("role {role} may not {command}")]
    RoleNotAllowed {
        role: &'static str,
        command: &'static str,
    },
    #[error("only the lead unit may {command}")]
    NotLeadUnit { command: &'static str },
    #[error("only a co-unit may give a co-unit opinion")]
    NotCoUnit,
    #[error("cannot {command} a request that is {state}")]
    WrongState {
        command: &'static str,
        state: &'static str,
    },
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} is too long")]
    TooLong(&'static str),
    #[error("the request has no category yet")]
    NotClassified,
    #[error("only consultations can be answered at intake")]
    NotConsultation,
    #[error("an extension request is already pending")]
    ExtensionPending,
    #[error("no extension request is pending")]
    NoExtensionPending,
    #[error("at most {MAX_EXTENSIONS} extensions of 1 to {MAX_EXTENSION_DAYS} working days each")]
    ExtensionLimit,
    #[error("a unit cannot be its own co-unit")]
    LeadAsCoUnit,
    #[error("a request cannot be merged into itself")]
    SelfMerge,
    #[error("the parent request is not open")]
    ParentNotOpen,
    #[error("a split needs at least two children")]
    TooFewChildren,
    #[error("the {0:?} clock is not running")]
    ClockNotRunning(ClockKind),
    #[error("the {0:?} clock is not yet at that point")]
    NotYetDue(ClockKind),
    #[error("this was already raised for the current clock")]
    AlreadyRaised,
    #[error("the command's time is before the request's last event")]
    TimeWentBack,
}

impl DomainError {
    /// The stable, machine-readable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::RoleNotAllowed { .. } => "role_not_allowed",
            DomainError::NotLeadUnit { .. } => "not_lead_unit",
            DomainError::NotCoUnit => "not_co_unit",
            DomainError::WrongState { .. } => "wrong_state",
            DomainError::Empty(_) => "empty_field",
            DomainError::TooLong(_) => "field_too_long",
            DomainError::NotClassified => "not_classified",
            DomainError::NotConsultation => "not_consultation",
            DomainError::ExtensionPending => "extension_pending",
            DomainError::NoExtensionPending => "no_extension_pending",
            DomainError::ExtensionLimit => "extension_limit",
            DomainError::LeadAsCoUnit => "lead_as_co_unit",
            DomainError::SelfMerge => "self_merge",
            DomainError::ParentNotOpen => "parent_not_open",
            DomainError::TooFewChildren => "too_few_children",
            DomainError::ClockNotRunning(_) => "clock_not_running",
            DomainError::NotYetDue(_) => "not_yet_due",
            DomainError::AlreadyRaised => "already_raised",
            DomainError::TimeWentBack => "time_went_back",
        }
    }

    /// Whether the refusal is about who is asking (403) rather than about the request (409/422).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            DomainError::RoleNotAllowed { .. }
                | DomainError::NotLeadUnit { .. }
                | DomainError::NotCoUnit
        )
    }
}

/// Longest free text accepted in a command (reasons, replies), in characters.
pub const MAX_TEXT_CHARS: usize = 5000;

fn text(field: &'static str, value: &str) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::Empty(field));
    }
    if trimmed.chars().count() > MAX_TEXT_CHARS {
        return Err(DomainError::TooLong(field));
    }
    Ok(trimmed.to_string())
}

fn optional_text(field: &'static str, value: &str) -> Result<String, DomainError> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        text(field, value)
    }
}

impl Request {
    /// Receives a new request (受理): the first event of every history.
    pub fn receive(
        id: RequestId,
        intake: Intake,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> (Request, Event) {
        let event = Event {
            request: id,
            seq: 0,
            at,
            actor,
            kind: EventKind::Received { intake },
        };
        // The fold of a one-event history; `from_history` cannot fail on it.
        let request = Request::start(&event);
        (request, event)
    }

    fn start(event: &Event) -> Request {
        let intake = match &event.kind {
            EventKind::Received { intake } => intake.clone(),
            // Only called with a Received event; any other yields an empty placeholder intake so
            // that the function stays total. `from_history` rejects such histories first.
            _ => Intake {
                tracking_code: TrackingCode::from_entropy([0; 16]),
                channel: Channel::Web,
                requester_kind: RequesterKind::Citizen,
                title: String::new(),
                text: String::new(),
                location: Location {
                    division: None,
                    address: String::new(),
                    lat_lng: None,
                },
                parent: None,
            },
        };
        Request {
            id: event.request,
            intake,
            received_at: event.at,
            state: State::Received,
            classification: None,
            assignment: None,
            response_clock: None,
            handling_clock: None,
            pending_extension: None,
            reply: None,
            rating: None,
            merged_into: None,
            duplicates: Vec::new(),
            children: Vec::new(),
            n_dispatches: 0,
            n_returns: 0,
            n_reopens: 0,
            n_urges: 0,
            n_extensions: 0,
            n_escalations: 0,
            n_events: 1,
            last_event_at: event.at,
        }
    }

    /// Rebuilds a request from its whole history; `None` if the history does not start with
    /// `Received` or its sequence numbers have holes.
    pub fn from_history(events: &[Event]) -> Option<Request> {
        let first = events.first()?;
        if !matches!(first.kind, EventKind::Received { .. }) || first.seq != 0 {
            return None;
        }
        let mut request = Request::start(first);
        for event in &events[1..] {
            if event.seq != request.n_events || event.request != request.id {
                return None;
            }
            request.apply(event);
        }
        Some(request)
    }

    /// The lead unit, if dispatched.
    pub fn lead(&self) -> Option<UnitId> {
        self.assignment.as_ref().map(|a| a.lead)
    }

    /// Whether `unit` is the lead or a co-unit.
    pub fn involves_unit(&self, unit: UnitId) -> bool {
        self.assignment
            .as_ref()
            .is_some_and(|a| a.lead == unit || a.co_units.contains(&unit))
    }

    /// Folds one event into the request. Events are facts: apply never refuses.
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::Received { .. } => {}
            EventKind::Classified { classification } => {
                self.classification = Some(*classification);
            }
            EventKind::AnsweredAtIntake { answer } => {
                self.state = State::Replied;
                self.reply = Some(Reply {
                    text: answer.clone(),
                    at,
                    by_unit: None,
                });
            }
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
            } => {
                self.start_clocks(assignment, at, *response_due, *handling_due);
                self.assignment = Some(assignment.clone());
                self.n_dispatches += 1;
                self.state = State::Dispatched;
                self.reply = None;
            }
            EventKind::Signed => {
                if let Some(c) = &mut self.response_clock {
                    c.met_at = Some(at);
                }
                self.state = State::Handling;
            }
            EventKind::CoUnitOpinion { .. } => {}
            EventKind::Replied { text } => {
                if let Some(c) = &mut self.handling_clock {
                    c.met_at = Some(at);
                }
                self.pending_extension = None;
                self.reply = Some(Reply {
                    text: text.clone(),
                    at,
                    by_unit: self.lead(),
                });
                self.state = State::Replied;
            }
            EventKind::Returned { .. } => {
                self.response_clock = None;
                self.handling_clock = None;
                self.pending_extension = None;
                self.n_returns += 1;
                self.state = State::Returned;
            }
            EventKind::ExtensionRequested {
                working_days,
                reason,
            } => {
                self.pending_extension = Some(ExtensionRequest {
                    working_days: *working_days,
                    reason: reason.clone(),
                    requested_at: at,
                });
            }
            EventKind::ExtensionApproved { handling_due } => {
                if let Some(c) = &mut self.handling_clock {
                    if c.paused_remaining.is_some() {
                        // While paused the deadline is recomputed on resume; keep the extra
                        // time in the remainder instead.
                        let extra = (*handling_due - c.due_at).num_seconds().max(0);
                        c.paused_remaining = c.paused_remaining.map(|r| r + extra);
                    }
                    c.due_at = *handling_due;
                    c.due_soon_raised = false;
                }
                self.pending_extension = None;
                self.n_extensions += 1;
            }
            EventKind::ExtensionRefused { .. } => {
                self.pending_extension = None;
            }
            EventKind::Paused { remaining, .. } => {
                if let Some(c) = &mut self.handling_clock {
                    c.paused_remaining = Some(*remaining);
                }
                self.state = State::Paused;
            }
            EventKind::Resumed { handling_due } => {
                if let Some(c) = &mut self.handling_clock {
                    c.paused_remaining = None;
                    c.due_at = *handling_due;
                }
                self.state = State::Handling;
            }
            EventKind::MergedInto { parent } => {
                self.merged_into = Some(*parent);
                self.stop_clocks(at);
                self.state = State::Merged;
            }
            EventKind::DuplicateAbsorbed { child } => {
                self.duplicates.push(*child);
            }
            EventKind::SplitInto { children } => {
                self.children = children.clone();
                self.stop_clocks(at);
                self.state = State::Split;
            }
            EventKind::Urged { .. } => {
                self.n_urges += 1;
            }
            EventKind::Rated {
                satisfaction,
                solved,
                comment,
            } => {
                self.rating = Some(Rating {
                    satisfaction: *satisfaction,
                    solved: *solved,
                    comment: comment.clone(),
                    at,
                });
            }
            EventKind::Reopened {
                response_due,
                handling_due,
            } => {
                self.n_reopens += 1;
                match self.assignment.clone() {
                    Some(assignment) => {
                        self.start_clocks(&assignment, at, *response_due, *handling_due);
                        self.state = State::Dispatched;
                    }
                    None => {
                        self.response_clock = None;
                        self.handling_clock = None;
                        self.state = State::Received;
                    }
                }
                self.reply = None;
            }
            EventKind::Closed { .. } => {
                self.state = State::Closed;
            }
            EventKind::DueSoon { clock } => {
                if let Some(c) = self.clock_mut(*clock) {
                    c.due_soon_raised = true;
                }
            }
            EventKind::Escalated { clock } => {
                if let Some(c) = self.clock_mut(*clock) {
                    c.overdue_raised = true;
                }
                self.n_escalations += 1;
            }
        }
        self.n_events += 1;
        self.last_event_at = at;
    }

    fn start_clocks(
        &mut self,
        assignment: &Assignment,
        at: DateTime<Utc>,
        response_due: DateTime<Utc>,
        handling_due: DateTime<Utc>,
    ) {
        let clock = |span, due_at| Clock {
            span,
            started_at: at,
            due_at,
            met_at: None,
            paused_remaining: None,
            due_soon_raised: false,
            overdue_raised: false,
        };
        self.response_clock = Some(clock(assignment.deadlines.response, response_due));
        self.handling_clock = Some(clock(assignment.deadlines.handling, handling_due));
        self.pending_extension = None;
    }

    fn stop_clocks(&mut self, at: DateTime<Utc>) {
        for c in [&mut self.response_clock, &mut self.handling_clock]
            .into_iter()
            .flatten()
        {
            if c.met_at.is_none() {
                c.met_at = Some(at);
            }
            c.paused_remaining = None;
        }
        self.pending_extension = None;
    }

    /// The clock of this kind.
    pub fn clock(&self, kind: ClockKind) -> Option<&Clock> {
        match kind {
            ClockKind::Response => self.response_clock.as_ref(),
            ClockKind::Handling => self.handling_clock.as_ref(),
        }
    }

    fn clock_mut(&mut self, kind: ClockKind) -> Option<&mut Clock> {
        match kind {
            ClockKind::Response => self.response_clock.as_mut(),
            ClockKind::Handling => self.handling_clock.as_mut(),
        }
    }

    /// Decides a command and, when it is accepted, applies its events. On refusal the request is
    /// left untouched.
    pub fn execute(
        &mut self,
        actor: &Actor,
        command: &Command,
        now: DateTime<Utc>,
        calendar: &WorkCalendar,
    ) -> Result<Vec<Event>, DomainError> {
        let kinds = decide(self, actor, command, now, calendar)?;
        Ok(self.record(actor, kinds, now))
    }

    /// Applies already-decided event kinds as events of this actor at `now`.
    pub fn record(
        &mut self,
        actor: &Actor,
        kinds: Vec<EventKind>,
        now: DateTime<Utc>,
    ) -> Vec<Event> {
        let mut events = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let event = Event {
                request: self.id,
                seq: self.n_events,
                at: now,
                actor: *actor,
                kind,
            };
            self.apply(&event);
            events.push(event);
        }
        events
    }
}

fn require_state(
    request: &Request,
    command: &Command,
    allowed: &[State],
) -> Result<(), DomainError> {
    if allowed.contains(&request.state) {
        Ok(())
    } else {
        Err(DomainError::WrongState {
            command: command.name(),
            state: request.state.as_str(),
        })
    }
}

fn require_lead(request: &Request, actor: &Actor, command: &Command) -> Result<(), DomainError> {
    match (request.lead(), actor.unit) {
        (Some(lead), Some(unit)) if lead == unit => Ok(()),
        _ => Err(DomainError::NotLeadUnit {
            command: command.name(),
        }),
    }
}

fn check_assignment(assignment: &Assignment) -> Result<(), DomainError> {
    if assignment.co_units.contains(&assignment.lead) {
        return Err(DomainError::LeadAsCoUnit);
    }
    Ok(())
}

/// Decides a command against a request: the events it produces, or why it is refused.
pub fn decide(
    request: &Request,
    actor: &Actor,
    command: &Command,
    now: DateTime<Utc>,
    calendar: &WorkCalendar,
) -> Result<Vec<EventKind>, DomainError> {
    use State::*;
    if !command.allowed_roles().contains(&actor.role) {
        return Err(DomainError::RoleNotAllowed {
            role: actor.role.as_str(),
            command: command.name(),
        });
    }
    if now < request.last_event_at {
        return Err(DomainError::TimeWentBack);
    }
    let kinds = match command {
        Command::Classify { classification } => {
            require_state(request, command, &[Received, Returned])?;
            vec![EventKind::Classified {
                classification: *classification,
            }]
        }
        Command::AnswerAtIntake { answer } => {
            require_state(request, command, &[Received])?;
            match request.classification {
                None => return Err(DomainError::NotClassified),
                Some(c) if !c.consultation => return Err(DomainError::NotConsultation),
                Some(_) => {}
            }
            vec![EventKind::AnsweredAtIntake {
                answer: text("answer", answer)?,
            }]
        }
        Command::Dispatch { assignment } => {
            require_state(request, command, &[Received, Returned])?;
            if request.classification.is_none() {
                return Err(DomainError::NotClassified);
            }
            check_assignment(assignment)?;
            vec![EventKind::Dispatched {
                assignment: assignment.clone(),
                response_due: calendar.add(now, assignment.deadlines.response),
                handling_due: calendar.add(now, assignment.deadlines.handling),
            }]
        }
        Command::Arbitrate { ruling, assignment } => {
            require_state(request, command, &[Returned])?;
            check_assignment(assignment)?;
            vec![EventKind::Arbitrated {
                ruling: text("ruling", ruling)?,
                assignment: assignment.clone(),
                response_due: calendar.add(now, assignment.deadlines.response),
                handling_due: calendar.add(now, assignment.deadlines.handling),
            }]
        }
        Command::Sign => {
            require_lead(request, actor, command)?;
            require_state(request, command, &[Dispatched])?;
            vec![EventKind::Signed]
        }
        Command::CoUnitOpinion { text: body } => {
            let unit = actor.unit.ok_or(DomainError::NotCoUnit)?;
            let is_co = request
                .assignment
                .as_ref()
                .is_some_and(|a| a.co_units.contains(&unit));
            if !is_co {
                return Err(DomainError::NotCoUnit);
            }
            require_state(request, command, &[Dispatched, Handling, Paused])?;
            vec![EventKind::CoUnitOpinion {
                unit,
                text: text("text", body)?,
            }]
        }
        Command::Reply { text: body } => {
            require_lead(request, actor, command)?;
            require_state(request, command, &[Handling])?;
            vec![EventKind::Replied {
                text: text("reply", body)?,
            }]
        }
        Command::Return {
            reason,
            legal_basis,
        } => {
            require_lead(request, actor, command)?;
            require_state(request, command, &[Dispatched, Handling])?;
            vec![EventKind::Returned {
                reason: text("reason", reason)?,
                legal_basis: text("legal_basis", legal_basis)?,
            }]
        }
        Command::RequestExtension {
            working_days,
            reason,
        } => {
            require_lead(request, actor, command)?;
            require_state(request, command, &[Handling, Paused])?;
            if request.pending_extension.is_some() {
                return Err(DomainError::ExtensionPending);
            }
            if request.n_extensions >= MAX_EXTENSIONS
                || *working_days == 0
                || *working_days > MAX_EXTENSION_DAYS
            {
                return Err(DomainError::ExtensionLimit);
            }
            vec![EventKind::ExtensionRequested {
                working_days: *working_days,
                reason: text("reason", reason)?,
            }]
        }
        Command::ApproveExtension => {
            require_state(request, command, &[Handling, Paused])?;
            let pending = request
                .pending_extension
                .as_ref()
                .ok_or(DomainError::NoExtensionPending)?;
            let clock = request
                .handling_clock
                .as_ref()
                .ok_or(DomainError::ClockNotRunning(ClockKind::Handling))?;
            vec![EventKind::ExtensionApproved {
                handling_due: calendar.add(clock.due_at, Span::WorkingDays(pending.working_days)),
            }]
        }
        Command::RefuseExtension { reason } => {
            require_state(request, command, &[Handling, Paused])?;
            if request.pending_extension.is_none() {
                return Err(DomainError::NoExtensionPending);
            }
            vec![EventKind::ExtensionRefused {
                reason: text("reason", reason)?,
            }]
        }
        Command::Pause { reason } => {
            require_lead(request, actor, command)?;
            require_state(request, command, &[Handling])?;
            let clock = request
                .handling_clock
                .as_ref()
                .ok_or(DomainError::ClockNotRunning(ClockKind::Handling))?;
            vec![EventKind::Paused {
                reason: text("reason", reason)?,
                remaining: clock.remaining(now, calendar),
            }]
        }
        Command::Resume => {
            if actor.role.is_unit_role() {
                require_lead(request, actor, command)?;
            }
            require_state(request, command, &[Paused])?;
            let clock = request
                .handling_clock
                .as_ref()
                .ok_or(DomainError::ClockNotRunning(ClockKind::Handling))?;
            let remaining = clock.paused_remaining.unwrap_or(0);
            vec![EventKind::Resumed {
                handling_due: clock.resume_due(remaining, now, calendar),
            }]
        }
        Command::MergeInto { parent } => {
            require_state(
                request,
                command,
                &[Received, Dispatched, Handling, Paused, Returned],
            )?;
            if *parent == request.id {
                return Err(DomainError::SelfMerge);
            }
            vec![EventKind::MergedInto { parent: *parent }]
        }
        Command::Split { children } => {
            require_state(request, command, &[Received, Returned])?;
            if children.len() < 2 {
                return Err(DomainError::TooFewChildren);
            }
            vec![EventKind::SplitInto {
                children: children.clone(),
            }]
        }
        Command::Urge { note } => {
            require_state(
                request,
                command,
                &[Received, Dispatched, Handling, Paused, Returned],
            )?;
            vec![EventKind::Urged {
                note: optional_text("note", note)?,
            }]
        }
        Command::Rate {
            satisfaction,
            solved,
            comment,
        } => {
            require_state(request, command, &[Replied])?;
            let mut kinds = vec![EventKind::Rated {
                satisfaction: *satisfaction,
                solved: *solved,
                comment: optional_text("comment", comment)?,
            }];
            if *satisfaction == Satisfaction::Unsatisfied && request.n_reopens < MAX_REOPENS {
                let (response_due, handling_due) = match &request.assignment {
                    Some(a) => (
                        calendar.add(now, a.deadlines.response),
                        calendar.add(now, a.deadlines.handling),
                    ),
                    None => (now, now),
                };
                kinds.push(EventKind::Reopened {
                    response_due,
                    handling_due,
                });
            } else {
                kinds.push(EventKind::Closed {
                    reason: "rated".to_string(),
                });
            }
            kinds
        }
        Command::CloseWithoutRating { reason } => {
            require_state(request, command, &[Replied])?;
            vec![EventKind::Closed {
                reason: text("reason", reason)?,
            }]
        }
        Command::MarkDueSoon { clock } => {
            let c = running_clock(request, *clock)?;
            if c.due_soon_raised || c.overdue_raised {
                return Err(DomainError::AlreadyRaised);
            }
            if now < c.due_soon_at() {
                return Err(DomainError::NotYetDue(*clock));
            }
            vec![EventKind::DueSoon { clock: *clock }]
        }
        Command::Escalate { clock } => {
            let c = running_clock(request, *clock)?;
            if c.overdue_raised {
                return Err(DomainError::AlreadyRaised);
            }
            if now <= c.due_at {
                return Err(DomainError::NotYetDue(*clock));
            }
            vec![EventKind::Escalated { clock: *clock }]
        }
    };
    Ok(kinds)
}

fn running_clock(request: &Request, kind: ClockKind) -> Result<&Clock, DomainError> {
    let clock = request
        .clock(kind)
        .filter(|c| c.is_running() && request.state.is_open())
        .ok_or(DomainError::ClockNotRunning(kind))?;
    Ok(clock)
}

/// Decides recording a duplicate on its parent (并案, the parent's side).
pub fn decide_absorb(
    parent: &Request,
    child: RequestId,
    now: DateTime<Utc>,
) -> Result<Vec<EventKind>, DomainError> {
    if parent.id == child {
        return Err(DomainError::SelfMerge);
    }
    if !(parent.state.is_open() || parent.state == State::Replied) {
        return Err(DomainError::ParentNotOpen);
    }
    if now < parent.last_event_at {
        return Err(DomainError::TimeWentBack);
    }
    Ok(vec![EventKind::DuplicateAbsorbed { child }])
}

/// When the sweeper next has something to look at for this request: the earliest due-soon or
/// overdue point of a running clock that has not been raised yet. `None` when nothing will come due.
pub fn next_clock_check(request: &Request) -> Option<DateTime<Utc>> {
    if !request.state.is_open() {
        return None;
    }
    [ClockKind::Response, ClockKind::Handling]
        .into_iter()
        .filter_map(|kind| request.clock(kind).filter(|c| c.is_running()))
        .filter_map(|c| {
            if !c.due_soon_raised && !c.overdue_raised {
                Some(c.due_soon_at())
            } else if !c.overdue_raised {
                // Escalation happens strictly after the deadline.
                Some(c.due_at + chrono::Duration::milliseconds(1))
            } else {
                None
            }
        })
        .min()
}

/// The sweeper's work for one request at `now`: the due-soon and overdue commands it should
/// issue, in order. Empty when nothing is due.
pub fn due_clock_events(request: &Request, now: DateTime<Utc>) -> Vec<Command> {
    let mut commands = Vec::new();
    if !request.state.is_open() {
        return commands;
    }
    for kind in [ClockKind::Response, ClockKind::Handling] {
        let Some(c) = request.clock(kind).filter(|c| c.is_running()) else {
            continue;
        };
        if now > c.due_at {
            if !c.overdue_raised {
                commands.push(Command::Escalate { clock: kind });
            }
        } else if now >= c.due_soon_at() && !c.due_soon_raised && !c.overdue_raised {
            commands.push(Command::MarkDueSoon { clock: kind });
        }
    }
    commands
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
