//! The index engine against the reference evaluator on random directories
//! and random requests: same users, same order, same totals, same tokens,
//! page after page, also when users are added and removed between pages.

use crate::util::directory_gen;

use directory_gen::{arb_case, Dir};
use proptest::prelude::*;
use rollcall::criteria::eval;
use rollcall::criteria::wire::Search;
use rollcall::criteria::Filter;
use rollcall::directory::{instance_of, Instance};
use rollcall::records::{Directory, User};

fn engine(dir: &Dir) -> Instance {
    instance_of(dir.users.clone(), dir.groups.clone()).expect("in-memory instance")
}

/// Pages through both, comparing every page; returns the number of pages.
fn same_pages(inst: &Instance, d: &Directory, filter: &Filter, max: u32) -> usize {
    let mut search = Search::new(filter.clone());
    search.max_results = max;
    let mut pages = 0;
    loop {
        let want = eval::search(d, &search).expect("reference search");
        let got = inst.search(&search).expect("engine search");
        assert_eq!(got, want, "page {pages} of {filter:?} (max {max})");
        pages += 1;
        match want.next_token {
            Some(t) => search.next_token = Some(t),
            None => return pages,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn engine_pages_like_the_evaluator((dir, filter, max) in arb_case()) {
        let inst = engine(&dir);
        same_pages(&inst, &dir.directory(), &filter, max);
    }
}

#[derive(Debug, Clone)]
enum Change {
    Delete(usize),
    Rename(usize, String),
    Add(String),
}

fn arb_changes() -> impl Strategy<Value = Vec<Change>> {
    let name = proptest::sample::select(vec![
        "aaa",
        "Zed",
        "maria.garcia",
        "MARIA.GARCIA",
        "straße",
        "zz",
        "ann",
        "a",
        "jo",
        "ö",
    ])
    .prop_map(str::to_string);
    proptest::collection::vec(
        prop_oneof![
            (0usize..80).prop_map(Change::Delete),
            ((0usize..80), name.clone()).prop_map(|(i, n)| Change::Rename(i, n)),
            name.prop_map(Change::Add),
        ],
        0..4,
    )
}

fn apply(change: &Change, d: &mut Directory, inst: &Instance, serial: &mut u32) {
    let ids: Vec<String> = d.users().map(|u| u.id.clone()).collect();
    match change {
        Change::Delete(i) if !ids.is_empty() => {
            let id = &ids[i % ids.len()];
            assert!(d.remove(id));
            assert!(inst.delete(id).expect("delete"));
        }
        Change::Rename(i, name) if !ids.is_empty() => {
            let mut u = d.get(&ids[i % ids.len()]).cloned().expect("present");
            u.username = format!("{name}{serial}");
            *serial += 1;
            let want = d.upsert(u.clone());
            let got = inst.upsert(&u);
            assert_eq!(want.is_ok(), got.is_ok(), "{want:?} {got:?}");
        }
        Change::Add(name) => {
            let u: User = serde_json::from_value(serde_json::json!({
                "Id": format!("new-{serial}"), "Username": name,
                "IdentityInfo": {"FirstName": "Anna", "LastName": "Straße"},
                "Tags": {"Team": "blue"}
            }))
            .expect("a user");
            *serial += 1;
            let want = d.upsert(u.clone());
            let got = inst.upsert(&u);
            assert_eq!(want.is_ok(), got.is_ok(), "{want:?} {got:?}");
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn paging_survives_changes_between_pages(
        (dir, filter, max) in arb_case(),
        changes in proptest::collection::vec(arb_changes(), 1..4),
    ) {
        let inst = engine(&dir);
        let mut d = dir.directory();
        let mut search = Search::new(filter.clone());
        search.max_results = max;
        let mut serial = 0;
        for step in 0.. {
            let want = eval::search(&d, &search).expect("reference search");
            let got = inst.search(&search).expect("engine search");
            prop_assert_eq!(&got, &want, "page {} of {:?}", step, filter);
            let Some(t) = want.next_token else { break };
            search.next_token = Some(t);
            for c in changes.get(step).into_iter().flatten() {
                apply(c, &mut d, &inst, &mut serial);
            }
        }
    }
}
