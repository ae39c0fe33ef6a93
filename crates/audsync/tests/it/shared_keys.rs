//! Users who share an identifying key: Meta removes every member matching any identifying key
//! of a removal row, so a removal leaves out the values that staying users hold; a row whose
//! every value is shared is sent whole and the staying users holding its values are re-added.

use std::collections::BTreeMap;

use audsync::sync::{Outcome, SyncMode};

use crate::sync_support::{Customer, SyncHarness, customers, multi_thread, phone_hash};

/// Whether some member of the audience is this customer (matches their email or phone).
fn is_held(members: &[BTreeMap<String, String>], customer: &Customer) -> bool {
    let email = customer.email_hash();
    let phone = phone_hash(customer);
    members
        .iter()
        .any(|member| member.get("EMAIL") == email.as_ref() || member.get("PHONE") == Some(&phone))
}

/// Customers 0..30, and four who share keys with some of them: `L1` has u5's email, `L2` has
/// u6's phone, `L3` has u10's email while u10 and u11 share a phone, `L4` has u12's email and
/// u13's phone, which u14 also has (so every identifying value of L4 is shared).
fn people_with_shared_keys() -> (Vec<Customer>, Vec<Customer>) {
    let mut people = customers(0..30);
    people[11].phone = people[10].phone.clone();
    people[14].phone = people[13].phone.clone();
    let mut sharing = Vec::new();
    let mut leaver = |n: usize, user_id: &str, edit: &dyn Fn(&mut Customer)| {
        let mut customer = Customer::numbered(n);
        customer.user_id = user_id.to_owned();
        edit(&mut customer);
        sharing.push(customer);
    };
    let (email_5, phone_6, email_10) = (
        people[5].email.clone(),
        people[6].phone.clone(),
        people[10].email.clone(),
    );
    let (email_12, phone_13) = (people[12].email.clone(), people[13].phone.clone());
    leaver(1_000, "L1", &|customer| customer.email = email_5.clone());
    leaver(1_001, "L2", &|customer| customer.phone = phone_6.clone());
    leaver(1_002, "L3", &|customer| customer.email = email_10.clone());
    leaver(1_003, "L4", &|customer| {
        customer.email = email_12.clone();
        customer.phone = phone_13.clone();
    });
    (people, sharing)
}

#[test]
fn a_user_who_leaves_does_not_take_along_those_who_share_a_key_with_them() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let (stay, leave) = people_with_shared_keys();
        let everyone: Vec<Customer> = stay.iter().chain(&leave).cloned().collect();
        let spec = harness.spec("family", &everyone);
        let first = harness.sync(&spec).await;
        assert_eq!(first.outcome, Outcome::Succeeded, "{first}");
        assert_eq!(first.readded_shared_key, 0);
        let audience_id = harness.audiences().await["CA_family"].clone();
        let members = harness.members(&audience_id).await;
        assert!(everyone.iter().all(|customer| is_held(&members, customer)));

        harness.set_source(&spec, &stay);
        let plan = audsync::sync::plan(&harness.store, &spec, &harness.options())
            .await
            .expect("the plan runs");
        let second = harness.sync(&spec).await;
        // The dry run counts what the sync then does.
        assert_eq!(
            (
                plan.removed,
                plan.removed_keeping_shared_values,
                plan.readded_shared_key
            ),
            (
                second.removed,
                second.removed_keeping_shared_values,
                second.readded_shared_key
            ),
            "plan:\n{plan}\nsync:\n{second}"
        );
        assert!(plan.to_string().contains("would re-add (shared)"), "{plan}");
        assert_eq!(second.outcome, Outcome::Succeeded, "{second}");
        assert_eq!((second.removed, second.removed_left), (4, 4), "{second}");
        // L1, L2 and L3 go without the values u5, u6 and u10 hold; L4 has nothing of its own,
        // so it goes whole and takes u12 (its email), u13 and u14 (its phone) along: re-added.
        assert_eq!(second.removed_keeping_shared_values, 3, "{second}");
        assert_eq!(second.readded_shared_key, 3, "{second}");
        assert_eq!(second.added, 0, "re-adds are counted apart: {second}");
        assert!(second.to_string().contains("re-added (shared key)"));
        assert!(second.to_string().contains("sent without shared values"));
        let members = harness.members(&audience_id).await;
        for customer in &stay {
            assert!(
                is_held(&members, customer),
                "{} must still be in the audience",
                customer.user_id
            );
        }
        // What only the leavers had is gone.
        for (customer, own_key) in [
            (&leave[0], Some(phone_hash(&leave[0]))),
            (&leave[1], leave[1].email_hash()),
            (&leave[2], Some(phone_hash(&leave[2]))),
        ] {
            let own_key = own_key.expect("a key of their own");
            assert!(
                !members
                    .iter()
                    .any(|member| member.values().any(|v| *v == own_key)),
                "{} left: their own key must be gone",
                customer.user_id
            );
        }
        // The promise to re-add is settled: nothing is left for the next run.
        assert!(
            harness
                .store
                .unsettled_batches("family")
                .await
                .unwrap()
                .is_empty()
        );
        let third = harness.sync(&spec).await;
        assert_eq!(third.outcome, Outcome::Succeeded, "{third}");
        assert_eq!(
            (third.requests, third.removed, third.readded_shared_key),
            (0, 0, 0),
            "{third}"
        );
    });
}

#[test]
fn a_changed_user_whose_old_email_is_shared_keeps_the_other_user() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let mut people = customers(0..20);
        people[3].email = people[4].email.clone();
        let spec = harness.spec("changed", &people);
        harness.sync(&spec).await;
        // u3 moves to an email of their own: the old row (u4's email) is removed.
        people[3].email = "u3.new@example.org".to_owned();
        harness.set_source(&spec, &people);
        let report = harness.sync(&spec).await;
        assert_eq!(report.outcome, Outcome::Succeeded, "{report}");
        assert_eq!(
            (report.changed, report.removed_old_keys),
            (1, 1),
            "{report}"
        );
        // The old row goes without u4's email.
        assert_eq!(
            (
                report.removed_keeping_shared_values,
                report.readded_shared_key
            ),
            (1, 0),
            "{report}"
        );
        let audience_id = harness.audiences().await["CA_changed"].clone();
        let members = harness.members(&audience_id).await;
        assert!(people.iter().all(|customer| is_held(&members, customer)));
    });
}

#[test]
fn upsert_mode_removes_nobody_and_re_adds_nobody() {
    multi_thread().block_on(async {
        let harness = SyncHarness::start().await;
        let (stay, leave) = people_with_shared_keys();
        let everyone: Vec<Customer> = stay.iter().chain(&leave).cloned().collect();
        let mut spec = harness.spec("upsert", &everyone);
        spec.mode = SyncMode::Upsert;
        harness.sync(&spec).await;
        harness.set_source(&spec, &stay);
        let report = harness.sync(&spec).await;
        assert_eq!(
            (report.removed, report.readded_shared_key, report.requests),
            (0, 0, 0),
            "{report}"
        );
    });
}
