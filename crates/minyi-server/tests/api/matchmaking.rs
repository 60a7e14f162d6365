//! Matchmaking (我帮企业找市场 / 找资金) and the programme's key figures: a need gets the
//! resources of its industry and division proposed by similarity, a match is followed to its
//! outcome and counted in the figures (JSON and CSV); a team cannot touch another team's needs.

use super::enterprise::programme_store;
use super::*;
use minyi_domain::DivisionId;
use minyi_domain::matchmaking::ResourceKind;
use minyi_store::NewResource;

/// The programme with four resources: a citywide loan subsidy, a buyer for retailers only, a
/// park in street 乙 only and a recruitment fair.
pub(super) async fn matchmaking_app() -> TestApp {
    let (store, dir) = programme_store().await;
    let tree = store.load_divisions().await.unwrap();
    let division = |code: &str| -> DivisionId { tree.iter().find(|d| d.code == code).unwrap().id };
    let resource = |kind, name: &str, description: &str, industries: &[&str], scope| NewResource {
        kind,
        name: name.into(),
        provider: "测试提供方".into(),
        description: description.into(),
        industries: industries.iter().map(|s| s.to_string()).collect(),
        scope,
    };
    store
        .register_resources(
            &[
                resource(
                    ResourceKind::Fund,
                    "科技型中小企业贷款贴息",
                    "银行信用贷款，流动资金贷款利息补贴，支持企业扩大生产",
                    &[],
                    None,
                ),
                resource(
                    ResourceKind::Buyer,
                    "商超采购对接会",
                    "为零售企业对接采购商，扩大销售渠道",
                    &["批发和零售业"],
                    None,
                ),
                resource(
                    ResourceKind::Space,
                    "乙街道标准厂房招租",
                    "标准厂房租赁，租金减免",
                    &[],
                    Some(division("440304002")),
                ),
                resource(
                    ResourceKind::TalentService,
                    "春风招聘会",
                    "招聘技术工人和研发人员",
                    &[],
                    None,
                ),
            ],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    spawn_app(store, Some(dir)).await
}

fn resource_names(need: &Value) -> Vec<String> {
    need["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["resource_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_need_gets_resources_of_its_industry_and_division_proposed_and_a_match_is_followed_to_agreement()
 {
    let app = matchmaking_app().await;
    let helper_a = app.login("helper_a").await;
    let (_, mine) = app.get(&helper_a, "/api/v1/enterprise/enterprises").await;
    let enterprise = mine[0]["id"].as_i64().unwrap();

    // A manufacturer in street 甲 needing a loan: the loan subsidy first; never the retailers'
    // buyer nor the park of street 乙, whatever the words.
    let (status, need) = app
        .post(
            &helper_a,
            "/api/v1/enterprise/needs",
            json!({
                "enterprise_id": enterprise,
                "kind": "funding",
                "title": "扩大生产需要流动资金贷款",
                "detail": "希望获得银行贷款贴息，也想找采购商和标准厂房"
            }),
        )
        .await;
    assert_eq!(status, 201, "{need}");
    assert_eq!(need["kind"], "funding");
    assert_eq!(need["status"], "open");
    let names = resource_names(&need);
    assert_eq!(
        names.first().map(String::as_str),
        Some("科技型中小企业贷款贴息"),
        "{need}"
    );
    assert!(!names.iter().any(|n| n == "商超采购对接会"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "乙街道标准厂房招租"),
        "{names:?}"
    );
    // A funding need is not served by a talent service.
    assert!(!names.iter().any(|n| n == "春风招聘会"), "{names:?}");
    let first = &need["matches"][0];
    assert_eq!(first["status"], "proposed");
    assert!(first["score"].as_f64().unwrap() > 0.05);
    assert!(first["terms"].as_array().is_some_and(|t| !t.is_empty()));
    let need_id = need["id"].as_i64().unwrap();
    let match_id = first["id"].as_i64().unwrap();

    // Agreeing before contact is refused; contact, then agreement, each with a note.
    let (status, error) = app
        .post(
            &helper_a,
            &format!("/api/v1/enterprise/matches/{match_id}/status"),
            json!({"status": "agreed"}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_match_transition"))
    );
    let (status, m) = app
        .post(
            &helper_a,
            &format!("/api/v1/enterprise/matches/{match_id}/status"),
            json!({"status": "contacted", "note": "已约银行客户经理上门"}),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["status"], "contacted");
    assert!(m["contacted_on"].is_string());
    let (status, m) = app
        .post(
            &helper_a,
            &format!("/api/v1/enterprise/matches/{match_id}/status"),
            json!({"status": "agreed", "note": "获批贷款300万元"}),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["status"], "agreed");
    let steps: Vec<&str> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["proposed", "contacted", "agreed"]);
    assert_eq!(m["steps"][2]["note"], "获批贷款300万元");
    let (status, error) = app
        .post(
            &helper_a,
            &format!("/api/v1/enterprise/matches/{match_id}/status"),
            json!({"status": "declined"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let (status, error) = app
        .post(
            &helper_a,
            &format!("/api/v1/enterprise/matches/{match_id}/status"),
            json!({"status": "finished"}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value"))
    );
    let (_, need) = app
        .get(&helper_a, &format!("/api/v1/enterprise/needs/{need_id}"))
        .await;
    assert_eq!(need["status"], "met");
    assert_eq!(need["agreed"], 1);

    // A new resource is proposed when matching runs again; the agreed match stays as it is.
    let supervisor = app.login("supervisor").await;
    let (status, resource) = app
        .post(
            &supervisor,
            "/api/v1/enterprise/resources",
            json!({"kind": "fund", "name": "中小微企业融资担保", "description": "银行贷款融资担保，流动资金"}),
        )
        .await;
    assert_eq!(status, 201, "{resource}");
    assert_eq!(resource["serves"], json!(["funding", "other"]));
    let (status, need) = app
        .post(
            &helper_a,
            &format!("/api/v1/enterprise/needs/{need_id}/propose"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{need}");
    assert!(resource_names(&need).contains(&"中小微企业融资担保".to_string()));
    let kept = need["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == match_id)
        .unwrap();
    assert_eq!(kept["status"], "agreed");

    // The figures count the need and the match made, per team and per street.
    let (status, kpis) = app.get(&helper_a, "/api/v1/enterprise/kpis/summary").await;
    assert_eq!(status, 200, "{kpis}");
    assert_eq!(kpis.as_array().unwrap().len(), 1);
    assert_eq!(kpis[0]["needs"], 1);
    assert_eq!(kpis[0]["matches_agreed"], 1);
    assert_eq!(kpis[0]["agreement_rate"], 1.0);
    let (status, streets) = app
        .get(&supervisor, "/api/v1/enterprise/kpis/summary?by=street")
        .await;
    assert_eq!(status, 200, "{streets}");
    let streets = streets.as_array().unwrap();
    assert_eq!(streets.len(), 2);
    assert_eq!(
        streets
            .iter()
            .map(|s| s["matches_agreed"].as_i64().unwrap())
            .sum::<i64>(),
        1
    );
    assert!(
        streets
            .iter()
            .all(|s| s["group"] == "street" && s["enterprises"] == 2)
    );
    let (status, district) = app
        .get(&supervisor, "/api/v1/enterprise/kpis/summary?by=district")
        .await;
    assert_eq!(status, 200);
    assert_eq!(district.as_array().unwrap().len(), 1);
    assert_eq!(district[0]["teams"], 2);
    assert_eq!(district[0]["enterprises"], 4);
    let (status, error) = app
        .get(&supervisor, "/api/v1/enterprise/kpis/summary?by=planet")
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value"))
    );

    let response = app
        .client
        .get(app.url("/api/v1/enterprise/kpis.csv?by=team"))
        .bearer_auth(&supervisor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(
        header.contains(&"visits_done") && header.contains(&"matches_agreed"),
        "{csv}"
    );
    assert_eq!(lines.clone().count(), 2, "{csv}");
    assert!(lines.any(|l| l.contains("甲街道服务队")), "{csv}");
}

#[tokio::test]
async fn a_team_cannot_see_or_move_the_needs_of_another_team() {
    let app = matchmaking_app().await;
    let helper_a = app.login("helper_a").await;
    let helper_b = app.login("helper_b").await;
    let (_, mine) = app.get(&helper_a, "/api/v1/enterprise/enterprises").await;
    let enterprise_a = mine[0]["id"].as_i64().unwrap();
    let (status, error) = app
        .post(
            &helper_b,
            "/api/v1/enterprise/needs",
            json!({"enterprise_id": enterprise_a, "kind": "talent", "title": "招聘技术工人"}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_team"))
    );
    let (status, error) = app
        .post(
            &helper_a,
            "/api/v1/enterprise/needs",
            json!({"enterprise_id": enterprise_a, "kind": "people", "title": "招聘技术工人"}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value"))
    );
    let (status, need) = app
        .post(
            &helper_a,
            "/api/v1/enterprise/needs",
            json!({"enterprise_id": enterprise_a, "kind": "talent", "title": "招聘技术工人和研发人员"}),
        )
        .await;
    assert_eq!(status, 201, "{need}");
    assert_eq!(resource_names(&need), ["春风招聘会"]);
    let need_id = need["id"].as_i64().unwrap();
    let match_id = need["matches"][0]["id"].as_i64().unwrap();

    let (status, _) = app
        .get(&helper_b, &format!("/api/v1/enterprise/needs/{need_id}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, theirs) = app.get(&helper_b, "/api/v1/enterprise/needs").await;
    assert_eq!(theirs, json!([]));
    let (status, _) = app
        .post(
            &helper_b,
            &format!("/api/v1/enterprise/matches/{match_id}/status"),
            json!({"status": "declined"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &helper_b,
            &format!("/api/v1/enterprise/needs/{need_id}/propose"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, kpis) = app.get(&helper_b, "/api/v1/enterprise/kpis/summary").await;
    assert_eq!(kpis.as_array().unwrap().len(), 1);
    assert_eq!(kpis[0]["needs"], 0);

    // The supervisor sees every need; only supervisors and administrators register resources.
    let supervisor = app.login("supervisor").await;
    let (_, all) = app.get(&supervisor, "/api/v1/enterprise/needs").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (status, _) = app
        .post(
            &helper_a,
            "/api/v1/enterprise/resources",
            json!({"kind": "fund", "name": "自己的基金"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, error) = app
        .post(
            &supervisor,
            "/api/v1/enterprise/resources",
            json!({"kind": "bank", "name": "某银行"}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value"))
    );
    let clerk = app.login("clerk_a").await;
    let (status, _) = app.get(&clerk, "/api/v1/enterprise/needs").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&clerk, "/api/v1/enterprise/resources").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
