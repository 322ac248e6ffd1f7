//! The tantivy schema of a user document and how a [`User`] becomes one.
//!
//! Every [`IndexField`] of the planner is a raw (untokenised) string field;
//! the name fields are indexed case-folded, the grams field holds the 2- and
//! 3-character windows of the folded names, and `sk` is the sort key as a
//! fast field. The whole user is kept as JSON in the stored field `user`.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::TantivyDocument;

use crate::criteria::fold;
use crate::plan::{gram_tag, grams, proficiency_term, sort_key_bytes, tag_term, IndexField};
use crate::records::{Groups, User};

/// The stored field holding the whole user as JSON.
const USER_FIELD: &str = "user";

/// The fields of the user schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub(crate) sk: Field,
    pub(crate) user: Field,
    fields: Vec<(IndexField, Field)>,
}

const ALL_FIELDS: [IndexField; 13] = [
    IndexField::Id,
    IndexField::Arn,
    IndexField::Username,
    IndexField::SortKey,
    IndexField::FirstNameFolded,
    IndexField::LastNameFolded,
    IndexField::Grams,
    IndexField::RoutingProfile,
    IndexField::SecurityProfile,
    IndexField::Group,
    IndexField::TagKeyValue,
    IndexField::TagKey,
    IndexField::Proficiency,
];

impl Fields {
    /// The schema of a new index; [`Fields::from_schema`] then finds its
    /// fields, as for an index read from disk.
    pub(crate) fn schema() -> Schema {
        let mut b = Schema::builder();
        for f in ALL_FIELDS {
            let opts = match f {
                IndexField::Grams => TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer("raw")
                        .set_index_option(IndexRecordOption::Basic),
                ),
                IndexField::SortKey | IndexField::FirstNameFolded | IndexField::LastNameFolded => {
                    STRING | FAST
                }
                _ => STRING,
            };
            b.add_text_field(f.name(), opts);
        }
        b.add_text_field(USER_FIELD, STORED);
        b.build()
    }

    /// Reads the fields of an existing index's schema.
    pub(crate) fn from_schema(schema: &Schema) -> tantivy::Result<Fields> {
        let mut fields = Vec::new();
        for f in ALL_FIELDS {
            fields.push((f, schema.get_field(f.name())?));
        }
        Ok(Fields {
            sk: schema.get_field(IndexField::SortKey.name())?,
            user: schema.get_field(USER_FIELD)?,
            fields,
        })
    }

    /// The tantivy field of a planner field.
    pub(crate) fn get(&self, f: IndexField) -> Field {
        self.fields
            .iter()
            .find(|(k, _)| *k == f)
            .map(|(_, v)| *v)
            .unwrap_or(self.sk)
    }

    /// The document of a user: its index terms and the user as JSON.
    pub(crate) fn document(&self, user: &User) -> Result<TantivyDocument, serde_json::Error> {
        let json = serde_json::to_string(user)?;
        let mut d = TantivyDocument::new();
        let add = |d: &mut TantivyDocument, f: IndexField, v: &str| d.add_text(self.get(f), v);
        add(&mut d, IndexField::Id, &user.id);
        if let Some(arn) = &user.arn {
            add(&mut d, IndexField::Arn, arn);
        }
        add(&mut d, IndexField::Username, &user.username);
        let uname_f = fold(&user.username);
        add(
            &mut d,
            IndexField::SortKey,
            &sort_key_bytes(&uname_f, &user.id),
        );
        let mut tokens = Vec::new();
        let mut push_grams = |tag: char, folded: &str| {
            for g in grams(tag, folded) {
                tokens.push(Token {
                    offset_from: 0,
                    offset_to: 0,
                    position: tokens.len(),
                    text: g,
                    position_length: 1,
                });
            }
        };
        if let Some(tag) = gram_tag(crate::criteria::StringField::Username) {
            push_grams(tag, &uname_f);
        }
        if let Some(first) = user.first_name() {
            let f = fold(first);
            push_grams('f', &f);
            add(&mut d, IndexField::FirstNameFolded, &f);
        }
        if let Some(last) = user.last_name() {
            let f = fold(last);
            push_grams('l', &f);
            add(&mut d, IndexField::LastNameFolded, &f);
        }
        if !tokens.is_empty() {
            d.add_pre_tokenized_text(
                self.get(IndexField::Grams),
                PreTokenizedString {
                    text: String::new(),
                    tokens,
                },
            );
        }
        if let Some(rp) = &user.routing_profile_id {
            add(&mut d, IndexField::RoutingProfile, rp);
        }
        for sp in user.security_profile_ids.iter().flatten() {
            add(&mut d, IndexField::SecurityProfile, sp);
        }
        if let Some(g) = &user.hierarchy_group_id {
            add(&mut d, IndexField::Group, g);
        }
        for (k, v) in user.tags.iter().flatten() {
            add(&mut d, IndexField::TagKey, k);
            add(&mut d, IndexField::TagKeyValue, &tag_term(k, v));
        }
        for p in user.proficiencies.iter().flatten() {
            add(
                &mut d,
                IndexField::Proficiency,
                &proficiency_term(&p.attribute_name, &p.attribute_value, p.level),
            );
        }
        d.add_text(self.user, json);
        Ok(d)
    }
}

/// Every group a `WITH_CHILD_GROUPS` condition on `group` reaches: the group
/// itself and every known group whose lineage names it.
pub(crate) fn subtree(groups: &Groups, group: &str) -> Vec<String> {
    let mut out = vec![group.to_string()];
    for g in groups.iter() {
        if g.id != group && groups.lineage(&g.id).iter().any(|a| a == group) {
            out.push(g.id.clone());
        }
    }
    out
}
