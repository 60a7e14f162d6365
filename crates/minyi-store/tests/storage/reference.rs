//! Reference data: divisions, the catalogue, the responsibility list and staff accounts.

use crate::fixture::*;
use minyi_domain::unit::Role;
use minyi_store::{DivisionRow, StoreError, UserAccount, read_csv, write_csv};

storage_test!(
    importing_divisions_checks_the_tree_and_upserts_by_code,
    |db| {
        let (store, _city) = db.fixture().await;
        let before = store.export_divisions().await.unwrap();
        assert_eq!(before.len(), 8);
        assert_eq!(store.stats().await.unwrap().divisions, 8);
        assert_eq!(store.stats().await.unwrap().urban_villages, 2);

        // A street directly under the city is refused, together with a good row of the same batch.
        let good = DivisionRow {
            code: "440304001003".into(),
            name: "新社区".into(),
            level: "community".into(),
            kind: "regular".into(),
            parent_code: STREET.into(),
        };
        let bad = DivisionRow {
            code: "440300999".into(),
            name: "飞地街道".into(),
            level: "street".into(),
            kind: "regular".into(),
            parent_code: CITY.into(),
        };
        let err = store
            .import_divisions(&[good.clone(), bad])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        assert_eq!(store.stats().await.unwrap().divisions, 8);
        assert_eq!(store.export_divisions().await.unwrap(), before);

        // An unknown parent and a second city are refused too, and write nothing.
        let orphan = DivisionRow {
            parent_code: "999999".into(),
            ..good.clone()
        };
        assert!(matches!(
            store.import_divisions(&[orphan]).await,
            Err(StoreError::Invalid(_))
        ));
        let second_city = DivisionRow {
            code: "440100".into(),
            name: "广州市".into(),
            level: "city".into(),
            kind: "regular".into(),
            parent_code: String::new(),
        };
        assert!(matches!(
            store.import_divisions(&[second_city]).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.export_divisions().await.unwrap(), before);

        // Re-importing the same rows with a new name updates by code: no duplicate, ids kept.
        let ids_before: Vec<_> = store
            .load_divisions()
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        let mut rows = division_rows();
        for row in &mut rows {
            if row.code == COMMUNITY_2 {
                row.name = "田面社区（更名）".into();
            }
        }
        assert_eq!(store.import_divisions(&rows).await.unwrap(), 8);
        let after = store.export_divisions().await.unwrap();
        assert_eq!(after.len(), 8);
        assert_eq!(store.stats().await.unwrap().divisions, 8);
        let renamed = after.iter().find(|d| d.code == COMMUNITY_2).unwrap();
        assert_eq!(renamed.name, "田面社区（更名）");
        assert_eq!(renamed.parent_code, STREET);
        let ids_after: Vec<_> = store
            .load_divisions()
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids_before, ids_after);
        // Everything else is as it was.
        for (b, a) in before.iter().zip(&after) {
            if b.code != COMMUNITY_2 {
                assert_eq!(b, a);
            }
        }

        // The good row alone goes in.
        assert_eq!(store.import_divisions(&[good]).await.unwrap(), 1);
        assert_eq!(store.stats().await.unwrap().divisions, 9);
    }
);

storage_test!(
    importing_the_catalogue_refuses_a_leaf_without_policy_and_an_unknown_parent,
    |db| {
        let (store, _city) = db.fixture().await;
        let before = store.export_matters().await.unwrap();
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.matters, stats.leaf_matters), (12, 5));

        // A new leaf under a branch where no node carries a policy.
        let bare_leaf = matter("01.02.002", "物业维修基金", "01.02", ["", "", "", ""]);
        let err = store.import_matters(&[bare_leaf]).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        // A new root that is its own (policy-less) leaf.
        let bare_root = matter("04", "其他", "", ["", "", "", ""]);
        assert!(matches!(
            store.import_matters(&[bare_root]).await,
            Err(StoreError::Invalid(_))
        ));
        // An unknown parent.
        let lost = matter("09.01", "无主事项", "09", ["ordinary", "", "", ""]);
        let err = store.import_matters(&[lost]).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("unknown parent")),
            "{err:?}"
        );
        // Half a deadline, a bad span, a bad urgency.
        for row in [
            matter("01.02.003", "x", "01.02", ["ordinary", "1wd", "", ""]),
            matter("01.02.003", "x", "01.02", ["ordinary", "1 day", "5wd", ""]),
            matter("01.02.003", "x", "01.02", ["soon", "", "", ""]),
        ] {
            assert!(matches!(
                store.import_matters(&[row]).await,
                Err(StoreError::Invalid(_))
            ));
        }
        assert_eq!(store.export_matters().await.unwrap(), before);
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.matters, stats.leaf_matters), (12, 5));

        // A leaf that inherits a policy from its parent is accepted, with that policy.
        let inheriting = matter("01.01.003", "乱堆放", "01.01", ["", "", "", ""]);
        assert_eq!(store.import_matters(&[inheriting]).await.unwrap(), 1);
        let catalog = store.load_catalog().await.unwrap();
        let id = catalog.iter().find(|m| m.code == "01.01.003").unwrap().id;
        assert_eq!(catalog.get(id).unwrap().level, 3);
        let parent = catalog.iter().find(|m| m.code == "01.01").unwrap().id;
        assert_eq!(catalog.policy(id), catalog.policy(parent));
        assert!(catalog.policy(id).is_some());
    }
);

storage_test!(
    the_responsibility_list_is_checked_replaced_whole_and_round_trips_through_csv,
    |db| {
        let (store, city) = db.fixture().await;
        let report = city.list.check(&city.catalog, &city.tree);
        assert_eq!((report.leaf_matters, report.leaf_divisions), (5, 3));
        assert_eq!(report.combinations, 15);
        assert_eq!((report.gaps, report.conflicts), (0, 0), "{report:?}");
        assert_eq!(city.list.fallback(), city.unit(DISPATCH_CENTRE));

        // The stored rules resolve as written.
        assert_eq!(
            city.assignment(PROPERTY, COMPOUND_1).lead,
            city.unit(WORKSTATION)
        );
        assert_eq!(
            city.assignment(PROPERTY, VILLAGE_2).lead,
            city.unit(DISTRICT_BUREAU)
        );
        let noise = city.assignment(NOISE, VILLAGE_1);
        assert_eq!(noise.lead, city.unit(STREET_OFFICE));
        assert_eq!(noise.co_units, vec![city.unit(WORKSTATION)]);
        assert_eq!(noise.deadlines.response.to_string(), "4wh");
        let gas = city.assignment(GAS_LEAK, VILLAGE_2);
        assert_eq!(
            gas.co_units,
            vec![city.unit(DISTRICT_BUREAU), city.unit(STREET_OFFICE)]
        );

        let exported = store.export_rules().await.unwrap();
        assert_eq!(exported, rule_rows());

        // Without the consultation rule, that leaf is a gap in all three leaf divisions.
        let fewer: Vec<_> = rule_rows()
            .into_iter()
            .filter(|r| r.matter_code != "02")
            .collect();
        assert_eq!(store.replace_rules(&fewer).await.unwrap(), 5);
        let list = store.load_responsibility_list().await.unwrap();
        assert_eq!(list.rules().len(), 5);
        let report = list.check(&city.catalog, &city.tree);
        assert_eq!((report.gaps, report.conflicts), (3, 0), "{report:?}");
        assert_eq!(
            list.resolve(
                &city.catalog,
                &city.tree,
                city.matter(CONSULTATION),
                city.division(VILLAGE_1)
            )
            .lead(),
            Some(city.unit(DISPATCH_CENTRE))
        );

        // An unknown unit code refuses the whole list; the previous one stays.
        let mut bad = rule_rows();
        bad[3].lead_unit_code = "NO-SUCH-UNIT".into();
        let err = store.replace_rules(&bad).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("NO-SUCH-UNIT")),
            "{err:?}"
        );
        let mut bad_co = rule_rows();
        bad_co[0].co_unit_codes = format!("{STREET_OFFICE};GHOST");
        assert!(matches!(
            store.replace_rules(&bad_co).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.export_rules().await.unwrap(), fewer);
        assert_eq!(store.stats().await.unwrap().responsibility_rules, 5);

        // export → CSV → import gives the same export back.
        store.replace_rules(&rule_rows()).await.unwrap();
        let first = store.export_rules().await.unwrap();
        let mut csv = Vec::new();
        write_csv(&first, &mut csv).unwrap();
        let text = String::from_utf8(csv.clone()).unwrap();
        assert!(
            text.starts_with("matter_code,division_code,lead_unit_code,"),
            "{text}"
        );
        let rows: Vec<minyi_store::RuleRow> = read_csv(csv.as_slice()).unwrap();
        assert_eq!(rows, first);
        assert_eq!(store.replace_rules(&rows).await.unwrap(), rows.len());
        assert_eq!(store.export_rules().await.unwrap(), first);
        let report = store
            .load_responsibility_list()
            .await
            .unwrap()
            .check(&city.catalog, &city.tree);
        assert!(report.is_complete(), "{report:?}");
    }
);

storage_test!(
    staff_accounts_verify_their_password_and_unit_roles_need_a_unit,
    |db| {
        let (store, city) = db.fixture().await;
        let now = monday().timestamp_millis();
        let dispatcher = UserAccount {
            username: "wang.fb".into(),
            display_name: "王分拨".into(),
            role: Role::Dispatcher,
            unit_code: None,
            password: "correct horse battery staple".into(),
        };
        let id = store.create_user(&dispatcher, now).await.unwrap();
        assert_eq!(
            store
                .verify_password("wang.fb", "correct horse battery staple")
                .await
                .unwrap(),
            Some((id, Role::Dispatcher, None))
        );
        assert_eq!(
            store
                .verify_password("wang.fb", "Correct horse battery staple")
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.verify_password("wang.fb", "").await.unwrap(), None);
        assert_eq!(
            store
                .verify_password("nobody", "correct horse battery staple")
                .await
                .unwrap(),
            None
        );

        let clerk = UserAccount {
            username: "li.cb".into(),
            display_name: "李承办".into(),
            role: Role::UnitHandler,
            unit_code: Some(WORKSTATION.into()),
            password: "社区工作站2025".into(),
        };
        let clerk_id = store.create_user(&clerk, now).await.unwrap();
        assert_ne!(clerk_id, id);
        assert_eq!(
            store
                .verify_password("li.cb", "社区工作站2025")
                .await
                .unwrap(),
            Some((clerk_id, Role::UnitHandler, Some(city.unit(WORKSTATION))))
        );
        assert_eq!(store.stats().await.unwrap().users, 2);

        // A unit role without a unit, or with an unknown one, is refused and writes nothing.
        let unitless = UserAccount {
            username: "zhao.ld".into(),
            unit_code: None,
            role: Role::UnitLeader,
            ..clerk.clone()
        };
        let err = store.create_user(&unitless, now).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let ghost = UserAccount {
            unit_code: Some("GHOST".into()),
            ..unitless
        };
        assert!(matches!(
            store.create_user(&ghost, now).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(
            store
                .verify_password("zhao.ld", "社区工作站2025")
                .await
                .unwrap(),
            None
        );
        // The same username twice is refused.
        assert!(store.create_user(&dispatcher, now).await.is_err());
        assert_eq!(store.stats().await.unwrap().users, 2);
    }
);
