//! The executor: a [`Plan`] against one tantivy searcher.
//!
//! Each plan node becomes a tantivy query (dictionary scans, subtree and
//! proficiency-tuple expansions are resolved against the searcher's term
//! dictionaries and the instance's groups). One pass of [`PageCollector`]
//! counts every match and keeps, per segment, only the `limit` smallest
//! sort-key ordinals above the search-after key: results come out in
//! (folded username, id) order without materialising all matches.

use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::doc_predicate_query::{
    ConstOrVariableSegmentPredicate, DocPredicate, DocPredicateQuery, SegmentDocPredicate,
};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

use super::live::ShadowSegment;
use super::schema::{subtree, Fields};
use crate::criteria::eval::proficiency_matches;
use crate::criteria::StringOp;
use crate::plan::{split_parts, successor, Access, IndexField, KeyRange, Leaf, Node, Residual};
use crate::records::{Groups, Proficiency};

/// What a query is built against.
pub(crate) struct Ctx<'a> {
    pub fields: &'a Fields,
    pub searcher: &'a Searcher,
    pub groups: &'a Groups,
}

impl Ctx<'_> {
    fn term(&self, f: IndexField, text: &str) -> Term {
        Term::from_field_text(self.fields.get(f), text)
    }

    /// Every term of `field` (over all segments) within `[lo, hi)` and
    /// passing `keep`.
    fn scan_terms(
        &self,
        field: IndexField,
        lo: &str,
        keep: &dyn Fn(&str) -> bool,
    ) -> tantivy::Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        let f = self.fields.get(field);
        for seg in self.searcher.segment_readers() {
            let inv = seg.inverted_index(f)?;
            let mut builder = inv.terms().range().ge(lo.as_bytes());
            if let Some(hi) = successor(lo) {
                builder = builder.lt(hi.as_bytes());
            }
            let mut stream = builder.into_stream()?;
            while stream.advance() {
                if let Ok(t) = std::str::from_utf8(stream.key())
                    && keep(t)
                {
                    out.insert(t.to_string());
                }
            }
        }
        Ok(out)
    }

    fn term_set(&self, field: IndexField, terms: BTreeSet<String>) -> Box<dyn Query> {
        if terms.is_empty() {
            return Box::new(EmptyQuery);
        }
        Box::new(TermSetQuery::new(
            terms
                .iter()
                .map(|t| self.term(field, t))
                .collect::<Vec<_>>(),
        ))
    }

    /// The tantivy query of a plan node.
    pub fn query(&self, node: &Node) -> tantivy::Result<Box<dyn Query>> {
        Ok(match node {
            Node::And(children) => Box::new(BooleanQuery::new(
                children
                    .iter()
                    .map(|c| Ok((Occur::Must, self.query(c)?)))
                    .collect::<tantivy::Result<Vec<_>>>()?,
            )),
            Node::Or(children) => Box::new(BooleanQuery::new(
                children
                    .iter()
                    .map(|c| Ok((Occur::Should, self.query(c)?)))
                    .collect::<tantivy::Result<Vec<_>>>()?,
            )),
            Node::Leaf(leaf) => self.leaf(leaf)?,
        })
    }

    fn leaf(&self, leaf: &Leaf) -> tantivy::Result<Box<dyn Query>> {
        let access = self.access(leaf)?;
        Ok(match &leaf.residual {
            None => access,
            Some(r) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, access),
                (
                    Occur::Must,
                    Box::new(DocPredicateQuery::from(ResidualCheck(r.clone()))),
                ),
            ])),
        })
    }

    /// The index part of a leaf alone (its candidates, before any residual check).
    pub fn access(&self, leaf: &Leaf) -> tantivy::Result<Box<dyn Query>> {
        Ok(match &leaf.access {
            Access::All => Box::new(AllQuery),
            Access::Term { field, term } => Box::new(TermQuery::new(
                self.term(*field, term),
                IndexRecordOption::Basic,
            )),
            Access::AnyTerm(terms) => Box::new(BooleanQuery::new(
                terms
                    .iter()
                    .map(|(f, t)| {
                        let q: Box<dyn Query> =
                            Box::new(TermQuery::new(self.term(*f, t), IndexRecordOption::Basic));
                        (Occur::Should, q)
                    })
                    .collect(),
            )),
            Access::Prefix { field, prefix } => {
                let upper = match successor(prefix) {
                    Some(hi) => Bound::Excluded(self.term(*field, &hi)),
                    None => Bound::Unbounded,
                };
                let lower = Bound::Included(self.term(*field, prefix));
                if field.is_fast() {
                    Box::new(RangeQuery::new(lower, upper))
                } else {
                    Box::new(InvertedIndexRangeQuery::new(lower, upper))
                }
            }
            Access::Grams(grams) => {
                let clauses: Vec<(Occur, Box<dyn Query>)> = grams
                    .iter()
                    .map(|g| {
                        let q: Box<dyn Query> = Box::new(TermQuery::new(
                            self.term(IndexField::Grams, g),
                            IndexRecordOption::Basic,
                        ));
                        (Occur::Must, q)
                    })
                    .collect();
                Box::new(BooleanQuery::new(clauses))
            }
            Access::DictionaryScan { field, needle } => {
                let terms = self.scan_terms(*field, "", &|t| StringOp::Contains.test(t, needle))?;
                self.term_set(*field, terms)
            }
            Access::Subtree { group } => self.term_set(
                IndexField::Group,
                subtree(self.groups, group).into_iter().collect(),
            ),
            Access::ProficiencyTuples { prefix, items } => {
                let terms = self.scan_terms(IndexField::Proficiency, prefix, &|t| {
                    tuple(t).is_some_and(|p| items.iter().all(|i| proficiency_matches(i, &p)))
                })?;
                self.term_set(IndexField::Proficiency, terms)
            }
        })
    }
}

/// Decodes a proficiency tuple term.
fn tuple(term: &str) -> Option<Proficiency> {
    let parts = split_parts(term);
    let [name, value, level] = parts.as_slice() else {
        return None;
    };
    Some(Proficiency {
        attribute_name: name.clone(),
        attribute_value: value.clone(),
        level: level.parse().ok()?,
    })
}

/// A residual check as a tantivy doc predicate: reads the folded value from
/// the field's fast column and applies [`StringOp::test`].
#[derive(Debug)]
struct ResidualCheck(Residual);

struct SegmentResidual {
    column: StrColumn,
    op: StringOp,
    needle: String,
    buf: String,
    /// Verdicts by term ordinal: many users share a first or last name.
    seen: std::collections::HashMap<u64, bool>,
    /// The column is the sort key, whose first part is the folded username.
    sort_key: bool,
}

impl SegmentDocPredicate for SegmentResidual {
    fn eval(&mut self, doc: DocId) -> bool {
        let ords: Vec<u64> = self.column.term_ords(doc).collect();
        ords.into_iter().any(|ord| {
            if let Some(v) = self.seen.get(&ord) {
                return *v;
            }
            self.buf.clear();
            let mut v = matches!(self.column.ord_to_str(ord, &mut self.buf), Ok(true));
            if v && self.sort_key {
                // The folded username is the sort key's first part.
                let folded = self.buf.split("\0\0").next().map(crate::plan::unescape);
                v = folded.is_some_and(|f| self.op.test(&f, &self.needle));
            } else {
                v = v && self.op.test(&self.buf, &self.needle);
            }
            self.seen.insert(ord, v);
            v
        })
    }
}

impl DocPredicate for ResidualCheck {
    type SegmentDocPredicate = SegmentResidual;

    fn doc_predicate(
        &self,
        reader: &SegmentReader,
    ) -> tantivy::Result<ConstOrVariableSegmentPredicate<SegmentResidual>> {
        Ok(match reader.fast_fields().str(self.0.field.name())? {
            None => ConstOrVariableSegmentPredicate::Const(false),
            Some(column) => ConstOrVariableSegmentPredicate::Variable {
                predicate: SegmentResidual {
                    column,
                    op: self.0.op,
                    needle: self.0.needle.clone(),
                    buf: String::new(),
                    seen: std::collections::HashMap::new(),
                    sort_key: self.0.field == IndexField::SortKey,
                },
                necessary_condition: Box::new(tantivy::query::AllScorer::new(reader.max_doc())),
            },
        })
    }
}

/// One page of matches: every match counted, the first `limit` after the
/// search-after key kept.
pub(crate) struct PageCollector {
    /// The sort key (bytes of [`crate::plan::sort_key_bytes`]) to resume after.
    pub after: Option<String>,
    /// Page size.
    pub limit: usize,
    /// The plan's sort-key range, when the whole query is one.
    pub walk: Option<KeyRange>,
    /// The sort-key field (indexed, for ordinal-to-document lookups).
    pub sk: tantivy::schema::Field,
    /// The documents left out (the delta's users' index documents), by
    /// segment.
    pub shadow: HashMap<SegmentId, Arc<ShadowSegment>>,
}

impl PageCollector {
    /// The ordered walk over one segment without deletes: every key in the
    /// range is exactly one live user, so the count is a difference of
    /// ordinals and the page is the next `limit` keys of the dictionary.
    /// The shadow's documents are skipped and their keys not counted.
    fn walk_segment(
        &self,
        walk: &KeyRange,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
        shadow: Option<&ShadowSegment>,
    ) -> tantivy::Result<Page> {
        let inv = reader.inverted_index(self.sk)?;
        let terms = inv.terms();
        let end = terms.num_terms() as u64;
        // The ordinal of the first key >= `key` (the key dictionary is sorted).
        let ord_at = |key: &str| -> std::io::Result<u64> {
            let mut s = terms.range().ge(key.as_bytes()).into_stream()?;
            Ok(if s.advance() { s.term_ord() } else { end })
        };
        let lo = ord_at(&walk.lo)?;
        let hi = match &walk.hi {
            Some(h) => ord_at(h)?,
            None => end,
        };
        let start = match &self.after {
            Some(after) if after.as_str() >= walk.lo.as_str() => Bound::Excluded(after.as_bytes()),
            _ => Bound::Included(walk.lo.as_bytes()),
        };
        let mut builder = match start {
            Bound::Excluded(a) => terms.range().gt(a),
            _ => terms.range().ge(walk.lo.as_bytes()),
        };
        if let Some(h) = &walk.hi {
            builder = builder.lt(h.as_bytes());
        }
        let hi_key = walk.hi.as_ref().map(|h| h.as_bytes());
        let shadowed = |from: Bound<&[u8]>| shadow.map_or(0, |s| s.keys_in(from, hi_key));
        let mut stream = builder.into_stream()?;
        let mut page = Page {
            total: hi
                .saturating_sub(lo)
                .saturating_sub(shadowed(Bound::Included(walk.lo.as_bytes()))),
            remaining: 0,
            hits: Vec::new(),
        };
        let mut first = None;
        while page.hits.len() < self.limit && stream.advance() {
            if first.is_none() {
                first = Some(stream.term_ord());
            }
            let postings =
                inv.read_postings_from_terminfo(stream.value(), IndexRecordOption::Basic)?;
            let doc = tantivy::DocSet::doc(&postings);
            if shadow.is_some_and(|s| s.contains(doc)) {
                continue;
            }
            page.hits
                .push((stream.key().to_vec(), DocAddress::new(segment, doc)));
        }
        if let Some(f) = first {
            page.remaining = hi.saturating_sub(f).saturating_sub(shadowed(start));
        }
        Ok(page)
    }
}

fn lower_ord(b: Bound<u64>) -> u64 {
    match b {
        Bound::Included(n) => n,
        Bound::Excluded(n) => n.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

/// What a search yields before the users are loaded.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// Every match.
    pub total: u64,
    /// Matches after the search-after key.
    pub remaining: u64,
    /// The page, in order.
    pub hits: Vec<(Vec<u8>, DocAddress)>,
}

pub(crate) struct SegmentPage {
    segment: SegmentOrdinal,
    column: Option<StrColumn>,
    ords: Option<Column<u64>>,
    threshold: u64,
    limit: usize,
    total: u64,
    remaining: u64,
    heap: BinaryHeap<(u64, DocId)>,
}

impl Collector for PageCollector {
    type Fruit = Page;
    type Child = SegmentPage;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentPage> {
        let column = reader.fast_fields().str("sk")?;
        let mut threshold = 0;
        if let (Some(col), Some(after)) = (&column, &self.after) {
            let (lo, _) = col
                .dictionary()
                .term_bounds_to_ord(Bound::Excluded(after.as_bytes()), Bound::Unbounded)?;
            threshold = lower_ord(lo);
        }
        Ok(SegmentPage {
            segment,
            ords: column.as_ref().map(|c| c.ords().clone()),
            column,
            threshold,
            limit: self.limit,
            total: 0,
            remaining: 0,
            heap: BinaryHeap::with_capacity(self.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn collect_segment(
        &self,
        weight: &dyn tantivy::query::Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Page> {
        let shadow = self.shadow.get(&reader.segment_id()).map(Arc::as_ref);
        if let Some(walk) = &self.walk
            && reader.alive_bitset().is_none()
        {
            return self.walk_segment(walk, segment, reader, shadow);
        }
        let mut child = self.for_segment(segment, reader)?;
        match (reader.alive_bitset(), shadow) {
            (None, None) => {
                weight.for_each_no_score(reader, &mut |docs| child.collect_block(docs))?
            }
            (alive, shadow) => weight.for_each_no_score(reader, &mut |docs| {
                for &doc in docs {
                    if alive.is_none_or(|a| a.is_alive(doc))
                        && !shadow.is_some_and(|s| s.contains(doc))
                    {
                        child.collect(doc, 0.0);
                    }
                }
            })?,
        }
        Ok(child.harvest())
    }

    fn merge_fruits(&self, fruits: Vec<Page>) -> tantivy::Result<Page> {
        let mut page = Page::default();
        for f in fruits {
            page.total += f.total;
            page.remaining += f.remaining;
            page.hits.extend(f.hits);
        }
        page.hits.sort_by(|a, b| a.0.cmp(&b.0));
        page.hits.truncate(self.limit);
        Ok(page)
    }
}

impl SegmentCollector for SegmentPage {
    type Fruit = Page;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        let Some(ord) = self.ords.as_ref().and_then(|o| o.first(doc)) else {
            return;
        };
        if ord < self.threshold {
            return;
        }
        self.remaining += 1;
        if self.heap.len() < self.limit {
            self.heap.push((ord, doc));
        } else if self.heap.peek().is_some_and(|top| ord < top.0) {
            self.heap.pop();
            self.heap.push((ord, doc));
        }
    }

    fn harvest(self) -> Page {
        let mut hits = Vec::with_capacity(self.heap.len());
        if let Some(col) = &self.column {
            for (ord, doc) in self.heap.into_sorted_vec() {
                let mut key = Vec::new();
                if col.ord_to_bytes(ord, &mut key).unwrap_or(false) {
                    hits.push((key, DocAddress::new(self.segment, doc)));
                }
            }
        }
        Page {
            total: self.total,
            remaining: self.remaining,
            hits,
        }
    }
}
