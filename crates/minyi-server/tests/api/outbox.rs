//! The outbox against the local NATS server (JetStream on 127.0.0.1:4222, `MINYI_TEST_NATS_URL`
//! to change it): each test creates a stream on a subject prefix of its own, drives requests
//! through the API and reads the stream back.

use super::*;
use async_nats::jetstream;
use minyi_server::jobs::{JobSettings, NatsSettings};
use std::time::{Duration, Instant};

fn nats_url() -> String {
    std::env::var("MINYI_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A stream capturing `<prefix>.>` for a fresh prefix; returns (prefix, stream).
async fn fresh_stream() -> (String, jetstream::stream::Stream) {
    let prefix = format!("minyi_t{:016x}", rand::random::<u64>());
    let client = async_nats::connect(nats_url())
        .await
        .expect("the local NATS server is reachable");
    let context = jetstream::new(client);
    let stream = context
        .create_stream(jetstream::stream::Config {
            name: prefix.to_uppercase(),
            subjects: vec![format!("{prefix}.>")],
            max_age: Duration::from_secs(3600),
            ..Default::default()
        })
        .await
        .expect("JetStream is enabled");
    (prefix, stream)
}

/// Every message of the stream, oldest first.
async fn messages(
    stream: &mut jetstream::stream::Stream,
) -> Vec<jetstream::message::StreamMessage> {
    let n = stream.info().await.unwrap().state.messages;
    let mut out = Vec::new();
    for seq in 1..=n {
        out.push(stream.get_raw_message(seq).await.unwrap());
    }
    out
}

fn jobs(node: &str, url: String, prefix: &str) -> JobSettings {
    JobSettings {
        node_id: node.into(),
        outbox_every: Duration::from_millis(100),
        nats: Some(NatsSettings {
            url,
            subject_prefix: prefix.into(),
        }),
        ..JobSettings::default()
    }
}

async fn city_app_with_jobs(jobs: JobSettings) -> (TestApp, Store) {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    let state = minyi_server::AppState::new(store.clone()).with_jobs(jobs);
    (spawn_state(state, Some(dir)).await, store)
}

async fn wait_backlog(store: &Store, expected: i64) {
    let started = Instant::now();
    loop {
        let backlog = store.outbox_backlog().await.unwrap();
        if backlog == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "outbox backlog stays {backlog}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn body(m: &jetstream::message::StreamMessage) -> Value {
    serde_json::from_slice(&m.payload).unwrap()
}

#[tokio::test]
async fn life_cycle_events_reach_jetstream_once_each_in_order_without_personal_data() {
    let (prefix, mut stream) = fresh_stream().await;
    let (app, store) = city_app_with_jobs(jobs("node-1", nats_url(), &prefix)).await;

    let (status, receipt) = app.submit(complaint(), None).await;
    assert_eq!(status, 201, "{receipt}");
    let code = receipt["tracking_code"].as_str().unwrap().to_string();
    // A second request, interleaved with the first one's steps.
    let (status, _) = app.submit(complaint(), None).await;
    assert_eq!(status, 201);
    let dispatcher = app.login("dispatcher").await;
    let id = id_of(&app, &dispatcher, &code).await;
    for (who, action, body) in [
        (&dispatcher, "classify", json!({"matter_id": 3})),
        (&dispatcher, "dispatch", json!({})),
    ] {
        let (status, view) = app
            .post(who, &format!("/api/v1/requests/{id}/{action}"), body)
            .await;
        assert_eq!(status, 200, "{action}: {view}");
    }
    let clerk = app.login("clerk_a").await;
    let reply = "已联系张三（13812345678），摊贩已清理。";
    for (action, body) in [("sign", json!({})), ("reply", json!({ "text": reply }))] {
        let (status, view) = app
            .post(&clerk, &format!("/api/v1/requests/{id}/{action}"), body)
            .await;
        assert_eq!(status, 200, "{action}: {view}");
    }
    let (status, view) = app
        .post(
            "",
            &format!("/api/v1/public/requests/{code}/rating"),
            json!({"phone_last4": "5678", "satisfaction": "satisfied", "solved": true, "comment": "谢谢，张三"}),
        )
        .await;
    assert_eq!(
        (status, view["state"].as_str()),
        (StatusCode::OK, Some("closed"))
    );

    wait_backlog(&store, 0).await;
    // A few more publisher runs: nothing goes out twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = messages(&mut stream).await;
    assert_eq!(
        all.len(),
        8,
        "7 steps of one request and the other's receipt"
    );

    let mut ids = std::collections::HashSet::new();
    for m in &all {
        let b = body(m);
        let event_id = b["event_id"].as_str().unwrap();
        assert!(
            ids.insert(event_id.to_string()),
            "{event_id} published twice"
        );
        assert_eq!(
            m.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some(event_id)
        );
        assert_eq!(
            m.subject.as_str(),
            format!("{prefix}.request.{}", b["kind"].as_str().unwrap())
        );
        assert_eq!(event_id, format!("{}-{}", b["request_id"], b["seq"]));
        // No personal data and no free text: name, phone, address, request text, reply, comment.
        let text = String::from_utf8_lossy(&m.payload);
        for secret in ["张三", "13812345678", "甲花园东门", "摊贩", "谢谢"] {
            assert!(!text.contains(secret), "{secret} published in {text}");
        }
    }
    let kinds: Vec<String> = all
        .iter()
        .map(body)
        .filter(|b| b["request_id"] == id)
        .map(|b| b["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "classified",
            "dispatched",
            "signed",
            "replied",
            "rated",
            "closed"
        ]
    );
    let dispatched = all
        .iter()
        .map(body)
        .find(|b| b["request_id"] == id && b["kind"] == "dispatched")
        .unwrap();
    assert!(dispatched["lead_unit_id"].is_i64() && dispatched["handling_due"].is_string());

    // The stream drops a repeat with the same id (what a re-publish after a crash would send).
    let context = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let again = &all[0];
    let ack = context
        .send_publish(
            again.subject.to_string(),
            jetstream::message::PublishMessage::build()
                .payload(again.payload.clone())
                .message_id(body(again)["event_id"].as_str().unwrap()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate);
    assert_eq!(stream.info().await.unwrap().state.messages, 8);
    let _ = context.delete_stream(prefix.to_uppercase()).await;
}

#[tokio::test]
async fn events_wait_in_the_outbox_while_nats_is_unreachable_and_go_out_after() {
    let (prefix, mut stream) = fresh_stream().await;
    // A port where nothing listens yet; later a relay to the real server opens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (app, store) =
        city_app_with_jobs(jobs("node-1", format!("nats://127.0.0.1:{port}"), &prefix)).await;

    let (status, receipt) = app.submit(complaint(), None).await;
    assert_eq!(status, 201, "{receipt}");
    let code = receipt["tracking_code"].as_str().unwrap().to_string();
    let dispatcher = app.login("dispatcher").await;
    let id = id_of(&app, &dispatcher, &code).await;
    let (status, _) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/classify"),
            json!({"matter_id": 3}),
        )
        .await;
    assert_eq!(status, 200);

    // Several publisher runs fail: the two events stay in the outbox, nothing reaches the stream.
    let started = Instant::now();
    loop {
        let metrics = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let failures: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("minyi_outbox_publish_failures_total "))
            .unwrap()
            .parse()
            .unwrap();
        if failures >= 3 {
            assert!(metrics.contains("minyi_outbox_backlog 2"), "{metrics}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the publisher never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.outbox_backlog().await.unwrap(), 2);
    assert_eq!(stream.info().await.unwrap().state.messages, 0);

    // NATS becomes reachable: a relay on that port to the real server.
    let relay = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let target = nats_url().trim_start_matches("nats://").to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = relay.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    wait_backlog(&store, 0).await;
    let (status, _) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    wait_backlog(&store, 0).await;
    let kinds: Vec<String> = messages(&mut stream)
        .await
        .iter()
        .map(|m| body(m)["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["received", "classified", "dispatched"]);
    let context = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let _ = context.delete_stream(prefix.to_uppercase()).await;
}
