//! The one JSON reader of every request, record and import line: AWS's JSON
//! protocols read structures from JSON objects only.
//!
//! serde's derived `Deserialize` also reads a structure from a JSON array,
//! positionally (`["positional-id"]` would be a `CreateCollection` of
//! `positional-id`). [`from_str`] wraps `serde_json`'s deserializer so that
//! every structure, at every depth, must be an object: an array there is a
//! type error like any other (`SerializationException` at the edges).
//! Everything else is `serde_json`'s own strictness: no string is read as a
//! number, no number as a string, no float as an integer.
//!
//! The error says where in the document it went wrong ([`JsonError::path`],
//! `SearchCriteria.AndConditions[0]`), what kind of error it is
//! ([`JsonErrorKind`]) and serde's description.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// What kind of JSON error it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Not JSON at all, or cut short: `{"CollectionId": "a"`.
    Syntax,
    /// JSON, but a value of the wrong type: `{"MaxResults": "5"}`, or an
    /// array where a structure belongs: `["positional-id"]`.
    Type,
    /// A required member is absent: `{}` where `CollectionId` is required.
    Missing,
    /// A member the shape does not have (for shapes that refuse unknown
    /// members): `{"CollectionId": "a", "Colour": 1}`.
    Unknown,
}

/// Why a JSON text is not the shape it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct JsonError {
    /// The path of the offending value (`Image.Bytes`, `Users[2]`); empty
    /// for the document itself.
    pub path: String,
    /// The kind of error.
    pub kind: JsonErrorKind,
    /// serde's description (`invalid type: string "5", expected u32`).
    pub message: String,
}

/// Reads `text` as a `T`, with structures from objects only: a positional
/// `["c1"]` is a [`JsonErrorKind::Type`] error, a missing member
/// [`JsonErrorKind::Missing`], a cut document [`JsonErrorKind::Syntax`]
/// (the unit test `from_str_reads_objects_only` shows each).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    // The common case, a well-formed document, is read without tracking the
    // path; only a failure is read again to say where it failed.
    if let Some(value) = try_from_str(text) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(Strict(&mut de)).map_err(classify)?;
    de.end().map_err(|e| JsonError {
        path: String::new(),
        kind: JsonErrorKind::Syntax,
        message: e.to_string(),
    })?;
    Ok(value)
}

/// Reads `text` as a `T` with the same rule, without saying why not: the
/// fast path of [`from_str`], for callers that try another reading when
/// this one fails.
pub(crate) fn try_from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Strict(&mut de)).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Reads an already parsed value as a `T`, with the same rule (an array
/// is never a structure).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(Strict(value)).map_err(classify)
}

fn classify(e: serde_path_to_error::Error<serde_json::Error>) -> JsonError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let message = inner.to_string();
    let kind = match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            JsonErrorKind::Syntax
        }
        serde_json::error::Category::Io => JsonErrorKind::Syntax,
        serde_json::error::Category::Data if message.starts_with("missing field") => {
            JsonErrorKind::Missing
        }
        serde_json::error::Category::Data if message.starts_with("unknown field") => {
            JsonErrorKind::Unknown
        }
        serde_json::error::Category::Data => JsonErrorKind::Type,
    };
    // serde_json appends " at line L column C" to data errors; the path
    // says where, which is what a request's author can act on.
    let message = match (kind, message.rfind(" at line ")) {
        (JsonErrorKind::Syntax, _) | (_, None) => message,
        (_, Some(i)) => message[..i].to_string(),
    };
    JsonError {
        path: if path == "." { String::new() } else { path },
        kind,
        message,
    }
}

/// A deserializer that reads structures from maps only; everything else is
/// passed to the wrapped deserializer, and every nested value is wrapped
/// again.
struct Strict<D>(D);

/// The visitor of a structure: a map is read as usual, a sequence refused.
struct StructOnly<V>(V);

/// A visitor, access or seed whose nested deserializers are wrapped.
struct Wrap<V>(V);

macro_rules! forward {
    ($($method:ident),*) => {
        $(fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.0.$method(Wrap(v))
        })*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, Wrap(v))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(v))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, Wrap(v))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(v))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(name, fields, StructOnly(Wrap(v)))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, Wrap(v))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! visit_forward {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.0.$method(v)
        })*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    visit_forward!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_str: &str,
        visit_borrowed_str: &'de str,
        visit_string: String,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(Wrap(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(Wrap(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.0.visit_enum(Wrap(data))
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StructOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(" (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0.next_element_seed(Wrap(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.0.next_key_seed(Wrap(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.0.next_value_seed(Wrap(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<A> {
    type Error = A::Error;
    type Variant = Wrap<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Self::Error> {
        self.0
            .variant_seed(Wrap(seed))
            .map(|(value, variant)| (value, Wrap(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.0.newtype_variant_seed(Wrap(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Self::Error> {
        self.0.tuple_variant(len, Wrap(v))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.struct_variant(fields, StructOnly(Wrap(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn from_str_reads_objects_only() {
        #[derive(serde::Deserialize, Debug)]
        struct Req {
            #[serde(rename = "CollectionId")]
            collection_id: String,
        }
        let ok: Req = from_str(r#"{"CollectionId": "c1"}"#).unwrap();
        assert_eq!(ok.collection_id, "c1");
        let positional = from_str::<Req>(r#"["c1"]"#).unwrap_err();
        assert_eq!(positional.kind, JsonErrorKind::Type);
        assert_eq!(
            from_str::<Req>("{}").unwrap_err().kind,
            JsonErrorKind::Missing
        );
        assert_eq!(
            from_str::<Req>(r#"{"CollectionId": 7}"#).unwrap_err().path,
            "CollectionId"
        );
        assert_eq!(
            from_str::<Req>("{").unwrap_err().kind,
            JsonErrorKind::Syntax
        );
        assert!(from_value::<Req>(serde_json::json!(["c1"])).is_err());
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        value: String,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Outer {
        id: Option<String>,
        max: Option<u32>,
        #[serde(default)]
        items: Vec<Inner>,
        inner: Option<Inner>,
        tags: Option<BTreeMap<String, String>>,
    }

    #[test]
    fn structures_come_from_objects_at_every_depth() {
        let ok: Outer = from_str(
            r#"{"Id": "a", "Max": 3, "Items": [{"Value": "x"}], "Inner": {"Value": "y"}, "Tags": {"k": "v"}}"#,
        )
        .unwrap();
        assert_eq!(ok.items[0].value, "x");
        assert_eq!(ok.inner.unwrap().value, "y");
        for (text, path) in [
            (r#"["a", 3]"#, ""),
            (r#"{"Inner": ["y"]}"#, "Inner"),
            (r#"{"Items": [["x"]]}"#, "Items[0]"),
            (r#"{"Max": "3"}"#, "Max"),
            (r#"{"Max": 3.5}"#, "Max"),
            (r#"{"Id": 7}"#, "Id"),
            (r#"{"Tags": [["k", "v"]]}"#, "Tags"),
        ] {
            let e = from_str::<Outer>(text).unwrap_err();
            assert_eq!(
                (e.kind, e.path.as_str()),
                (JsonErrorKind::Type, path),
                "{text}"
            );
        }
    }

    #[test]
    fn trailing_text_and_cut_documents_are_syntax_errors() {
        for text in [r#"{"Id": "a"} x"#, r#"{"Id": "a""#, "", "nul"] {
            assert_eq!(
                from_str::<Outer>(text).unwrap_err().kind,
                JsonErrorKind::Syntax,
                "{text}"
            );
        }
    }

    #[test]
    fn values_read_the_same_way() {
        let e = from_value::<Outer>(serde_json::json!({"Inner": ["y"]})).unwrap_err();
        assert_eq!((e.kind, e.path.as_str()), (JsonErrorKind::Type, "Inner"));
        let v: Outer = from_value(serde_json::json!({"Id": "a"})).unwrap();
        assert_eq!(v.id.as_deref(), Some("a"));
    }
}
