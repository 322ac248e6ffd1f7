//! Property tests of the criteria model, the AWS codec and the reference
//! evaluator: codec round trips, boolean laws, and paging.

use crate::util::vocab;

use std::collections::BTreeSet;

use proptest::prelude::*;
use rollcall::criteria::eval::{matches, search};
use rollcall::criteria::wire::{Search, SearchUsersRequest};
use rollcall::criteria::Filter;
use rollcall::criteria::SortKey;
use rollcall::records::Directory;

/// Every page of `filter` at `page_size`, concatenated, checking the total.
fn all_pages(dir: &Directory, filter: &Filter, page_size: u32) -> Vec<String> {
    let mut s = Search::new(filter.clone());
    s.max_results = page_size;
    let mut out = Vec::new();
    let mut total = None;
    loop {
        let page = search(dir, &s).expect("valid search");
        assert!(page.users.len() <= page_size as usize);
        assert_eq!(
            *total.get_or_insert(page.approximate_total_count),
            page.approximate_total_count
        );
        out.extend(page.users.into_iter().filter_map(|u| u.id));
        match page.next_token {
            Some(t) => s.next_token = Some(t),
            None => break,
        }
    }
    assert_eq!(total, Some(out.len() as u64));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// (b) AWS JSON -> AST -> JSON -> AST is stable, and the first raise
    /// keeps the matched set.
    #[test]
    fn aws_json_roundtrip_is_stable(req in vocab::wire_request(), dir in vocab::directory(25)) {
        let json = serde_json::to_string(&req).unwrap();
        let parsed = rollcall::criteria::wire::parse_request(&json).unwrap();
        prop_assert_eq!(&parsed, &req);
        let ast1 = req.lower().unwrap().filter;
        let req2 = SearchUsersRequest::from_filter(&ast1).unwrap();
        let ast2 = req2.lower().unwrap().filter;
        let req3 = SearchUsersRequest::from_filter(&ast2).unwrap();
        let ast3 = req3.lower().unwrap().filter;
        prop_assert_eq!(&req2, &req3);
        prop_assert_eq!(&ast2, &ast3);
        prop_assert_eq!(vocab::ids(&dir, &ast1), vocab::ids(&dir, &ast2));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// (d) And/Or are commutative, associative, idempotent, absorptive and
    /// distributive, and `AndConditions: []` is neutral.
    #[test]
    fn evaluator_obeys_boolean_laws(
        dir in vocab::directory(40),
        a in vocab::filter(true),
        b in vocab::filter(true),
        c in vocab::filter(true),
    ) {
        use Filter::And;
        #[allow(non_snake_case)]
        let Or = |parts: Vec<Filter>| Filter::or(parts).unwrap();
        let m = |f: Filter| vocab::ids(&dir, &f);
        let (a_, b_) = (a.clone(), b.clone());
        prop_assert_eq!(m(And(vec![a_.clone(), b_.clone()])), m(And(vec![b_.clone(), a_.clone()])));
        prop_assert_eq!(m(Or(vec![a_.clone(), b_.clone()])), m(Or(vec![b_.clone(), a_.clone()])));
        prop_assert_eq!(
            m(And(vec![And(vec![a.clone(), b.clone()]), c.clone()])),
            m(And(vec![a.clone(), And(vec![b.clone(), c.clone()])]))
        );
        prop_assert_eq!(
            m(Or(vec![Or(vec![a.clone(), b.clone()]), c.clone()])),
            m(Or(vec![a.clone(), Or(vec![b.clone(), c.clone()])]))
        );
        prop_assert_eq!(m(And(vec![a.clone(), a.clone()])), m(a.clone()));
        prop_assert_eq!(m(Or(vec![a.clone(), a.clone()])), m(a.clone()));
        prop_assert_eq!(m(And(vec![a.clone(), Or(vec![a.clone(), b.clone()])])), m(a.clone()));
        prop_assert_eq!(m(Or(vec![a.clone(), And(vec![a.clone(), b.clone()])])), m(a.clone()));
        prop_assert_eq!(
            m(And(vec![a.clone(), Or(vec![b.clone(), c.clone()])])),
            m(Or(vec![And(vec![a.clone(), b.clone()]), And(vec![a.clone(), c.clone()])]))
        );
        prop_assert_eq!(
            m(Or(vec![a.clone(), And(vec![b.clone(), c.clone()])])),
            m(And(vec![Or(vec![a.clone(), b.clone()]), Or(vec![a.clone(), c.clone()])]))
        );
        prop_assert_eq!(m(And(vec![a.clone(), Filter::all()])), m(a.clone()));
        prop_assert_eq!(m(Filter::all()).len(), dir.len());
    }

    /// (e) Concatenating every page, for any page size, gives the unpaged
    /// result in (folded username, id) order.
    #[test]
    fn pages_concatenate_to_the_unpaged_result(
        dir in vocab::directory(60),
        f in vocab::filter(true),
        page_size in 1u32..12,
    ) {
        let mut expected: Vec<(SortKey, String)> = dir
            .users()
            .filter(|u| matches(&f, u, &dir.groups))
            .map(|u| (SortKey::new(&u.username, &u.id), u.id.clone()))
            .collect();
        expected.sort();
        let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
        prop_assert_eq!(all_pages(&dir, &f, page_size), expected.clone());
        prop_assert_eq!(all_pages(&dir, &f, 500), expected);
    }

    /// Paging while users come and go: no page repeats a user, and every user
    /// that matched and stayed unchanged throughout is returned.
    #[test]
    fn paging_survives_concurrent_changes(
        dir in vocab::directory(40),
        extra in vocab::directory(10),
        f in vocab::filter(true),
        page_size in 1u32..6,
        remove_every in 2usize..5,
    ) {
        let mut dir = dir;
        let mut s = Search::new(f.clone());
        s.max_results = page_size;
        let mut seen = Vec::new();
        let mut removed = BTreeSet::new();
        let mut newcomers = extra.users().cloned().collect::<Vec<_>>().into_iter();
        let stayed: BTreeSet<String> = vocab::ids(&dir, &f);
        for round in 0.. {
            let page = search(&dir, &s).unwrap();
            seen.extend(page.users.iter().filter_map(|u| u.id.clone()));
            let Some(token) = page.next_token else { break };
            s.next_token = Some(token);
            // Remove one user and add another between pages.
            if round % remove_every == 0 {
                let victim = dir.users().nth(round % dir.len().max(1)).map(|u| u.id.clone());
                if let Some(id) = victim {
                    dir.remove(&id);
                    removed.insert(id);
                }
            }
            if let Some(u) = newcomers.next()
                && dir.id_of_username(&u.username).is_none() && dir.get(&u.id).is_none() {
                    dir.upsert(u).unwrap();
                }
        }
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        prop_assert_eq!(unique.len(), seen.len(), "a page repeated a user");
        for id in stayed.difference(&removed) {
            prop_assert!(unique.contains(id), "user {} was skipped", id);
        }
    }
}
