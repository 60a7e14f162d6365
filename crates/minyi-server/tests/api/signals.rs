//! The engine across requests: a request that repeats an open one nearby is flagged with its
//! parent for the dispatcher to merge or dismiss; a surge of one matter in one place raises a
//! hot-spot alert; the knowledge base that administrators keep answers consultations.

use super::*;
use minyi_server::AppState;
use minyi_server::intake::IntakeEngine;

async fn filed(app: &TestApp, token: &str, body: Value) -> i64 {
    let (status, receipt) = app.submit(body, None).await;
    assert_eq!(status, 201, "{receipt}");
    id_of(app, token, receipt["tracking_code"].as_str().unwrap()).await
}

fn at(text: &str, division: &str) -> Value {
    json!({"title": "", "text": text, "division_code": division, "phone": "13812345678"})
}

const REPEATED: &str =
    "甲花园东门外每天晚上都有十几个流动摊贩占道经营，烧烤油烟很大，行人只能走机动车道，非常危险";

#[tokio::test]
async fn a_repeat_of_an_open_request_nearby_is_flagged_and_the_dispatcher_dismisses_or_merges_it() {
    let app = city_app().await;
    let dispatcher = app.login("dispatcher").await;
    let clerk = app.login("clerk_a").await;
    let first = filed(&app, &dispatcher, at(REPEATED, "440304001001001")).await;
    // The same complaint again from the same compound, a few words changed.
    let second = filed(
        &app,
        &dispatcher,
        at(&format!("{REPEATED}，请尽快处理"), "440304001001001"),
    )
    .await;
    // The same words from another street are not a duplicate of it.
    let elsewhere = filed(&app, &dispatcher, at(REPEATED, "440304002001001")).await;
    // Something else in the same compound is not either.
    let other = filed(
        &app,
        &dispatcher,
        at("甲花园小区电梯经常困人，物业一直不修", "440304001001001"),
    )
    .await;

    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{second}"))
        .await;
    let dup = &view["suggestion"]["duplicate_of"];
    assert_eq!(dup["parent_id"], first, "{view}");
    assert!(dup["similarity"].as_f64().unwrap() >= 0.8, "{dup}");
    for id in [first, elsewhere, other] {
        let (_, view) = app
            .get(&dispatcher, &format!("/api/v1/requests/{id}"))
            .await;
        assert!(
            view["suggestion"]["duplicate_of"].is_null(),
            "request {id}: {view}"
        );
    }

    let (status, list) = app.get(&dispatcher, "/api/v1/duplicates").await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["request_id"], second);
    assert_eq!(list[0]["parent_id"], first);
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["parent_state"], "received");

    // A unit's clerk neither sees nor decides flags.
    let (status, body) = app.get(&clerk, "/api/v1/duplicates").await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "role_not_allowed");
    let (status, _) = app
        .post(
            &clerk,
            &format!("/api/v1/duplicates/{second}/dismiss"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);

    // Dismissed once; a second decision is a conflict; a request without a flag is not found.
    let (status, flag) = app
        .post(
            &dispatcher,
            &format!("/api/v1/duplicates/{second}/dismiss"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{flag}");
    assert_eq!(flag["status"], "dismissed");
    assert!(flag["decided_at"].is_string());
    let (status, body) = app
        .post(
            &dispatcher,
            &format!("/api/v1/duplicates/{second}/dismiss"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "conflict");
    let (status, _) = app
        .post(
            &dispatcher,
            &format!("/api/v1/duplicates/{other}/dismiss"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, open) = app.get(&dispatcher, "/api/v1/duplicates").await;
    assert!(open.as_array().unwrap().is_empty(), "{open}");

    // A third repeat is merged into the parent: the merge settles its flag.
    let third = filed(
        &app,
        &dispatcher,
        at(&format!("再次反映：{REPEATED}"), "440304001001001"),
    )
    .await;
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{third}"))
        .await;
    assert_eq!(
        view["suggestion"]["duplicate_of"]["parent_id"], first,
        "{view}"
    );
    let (status, body) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{third}/merge"),
            json!({"parent_id": first}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, merged) = app
        .get(&dispatcher, "/api/v1/duplicates?status=merged")
        .await;
    let merged = merged.as_array().unwrap();
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0]["request_id"], third);
    let (status, body) = app
        .get(&dispatcher, "/api/v1/duplicates?status=maybe")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "invalid_status");
}

#[tokio::test]
async fn a_surge_of_one_matter_in_one_place_raises_one_hot_spot_alert() {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    let state =
        AppState::new(store).with_engine(IntakeEngine::with_model(super::intake::model(), 0.55));
    let app = spawn_state(state, Some(dir)).await;
    let dispatcher = app.login("dispatcher").await;
    let supervisor = app.login("supervisor").await;
    let (_, none) = app.get(&supervisor, "/api/v1/hotspots").await;
    assert!(none.as_array().unwrap().is_empty(), "{none}");

    // Different neighbours, different words, one matter, one compound, within minutes.
    let texts = [
        "甲花园门口有流动摊贩占道经营，影响通行",
        "甲花园北门人行道上摆摊设点占道经营",
        "甲花园旁边夜市摊贩占用道路经营，油烟很大",
        "甲花园楼下水果摊长期占用人行道摆卖",
        "甲花园路口流动商贩推车叫卖，占道",
        "甲花园外烧烤摊占道经营到深夜",
        "甲花园门口早餐摊占道经营，垃圾乱扔",
    ];
    for t in texts {
        filed(&app, &dispatcher, at(t, "440304001001001")).await;
    }
    let (status, alerts) = app.get(&supervisor, "/api/v1/hotspots").await;
    assert_eq!(status, 200, "{alerts}");
    let alerts = alerts.as_array().unwrap();
    assert!(
        !alerts.is_empty(),
        "no alert after {} requests",
        texts.len()
    );
    for a in alerts {
        assert_eq!(a["topic_name"], "占道经营", "{a}");
        assert!(a["request_count"].as_i64().unwrap() >= 5, "{a}");
        assert!(
            a["division_path"].as_str().unwrap().contains("福田区"),
            "{a}"
        );
        assert_eq!(a["status"], "open");
    }
    // One alert per place and episode, however many requests follow.
    let places: std::collections::BTreeSet<i64> = alerts
        .iter()
        .map(|a| a["division_id"].as_i64().unwrap())
        .collect();
    assert_eq!(places.len(), alerts.len(), "{alerts:?}");

    let id = alerts[0]["id"].as_i64().unwrap();
    let clerk = app.login("clerk_a").await;
    let (status, _) = app.get(&clerk, "/api/v1/hotspots").await;
    assert_eq!(status, 403);
    let (status, alert) = app
        .post(
            &supervisor,
            &format!("/api/v1/hotspots/{id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{alert}");
    assert_eq!(alert["status"], "acknowledged");
    let (status, _) = app
        .post(
            &supervisor,
            &format!("/api/v1/hotspots/{id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409);
    let (_, open) = app.get(&supervisor, "/api/v1/hotspots").await;
    assert_eq!(open.as_array().unwrap().len(), alerts.len() - 1);
    let (_, all) = app.get(&supervisor, "/api/v1/hotspots?status=all").await;
    assert_eq!(all.as_array().unwrap().len(), alerts.len());
}

#[tokio::test]
async fn the_knowledge_base_answers_a_consultation_and_only_administrators_change_it() {
    let app = city_app().await;
    let admin = app.login("admin").await;
    let operator = app.login("operator").await;
    let entries = json!([
        {"id": "sb-bujiao", "question": "社保断缴后如何补缴？",
         "answer": "个人可携带身份证到社保经办窗口申请补缴，单位职工由单位办理。", "tags": ["社保", "补缴"]},
        {"id": "gjj-tiqu", "question": "住房公积金怎么提取？",
         "answer": "购房、租房、退休等情形可申请提取，可在网上办事大厅办理。", "tags": ["公积金"]},
        {"id": "hk-qianru", "question": "户口迁入需要什么材料？",
         "answer": "需要身份证、户口簿、房产证明或单位证明。", "tags": ["户籍"]}
    ]);
    let put = |token: String, body: Value| {
        let client = app.client.clone();
        let url = app.url("/api/v1/admin/knowledge");
        async move {
            let r = client
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = put(operator.clone(), entries.clone()).await;
    assert_eq!(status, 403, "{body}");
    // All or nothing: one bad id refuses the whole list.
    let mut bad = entries.clone();
    bad.as_array_mut()
        .unwrap()
        .push(json!({"id": "有 空格", "question": "q", "answer": "a"}));
    let (status, body) = put(admin.clone(), bad).await;
    assert_eq!(status, 422, "{body}");
    let (_, listed) = app.get(&operator, "/api/v1/knowledge").await;
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    let (status, body) = put(admin.clone(), entries).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 3);

    let (status, hits) = app
        .get(&operator, "/api/v1/knowledge?q=%E7%A4%BE%E4%BF%9D%E6%96%AD%E7%BC%B4%E4%BA%86%E6%80%8E%E4%B9%88%E8%A1%A5%E7%BC%B4")
        .await;
    assert_eq!(status, 200, "{hits}");
    assert_eq!(hits[0]["id"], "sb-bujiao", "{hits}");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);

    // A consultation filed by a citizen: the operator sees the entry that answers it.
    let id = filed(
        &app,
        &operator,
        at(
            "请问住房公积金提取需要什么条件，租房可以提取吗",
            "440304001001001",
        ),
    )
    .await;
    let (status, hits) = app
        .get(&operator, &format!("/api/v1/requests/{id}/knowledge"))
        .await;
    assert_eq!(status, 200, "{hits}");
    assert_eq!(hits[0]["id"], "gjj-tiqu", "{hits}");
    assert!(hits[0]["answer"].as_str().unwrap().contains("提取"));

    // An edit is seen at once; a deleted entry is gone; deleting it again is not found.
    let (status, _) = put(
        admin.clone(),
        json!([{"id": "gjj-tiqu", "question": "住房公积金怎么提取？", "answer": "已停止办理", "active": false}]),
    )
    .await;
    assert_eq!(status, 200);
    let (_, hits) = app
        .get(&operator, &format!("/api/v1/requests/{id}/knowledge"))
        .await;
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["id"] != "gjj-tiqu"),
        "an inactive entry is not proposed: {hits}"
    );
    let delete = |token: String| {
        let client = app.client.clone();
        let url = app.url("/api/v1/admin/knowledge/hk-qianru");
        async move {
            client
                .delete(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(delete(operator.clone()).await, 403);
    assert_eq!(delete(admin.clone()).await, 204);
    assert_eq!(delete(admin.clone()).await, 404);
    let (_, listed) = app.get(&operator, "/api/v1/knowledge").await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
}
