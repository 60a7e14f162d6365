//! Scenario tests of the life cycle and property tests over random command sequences.

use super::*;
use crate::calendar::{DayKind, DayOverride, WorkingHours};
use chrono::{Duration, NaiveDate, TimeZone};
use proptest::prelude::*;

const LEAD: UnitId = UnitId(10);
const CO: UnitId = UnitId(11);
const OTHER: UnitId = UnitId(12);

fn calendar() -> WorkCalendar {
    let holiday = DayOverride {
        date: NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
        kind: DayKind::Holiday,
        name: "国庆节".into(),
    };
    WorkCalendar::new(vec![holiday], WorkingHours::standard()).unwrap()
}

/// Monday 2025-09-22 10:00 in Shenzhen.
fn monday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 22, 2, 0, 0).unwrap()
}

fn new_request(at: DateTime<Utc>) -> Request {
    let intake = Intake {
        tracking_code: TrackingCode::from_entropy([1; 16]),
        channel: Channel::Web,
        requester_kind: RequesterKind::Citizen,
        title: "路灯不亮".into(),
        text: "小区门口路灯坏了一周".into(),
        location: Location {
            division: Some(DivisionId(1)),
            address: "福田区".into(),
            lat_lng: None,
        },
        parent: None,
    };
    Request::receive(RequestId(1), intake, Actor::REQUESTER, at).0
}

fn classification(consultation: bool) -> Classification {
    Classification {
        matter: MatterId(5),
        source: CategorySource::Engine,
        confidence: Some(0.9),
        urgency: Urgency::Ordinary,
        consultation,
    }
}

fn assignment(lead: UnitId) -> Assignment {
    Assignment {
        lead,
        co_units: vec![CO],
        rule: Some(RuleId(3)),
        legal_basis: "《城市照明管理规定》".into(),
        deadlines: Deadlines::default_for(Urgency::Ordinary, false),
    }
}

fn dispatcher() -> Actor {
    Actor::staff(crate::UserId(2), Role::Dispatcher)
}
fn operator() -> Actor {
    Actor::staff(crate::UserId(1), Role::Operator)
}
fn clerk(unit: UnitId) -> Actor {
    Actor::of_unit(crate::UserId(3), Role::UnitHandler, unit)
}

/// Runs a script of (actor, command, minutes later) steps and expects each to succeed.
fn run(request: &mut Request, steps: &[(Actor, Command, i64)]) -> DateTime<Utc> {
    let cal = calendar();
    let mut now = request.last_event_at;
    for (actor, command, minutes) in steps {
        now += Duration::minutes(*minutes);
        request
            .execute(actor, command, now, &cal)
            .unwrap_or_else(|e| panic!("{} refused: {e}", command.name()));
    }
    now
}

fn dispatched() -> Request {
    let mut r = new_request(monday_morning());
    run(
        &mut r,
        &[
            (
                operator(),
                Command::Classify {
                    classification: classification(false),
                },
                1,
            ),
            (
                dispatcher(),
                Command::Dispatch {
                    assignment: assignment(LEAD),
                },
                5,
            ),
        ],
    );
    r
}

#[test]
fn the_main_path_goes_from_receipt_to_closure() {
    let mut r = dispatched();
    assert_eq!(r.state, State::Dispatched);
    // Dispatched Monday 10:06: respond within 1 working day (end of Tuesday), handle within 5.
    let response_due = r.response_clock.unwrap().due_at;
    assert_eq!(
        response_due,
        Utc.with_ymd_and_hms(2025, 9, 23, 10, 0, 0).unwrap()
    );
    run(
        &mut r,
        &[
            (clerk(LEAD), Command::Sign, 30),
            (
                clerk(CO),
                Command::CoUnitOpinion {
                    text: "已配合排查线路".into(),
                },
                30,
            ),
            (
                clerk(LEAD),
                Command::Reply {
                    text: "已更换灯具".into(),
                },
                120,
            ),
            (
                Actor::REQUESTER,
                Command::Rate {
                    satisfaction: Satisfaction::Satisfied,
                    solved: true,
                    comment: String::new(),
                },
                600,
            ),
        ],
    );
    assert_eq!(r.state, State::Closed);
    assert!(!r.response_clock.unwrap().is_late(r.last_event_at));
    assert!(!r.handling_clock.unwrap().is_late(r.last_event_at));
    assert_eq!(r.n_events, 8);
}

#[test]
fn another_unit_cannot_sign_and_nothing_changes() {
    let mut r = dispatched();
    let before = r.clone();
    let err = r
        .execute(&clerk(OTHER), &Command::Sign, r.last_event_at, &calendar())
        .unwrap_err();
    assert_eq!(err.code(), "not_lead_unit");
    assert!(err.is_forbidden());
    assert_eq!(r, before);
}

#[test]
fn an_operator_cannot_dispatch() {
    let mut r = new_request(monday_morning());
    let err = r
        .execute(
            &operator(),
            &Command::Dispatch {
                assignment: assignment(LEAD),
            },
            r.last_event_at,
            &calendar(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "role_not_allowed");
}

#[test]
fn dispatch_needs_a_category_first() {
    let mut r = new_request(monday_morning());
    let err = r
        .execute(
            &dispatcher(),
            &Command::Dispatch {
                assignment: assignment(LEAD),
            },
            r.last_event_at,
            &calendar(),
        )
        .unwrap_err();
    assert_eq!(err, DomainError::NotClassified);
}

#[test]
fn a_return_needs_reason_and_legal_basis_then_goes_to_arbitration() {
    let mut r = dispatched();
    let cal = calendar();
    let err = r
        .execute(
            &clerk(LEAD),
            &Command::Return {
                reason: "不属于我单位".into(),
                legal_basis: " ".into(),
            },
            r.last_event_at,
            &cal,
        )
        .unwrap_err();
    assert_eq!(err, DomainError::Empty("legal_basis"));
    run(
        &mut r,
        &[(
            clerk(LEAD),
            Command::Return {
                reason: "路灯属供电局产权".into(),
                legal_basis: "《电力设施保护条例》".into(),
            },
            10,
        )],
    );
    assert_eq!(r.state, State::Returned);
    assert!(r.response_clock.is_none());
    run(
        &mut r,
        &[(
            dispatcher(),
            Command::Arbitrate {
                ruling: "先办后议：由原单位先行处置".into(),
                assignment: assignment(LEAD),
            },
            10,
        )],
    );
    assert_eq!(r.state, State::Dispatched);
    assert_eq!(r.n_dispatches, 2);
    assert_eq!(r.n_returns, 1);
}

#[test]
fn an_approved_extension_moves_the_handling_deadline_by_working_days() {
    let mut r = dispatched();
    run(
        &mut r,
        &[
            (clerk(LEAD), Command::Sign, 10),
            (
                clerk(LEAD),
                Command::RequestExtension {
                    working_days: 3,
                    reason: "需协调产权单位".into(),
                },
                10,
            ),
        ],
    );
    let before = r.handling_clock.unwrap().due_at;
    let err = r
        .execute(
            &clerk(LEAD),
            &Command::RequestExtension {
                working_days: 1,
                reason: "再延".into(),
            },
            r.last_event_at,
            &calendar(),
        )
        .unwrap_err();
    assert_eq!(err, DomainError::ExtensionPending);
    run(&mut r, &[(dispatcher(), Command::ApproveExtension, 10)]);
    let after = r.handling_clock.unwrap().due_at;
    assert_eq!(after, calendar().add(before, Span::WorkingDays(3)));
    assert!(after > before);
    assert_eq!(r.n_extensions, 1);
}

#[test]
fn a_pause_stops_the_handling_clock_and_resume_gives_the_time_back() {
    let mut r = dispatched();
    run(&mut r, &[(clerk(LEAD), Command::Sign, 10)]);
    let cal = calendar();
    let due = r.handling_clock.unwrap().due_at;
    let paused_at = r.last_event_at + Duration::minutes(10);
    let left = cal.working_seconds_between(paused_at, due);
    run(
        &mut r,
        &[(
            clerk(LEAD),
            Command::Pause {
                reason: "等待市民补充材料".into(),
            },
            10,
        )],
    );
    assert_eq!(r.state, State::Paused);
    // Nothing escalates while paused, however long it lasts.
    let much_later = due + Duration::days(30);
    assert!(due_clock_events(&r, much_later).is_empty());
    r.execute(&Actor::REQUESTER, &Command::Resume, much_later, &cal)
        .unwrap();
    let resumed_due = r.handling_clock.unwrap().due_at;
    assert_eq!(cal.working_seconds_between(much_later, resumed_due), left);
}

#[test]
fn an_unsatisfied_rating_reopens_to_the_same_unit_until_the_limit() {
    let mut r = dispatched();
    for round in 0..=MAX_REOPENS {
        run(
            &mut r,
            &[
                (clerk(LEAD), Command::Sign, 10),
                (
                    clerk(LEAD),
                    Command::Reply {
                        text: "已处理".into(),
                    },
                    10,
                ),
                (
                    operator(),
                    Command::Rate {
                        satisfaction: Satisfaction::Unsatisfied,
                        solved: false,
                        comment: "没解决".into(),
                    },
                    10,
                ),
            ],
        );
        if round < MAX_REOPENS {
            assert_eq!(r.state, State::Dispatched);
            assert_eq!(r.lead(), Some(LEAD));
        }
    }
    assert_eq!(r.state, State::Closed);
    assert_eq!(r.n_reopens, MAX_REOPENS);
}

#[test]
fn consultations_are_answered_at_intake_but_complaints_are_not() {
    let mut r = new_request(monday_morning());
    let cal = calendar();
    run(
        &mut r,
        &[(
            operator(),
            Command::Classify {
                classification: classification(false),
            },
            1,
        )],
    );
    let err = r
        .execute(
            &operator(),
            &Command::AnswerAtIntake { answer: "x".into() },
            r.last_event_at,
            &cal,
        )
        .unwrap_err();
    assert_eq!(err, DomainError::NotConsultation);
    run(
        &mut r,
        &[
            (
                operator(),
                Command::Classify {
                    classification: classification(true),
                },
                1,
            ),
            (
                operator(),
                Command::AnswerAtIntake {
                    answer: "社保卡补办请到各区社保分局".into(),
                },
                3,
            ),
        ],
    );
    assert_eq!(r.state, State::Replied);
    assert!(r.lead().is_none());
}

#[test]
fn the_sweeper_warns_then_escalates_exactly_once_per_clock() {
    let mut r = dispatched();
    let cal = calendar();
    let due = r.response_clock.unwrap().due_at;
    let soon = r.response_clock.unwrap().due_soon_at();
    assert!(due_clock_events(&r, soon - Duration::minutes(1)).is_empty());
    let commands = due_clock_events(&r, soon);
    assert_eq!(
        commands,
        vec![Command::MarkDueSoon {
            clock: ClockKind::Response
        }]
    );
    for c in &commands {
        r.execute(&Actor::SYSTEM, c, soon, &cal).unwrap();
    }
    assert!(due_clock_events(&r, soon).is_empty());
    let late = due + Duration::minutes(1);
    let commands = due_clock_events(&r, late);
    assert_eq!(
        commands,
        vec![Command::Escalate {
            clock: ClockKind::Response
        }]
    );
    r.execute(&Actor::SYSTEM, &commands[0], late, &cal).unwrap();
    assert!(due_clock_events(&r, late).is_empty());
    let again = r
        .execute(
            &Actor::SYSTEM,
            &Command::Escalate {
                clock: ClockKind::Response,
            },
            late,
            &cal,
        )
        .unwrap_err();
    assert_eq!(again, DomainError::AlreadyRaised);
    assert_eq!(r.n_escalations, 1);
}

#[test]
fn merged_and_split_requests_are_terminal() {
    let mut r = new_request(monday_morning());
    run(
        &mut r,
        &[(
            dispatcher(),
            Command::MergeInto {
                parent: RequestId(99),
            },
            1,
        )],
    );
    assert_eq!(r.state, State::Merged);
    let err = r
        .execute(
            &Actor::REQUESTER,
            &Command::Urge {
                note: String::new(),
            },
            r.last_event_at,
            &calendar(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "wrong_state");

    let mut s = new_request(monday_morning());
    let err = s
        .execute(
            &dispatcher(),
            &Command::Split {
                children: vec![RequestId(7)],
            },
            s.last_event_at,
            &calendar(),
        )
        .unwrap_err();
    assert_eq!(err, DomainError::TooFewChildren);
    run(
        &mut s,
        &[(
            dispatcher(),
            Command::Split {
                children: vec![RequestId(7), RequestId(8)],
            },
            1,
        )],
    );
    assert_eq!(s.state, State::Split);
    assert_eq!(s.children.len(), 2);
}

#[test]
fn a_command_dated_before_the_last_event_is_refused() {
    let mut r = dispatched();
    let err = r
        .execute(
            &clerk(LEAD),
            &Command::Sign,
            r.last_event_at - Duration::seconds(1),
            &calendar(),
        )
        .unwrap_err();
    assert_eq!(err, DomainError::TimeWentBack);
}

// ---- property tests over random command sequences ----

fn arb_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(Actor::REQUESTER),
        Just(Actor::SYSTEM),
        Just(operator()),
        Just(dispatcher()),
        Just(Actor::staff(crate::UserId(4), Role::Supervisor)),
        Just(Actor::staff(crate::UserId(5), Role::Admin)),
        Just(clerk(LEAD)),
        Just(clerk(CO)),
        Just(clerk(OTHER)),
    ]
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("原因".to_string()),
        Just("  ".to_string())
    ]
}

fn arb_command() -> impl Strategy<Value = Command> {
    let clock = prop_oneof![Just(ClockKind::Response), Just(ClockKind::Handling)];
    let satisfaction = prop_oneof![
        Just(Satisfaction::Satisfied),
        Just(Satisfaction::BasicallySatisfied),
        Just(Satisfaction::Unsatisfied)
    ];
    prop_oneof![
        any::<bool>().prop_map(|c| Command::Classify {
            classification: classification(c)
        }),
        arb_text().prop_map(|answer| Command::AnswerAtIntake { answer }),
        prop_oneof![Just(LEAD), Just(OTHER), Just(CO)].prop_map(|u| Command::Dispatch {
            assignment: assignment(u)
        }),
        arb_text().prop_map(|ruling| Command::Arbitrate {
            ruling,
            assignment: assignment(LEAD)
        }),
        Just(Command::Sign),
        Just(Command::Sign),
        arb_text().prop_map(|text| Command::CoUnitOpinion { text }),
        arb_text().prop_map(|text| Command::Reply { text }),
        (arb_text(), arb_text()).prop_map(|(reason, legal_basis)| Command::Return {
            reason,
            legal_basis
        }),
        (0u32..5, arb_text()).prop_map(|(working_days, reason)| Command::RequestExtension {
            working_days,
            reason
        }),
        Just(Command::ApproveExtension),
        arb_text().prop_map(|reason| Command::RefuseExtension { reason }),
        arb_text().prop_map(|reason| Command::Pause { reason }),
        Just(Command::Resume),
        prop_oneof![Just(RequestId(1)), Just(RequestId(2))]
            .prop_map(|parent| Command::MergeInto { parent }),
        Just(Command::Split {
            children: vec![RequestId(7), RequestId(8)]
        }),
        arb_text().prop_map(|note| Command::Urge { note }),
        (satisfaction, any::<bool>(), arb_text()).prop_map(|(satisfaction, solved, comment)| {
            Command::Rate {
                satisfaction,
                solved,
                comment,
            }
        }),
        arb_text().prop_map(|reason| Command::CloseWithoutRating { reason }),
        clock
            .clone()
            .prop_map(|clock| Command::MarkDueSoon { clock }),
        clock.prop_map(|clock| Command::Escalate { clock }),
    ]
}

/// The fields a state implies, checked after every accepted command.
fn check_state_invariants(r: &Request) {
    match r.state {
        State::Received => assert!(r.response_clock.is_none_or(|c| !c.is_running())),
        State::Dispatched => {
            assert!(r.assignment.is_some());
            assert!(r.response_clock.unwrap().is_running());
        }
        State::Handling => {
            assert!(r.response_clock.unwrap().met_at.is_some());
            assert!(r.handling_clock.unwrap().is_running());
        }
        State::Paused => assert!(r.handling_clock.unwrap().paused_remaining.is_some()),
        State::Returned => assert!(r.response_clock.is_none() && r.handling_clock.is_none()),
        State::Replied => assert!(r.reply.is_some()),
        State::Closed => {}
        State::Merged => assert!(r.merged_into.is_some()),
        State::Split => assert!(r.children.len() >= 2),
    }
    if r.pending_extension.is_some() {
        assert!(matches!(r.state, State::Handling | State::Paused));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_command_sequences_keep_the_invariants(
        steps in prop::collection::vec((arb_actor(), arb_command(), 0i64..3000), 1..60)
    ) {
        let cal = calendar();
        let mut r = new_request(monday_morning());
        let mut history = vec![Event {
            request: r.id,
            seq: 0,
            at: r.received_at,
            actor: Actor::REQUESTER,
            kind: EventKind::Received { intake: r.intake.clone() },
        }];
        let mut now = r.received_at;
        for (actor, command, minutes) in steps {
            now += Duration::minutes(minutes);
            let before = r.clone();
            let handling_before = r.handling_clock;
            match r.execute(&actor, &command, now, &cal) {
                Err(_) => prop_assert_eq!(&r, &before, "a refused command changed the request"),
                Ok(events) => {
                    // Every change has its event, numbered without holes.
                    prop_assert!(!events.is_empty());
                    for (i, e) in events.iter().enumerate() {
                        prop_assert_eq!(e.seq, before.n_events + i as u32);
                        prop_assert!(e.at >= before.last_event_at, "time went back");
                    }
                    history.extend(events);
                    // The request is the fold of its history.
                    let folded = Request::from_history(&history).unwrap();
                    prop_assert_eq!(&folded, &r);
                    check_state_invariants(&r);
                    // The same handling clock's deadline never moves earlier.
                    if let (Some(b), Some(a)) = (handling_before, r.handling_clock)
                        && a.started_at == b.started_at && a.paused_remaining.is_none()
                        && b.paused_remaining.is_none()
                    {
                        prop_assert!(a.due_at >= b.due_at, "deadline moved back");
                    }
                }
            }
        }
        // Escalations: at most one per clock (a clock is identified by its kind and start).
        let mut escalated = std::collections::HashSet::new();
        let mut folded = Request::from_history(&history[..1]).unwrap();
        for e in &history[1..] {
            folded.apply(e);
            if let EventKind::Escalated { clock } = &e.kind {
                let start = folded.clock(*clock).unwrap().started_at;
                prop_assert!(escalated.insert((*clock == ClockKind::Response, start)), "escalated twice");
            }
        }
    }
}

#[test]
fn the_next_clock_check_is_the_earliest_unraised_point() {
    let mut r = dispatched();
    let response = r.response_clock.unwrap();
    assert_eq!(next_clock_check(&r), Some(response.due_soon_at()));
    let cal = calendar();
    r.execute(
        &Actor::SYSTEM,
        &Command::MarkDueSoon {
            clock: ClockKind::Response,
        },
        response.due_soon_at(),
        &cal,
    )
    .unwrap();
    assert_eq!(
        next_clock_check(&r),
        Some(response.due_at + Duration::milliseconds(1))
    );
    run(&mut r, &[(clerk(LEAD), Command::Sign, 1)]);
    assert_eq!(
        next_clock_check(&r),
        Some(r.handling_clock.unwrap().due_soon_at())
    );
    run(
        &mut r,
        &[(clerk(LEAD), Command::Reply { text: "好".into() }, 1)],
    );
    assert_eq!(next_clock_check(&r), None);
}
