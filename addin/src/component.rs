//! What the Native API layer drives: a [`Component`] describes its properties and methods in static
//! tables and handles them by index; the layer does the name lookup, the index and access checks and
//! every conversion, so a component is ordinary safe Rust. [`find`] is the platform's name lookup:
//! both aliases, case-insensitive for Latin and Cyrillic, independent of the process locale.
use crate::host::Host;
use crate::{Error, Value};

/// A name in the two aliases the platform asks for: 0 English, 1 Russian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    pub en: &'static str,
    pub ru: &'static str,
}

impl Names {
    /// The name for the platform's `alias`: 0 English, 1 Russian, anything else none.
    pub fn alias(&self, alias: i64) -> Option<&'static str> {
        match alias {
            0 => Some(self.en),
            1 => Some(self.ru),
            _ => None,
        }
    }
}

/// One property in a component's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prop {
    pub names: Names,
    pub readable: bool,
    pub writable: bool,
}

/// A default value of a method parameter: constant, so tables can be `static`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    Empty,
    Bool(bool),
    Int(i32),
    Double(f64),
    Str(&'static str),
}

impl DefaultValue {
    pub fn to_value(self) -> Value {
        match self {
            DefaultValue::Empty => Value::Empty,
            DefaultValue::Bool(b) => Value::Bool(b),
            DefaultValue::Int(i) => Value::Int(i),
            DefaultValue::Double(d) => Value::Double(d),
            DefaultValue::Str(s) => Value::Str(s.to_owned()),
        }
    }
}

/// One method in a component's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Method {
    pub names: Names,
    pub params: usize,
    /// A function (`true`) or a procedure.
    pub has_ret: bool,
    /// `defaults[i]` is parameter `i`'s default; parameters past the end have none.
    pub defaults: &'static [Option<DefaultValue>],
}

impl Method {
    pub fn default_of(&self, param: usize) -> Option<DefaultValue> {
        if param < self.params {
            self.defaults.get(param).copied().flatten()
        } else {
            None
        }
    }
}

/// The arguments of one call. A component reads them with [`Params::get`] and changes an argument
/// (a BSL variable passed by reference) with [`Params::set`]; only changed ones are written back.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    values: Vec<Value>,
    changed: Vec<bool>,
}

impl Params {
    pub fn new(values: Vec<Value>) -> Self {
        let changed = vec![false; values.len()];
        Self { values, changed }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Argument `index`; [`Value::Empty`] past the end (a method's table fixes the count anyway).
    pub fn get(&self, index: usize) -> &Value {
        self.values.get(index).unwrap_or(&Value::Empty)
    }

    /// Changes argument `index`; out of range is ignored.
    pub fn set(&mut self, index: usize, value: Value) {
        if let (Some(slot), Some(flag)) = (self.values.get_mut(index), self.changed.get_mut(index)) {
            *slot = value;
            *flag = true;
        }
    }

    /// The arguments the component changed, to be written back to the caller's variables.
    pub fn changed(&self) -> impl Iterator<Item = (usize, &Value)> {
        self.values.iter().enumerate().filter(|(i, _)| self.changed[*i])
    }
}

/// One class of the add-in as the Native API layer sees it. Indexes passed in are always valid for
/// the tables, and property access has already been checked against `readable`/`writable`.
pub trait Component: Send {
    /// The name `RegisterExtensionAs` gives: the last part of `AddIn.<name>.<extension name>`.
    fn extension_name(&self) -> &'static str;
    fn props(&self) -> &'static [Prop];
    fn methods(&self) -> &'static [Method];
    /// Called once at `Init` with the handle for events and background threads.
    fn attach(&mut self, host: Host) {
        let _ = host;
    }
    fn get_prop(&mut self, index: usize) -> Result<Value, Error>;
    fn set_prop(&mut self, index: usize, value: Value) -> Result<(), Error>;
    /// Runs method `index`; `params.len()` equals the method's `params`. A procedure returns `Value::Empty`.
    fn call(&mut self, index: usize, params: &mut Params) -> Result<Value, Error>;
    fn set_locale(&mut self, locale: &str) {
        let _ = locale;
    }
    fn set_user_language(&mut self, code: &str) {
        let _ = code;
    }
    /// Every error an entry point of this object reports (a refused value, a bad argument, a panic),
    /// just before it goes to `AddError`: the place to keep it for an error property. Returns the text
    /// `AddError` shows (in the user's language, say).
    fn failed(&mut self, error: &Error) -> String {
        error.to_string()
    }
    /// The platform is finished with the object: stop work. Threads spawned through [`Host`] are
    /// stopped and joined by the layer right after this returns.
    fn done(&mut self) {}
}

/// The index of the entry called `wanted` in either alias, ignoring case (Latin, Cyrillic with `ё`, and
/// every other script Unicode gives simple case mappings to), without consulting the process locale.
pub fn find<'a>(names: impl IntoIterator<Item = &'a Names>, wanted: &str) -> Option<usize> {
    names.into_iter().position(|n| same_name(n.en, wanted) || same_name(n.ru, wanted))
}

/// Case-insensitive equality by Unicode's lower-case mapping (`char::to_lowercase` is locale-independent).
pub fn same_name(a: &str, b: &str) -> bool {
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [Names; 3] = [
        Names { en: "ServerAddr", ru: "АдресСервера" },
        Names { en: "Version", ru: "Версия" },
        Names { en: "KeyID", ru: "СерияКлючей" },
    ];

    #[test]
    fn names_match_in_both_languages_and_any_case() {
        assert_eq!(find(&TABLE, "aDrEsSeRvErA"), None);
        assert_eq!(find(&TABLE, "serveraddr"), Some(0));
        assert_eq!(find(&TABLE, "адресСЕРВЕРА"), Some(0));
        assert_eq!(find(&TABLE, "ВЕРСИЯ"), Some(1));
        assert_eq!(find(&TABLE, "серияключей"), Some(2));
        assert_eq!(find(&TABLE, "Версия2"), None);
        assert_eq!(find(&TABLE, ""), None);
    }

    #[test]
    fn yo_and_the_whole_cyrillic_alphabet_fold() {
        assert!(same_name("ЁЛКА", "ёлка"));
        assert!(same_name("АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ", "абвгдежзийклмнопрстуфхцчшщъыьэюя"));
        assert!(!same_name("Ёлка", "Елка"));
    }

    #[test]
    fn params_report_only_what_changed() {
        let mut p = Params::new(vec![Value::Int(1), Value::from("a"), Value::Empty]);
        p.set(1, Value::from("b"));
        p.set(7, Value::Int(0));
        let changed: Vec<_> = p.changed().collect();
        assert_eq!(changed, vec![(1, &Value::from("b"))]);
        assert_eq!(p.get(9), &Value::Empty);
    }

    #[test]
    fn defaults_are_looked_up_per_parameter() {
        const M: Method = Method {
            names: Names { en: "M", ru: "М" },
            params: 3,
            has_ret: true,
            defaults: &[None, Some(DefaultValue::Int(5))],
        };
        assert_eq!(M.default_of(0), None);
        assert_eq!(M.default_of(1), Some(DefaultValue::Int(5)));
        assert_eq!(M.default_of(2), None);
        assert_eq!(M.default_of(3), None);
    }
}
