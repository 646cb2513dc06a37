//! The type binding of envelope v3: a 32-bit fingerprint of a session type's serde shape, so
//! that a cookie sealed for one type never opens as a type of another shape.
//!
//! The shape is traced once, when a codec or an engine is built, by running the type's own
//! `Deserialize` against a deserializer that answers every request with a sample value and
//! writes down what was requested: field names in order, field types, sequences, maps,
//! options, and every enum's variant names with each variant's content. An enum is traced one
//! variant per pass, until a pass finds no variant left; its name and variant names key it,
//! so recursive enums trace too. Struct names and newtype wrappers are left out (postcard does
//! not see them, and renaming a struct is not a change of shape).
//!
//! Types whose `Deserialize` needs a self-describing format (`deserialize_any`:
//! `serde_json::Value`, `untagged`, `flatten`), recurse through a struct, or refuse every
//! sample value cannot be traced: they take an application-chosen context instead.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};

/// Nesting deeper than this is taken for a recursive type.
const MAX_DEPTH: usize = 48;
/// Each pass finds at least one new enum variant; more passes than this is not a session type.
const MAX_PASSES: usize = 512;

/// Why a type's shape could not be traced (the message names the serde construct).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Untraceable(String);

impl fmt::Display for Untraceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Untraceable {}

impl de::Error for Untraceable {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Self(format!("its Deserialize refused a sample value: {message}"))
    }
}

/// The binding of type `T`: the fingerprint of its traced shape.
pub(crate) fn binding_of<T: DeserializeOwned>() -> Result<u32, Untraceable> {
    let mut state = State::default();
    for _ in 0..MAX_PASSES {
        state.buffers = vec![String::new()];
        state.found = false;
        T::deserialize(Tracer {
            state: &mut state,
            depth: 0,
        })?;
        if !state.found {
            return Ok(fingerprint("shape", &state.canonical()));
        }
    }
    Err(Untraceable(format!(
        "it has more enum variants than {MAX_PASSES} passes trace"
    )))
}

/// The binding of an application-chosen context (for a type whose shape cannot be traced).
pub(crate) fn binding_of_context(context: &str) -> u32 {
    fingerprint("context", context)
}

/// FNV-1a (64-bit) over a domain tag and the text, folded to 32 bits: stable across builds,
/// platforms and releases, which a fingerprint sealed into cookies must be. Not a MAC: the
/// header it sits in is authenticated by the AEAD.
fn fingerprint(domain: &str, text: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "sealed-session binding 1\0"
        .bytes()
        .chain(domain.bytes())
        .chain([0])
        .chain(text.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    #[allow(clippy::cast_possible_truncation)] // the fold keeps both halves
    let folded = (hash ^ (hash >> 32)) as u32;
    folded
}

/// What the passes have traced.
#[derive(Default)]
struct State {
    /// Descriptions being written: the root's, then one per enum variant being traced.
    buffers: Vec<String>,
    /// Every enum met, by name and variant names: each variant's content once traced.
    enums: BTreeMap<String, EnumTrace>,
    /// Whether this pass traced a variant no earlier pass had.
    found: bool,
}

struct EnumTrace {
    variants: Vec<Option<String>>,
    in_progress: Vec<bool>,
}

impl State {
    fn write(&mut self, text: &str) {
        if let Some(buffer) = self.buffers.last_mut() {
            buffer.push_str(text);
        }
    }

    /// The root's description, then each enum's variants, in name order.
    fn canonical(&self) -> String {
        let mut out = self.buffers.first().cloned().unwrap_or_default();
        for (key, trace) in &self.enums {
            out.push('\n');
            out.push_str(key);
            for variant in &trace.variants {
                out.push('|');
                out.push_str(variant.as_deref().unwrap_or("?"));
            }
        }
        out
    }
}

struct Tracer<'s> {
    state: &'s mut State,
    depth: usize,
}

impl Tracer<'_> {
    fn deeper(&mut self) -> Result<Tracer<'_>, Untraceable> {
        if self.depth >= MAX_DEPTH {
            return Err(Untraceable(format!(
                "it nests deeper than {MAX_DEPTH} levels (a recursive struct?)"
            )));
        }
        Ok(Tracer {
            state: &mut *self.state,
            depth: self.depth + 1,
        })
    }
}

macro_rules! primitive {
    ($($method:ident => $visit:ident($sample:expr), $name:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
                self.state.write($name);
                visitor.$visit($sample)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = Untraceable;

    // One, not zero, as the sample number: `NonZero*` and calendar types accept it.
    primitive! {
        deserialize_bool => visit_bool(false), "bool";
        deserialize_i8 => visit_i8(1), "i8";
        deserialize_i16 => visit_i16(1), "i16";
        deserialize_i32 => visit_i32(1), "i32";
        deserialize_i64 => visit_i64(1), "i64";
        deserialize_i128 => visit_i128(1), "i128";
        deserialize_u8 => visit_u8(1), "u8";
        deserialize_u16 => visit_u16(1), "u16";
        deserialize_u32 => visit_u32(1), "u32";
        deserialize_u64 => visit_u64(1), "u64";
        deserialize_u128 => visit_u128(1), "u128";
        deserialize_f32 => visit_f32(1.0), "f32";
        deserialize_f64 => visit_f64(1.0), "f64";
        deserialize_char => visit_char('a'), "char";
        deserialize_str => visit_str(""), "str";
        deserialize_string => visit_string(String::new()), "str";
        // Sixteen bytes: what fixed-size byte types (ids, hashes) ask for.
        deserialize_bytes => visit_bytes(&[0; 16]), "bytes";
        deserialize_byte_buf => visit_byte_buf(vec![0; 16]), "bytes";
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Untraceable> {
        self.state.write("unit");
        visitor.visit_unit()
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Untraceable> {
        Err(Untraceable(
            "it needs a self-describing format (deserialize_any: serde_json::Value, untagged, \
             flatten), which postcard cannot read either"
                .into(),
        ))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Untraceable> {
        self.deserialize_any(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Untraceable> {
        self.deserialize_any(v)
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Untraceable> {
        self.state.write("option<");
        let value = visitor.visit_some(self.deeper()?)?;
        self.state.write(">");
        Ok(value)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        visitor.visit_newtype_struct(self.deeper()?)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Untraceable> {
        self.state.write("seq<");
        let value = visitor.visit_seq(Elements {
            tracer: self.deeper()?,
            names: &[],
            left: 1,
            at: 0,
        })?;
        self.state.write(">");
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.state.write(&format!("tuple{len}<"));
        let value = visitor.visit_seq(Elements {
            tracer: self.deeper()?,
            names: &[],
            left: len,
            at: 0,
        })?;
        self.state.write(">");
        Ok(value)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Untraceable> {
        self.state.write("map<");
        let value = visitor.visit_map(Entry {
            tracer: self.deeper()?,
            left: true,
        })?;
        self.state.write(">");
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.state.write("struct{");
        let value = visitor.visit_seq(Elements {
            tracer: self.deeper()?,
            names: fields,
            left: fields.len(),
            at: 0,
        })?;
        self.state.write("}");
        Ok(value)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        let key = format!("{name}{{{}}}", variants.join(","));
        self.state.write("enum ");
        self.state.write(&key);
        let trace = self.state.enums.entry(key.clone()).or_insert(EnumTrace {
            variants: vec![None; variants.len()],
            in_progress: vec![false; variants.len()],
        });
        // A variant no pass has traced (and not the one this pass is inside), else a traced
        // one: a recursive enum ends in the variant that does not recurse.
        let untraced = (0..variants.len()).find(|&i| {
            trace.variants.get(i).is_some_and(Option::is_none)
                && !trace.in_progress.get(i).copied().unwrap_or(true)
        });
        let traced =
            (0..variants.len()).find(|&i| trace.variants.get(i).is_some_and(Option::is_some));
        let Some(index) = untraced.or(traced) else {
            return Err(Untraceable(format!("enum {name} has no variant that ends")));
        };
        if let Some(flag) = trace.in_progress.get_mut(index) {
            *flag = true;
        }
        let tracer = self.deeper()?;
        tracer.state.buffers.push(String::new());
        let value = visitor.visit_enum(Variant { tracer, index });
        let content = self.state.buffers.pop().unwrap_or_default();
        let value = value?;
        if let Some(trace) = self.state.enums.get_mut(&key) {
            if let Some(flag) = trace.in_progress.get_mut(index) {
                *flag = false;
            }
            if let Some(slot @ None) = trace.variants.get_mut(index) {
                *slot = Some(content);
                self.state.found = true;
            }
        }
        Ok(value)
    }

    fn is_human_readable(&self) -> bool {
        // As postcard: types with two encodings (uuid, time, IP addresses) take the compact one.
        false
    }
}

/// A sequence, tuple or struct: `left` elements, each under its field name if it has one.
struct Elements<'s> {
    tracer: Tracer<'s>,
    names: &'static [&'static str],
    left: usize,
    at: usize,
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = Untraceable;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Untraceable> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        if let Some(name) = self.names.get(self.at) {
            self.tracer.state.write(name);
            self.tracer.state.write(":");
        }
        self.at += 1;
        let value = seed.deserialize(Tracer {
            state: &mut *self.tracer.state,
            depth: self.tracer.depth,
        })?;
        self.tracer.state.write(",");
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// A map of one entry.
struct Entry<'s> {
    tracer: Tracer<'s>,
    left: bool,
}

impl<'de> MapAccess<'de> for Entry<'_> {
    type Error = Untraceable;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Untraceable> {
        if !self.left {
            return Ok(None);
        }
        self.left = false;
        let key = seed.deserialize(Tracer {
            state: &mut *self.tracer.state,
            depth: self.tracer.depth,
        })?;
        self.tracer.state.write("=>");
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Untraceable> {
        seed.deserialize(Tracer {
            state: &mut *self.tracer.state,
            depth: self.tracer.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.left))
    }
}

/// The variant a pass traces.
struct Variant<'s> {
    tracer: Tracer<'s>,
    index: usize,
}

impl<'de, 's> EnumAccess<'de> for Variant<'s> {
    type Error = Untraceable;
    type Variant = Tracer<'s>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Tracer<'s>), Untraceable> {
        let index = u32::try_from(self.index)
            .map_err(|_| Untraceable("an enum of more than 2^32 variants".into()))?;
        let variant = seed.deserialize(index.into_deserializer())?;
        Ok((variant, self.tracer))
    }
}

impl<'de> VariantAccess<'de> for Tracer<'_> {
    type Error = Untraceable;

    fn unit_variant(self) -> Result<(), Untraceable> {
        self.state.write("unit");
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, Untraceable> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Untraceable> {
        self.deserialize_struct("", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Profile {
        name: String,
        bio: String,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct User {
        user: String,
        admin: bool,
    }

    #[test]
    fn two_types_that_postcard_confuses_bind_differently() {
        assert_ne!(binding_of::<Profile>(), binding_of::<User>());
    }

    #[test]
    fn the_binding_is_stable_and_ignores_struct_names() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Renamed {
            name: String,
            bio: String,
        }
        assert_eq!(binding_of::<Profile>(), binding_of::<Profile>());
        assert_eq!(binding_of::<Profile>(), binding_of::<Renamed>());
    }

    /// A session type may swap a `HashMap` for a `BTreeMap` (or a `HashSet` for a `BTreeSet`)
    /// without a migration: postcard writes both alike, and the binding agrees (the docs of
    /// `Migrations::write_as` suggest it for the types of a rollout).
    #[test]
    fn hash_and_btree_collections_bind_alike() {
        use std::collections::{BTreeSet, HashMap, HashSet};
        assert_eq!(
            binding_of::<HashMap<String, u32>>(),
            binding_of::<BTreeMap<String, u32>>()
        );
        assert_eq!(
            binding_of::<HashSet<String>>(),
            binding_of::<BTreeSet<String>>()
        );
        assert!(binding_of::<HashMap<String, u32>>().is_ok());
    }

    #[test]
    fn field_names_types_and_order_are_the_shape() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Swapped {
            bio: String,
            name: String,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Wider {
            name: String,
            bio: String,
            visits: u32,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Typed {
            name: String,
            bio: Option<String>,
        }
        let profile = binding_of::<Profile>();
        for other in [
            binding_of::<Swapped>(),
            binding_of::<Wider>(),
            binding_of::<Typed>(),
        ] {
            assert_ne!(profile, other);
        }
    }

    #[test]
    fn every_variant_of_every_enum_is_traced() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        enum Before {
            Guest,
            Member { id: u64 },
            Staff(String, u8),
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        enum After {
            Guest,
            Member { id: u64 },
            Staff(String, u16),
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Holds<E> {
            role: E,
            roles: Vec<E>,
        }
        assert_ne!(binding_of::<Holds<Before>>(), binding_of::<Holds<After>>());
    }

    #[test]
    fn recursive_enums_trace_and_recursive_structs_do_not() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        enum Tree {
            Leaf(u8),
            Node(Box<Tree>, Box<Tree>),
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Node {
            children: Vec<Node>,
        }
        assert!(binding_of::<Tree>().is_ok());
        assert!(binding_of::<Option<Tree>>() != binding_of::<Tree>());
        let error = binding_of::<Node>().unwrap_err();
        assert!(error.to_string().contains("deeper than"), "{error}");
    }

    #[test]
    fn self_describing_types_are_untraceable() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        #[serde(untagged)]
        enum Either {
            Number(u64),
            Text(String),
        }
        let error = binding_of::<Either>().unwrap_err();
        assert!(error.to_string().contains("self-describing"), "{error}");
    }

    #[test]
    fn common_containers_and_validating_types_trace() {
        assert!(binding_of::<HashMap<String, Vec<u8>>>().is_ok());
        assert!(binding_of::<BTreeMap<u32, (bool, char, f64)>>().is_ok());
        assert!(binding_of::<core::num::NonZeroU64>().is_ok());
        assert!(binding_of::<[u8; 16]>().is_ok());
        assert_ne!(
            binding_of::<HashMap<String, u8>>(),
            binding_of::<Vec<(String, u8)>>()
        );
    }

    #[test]
    fn contexts_and_shapes_never_share_a_binding_by_construction() {
        assert_ne!(binding_of_context("str"), fingerprint("shape", "str"));
        assert_eq!(binding_of_context("app"), binding_of_context("app"));
        assert_ne!(binding_of_context("app"), binding_of_context("app2"));
    }
}
