//! KPI aggregates: maintained in the command transactions, equal to the direct computation from
//! the history after random life cycles, and rebuilt to the same table.

use crate::fixture::*;
use chrono::Duration;
use minyi_domain::kpi::{C, Counters, Weights};
use minyi_domain::request::{Command, Satisfaction};
use minyi_domain::unit::{Actor, Role};
use minyi_domain::{RequestId, UserId};
use minyi_store::{KpiFilter, KpiGroup, KpiPeriod, Store, rollup_of};
use sqlx::Row;
use std::collections::BTreeMap;

/// A small seeded generator (xorshift64*), so the sequence is the same on both backends.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// (matter, division located at): compounds, and a street and a community (requests located
/// above the leaves, which fall under key 0 of deeper division levels).
const CASES: [(&str, &str); 6] = [
    (PROPERTY, COMPOUND_1),
    (NOISE, VILLAGE_1),
    (STREET_VENDING, VILLAGE_2),
    (GAS_LEAK, COMPOUND_1),
    (STREET_VENDING, STREET),
    (PROPERTY, COMMUNITY_2),
];

/// Every division level a report can group by.
fn division_groups() -> Vec<KpiGroup> {
    ["city", "district", "street", "community", "compound"]
        .into_iter()
        .map(|l| KpiGroup::Division(l.into()))
        .collect()
}

/// Runs `steps` random commands over requests created along the way; refusals are expected and
/// ignored (a refused command changes nothing, aggregates included).
async fn random_life_cycles(store: &Store, city: &City, seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let mut now = monday();
    let mut ids: Vec<(RequestId, usize)> = Vec::new();
    for step in 0..steps {
        now += Duration::minutes(1 + rng.below(60 * 30) as i64);
        if ids.is_empty() || rng.below(6) == 0 {
            let case = rng.below(CASES.len() as u64) as usize;
            let (matter, division) = CASES[case];
            if rng.below(8) == 0 {
                // A consultation answered at intake (即时办结).
                let mut new = city.new_request("咨询", &format!("咨询第{step}号"), division);
                new.follow_up = vec![
                    (operator(), city.classify(CONSULTATION)),
                    (
                        operator(),
                        Command::AnswerAtIntake {
                            answer: "按政策办理".into(),
                        },
                    ),
                ];
                let (r, _) = store.create_request(new, operator(), now).await.unwrap();
                ids.push((r.id, case));
            } else {
                let r = city.dispatched(store, matter, division, now).await;
                ids.push((r.id, case));
            }
            continue;
        }
        let (id, case) = ids[rng.below(ids.len() as u64) as usize];
        let (matter, division) = CASES[case];
        let request = store.get_request(id).await.unwrap();
        let lead = request.lead();
        let handler = |unit| Actor::of_unit(UserId(1000 + 1), Role::UnitHandler, unit);
        let satisfaction = [
            Satisfaction::Satisfied,
            Satisfaction::BasicallySatisfied,
            Satisfaction::Unsatisfied,
        ][rng.below(3) as usize];
        let (actor, command) = match rng.below(15) {
            0..=2 => (lead.map(handler), Command::Sign),
            3..=4 => (
                lead.map(handler),
                Command::Reply {
                    text: "已处理".into(),
                },
            ),
            5 => (
                lead.map(handler),
                Command::Return {
                    reason: "不属于本单位职责".into(),
                    legal_basis: "三定方案".into(),
                },
            ),
            6 => (Some(dispatcher()), city.dispatch(matter, division)),
            7 => (
                lead.map(handler),
                Command::RequestExtension {
                    working_days: 2,
                    reason: "需要协调".into(),
                },
            ),
            8 => (Some(dispatcher()), Command::ApproveExtension),
            9 => (
                Some(Actor::REQUESTER),
                Command::Urge {
                    note: "还没修".into(),
                },
            ),
            10..=11 => (
                Some(Actor::REQUESTER),
                Command::Rate {
                    satisfaction,
                    solved: rng.below(2) == 0,
                    comment: String::new(),
                },
            ),
            12 => {
                let _ = store.sweep(now).await.unwrap();
                continue;
            }
            13 => {
                let (other, _) = ids[rng.below(ids.len() as u64) as usize];
                let _ = store.merge(id, other, &dispatcher(), now).await;
                continue;
            }
            _ => {
                let parts = [
                    ("甲".to_string(), "第一件事".to_string()),
                    ("乙".to_string(), "第二件事".to_string()),
                ];
                if let Ok(children) = store.split(id, &parts, &dispatcher(), now).await {
                    ids.extend(children.into_iter().map(|c| (c.id, case)));
                }
                continue;
            }
        };
        if let Some(actor) = actor {
            let _ = store.execute(id, &actor, &command, now).await;
        }
    }
    let _ = store.sweep(now + Duration::days(30)).await.unwrap();
}

fn total(table: &BTreeMap<minyi_domain::kpi::Key, Counters>) -> Counters {
    let mut sum = Counters::default();
    for c in table.values() {
        sum.add(c);
    }
    sum
}

/// Counts events of a kind grouped by the acting unit, straight from `events`.
async fn events_by_actor_unit(db: &crate::TestDb, kind: &str) -> BTreeMap<i64, i64> {
    let mut raw = db.raw().await;
    sqlx::query(
        "SELECT COALESCE(actor_unit_id, 0), COUNT(*) FROM events WHERE kind = $1 \
         GROUP BY actor_unit_id",
    )
    .bind(kind)
    .fetch_all(&mut raw)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
    .collect()
}

fn by_unit(table: &BTreeMap<minyi_domain::kpi::Key, Counters>, c: C) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    for (k, v) in table {
        if v.get(c) != 0 {
            *out.entry(k.unit).or_insert(0) += v.get(c);
        }
    }
    out
}

/// A report read through the roll-ups equals the same report summed from `kpi_daily`.
async fn assert_same_as_daily(
    store: &Store,
    group: &KpiGroup,
    period: &KpiPeriod,
    filter: &KpiFilter,
    context: &str,
) {
    let w = Weights::default();
    let fast = store
        .kpi_report_filtered(group, period, filter, &w)
        .await
        .unwrap();
    let slow = store
        .kpi_report_daily(group, period, filter, &w)
        .await
        .unwrap();
    assert_eq!(
        fast,
        slow,
        "{context}{} {period:?} {filter:?}",
        group.name()
    );
}

storage_test!(
    aggregates_equal_the_history_after_random_life_cycles_and_rebuild_restores_them,
    |db| {
        let (store, city) = db.fixture().await;
        random_life_cycles(&store, &city, 0x6b70_6931, 160).await;

        let maintained = store.kpi_table().await.unwrap();
        let direct = store.kpi_from_history().await.unwrap();
        assert_eq!(maintained, direct);
        // The roll-ups kept beside it equal the roll-ups of the direct computation.
        let rollups = store.kpi_rollup_table().await.unwrap();
        let levels = store.kpi_division_levels().await.unwrap();
        assert_eq!(rollups, rollup_of(&direct, &levels));
        assert!(rollups.keys().any(|k| k.1 == "month"));
        // Per-level rows exist, including key 0 for requests located above a level.
        let street = city.division(STREET).0.to_string();
        assert!(
            rollups
                .keys()
                .any(|k| k.0 == "division:street" && k.3 == street)
        );
        assert!(
            rollups
                .keys()
                .any(|k| k.0 == "division:community" && k.3 == "0")
        );

        // The random walk reached the interesting paths.
        let sum = total(&maintained);
        for c in [
            C::Received,
            C::Dispatched,
            C::Signed,
            C::Completed,
            C::Rated,
            C::Returned,
            C::AnsweredAtIntake,
        ] {
            assert!(sum.get(c) > 0, "{c:?} never counted: {sum:?}");
        }
        assert!(sum.get(C::SignedOnTime) <= sum.get(C::Signed));
        assert!(sum.get(C::Satisfied) <= sum.get(C::Rated));

        // Independent of the domain's attribution: signing, replying and returning are done by
        // the lead unit itself, so the events' acting unit gives the same counts per unit.
        assert_eq!(
            by_unit(&maintained, C::Signed),
            events_by_actor_unit(&db, "signed").await
        );
        assert_eq!(
            by_unit(&maintained, C::Completed),
            events_by_actor_unit(&db, "replied").await
        );
        assert_eq!(
            by_unit(&maintained, C::Returned),
            events_by_actor_unit(&db, "returned").await
        );
        let rated: i64 = events_by_actor_unit(&db, "rated").await.values().sum();
        assert_eq!(sum.get(C::Rated), rated);

        // Rebuild gives the same table, also from an emptied one.
        store.kpi_rebuild(&mut |_, _| {}).await.unwrap();
        assert_eq!(store.kpi_table().await.unwrap(), maintained);
        let mut raw = db.raw().await;
        sqlx::query("DELETE FROM kpi_daily")
            .execute(&mut raw)
            .await
            .unwrap();
        assert!(store.kpi_table().await.unwrap().is_empty());
        let mut calls = 0;
        store.kpi_rebuild(&mut |_, _| calls += 1).await.unwrap();
        assert!(calls > 0);
        assert_eq!(store.kpi_table().await.unwrap(), maintained);
        assert_eq!(store.kpi_rollup_table().await.unwrap(), rollups);

        // Reports: any grouping sums to the total; the district holds every located request.
        let period = KpiPeriod {
            from: monday().date_naive() - chrono::Days::new(1),
            to: monday().date_naive() + chrono::Days::new(400),
            bucket: None,
        };
        let w = Weights::default();
        let all = store
            .kpi_report(&KpiGroup::Total, &period, &w)
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].counters["received"], sum.get(C::Received));
        for group in [
            KpiGroup::Unit,
            KpiGroup::Channel,
            KpiGroup::Matter(1),
            KpiGroup::Matter(3),
            KpiGroup::Division("district".into()),
            KpiGroup::Division("community".into()),
        ] {
            let rows = store.kpi_report(&group, &period, &w).await.unwrap();
            for name in ["received", "signed", "completed", "rated", "satisfied"] {
                let s: i64 = rows.iter().map(|r| r.counters[name]).sum();
                assert_eq!(s, all[0].counters[name], "{} {name}", group.name());
            }
        }
        let district = store
            .kpi_report(&KpiGroup::Division("district".into()), &period, &w)
            .await
            .unwrap();
        assert_eq!(district.len(), 1);
        assert_eq!(district[0].key, city.division(DISTRICT).0.to_string());
        // Weekly buckets sum to the total as well.
        let weekly = store
            .kpi_report(
                &KpiGroup::Total,
                &KpiPeriod {
                    bucket: Some(minyi_domain::kpi::Bucket::Week),
                    ..period
                },
                &w,
            )
            .await
            .unwrap();
        assert!(weekly.len() > 1);
        let s: i64 = weekly.iter().map(|r| r.counters["completed"]).sum();
        assert_eq!(s, all[0].counters["completed"]);

        // Reports from the roll-ups equal the same reports summed from kpi_daily, over periods
        // that start and end inside months (day rows at the ends, month rows between) and with
        // every bucket.
        let start = monday().date_naive();
        let units: Vec<i64> = by_unit(&maintained, C::Dispatched)
            .into_keys()
            .filter(|u| *u != 0)
            .collect();
        assert!(!units.is_empty());
        for (from, to) in [(-1, 400), (3, 45), (10, 20), (0, 120)] {
            for bucket in [
                None,
                Some(minyi_domain::kpi::Bucket::Day),
                Some(minyi_domain::kpi::Bucket::Week),
                Some(minyi_domain::kpi::Bucket::Month),
            ] {
                let period = KpiPeriod {
                    from: start + chrono::Duration::days(from),
                    to: start + chrono::Duration::days(to),
                    bucket,
                };
                let basic = [
                    KpiGroup::Total,
                    KpiGroup::Unit,
                    KpiGroup::Channel,
                    KpiGroup::Matter(1),
                    KpiGroup::Division("street".into()),
                ];
                let mut cases: Vec<(KpiFilter, Vec<KpiGroup>)> = vec![(
                    KpiFilter::default(),
                    basic.iter().cloned().chain(division_groups()).collect(),
                )];
                cases.extend(units.iter().map(|u| {
                    (
                        KpiFilter {
                            unit: Some(*u),
                            division: None,
                        },
                        basic.to_vec(),
                    )
                }));
                // Inside each division: the total and every division level, above, at and below
                // the filter's own.
                for code in [CITY, DISTRICT, STREET, COMMUNITY_1, COMMUNITY_2, COMPOUND_1] {
                    let filter = KpiFilter {
                        unit: None,
                        division: Some(city.division(code).0),
                    };
                    let mut groups = vec![KpiGroup::Total, KpiGroup::Unit];
                    groups.extend(division_groups());
                    cases.push((filter, groups));
                }
                for (filter, groups) in cases {
                    for group in groups {
                        assert_same_as_daily(&store, &group, &period, &filter, "").await;
                    }
                }
            }
        }
        // A unit's own figures are its row of the unit grouping.
        let one = store
            .kpi_report_filtered(
                &KpiGroup::Total,
                &period,
                &KpiFilter {
                    unit: Some(units[0]),
                    division: None,
                },
                &w,
            )
            .await
            .unwrap();
        let by_units = store
            .kpi_report(&KpiGroup::Unit, &period, &w)
            .await
            .unwrap();
        let row = by_units
            .iter()
            .find(|r| r.key == units[0].to_string())
            .unwrap();
        assert_eq!(one[0].counters, row.counters);

        // The unit ranking is ordered by score and ranks from 1.
        let ranking = store
            .kpi_ranking(&KpiGroup::Unit, period.from, period.to, &w, 0)
            .await
            .unwrap();
        assert!(!ranking.is_empty());
        for (i, r) in ranking.iter().enumerate() {
            assert_eq!(r.rank, i + 1);
            assert_ne!(r.row.key, "0");
        }
        for pair in ranking.windows(2) {
            assert!(pair[0].row.score >= pair[1].row.score);
        }

        // The division reports are read from the roll-ups alone: with kpi_daily emptied they
        // are unchanged (the fallback over kpi_daily would find nothing).
        let inside = |code: &str| KpiFilter {
            unit: None,
            division: Some(city.division(code).0),
        };
        let questions: Vec<(KpiGroup, KpiFilter)> = division_groups()
            .into_iter()
            .flat_map(|g| {
                [
                    (g.clone(), KpiFilter::default()),
                    (g.clone(), inside(DISTRICT)),
                    (g, inside(STREET)),
                ]
            })
            .chain([(KpiGroup::Total, inside(COMMUNITY_2))])
            .collect();
        let mut answers = Vec::new();
        for (g, f) in &questions {
            answers.push(store.kpi_report_filtered(g, &period, f, &w).await.unwrap());
        }
        assert!(answers.iter().all(|a| !a.is_empty()));
        sqlx::query("DELETE FROM kpi_daily")
            .execute(&mut raw)
            .await
            .unwrap();
        for ((g, f), before) in questions.iter().zip(&answers) {
            let now = store.kpi_report_filtered(g, &period, f, &w).await.unwrap();
            assert_eq!(&now, before, "{} {f:?}", g.name());
        }
        store.kpi_rebuild(&mut |_, _| {}).await.unwrap();
        assert_eq!(store.kpi_table().await.unwrap(), maintained);

        // A division moves (reference data): a second street takes 田面社区, and 田面村 moves
        // to 莲花一村社区. The per-level rows follow in the import's transaction.
        let mut rows = division_rows();
        for row in &mut rows {
            if row.code == COMMUNITY_2 {
                row.parent_code = "440304002".into();
            }
            if row.code == VILLAGE_2 {
                row.parent_code = COMMUNITY_1.into();
            }
        }
        let mut new_street = rows.iter().find(|r| r.code == STREET).unwrap().clone();
        new_street.code = "440304002".into();
        new_street.name = "香蜜湖街道".into();
        rows.push(new_street);
        store.import_divisions(&rows).await.unwrap();
        let moved_levels = store.kpi_division_levels().await.unwrap();
        assert_ne!(moved_levels, levels);
        let moved = store.kpi_rollup_table().await.unwrap();
        assert_ne!(moved, rollups);
        assert_eq!(moved, rollup_of(&maintained, &moved_levels));
        for group in division_groups() {
            for filter in [KpiFilter::default(), inside(DISTRICT), inside(COMMUNITY_1)] {
                assert_same_as_daily(&store, &group, &period, &filter, "after the move: ").await;
            }
        }
        let streets = store
            .kpi_report(&KpiGroup::Division("street".into()), &period, &w)
            .await
            .unwrap();
        assert!(streets.iter().any(|r| r.name == "香蜜湖街道"));
        // Rebuilding gives the same rows, and an import that moves nothing leaves them alone.
        store.kpi_rebuild(&mut |_, _| {}).await.unwrap();
        assert_eq!(store.kpi_rollup_table().await.unwrap(), moved);
        store.import_divisions(&rows).await.unwrap();
        assert_eq!(store.kpi_rollup_table().await.unwrap(), moved);
    }
);
