//! Matchmaking (我帮企业找市场 / 找资金): resources, needs, proposals kept once per resource,
//! matches moved only forward with their steps, and the programme's key figures by team, street
//! and district, on both backends.

use crate::fixture::*;
use minyi_domain::DivisionId;
use minyi_domain::enterprise::{CreditCode, VisitPlan};
use minyi_domain::matchmaking::{MatchStatus, NeedKind, NeedStatus, ResourceKind};
use minyi_store::{
    EnterpriseRow, NewNeed, NewResource, NewTeam, ProgrammeGroup, Proposal, StoreError,
};

storage_test!(needs_matches_and_programme_figures, |db| {
    let (store, city) = db.fixture().await;
    let now = monday();
    let rows: Vec<EnterpriseRow> = (0..2)
        .map(|i| EnterpriseRow {
            credit_code: CreditCode::complete(&format!("91440304MA5H{i:05}"))
                .unwrap()
                .as_str()
                .to_string(),
            name: format!("对接企业{i}"),
            industry: "制造业".into(),
            size: "small".into(),
            division: COMMUNITY_1.into(),
            contact_name: None,
            contact_phone: None,
            contact_position: None,
        })
        .collect();
    assert_eq!(
        store.import_enterprises(&rows, now).await.unwrap().imported,
        2
    );
    let street: DivisionId = city.divisions[STREET];
    let teams = store
        .create_teams(
            &[NewTeam {
                name: "对接服务队".into(),
                scope: street,
                members: vec![],
            }],
            now,
        )
        .await
        .unwrap();
    store.rebalance_assignments(now).await.unwrap();
    let briefs = store.enterprise_briefs().await.unwrap();
    assert_eq!(briefs.len(), 2);
    assert!(
        briefs
            .iter()
            .all(|b| b.team == Some(teams[0]) && b.industry == "制造业")
    );

    let ids = store
        .register_resources(
            &[
                NewResource {
                    kind: ResourceKind::Fund,
                    name: "贷款贴息".into(),
                    provider: "中小企业服务局".into(),
                    description: "银行贷款利息补贴".into(),
                    industries: vec!["制造业".into(), "建筑业".into()],
                    scope: Some(street),
                },
                NewResource {
                    kind: ResourceKind::Buyer,
                    name: "采购对接会".into(),
                    provider: String::new(),
                    description: String::new(),
                    industries: vec![],
                    scope: None,
                },
            ],
            now,
        )
        .await
        .unwrap();
    let resources = store.resources(true).await.unwrap();
    assert_eq!(resources.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    assert_eq!(resources[0].industries, ["制造业", "建筑业"]);
    assert_eq!(resources[0].scope, Some(street));
    assert_eq!(resources[0].serves, [NeedKind::Funding, NeedKind::Other]);
    assert_eq!(resources[1].scope, None);

    let need = store
        .create_need(
            &NewNeed {
                enterprise: briefs[0].id,
                kind: NeedKind::Funding,
                title: "流动资金贷款".into(),
                detail: "扩大生产".into(),
            },
            None,
            now,
        )
        .await
        .unwrap();
    assert_eq!(need.status, NeedStatus::Open);
    assert_eq!(need.team, Some(teams[0]));
    assert_eq!(need.industry, "制造业");
    let proposal = |resource, score| Proposal {
        resource,
        score,
        terms: vec!["贷款".into(), "贴息".into()],
    };
    let matches = store
        .propose_matches(
            need.id,
            &[proposal(ids[0], 0.8123), proposal(ids[1], 0.1)],
            None,
            now,
        )
        .await
        .unwrap();
    assert_eq!(matches.len(), 2);
    assert_eq!(matches[0].resource, ids[0]);
    assert!((matches[0].score - 0.812).abs() < 1e-9);
    assert_eq!(matches[0].terms, ["贷款", "贴息"]);
    assert_eq!(matches[0].steps.len(), 1);
    // Proposing the same resource again keeps the one match.
    let again = store
        .propose_matches(need.id, &[proposal(ids[0], 0.5)], None, now)
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
    assert!((again[0].score - 0.812).abs() < 1e-9);

    let first = matches[0].id;
    let refused = store
        .advance_match(first, MatchStatus::Agreed, "", None, now)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.match_record(first).await.unwrap().status,
        MatchStatus::Proposed
    );
    let later = now + chrono::Duration::days(3);
    let m = store
        .advance_match(first, MatchStatus::Contacted, "已联系", None, later)
        .await
        .unwrap();
    assert_eq!(m.contacted_on, Some(later.date_naive()));
    let m = store
        .advance_match(first, MatchStatus::Agreed, "签约", None, later)
        .await
        .unwrap();
    assert_eq!(m.status, MatchStatus::Agreed);
    assert_eq!(m.decided_on, Some(later.date_naive()));
    let notes: Vec<&str> = m.steps.iter().map(|s| s.note.as_str()).collect();
    assert_eq!(notes[1..], ["已联系", "签约"]);
    store
        .advance_match(matches[1].id, MatchStatus::Declined, "不需要", None, later)
        .await
        .unwrap();
    let need = store.need(need.id).await.unwrap();
    assert_eq!(need.status, NeedStatus::Met);
    assert_eq!(need.matches, [0, 0, 1, 1]);
    assert_eq!(
        store
            .needs(Some(teams[0]), Some(NeedStatus::Met), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .needs(Some(teams[0]), Some(NeedStatus::Open), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.need(9_999).await,
        Err(StoreError::NotFound("need"))
    ));

    let plan = VisitPlan::default();
    for (group, id) in [
        (ProgrammeGroup::Team, teams[0].0),
        (ProgrammeGroup::Street, street.0),
        (ProgrammeGroup::District, city.divisions[DISTRICT].0),
    ] {
        let kpis = store
            .programme_kpis(None, group, plan, later.date_naive())
            .await
            .unwrap();
        assert_eq!(kpis.len(), 1, "{group:?}");
        let k = &kpis[0];
        assert_eq!(k.id, id, "{group:?}");
        assert_eq!((k.teams, k.enterprises, k.needs), (1, 2, 1));
        assert_eq!((k.matches_agreed, k.matches_declined), (1, 1));
    }
    let none = store
        .programme_kpis(Some(&[]), ProgrammeGroup::Team, plan, later.date_naive())
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(store.matchmaking_counts().await.unwrap(), [1, 2, 2, 1]);
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.enterprise_needs, stats.matches, stats.matches_agreed),
        (1, 2, 1)
    );
});
