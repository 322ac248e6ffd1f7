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

use crate::criteria::eval::Folded;
use crate::criteria::StringField;
use crate::plan::{gram_tag, grams, proficiency_term, sort_key_bytes, tag_term, IndexField};
use crate::records::{Groups, User};

/// The stored field holding the whole user as JSON.
const USER_FIELD: &str = "user";

/// The fields of the user schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub(crate) sk: Field,
    pub(crate) user: Field,
    /// The tantivy field of each planner field, at [`IndexField::index`].
    fields: [Field; IndexField::ALL.len()],
}

impl Fields {
    /// The schema of a new index; [`Fields::from_schema`] then finds its
    /// fields, as for an index read from disk.
    pub(crate) fn schema() -> Schema {
        let mut b = Schema::builder();
        for f in IndexField::ALL {
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
        let mut fields = [Field::from_field_id(0); IndexField::ALL.len()];
        for f in IndexField::ALL {
            fields[f.index()] = schema.get_field(f.name())?;
        }
        Ok(Fields {
            sk: schema.get_field(IndexField::SortKey.name())?,
            user: schema.get_field(USER_FIELD)?,
            fields,
        })
    }

    /// The tantivy field of a planner field.
    pub(crate) fn get(&self, f: IndexField) -> Field {
        self.fields[f.index()]
    }

    /// The document of a user: its index terms ([`index_terms`]) and the
    /// user as JSON.
    pub(crate) fn document(&self, user: &User) -> Result<TantivyDocument, serde_json::Error> {
        let json = serde_json::to_string(user)?;
        let mut d = TantivyDocument::new();
        let mut tokens = Vec::new();
        for (field, term) in index_terms(user, &Folded::of(user)) {
            if field == IndexField::Grams {
                tokens.push(Token {
                    offset_from: 0,
                    offset_to: 0,
                    position: tokens.len(),
                    text: term,
                    position_length: 1,
                });
            } else {
                d.add_text(self.get(field), term);
            }
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
        d.add_text(self.user, json);
        Ok(d)
    }
}

/// Every (field, term) a user's index document holds, the one definition
/// of what the planner's access paths find a user by: the index documents
/// are built from it, and so are the delta's postings of the users written
/// since the last fold. `folded` is [`Folded::of`] `user`.
pub(crate) fn index_terms(user: &User, folded: &Folded) -> Vec<(IndexField, String)> {
    let mut t = vec![(IndexField::Id, user.id.clone())];
    if let Some(arn) = &user.arn {
        t.push((IndexField::Arn, arn.clone()));
    }
    t.push((IndexField::Username, user.username.clone()));
    t.push((
        IndexField::SortKey,
        sort_key_bytes(&folded.username, &user.id),
    ));
    let mut names = vec![(StringField::Username, folded.username.as_str())];
    if let Some(f) = folded.first_name.as_deref() {
        t.push((IndexField::FirstNameFolded, f.to_string()));
        names.push((StringField::FirstName, f));
    }
    if let Some(f) = folded.last_name.as_deref() {
        t.push((IndexField::LastNameFolded, f.to_string()));
        names.push((StringField::LastName, f));
    }
    for (field, name) in names {
        if let Some(tag) = gram_tag(field) {
            t.extend(grams(tag, name).into_iter().map(|g| (IndexField::Grams, g)));
        }
    }
    if let Some(rp) = &user.routing_profile_id {
        t.push((IndexField::RoutingProfile, rp.clone()));
    }
    for sp in user.security_profile_ids.iter().flatten() {
        t.push((IndexField::SecurityProfile, sp.clone()));
    }
    if let Some(g) = &user.hierarchy_group_id {
        t.push((IndexField::Group, g.clone()));
    }
    for (k, v) in user.tags.iter().flatten() {
        t.push((IndexField::TagKey, k.clone()));
        t.push((IndexField::TagKeyValue, tag_term(k, v)));
    }
    for p in user.proficiencies.iter().flatten() {
        t.push((
            IndexField::Proficiency,
            proficiency_term(&p.attribute_name, &p.attribute_value, p.level),
        ));
    }
    t
}

/// Every group a `WITH_CHILD_GROUPS` condition on `group` reaches: the group
/// itself and every known group whose lineage names it.
pub(crate) fn subtree(groups: &Groups, group: &str) -> Vec<String> {
    let mut out = vec![group.to_string()];
    for g in groups.iter() {
        if g.id != group && groups.is_under(&g.id, group) {
            out.push(g.id.clone());
        }
    }
    out
}
