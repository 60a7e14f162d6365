//! Full-text search over requests (`q` of the request list): what is indexed, how it combines
//! with the list's filters and unit scoping, and that the index follows replies and bulk loads.

use crate::fixture::*;
use chrono::{DateTime, Utc};
use minyi_domain::RequestId;
use minyi_domain::personal::TrackingCode;
use minyi_domain::request::{Command, Event, Intake, Request, State};
use minyi_store::{
    RequestFilter, SearchText, SearchTextError, SeedRequest, Sort, Store, StoreError,
};

/// The ids a search finds, in the filter's order; `personal` lets it match the requester's
/// address.
async fn find(store: &Store, q: &str, personal: bool, filter: RequestFilter) -> Vec<RequestId> {
    let filter = RequestFilter {
        text: SearchText::parse(q).unwrap(),
        text_in_personal: personal,
        page_size: filter.page_size.max(1),
        ..filter
    };
    let page = store.list_requests(&filter).await.unwrap();
    let ids: Vec<RequestId> = page.items.iter().map(|s| s.id).collect();
    // The baseline scan agrees with the index.
    let naive = store.list_requests_naive(&filter).await.unwrap();
    assert_eq!(
        naive.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        ids,
        "{q}: naive scan"
    );
    assert_eq!(naive.total, page.total, "{q}: naive total");
    // So does every plan: with these few requests SQLite checks each filtered row, and without
    // that shortcut it walks or collects the index's matches.
    let planned = store
        .clone()
        .with_search_check_rows(0)
        .list_requests(&filter)
        .await
        .unwrap();
    assert_eq!(
        planned.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        ids,
        "{q}: through the vocabulary"
    );
    assert_eq!(
        planned.total, page.total,
        "{q}: total through the vocabulary"
    );
    ids
}

fn all() -> RequestFilter {
    RequestFilter {
        page_size: 50,
        ..RequestFilter::default()
    }
}

async fn reply(store: &Store, city: &City, id: RequestId, text: &str, at: DateTime<Utc>) {
    let clerk = city.handler(WORKSTATION);
    store.execute(id, &clerk, &Command::Sign, at).await.unwrap();
    store
        .execute(id, &clerk, &Command::Reply { text: text.into() }, at)
        .await
        .unwrap();
}

storage_test!(
    search_finds_requests_by_title_text_address_and_reply_in_chinese,
    |db| {
        let (store, city) = db.fixture().await;
        let mut lamp = city.new_request(
            "夜间路灯不亮",
            "WiFi也断了，小区门口的灯坏了一周",
            COMPOUND_1,
        );
        lamp.location.address = "福田区梅林路88号".into();
        lamp.requester.address = "华富大厦5楼".into();
        let (lamp, _) = store
            .create_request(lamp, operator(), monday())
            .await
            .unwrap();
        let (noise, _) = store
            .create_request(
                city.new_request("噪音扰民", "楼下餐馆油烟和噪音严重", VILLAGE_2),
                operator(),
                monday(),
            )
            .await
            .unwrap();

        // Title, text and the problem's address; four characters, three, two.
        assert_eq!(find(&store, "夜间路灯", false, all()).await, vec![lamp.id]);
        assert_eq!(find(&store, "餐馆油烟", false, all()).await, vec![noise.id]);
        assert_eq!(find(&store, "梅林路", false, all()).await, vec![lamp.id]);
        assert_eq!(find(&store, "路灯", false, all()).await, vec![lamp.id]);
        // A pair at the very end of a title and of a text.
        assert_eq!(find(&store, "不亮", false, all()).await, vec![lamp.id]);
        assert_eq!(find(&store, "一周", false, all()).await, vec![lamp.id]);
        // Every term must occur, in any field.
        assert_eq!(
            find(&store, "噪音 餐馆", false, all()).await,
            vec![noise.id]
        );
        assert!(find(&store, "噪音 路灯", false, all()).await.is_empty());
        // Latin letters ignore case.
        assert_eq!(find(&store, "wifi", false, all()).await, vec![lamp.id]);

        // The requester's own address is personal data: only when the role may see it.
        assert!(find(&store, "华富大厦", false, all()).await.is_empty());
        assert_eq!(find(&store, "华富大厦", true, all()).await, vec![lamp.id]);

        // A reply is found once given, through the same transaction.
        let elevator = city
            .dispatched(&store, PROPERTY, COMPOUND_1, monday())
            .await;
        assert!(find(&store, "更换灯泡", false, all()).await.is_empty());
        reply(
            &store,
            &city,
            elevator.id,
            "已安排人员更换灯泡，恢复照明",
            local("2025-03-10 14:00"),
        )
        .await;
        assert_eq!(
            find(&store, "更换灯泡", false, all()).await,
            vec![elevator.id]
        );
        assert_eq!(find(&store, "照明", false, all()).await, vec![elevator.id]);
    }
);

storage_test!(
    search_combines_with_every_filter_and_keeps_unit_scoping,
    |db| {
        let (store, city) = db.fixture().await;
        // 电梯 in every one: two led by the workstation, one by the district housing bureau.
        let first = city
            .dispatched(&store, PROPERTY, COMPOUND_1, local("2025-03-10 09:30"))
            .await;
        let second = city
            .dispatched(&store, PROPERTY, COMPOUND_1, local("2025-03-11 09:30"))
            .await;
        let elsewhere = city
            .dispatched(&store, PROPERTY, VILLAGE_2, local("2025-03-12 09:30"))
            .await;
        let (unrouted, _) = store
            .create_request(
                city.new_request("电梯故障", "电梯停在三楼", VILLAGE_1),
                operator(),
                local("2025-03-13 09:30"),
            )
            .await
            .unwrap();
        let workstation = city.unit(WORKSTATION);

        assert_eq!(
            find(&store, "电梯", false, all()).await,
            vec![unrouted.id, elsewhere.id, second.id, first.id]
        );
        let unit_only = RequestFilter {
            unit: Some(workstation),
            ..all()
        };
        assert_eq!(
            find(&store, "电梯", false, unit_only.clone()).await,
            vec![second.id, first.id]
        );
        // Scoping holds for a term only another unit's request has.
        assert!(
            find(&store, "电梯停在", false, unit_only.clone())
                .await
                .is_empty()
        );
        // A unit's queue in some states (the index walked, the unit tested on each match).
        assert_eq!(
            find(
                &store,
                "电梯",
                false,
                RequestFilter {
                    states: vec![State::Dispatched, State::Handling],
                    ..unit_only.clone()
                }
            )
            .await,
            vec![second.id, first.id]
        );
        assert!(
            find(
                &store,
                "电梯",
                false,
                RequestFilter {
                    states: vec![State::Received, State::Closed],
                    ..unit_only.clone()
                }
            )
            .await
            .is_empty()
        );
        assert_eq!(
            find(
                &store,
                "电梯",
                false,
                RequestFilter {
                    states: vec![State::Received],
                    ..all()
                }
            )
            .await,
            vec![unrouted.id]
        );
        assert_eq!(
            find(
                &store,
                "电梯",
                false,
                RequestFilter {
                    matter: Some(city.matter(PROPERTY)),
                    division: Some(city.division(VILLAGE_2)),
                    ..all()
                }
            )
            .await,
            vec![elsewhere.id]
        );
        assert_eq!(
            find(
                &store,
                "电梯",
                false,
                RequestFilter {
                    received_from: Some(local("2025-03-11 00:00")),
                    received_to: Some(local("2025-03-13 00:00")),
                    ..all()
                }
            )
            .await,
            vec![elsewhere.id, second.id]
        );
        // Sort and pages.
        let asc = RequestFilter {
            sort: Sort::ReceivedAsc,
            page_size: 3,
            ..all()
        };
        assert_eq!(
            find(&store, "电梯", false, asc.clone()).await,
            vec![first.id, second.id, elsewhere.id]
        );
        let second_page = store
            .list_requests(&RequestFilter {
                text: SearchText::parse("电梯").unwrap(),
                page: 2,
                ..asc
            })
            .await
            .unwrap();
        assert_eq!(second_page.total, 4);
        assert_eq!(
            second_page.items.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![unrouted.id]
        );
    }
);

storage_test!(
    one_character_is_refused_and_wildcards_are_plain_characters,
    |db| {
        let (store, city) = db.fixture().await;
        store
            .create_request(
                city.new_request("路灯不亮", "灯坏了", COMPOUND_1),
                operator(),
                monday(),
            )
            .await
            .unwrap();
        assert_eq!(SearchText::parse("灯"), Err(SearchTextError::TooShort));
        assert_eq!(SearchText::parse("路灯 灯"), Err(SearchTextError::TooShort));
        assert_eq!(SearchText::parse("  "), Ok(None));
        assert!(matches!(
            SearchText::parse(&"灯".repeat(SearchText::MAX_CHARS + 1)),
            Err(SearchTextError::TooLong)
        ));
        // A pair the index has never seen, and LIKE's wildcards, find nothing.
        for q in ["灯泡", "%%", "__", "路%", "灯_"] {
            assert!(find(&store, q, true, all()).await.is_empty(), "{q}");
        }
        // Whitespace only: no search, everything listed.
        let page = store.list_requests(&all()).await.unwrap();
        assert_eq!(page.total, 1);
    }
);

/// A request received at `monday()`, answered at intake as a consultation with `answer` when
/// given, built by
/// the domain alone as the demo seeder does.
fn seed(store: &Store, city: &City, id: i64, title: &str, answer: Option<&str>) -> SeedRequest {
    let mut new = city.new_request(title, "批量导入的历史诉求", COMPOUND_1);
    new.requester.address = format!("景田北{id}栋");
    let intake = Intake {
        tracking_code: TrackingCode::from_entropy(rand::random()),
        channel: new.channel,
        requester_kind: new.requester_kind,
        title: new.title,
        text: new.text,
        location: new.location,
        parent: None,
    };
    let (mut request, first) = Request::receive(RequestId(id), intake, operator(), monday());
    let mut events: Vec<Event> = vec![first];
    if let Some(answer) = answer {
        let calendar = store.calendar();
        for command in [
            city.classify(CONSULTATION),
            Command::AnswerAtIntake {
                answer: answer.into(),
            },
        ] {
            events.extend(
                request
                    .execute(&dispatcher(), &command, monday(), &calendar)
                    .unwrap(),
            );
        }
    }
    SeedRequest {
        request,
        requester: new.requester,
        events,
    }
}

storage_test!(bulk_loaded_history_is_searchable, |db| {
    let (store, city) = db.fixture().await;
    let first = store.next_request_id().await.unwrap();
    let batch = vec![
        seed(&store, &city, first, "社保卡补办", Some("可到社保网点补办")),
        seed(&store, &city, first + 1, "公积金提取", None),
    ];
    store.insert_history(&batch).await.unwrap();
    let a = RequestId(first);
    let b = RequestId(first + 1);
    assert_eq!(find(&store, "补办", false, all()).await, vec![a]);
    assert_eq!(find(&store, "社保网点", false, all()).await, vec![a]);
    assert_eq!(find(&store, "公积金", false, all()).await, vec![b]);
    assert_eq!(find(&store, "批量导入", false, all()).await, vec![b, a]);
    let own = format!("景田北{}栋", first + 1);
    assert_eq!(find(&store, &own, true, all()).await, vec![b]);
    assert!(find(&store, &own, false, all()).await.is_empty());
    // A refused batch leaves no index rows behind.
    let mut bad = seed(&store, &city, first + 2, "电动车充电", None);
    bad.events.clear();
    let err = store.insert_history(&[bad]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(find(&store, "电动车", false, all()).await.is_empty());
});

storage_test!(a_broad_search_counts_up_to_the_cap_and_still_pages, |db| {
    let (store, city) = db.fixture().await;
    let first = store.next_request_id().await.unwrap();
    let n = RequestFilter::SEARCH_COUNT_CAP + 5;
    let batch: Vec<SeedRequest> = (0..n)
        .map(|i| seed(&store, &city, first + i, "楼道堆放杂物", None))
        .collect();
    store.insert_history(&batch).await.unwrap();
    let filter = |q: &str, page: u32| RequestFilter {
        text: SearchText::parse(q).unwrap(),
        page,
        page_size: 50,
        ..RequestFilter::default()
    };
    for q in ["杂物", "楼道堆放"] {
        let page = store.list_requests(&filter(q, 1)).await.unwrap();
        assert_eq!(
            (page.total, page.total_capped),
            (RequestFilter::SEARCH_COUNT_CAP, true),
            "{q}"
        );
        // Newest first: the last loaded is first.
        assert_eq!(page.items[0].id, RequestId(first + n - 1), "{q}");
        // Past the cap, pages go on.
        let last = store
            .list_requests(&filter(q, (n as u32).div_ceil(50)))
            .await
            .unwrap();
        assert_eq!(
            last.items.last().map(|s| s.id),
            Some(RequestId(first)),
            "{q}"
        );
    }
    // Narrow searches and filters count exactly.
    let one = store
        .list_requests(&RequestFilter {
            text_in_personal: true,
            ..filter(&format!("景田北{first}栋"), 1)
        })
        .await
        .unwrap();
    assert_eq!((one.total, one.total_capped), (1, false));
    let all = store
        .list_requests(&RequestFilter::default())
        .await
        .unwrap();
    assert_eq!((all.total, all.total_capped), (n, false));
});

storage_test!(
    a_search_sees_what_another_store_on_the_same_database_just_wrote,
    |db| {
        // Two stores on one database: two nodes on PostgreSQL, or on SQLite a command run
        // beside the server. The reading store's indexer was not woken by the other's writes;
        // its search brings the index up to them first.
        let (writer, city) = db.fixture().await;
        let reader = db.open().await;
        let (garbage, _) = writer
            .create_request(
                city.new_request("垃圾清运", "小区垃圾三天没人清运", COMPOUND_1),
                operator(),
                monday(),
            )
            .await
            .unwrap();
        assert_eq!(find(&reader, "清运", false, all()).await, vec![garbage.id]);
        let lift = city
            .dispatched(&writer, PROPERTY, COMPOUND_1, monday())
            .await;
        assert_eq!(find(&reader, "电梯", false, all()).await, vec![lift.id]);
        reply(&writer, &city, lift.id, "已安排维保单位今日修复", monday()).await;
        assert_eq!(find(&reader, "维保单位", false, all()).await, vec![lift.id]);
        // The document made again holds the text and the reply.
        assert_eq!(
            find(&reader, "电梯 修复", false, all()).await,
            vec![lift.id]
        );
    }
);

/// SQLite: the index file is derived data. Deleted, it is made again from the history when the
/// store opens; with a mark beyond the history (an old index beside a replaced database) it is
/// emptied and made again; either way a search finds what it found before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_index_file_is_made_again_from_the_history() {
    use minyi_store::Location;
    let dir = tempfile::tempdir().unwrap();
    let location = Location::DataDir(dir.path().to_path_buf());
    let store = Store::open(&location).await.unwrap();
    let city = City::load(&store).await;
    let (noise, _) = store
        .create_request(
            city.new_request("噪音扰民", "夜间施工噪音", COMPOUND_1),
            operator(),
            monday(),
        )
        .await
        .unwrap();
    let lift = city
        .dispatched(&store, PROPERTY, COMPOUND_1, monday())
        .await;
    reply(&store, &city, lift.id, "已补装电梯按钮并设置警示", monday()).await;
    let searches = [
        ("噪音", vec![noise.id]),
        ("警示", vec![lift.id]),
        ("电梯", vec![lift.id]),
    ];
    for (q, want) in &searches {
        assert_eq!(&find(&store, q, false, all()).await, want, "{q}");
    }
    store.close().await;
    drop(store);

    // Deleted with its WAL.
    let file = Location::search_file(dir.path());
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", file.display());
        if std::path::Path::new(&path).exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let store = Store::open(&location).await.unwrap();
    for (q, want) in &searches {
        assert_eq!(
            &find(&store, q, false, all()).await,
            want,
            "{q} after deletion"
        );
    }
    store.close().await;
    drop(store);

    // An empty index whose mark is far beyond the history: an old index file beside a
    // replaced database.
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut raw = sqlx::AnyConnection::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        sqlx::raw_sql(
            "DELETE FROM request_search; UPDATE search_state SET events_through = 1000000000",
        )
        .execute(&mut raw)
        .await
        .unwrap();
        raw.close().await.unwrap();
    }
    let store = Store::open(&location).await.unwrap();
    for (q, want) in &searches {
        assert_eq!(
            &find(&store, q, false, all()).await,
            want,
            "{q} after a stale mark"
        );
    }
    store.close().await;
}
