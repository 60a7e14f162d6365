//! The engine at intake: a request the classifier is sure of, at a place the responsibility
//! list covers, is dispatched by the system before the 201; otherwise it waits with the
//! suggestion. Place names in the text locate a request given without a division; danger words
//! mark it urgent. The model is trained here on texts written for the fixture city.

use super::*;
use minyi_engine::{Example, Model, TrainConfig};
use minyi_server::AppState;
use minyi_server::intake::IntakeEngine;

pub(super) fn model() -> Model {
    let complaints = [
        "门口有流动摊贩占道经营，影响通行",
        "人行道上摆摊设点占道经营，行人只能走机动车道",
        "夜市摊贩占用道路经营，油烟很大",
        "店铺把货物摆到人行道上，占道经营严重",
        "早餐摊占道经营，垃圾乱扔",
        "水果摊长期占用人行道摆卖",
        "流动商贩推车在路口叫卖，占道",
        "商户在门前搭棚占道经营",
        "烧烤摊占道经营到深夜",
        "小区门口摊贩占道，堵塞消防通道",
        "占道经营的摊位越来越多，没人管",
        "路边卖菜的摊贩占用车道",
    ];
    let consultations = [
        "请问社保断缴以后怎么补缴",
        "想咨询一下社保转移需要什么材料",
        "社保卡丢了怎么补办，咨询流程",
        "咨询灵活就业人员如何参加社保",
        "请问退休后社保待遇怎么计算",
        "咨询社保缴费基数如何调整",
        "外地社保能否转到本市，需要哪些手续",
        "请问失业保险金怎么申领",
        "咨询医保和社保合并缴费的政策",
        "社保查询密码忘了，请问怎么重置",
        "请问个人怎么查询社保缴费记录",
        "咨询生育保险报销政策",
    ];
    let mut examples = Vec::new();
    for t in complaints {
        examples.push(Example {
            title: String::new(),
            detail: t.to_string(),
            label: "城乡建设/市容环境/占道经营".into(),
        });
    }
    for t in consultations {
        examples.push(Example {
            title: String::new(),
            detail: t.to_string(),
            label: "咨询/政策咨询/社保政策".into(),
        });
    }
    Model::train(&examples, &TrainConfig::default()).unwrap()
}

pub(super) async fn engine_app(threshold: f32) -> TestApp {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    let state = AppState::new(store).with_engine(IntakeEngine::with_model(model(), threshold));
    spawn_state(state, Some(dir)).await
}

async fn file(app: &TestApp, text: &str, address: &str) -> Value {
    let (status, receipt) = app
        .submit(
            json!({"text": text, "address": address, "phone": "13812345678"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{receipt}");
    receipt
}

#[tokio::test]
async fn a_sure_suggestion_is_dispatched_at_intake_and_an_unsure_one_waits() {
    let app = engine_app(0.55).await;
    let dispatcher = app.login("dispatcher").await;

    // No division given: the compound's name locates it; the classifier is sure; the list
    // names street office A: dispatched before the 201.
    let receipt = file(&app, "乙雅苑门口每天晚上有流动摊贩占道经营，影响通行", "").await;
    assert_eq!(receipt["state"], "dispatched", "{receipt}");
    let id = id_of(
        &app,
        &dispatcher,
        receipt["tracking_code"].as_str().unwrap(),
    )
    .await;
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{id}"))
        .await;
    assert_eq!(view["lead_unit"]["name"], "乙街道办事处", "{view}");
    assert_eq!(view["category"]["source"], "engine");
    assert!(view["category"]["confidence"].as_f64().unwrap() >= 0.55);
    let suggestion = &view["suggestion"];
    assert_eq!(suggestion["decision"], "dispatched");
    assert_eq!(suggestion["auto_dispatched"], true);
    assert!(
        suggestion["located"]["path"]
            .as_str()
            .unwrap()
            .ends_with("乙雅苑")
    );
    assert_eq!(
        suggestion["categories"][0]["label"],
        "城乡建设/市容环境/占道经营"
    );
    assert!(
        !suggestion["categories"][0]["words"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (_, events) = app
        .get(&dispatcher, &format!("/api/v1/requests/{id}/events"))
        .await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["received", "classified", "dispatched"]);
    assert_eq!(events[2]["actor_role"], "system");

    // A consultation is never dispatched by the system: the operator answers it at intake.
    let receipt = file(&app, "请问社保断缴以后怎么补缴，需要什么材料", "甲花园").await;
    assert_eq!(receipt["state"], "received");
    let id = id_of(
        &app,
        &dispatcher,
        receipt["tracking_code"].as_str().unwrap(),
    )
    .await;
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{id}"))
        .await;
    assert_eq!(view["suggestion"]["decision"], "consultation", "{view}");
    assert!(view["category"].is_null());
}

#[tokio::test]
async fn below_the_threshold_the_request_waits_with_the_suggestion_and_danger_words_count() {
    // A threshold above 1 turns auto-dispatch off.
    let app = engine_app(1.1).await;
    let dispatcher = app.login("dispatcher").await;
    let receipt = file(
        &app,
        "甲花园门口摊贩占道经营，旁边还闻到很浓的燃气泄漏的味道",
        "",
    )
    .await;
    assert_eq!(receipt["state"], "received");
    let id = id_of(
        &app,
        &dispatcher,
        receipt["tracking_code"].as_str().unwrap(),
    )
    .await;
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{id}"))
        .await;
    let suggestion = &view["suggestion"];
    assert_eq!(suggestion["decision"], "below_threshold", "{view}");
    assert_ne!(suggestion["urgency"], "ordinary", "{suggestion}");
    assert!(!suggestion["danger_words"].as_array().unwrap().is_empty());
    // The list's unit for the place is suggested; the division was filled from the text.
    let (_, units) = app.get(&dispatcher, "/api/v1/units").await;
    assert!(
        units
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["code"] == "SO-A")
    );
    assert!(suggestion["suggested_lead_unit_id"].as_i64().is_some());
    assert!(view["division_path"].as_str().unwrap().ends_with("甲花园"));
    // The dispatcher takes the suggestion in one action.
    let matter = suggestion["categories"][0]["matter_id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/classify"),
            json!({"matter_id": matter}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, view) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["lead_unit"]["name"], "甲街道办事处");
}

/// A node started under load: the first concurrent intakes all find the city cache empty. One of
/// them loads and indexes the city; the others wait for its copy instead of each loading their
/// own (before, 64 concurrent first requests built 64 gazetteers: p99 20 s).
#[tokio::test]
async fn concurrent_first_requests_share_one_load_of_the_city() {
    let (store, _dir) = sqlite_store().await;
    seed_city(&store).await;
    let cache = minyi_server::reference::CityCache::default();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let cache = cache.clone();
            let store = store.clone();
            tokio::spawn(async move { cache.get(&store).await.unwrap() })
        })
        .collect();
    let mut cities = Vec::new();
    for task in tasks {
        cities.push(task.await.unwrap());
    }
    assert!(
        cities.iter().all(|c| std::sync::Arc::ptr_eq(c, &cities[0])),
        "every caller gets the one copy loaded"
    );
    let futian = cities[0]
        .division_by_code("440304")
        .expect("福田区 by its code");
    assert_eq!(cities[0].division_by_code(" 440304 "), Some(futian));
    assert_eq!(cities[0].division_by_code("999999"), None);
}
