//! (c) text -> AWS -> text keeps the matched users, checked with the
//! reference evaluator over random directories.

use crate::util::vocab;

use proptest::prelude::*;
use rollcall::criteria::wire::SearchUsersRequest;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn text_to_aws_to_text_keeps_the_matched_users(
        f in prop_oneof![vocab::filter(false), vocab::filter(true)],
        dir in vocab::directory(30),
    ) {
        let text = f.to_string();
        let parsed = rollcall::syntax::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &f);
        match SearchUsersRequest::from_filter(&parsed) {
            Ok(req) => {
                let json = serde_json::to_string(&req).unwrap();
                let back = rollcall::criteria::wire::parse_request(&json).unwrap().lower().unwrap();
                let text2 = back.filter.to_string();
                let reparsed = rollcall::syntax::parse(&text2).unwrap();
                prop_assert_eq!(vocab::ids(&dir, &reparsed), vocab::ids(&dir, &f));
            }
            Err(e) => {
                // Only tag tests can make a query inexpressible.
                prop_assert!(f.has_tag(), "tag-free query failed to convert: {}", e);
                prop_assert!(e.message.contains("cannot be expressed"), "{}", e.message);
            }
        }
    }

    /// Every AWS request prints as text that reads back to the same tree.
    #[test]
    fn every_aws_request_converts_to_text(req in vocab::wire_request()) {
        let filter = req.lower().unwrap().filter;
        let text = filter.to_string();
        prop_assert_eq!(rollcall::syntax::parse(&text).unwrap(), filter);
    }
}
