//! The enterprise service programme (组工助企行): CSV import with rejected rows, teams, assignment
//! with manual overrides, visits whose problems become enterprise requests, KPIs.

use crate::fixture::*;
use minyi_domain::DivisionId;
use minyi_domain::enterprise::{CreditCode, TeamId, VisitPlan, VisitStatus};
use minyi_domain::request::{Channel, RequesterKind};
use minyi_domain::unit::{Actor, Role};
use minyi_store::{EnterpriseRow, NewTeam, NewVisit, UserAccount};

fn row(code: &str, name: &str, division: &str) -> EnterpriseRow {
    EnterpriseRow {
        credit_code: code.into(),
        name: name.into(),
        industry: "制造业".into(),
        size: "small".into(),
        division: division.into(),
        contact_name: Some("李经理".into()),
        contact_phone: Some(PHONE.into()),
        contact_position: None,
    }
}

fn code(n: u32) -> String {
    CreditCode::complete(&format!("91440304MA5F{n:05}"))
        .unwrap()
        .as_str()
        .to_string()
}

storage_test!(enterprises_import_assign_visit_and_file_requests, |db| {
    let (store, city) = db.fixture().await;
    let now = monday();
    let mut rows: Vec<EnterpriseRow> = (0..6)
        .map(|i| row(&code(i), &format!("企业{i}"), COMMUNITY_1))
        .collect();
    rows.push(row("91440304MA5F000000", "坏码企业", COMMUNITY_1));
    rows.push(row(&code(7), "无区划企业", "999999"));
    rows.push(row(&code(0), "重复企业", COMMUNITY_2));
    let report = store.import_enterprises(&rows, now).await.unwrap();
    assert_eq!(report.imported, 6);
    let lines: Vec<usize> = report.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![8, 9, 10]);
    assert!(report.rejected[0].reason.contains("check character"));
    assert!(report.rejected[1].reason.contains("unknown division"));
    assert!(report.rejected[2].reason.contains("already"));

    let member = store
        .create_user(
            &UserAccount {
                username: "zhang.zq".into(),
                display_name: "张助企".into(),
                role: Role::ServiceTeam,
                unit_code: None,
                password: "correct horse battery staple".into(),
            },
            now.timestamp_millis(),
        )
        .await
        .unwrap();
    let street: DivisionId = city.divisions[STREET];
    let district: DivisionId = city.divisions[DISTRICT];
    let teams = store
        .create_teams(
            &[
                NewTeam {
                    name: "华富街道第一服务队".into(),
                    scope: street,
                    members: vec![member],
                },
                NewTeam {
                    name: "福田区服务队".into(),
                    scope: district,
                    members: vec![],
                },
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(store.teams_of_user(member).await.unwrap(), vec![teams[0]]);
    let report = store.rebalance_assignments(now).await.unwrap();
    assert_eq!((report.assigned, report.unassigned), (6, 0));
    assert_eq!((report.min_load, report.max_load), (3, 3));

    // Pin one enterprise of team 1 to team 0 by hand: a rebalance keeps it there.
    let all = store
        .team_enterprises(None, VisitPlan::default(), now.date_naive(), 100)
        .await
        .unwrap();
    let moved = all.iter().find(|e| e.team == teams[1]).unwrap().id;
    store.assign_manually(moved, teams[0], now).await.unwrap();
    let report = store.rebalance_assignments(now).await.unwrap();
    assert_eq!(report.manual, 1);
    assert_eq!(
        store.team_of_enterprise(moved).await.unwrap(),
        Some(teams[0])
    );
    assert_eq!((report.min_load, report.max_load), (3, 3));

    let plan = VisitPlan {
        every_days: 30,
        due_soon_days: 7,
    };
    let later = now + chrono::Duration::days(40);
    let mine = store
        .team_enterprises(Some(teams[0]), plan, later.date_naive(), 100)
        .await
        .unwrap();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|e| e.status == VisitStatus::Overdue));

    // A visit with two problems files two enterprise requests and links them.
    let target = mine[0].id;
    let actor = Actor {
        user: Some(member),
        role: Role::ServiceTeam,
        unit: None,
    };
    let visit = store
        .record_visit(
            NewVisit {
                enterprise: target,
                team: teams[0],
                date: later.date_naive(),
                members: vec![member],
                notes: "了解用工情况".into(),
                problems: vec![
                    "厂区门口道路破损，货车进出困难".into(),
                    "  ".into(),
                    "希望对接融资渠道".into(),
                ],
            },
            actor,
            later,
        )
        .await
        .unwrap();
    assert_eq!(visit.problems.len(), 2);
    assert_eq!(visit.members, vec![member]);
    for p in &visit.problems {
        let id = p.request.unwrap();
        assert_eq!(p.state, Some("received"));
        let request = store.get_request(id).await.unwrap();
        assert_eq!(request.intake.channel, Channel::EnterpriseVisit);
        assert_eq!(request.intake.requester_kind, RequesterKind::Enterprise);
        assert_eq!(
            request.intake.location.division,
            Some(city.divisions[COMMUNITY_1])
        );
        let requester = store.requester(id).await.unwrap().unwrap();
        assert_eq!(
            requester.enterprise_name.as_deref(),
            Some(mine[0].name.as_str())
        );
    }
    // The visit resets the plan for that enterprise only.
    let after = store
        .team_enterprises(Some(teams[0]), plan, later.date_naive(), 100)
        .await
        .unwrap();
    let visited = after.iter().find(|e| e.id == target).unwrap();
    assert_eq!(visited.status, VisitStatus::Planned);
    assert_eq!(
        after
            .iter()
            .filter(|e| e.status == VisitStatus::Overdue)
            .count(),
        2
    );

    // Another team cannot log a visit to it.
    let refused = store
        .record_visit(
            NewVisit {
                enterprise: target,
                team: teams[1],
                date: later.date_naive(),
                members: vec![],
                notes: String::new(),
                problems: vec![],
            },
            actor,
            later,
        )
        .await;
    assert!(refused.is_err());

    let kpis = store
        .team_kpis(None, plan, later.date_naive())
        .await
        .unwrap();
    let k0 = kpis.iter().find(|k| k.team == teams[0]).unwrap();
    assert_eq!(
        (k0.enterprises, k0.visits_done, k0.visits_planned),
        (3, 1, 3)
    );
    assert_eq!(
        (k0.requests_raised, k0.requests_resolved, k0.overdue),
        (2, 0, 2)
    );
    let k1 = kpis.iter().find(|k| k.team == TeamId(teams[1].0)).unwrap();
    assert_eq!(
        (k1.enterprises, k1.visits_done, k1.requests_raised),
        (3, 0, 0)
    );

    let stats = store.stats().await.unwrap();
    assert_eq!(
        (
            stats.service_teams,
            stats.enterprises,
            stats.enterprise_visits
        ),
        (2, 6, 1)
    );
    assert_eq!((stats.enterprise_requests, stats.visit_requests), (2, 2));
});
