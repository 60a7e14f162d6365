//! The enterprise service programme (组工助企行): a team sees only its enterprises, a visit's
//! problem becomes a request that goes through dispatch, the unit and the rating, and the team
//! sees its outcome; other teams and other roles are refused.

use super::*;
use minyi_domain::enterprise::CreditCode;
use minyi_store::{EnterpriseRow, NewTeam};

fn enterprise(n: u32, community: &str) -> EnterpriseRow {
    EnterpriseRow {
        credit_code: CreditCode::complete(&format!("91440304MA5G{n:05}"))
            .unwrap()
            .as_str()
            .to_string(),
        name: format!("深圳市测试{n}科技有限公司"),
        industry: "制造业".into(),
        size: "small".into(),
        division: community.into(),
        contact_name: Some("李经理".into()),
        contact_phone: Some("13812345678".into()),
        contact_position: Some("总经理".into()),
    }
}

/// The test city with two street teams (甲 and 乙), each with one member and two enterprises.
async fn programme_app() -> TestApp {
    let (store, dir) = programme_store().await;
    spawn_app(store, Some(dir)).await
}

/// The store behind [`programme_app`], before the server starts.
pub(super) async fn programme_store() -> (Store, tempfile::TempDir) {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    let now = chrono::Utc::now();
    let mut members = Vec::new();
    for username in ["helper_a", "helper_b"] {
        members.push(
            store
                .create_user(
                    &UserAccount {
                        username: username.into(),
                        display_name: username.into(),
                        role: Role::ServiceTeam,
                        unit_code: None,
                        password: PASSWORD.into(),
                    },
                    0,
                )
                .await
                .unwrap(),
        );
    }
    let tree = store.load_divisions().await.unwrap();
    let street = |code: &str| tree.iter().find(|d| d.code == code).unwrap().id;
    store
        .create_teams(
            &[
                NewTeam {
                    name: "甲街道服务队".into(),
                    scope: street("440304001"),
                    members: vec![members[0]],
                },
                NewTeam {
                    name: "乙街道服务队".into(),
                    scope: street("440304002"),
                    members: vec![members[1]],
                },
            ],
            now,
        )
        .await
        .unwrap();
    let report = store
        .import_enterprises(
            &[
                enterprise(1, "440304001001"),
                enterprise(2, "440304001001"),
                enterprise(3, "440304002001"),
                enterprise(4, "440304002001"),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(report.imported, 4);
    store.rebalance_assignments(now).await.unwrap();
    (store, dir)
}

#[tokio::test]
async fn a_visit_problem_becomes_a_request_whose_outcome_the_team_sees() {
    let app = programme_app().await;
    let helper_a = app.login("helper_a").await;
    let (status, list) = app.get(&helper_a, "/api/v1/enterprise/enterprises").await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|e| e["status"] == "planned"));
    assert!(!list.iter().any(|e| e.to_string().contains("13812345678")));
    let team = list[0]["team_id"].as_i64().unwrap();
    let enterprise = list[0]["id"].as_i64().unwrap();
    let (status, due) = app.get(&helper_a, "/api/v1/enterprise/visits/due").await;
    assert_eq!((status, due), (StatusCode::OK, json!([])));

    let (status, visit) = app
        .post(
            &helper_a,
            "/api/v1/enterprise/visits",
            json!({
                "enterprise_id": enterprise,
                "notes": "了解企业经营情况",
                "problems": ["厂区门口每天有流动摊贩占道经营，货车无法进出。"]
            }),
        )
        .await;
    assert_eq!(status, 201, "{visit}");
    assert_eq!(visit["team_id"], team);
    let problem = &visit["problems"][0];
    assert_eq!(problem["state"], "received");
    let id = problem["request_id"].as_i64().unwrap();
    let code = problem["tracking_code"].as_str().unwrap().to_string();
    let visit_id = visit["id"].as_i64().unwrap();

    // The request goes the ordinary way: dispatch, sign, reply, rating.
    let dispatcher = app.login("dispatcher").await;
    let (status, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{id}"))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["channel"], "enterprise_visit");
    assert_eq!(view["requester_kind"], "enterprise");
    let (status, view) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/classify"),
            json!({"matter_id": 3}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let (status, view) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["lead_unit"]["name"], "甲街道办事处");
    let clerk = app.login("clerk_a").await;
    let (status, _) = app
        .post(&clerk, &format!("/api/v1/requests/{id}/sign"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &clerk,
            &format!("/api/v1/requests/{id}/reply"),
            json!({"text": "已清理摊贩，门口恢复通行。"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, visit) = app
        .get(&helper_a, &format!("/api/v1/enterprise/visits/{visit_id}"))
        .await;
    assert_eq!(visit["problems"][0]["state"], "replied");
    let rating = json!({"phone_last4": "5678", "satisfaction": "satisfied", "solved": true});
    let (status, tracking) = app
        .post(
            "",
            &format!("/api/v1/public/requests/{code}/rating"),
            rating,
        )
        .await;
    assert_eq!(status, 200, "{tracking}");
    assert_eq!(tracking["state"], "closed");

    let (status, visit) = app
        .get(&helper_a, &format!("/api/v1/enterprise/visits/{visit_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(visit["problems"][0]["state"], "closed");
    // The team member may read the request it raised.
    let (status, _) = app.get(&helper_a, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(status, 200);

    let (status, kpis) = app.get(&helper_a, "/api/v1/enterprise/kpis").await;
    assert_eq!(status, 200, "{kpis}");
    assert_eq!(kpis.as_array().unwrap().len(), 1);
    assert_eq!(kpis[0]["team_id"], team);
    assert_eq!(kpis[0]["enterprises"], 2);
    assert_eq!(kpis[0]["visits_done"], 1);
    assert_eq!(kpis[0]["requests_raised"], 1);
    assert_eq!(kpis[0]["requests_resolved"], 1);
    let supervisor = app.login("supervisor").await;
    let (status, kpis) = app.get(&supervisor, "/api/v1/enterprise/kpis").await;
    assert_eq!(status, 200);
    assert_eq!(kpis.as_array().unwrap().len(), 2);
    let (_, all) = app.get(&supervisor, "/api/v1/enterprise/enterprises").await;
    assert_eq!(all.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_team_sees_and_visits_only_its_own_enterprises() {
    let app = programme_app().await;
    let helper_a = app.login("helper_a").await;
    let helper_b = app.login("helper_b").await;
    let (_, mine) = app.get(&helper_a, "/api/v1/enterprise/enterprises").await;
    let (_, theirs) = app.get(&helper_b, "/api/v1/enterprise/enterprises").await;
    let team_a = mine[0]["team_id"].as_i64().unwrap();
    let team_b = theirs[0]["team_id"].as_i64().unwrap();
    assert_ne!(team_a, team_b);
    let ids_a: Vec<i64> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !ids_a.contains(&e["id"].as_i64().unwrap()))
    );

    let (status, error) = app
        .get(
            &helper_a,
            &format!("/api/v1/enterprise/enterprises?team_id={team_b}"),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_team"))
    );
    let (status, error) = app
        .post(
            &helper_b,
            "/api/v1/enterprise/visits",
            json!({"enterprise_id": ids_a[0], "problems": ["道路破损"]}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_team"))
    );
    let (status, visit) = app
        .post(
            &helper_a,
            "/api/v1/enterprise/visits",
            json!({"enterprise_id": ids_a[0]}),
        )
        .await;
    assert_eq!(status, 201, "{visit}");
    let (status, _) = app
        .get(
            &helper_b,
            &format!("/api/v1/enterprise/visits/{}", visit["id"]),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Other roles have no business here.
    let clerk = app.login("clerk_a").await;
    let (status, _) = app.get(&clerk, "/api/v1/enterprise/enterprises").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &clerk,
            "/api/v1/enterprise/visits",
            json!({"enterprise_id": ids_a[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
