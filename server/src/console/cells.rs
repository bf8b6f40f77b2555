//! A view's values as the console's cells show them. Each value is read through the view's own
//! `Serialize` (the one the API answers with), so a field is named exactly as the API names it and
//! shown as the API sends it: text as it is, numbers and flags as JSON writes them, null as a dash.
//! A page that lists every field of a view ([`fields`]) therefore cannot drift from the API's
//! document, and a column ([`shown`]) reads a typed field, never a field looked up by name.
//!
//! The text here is plain: the template engine escapes it where it lands on a page.

use serde::ser::{self, Impossible, Serialize};
use std::fmt;

/// What a cell shows for a null (absent) value.
pub const ABSENT: &str = "—";

/// One value as a cell shows it. Views hold scalars only; anything else shows as [`ABSENT`].
pub fn shown<T: Serialize + ?Sized>(value: &T) -> String {
    value.serialize(Text).ok().flatten().unwrap_or_else(|| ABSENT.to_owned())
}

/// Every field of a view (a struct), under the name the API gives it, in the API's order; a field
/// the API leaves out of this view's document is left out here too.
pub fn fields<T: Serialize>(view: &T) -> Vec<(&'static str, String)> {
    view.serialize(Fields).unwrap_or_default()
}

/// The value is not a scalar (or, for [`fields`], not a struct): not a view's shape.
#[derive(Debug)]
pub struct NotShown;

impl fmt::Display for NotShown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a view's value")
    }
}

impl std::error::Error for NotShown {}

impl ser::Error for NotShown {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotShown
    }
}

/// Methods that refuse what this serializer does not show.
macro_rules! refuse {
    ($($name:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<$ret, NotShown> { Err(NotShown) })*
    };
}

/// Scalars, each as JSON writes it (a string without its quotes); `None` for null.
struct Text;

macro_rules! shown_as_written {
    ($($name:ident($ty:ty);)*) => {
        $(fn $name(self, v: $ty) -> Result<Option<String>, NotShown> { Ok(Some(v.to_string())) })*
    };
}

impl ser::Serializer for Text {
    type Ok = Option<String>;
    type Error = NotShown;
    type SerializeSeq = Impossible<Self::Ok, NotShown>;
    type SerializeTuple = Impossible<Self::Ok, NotShown>;
    type SerializeTupleStruct = Impossible<Self::Ok, NotShown>;
    type SerializeTupleVariant = Impossible<Self::Ok, NotShown>;
    type SerializeMap = Impossible<Self::Ok, NotShown>;
    type SerializeStruct = Impossible<Self::Ok, NotShown>;
    type SerializeStructVariant = Impossible<Self::Ok, NotShown>;

    shown_as_written! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32); serialize_i64(i64);
        serialize_u8(u8); serialize_u16(u16); serialize_u32(u32); serialize_u64(u64); serialize_char(char);
        serialize_str(&str);
    }

    fn serialize_f32(self, v: f32) -> Result<Self::Ok, NotShown> {
        serde_json::to_string(&v).map(Some).map_err(|_| NotShown)
    }

    fn serialize_f64(self, v: f64) -> Result<Self::Ok, NotShown> {
        serde_json::to_string(&v).map(Some).map_err(|_| NotShown)
    }

    fn serialize_none(self) -> Result<Self::Ok, NotShown> {
        Ok(None)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok, NotShown> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Self::Ok, NotShown> {
        Ok(None)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<Self::Ok, NotShown> {
        Ok(None)
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Self::Ok, NotShown> {
        Ok(Some(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Self::Ok, NotShown> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok, NotShown> {
        Err(NotShown)
    }

    refuse! {
        serialize_bytes(&[u8]) -> Self::Ok;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// A struct's fields, each through [`shown`].
struct Fields;

/// The fields read so far.
struct Collected(Vec<(&'static str, String)>);

impl ser::SerializeStruct for Collected {
    type Ok = Vec<(&'static str, String)>;
    type Error = NotShown;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), NotShown> {
        self.0.push((key, shown(value)));
        Ok(())
    }

    fn end(self) -> Result<Self::Ok, NotShown> {
        Ok(self.0)
    }
}

type Listed = Vec<(&'static str, String)>;

impl ser::Serializer for Fields {
    type Ok = Listed;
    type Error = NotShown;
    type SerializeSeq = Impossible<Listed, NotShown>;
    type SerializeTuple = Impossible<Listed, NotShown>;
    type SerializeTupleStruct = Impossible<Listed, NotShown>;
    type SerializeTupleVariant = Impossible<Listed, NotShown>;
    type SerializeMap = Impossible<Listed, NotShown>;
    type SerializeStruct = Collected;
    type SerializeStructVariant = Impossible<Listed, NotShown>;

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Collected, NotShown> {
        Ok(Collected(Vec::with_capacity(len)))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Listed, NotShown> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Listed, NotShown> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Listed, NotShown> {
        Err(NotShown)
    }

    refuse! {
        serialize_bool(bool) -> Listed;
        serialize_i8(i8) -> Listed;
        serialize_i16(i16) -> Listed;
        serialize_i32(i32) -> Listed;
        serialize_i64(i64) -> Listed;
        serialize_u8(u8) -> Listed;
        serialize_u16(u16) -> Listed;
        serialize_u32(u32) -> Listed;
        serialize_u64(u64) -> Listed;
        serialize_f32(f32) -> Listed;
        serialize_f64(f64) -> Listed;
        serialize_char(char) -> Listed;
        serialize_str(&str) -> Listed;
        serialize_bytes(&[u8]) -> Listed;
        serialize_none() -> Listed;
        serialize_unit() -> Listed;
        serialize_unit_struct(&'static str) -> Listed;
        serialize_unit_variant(&'static str, u32, &'static str) -> Listed;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::time::UtcTime;

    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Sample {
        #[serde(rename = "ID")]
        id: String,
        count: Option<u32>,
        missing: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        left_out: Option<u64>,
        enabled: bool,
        at: UtcTime,
        ratio: f64,
    }

    #[test]
    fn fields_read_as_the_api_writes_them() {
        let at = UtcTime::from_unix_millis(1_700_000_000_000).unwrap();
        let sample =
            Sample { id: "<b>".into(), count: Some(3), missing: None, left_out: None, enabled: true, at, ratio: 1.0 };
        let json = serde_json::to_value(&sample).unwrap();
        let listed = fields(&sample);
        let names: Vec<&str> = listed.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, json.as_object().unwrap().keys().map(String::as_str).collect::<Vec<_>>());
        let values: Vec<&str> = listed.iter().map(|(_, v)| v.as_str()).collect();
        let time = at.to_string();
        assert_eq!(values, ["<b>", "3", ABSENT, "true", time.as_str(), "1.0"]);
        assert_eq!(shown(&Some(5u8)), "5");
        assert_eq!(shown(&None::<u8>), ABSENT);
        assert_eq!(shown(&vec![1]), ABSENT, "not a view's value");
        assert!(fields(&3).is_empty());
    }
}
