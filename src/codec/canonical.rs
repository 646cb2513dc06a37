//! A value's canonical form: its serde data written out with every map's entries in one
//! order, so that two values that differ only in the order a map lists its entries (a
//! `HashMap` and the one decoded from its encoding, whose hasher has other random keys) have
//! the same form, and any two that differ in anything else do not.
//!
//! Not an encoding to read back, only to compare: each serde value is written unambiguously
//! (integers at their full width, lengths before contents, variants by index), each map entry
//! into a buffer of its own, and the entries sorted by their bytes. Sequences keep their
//! order: serde cannot tell a `HashSet` from a `Vec`, and the order of a `Vec` is data.

use core::fmt::Display;

use serde::Serialize;
use serde::ser::{self, Serializer};

use super::Wiped;

/// The canonical form of `value`; `None` if it cannot be serialized.
pub(crate) fn canonical_form<V: Serialize + ?Sized>(value: &V) -> Option<Wiped> {
    let mut out = Wiped::default();
    value.serialize(Canonical { out: &mut out }).ok()?;
    Some(out)
}

/// Why a value has no canonical form (its `Serialize` failed).
#[derive(Debug)]
pub(crate) struct Unserializable;

impl Display for Unserializable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the value could not be serialized")
    }
}

impl std::error::Error for Unserializable {}

impl ser::Error for Unserializable {
    fn custom<M: Display>(_: M) -> Self {
        Self
    }
}

type Result<T = ()> = core::result::Result<T, Unserializable>;

/// Writes the canonical form to `out`.
struct Canonical<'a> {
    out: &'a mut Wiped,
}

impl Canonical<'_> {
    fn len(&mut self, len: usize) {
        self.out.extend_from_slice(&(len as u64).to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.out.extend_from_slice(bytes);
    }

    fn variant(&mut self, index: u32) {
        self.out.extend_from_slice(&index.to_le_bytes());
    }
}

impl<'a> Serializer for Canonical<'a> {
    type Ok = ();
    type Error = Unserializable;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Entries<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn is_human_readable(&self) -> bool {
        // As postcard: types that serialize differently for text formats take their compact
        // form, the one sealed.
        false
    }

    fn serialize_bool(self, v: bool) -> Result {
        self.out.push(u8::from(v));
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result {
        self.out.push(v);
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result {
        self.out.extend_from_slice(&u32::from(v).to_le_bytes());
        Ok(())
    }

    fn serialize_str(mut self, v: &str) -> Result {
        self.bytes(v.as_bytes());
        Ok(())
    }

    fn serialize_bytes(mut self, v: &[u8]) -> Result {
        self.bytes(v);
        Ok(())
    }

    fn serialize_none(self) -> Result {
        self.out.push(0);
        Ok(())
    }

    fn serialize_some<V: Serialize + ?Sized>(self, value: &V) -> Result {
        self.out.push(1);
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Ok(())
    }

    fn serialize_unit_variant(mut self, _: &'static str, index: u32, _: &'static str) -> Result {
        self.variant(index);
        Ok(())
    }

    fn serialize_newtype_struct<V: Serialize + ?Sized>(self, _: &'static str, value: &V) -> Result {
        value.serialize(self)
    }

    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &V,
    ) -> Result {
        self.variant(index);
        value.serialize(self)
    }

    fn serialize_seq(mut self, len: Option<usize>) -> Result<Self> {
        // A sequence of unknown length (which postcard refuses to seal) has no form either:
        // its length could not come first.
        self.len(len.ok_or(Unserializable)?);
        Ok(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }

    fn serialize_tuple_variant(
        mut self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self> {
        self.variant(index);
        Ok(self)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Entries<'a>> {
        Ok(Entries {
            out: self.out,
            entries: Vec::new(),
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }

    fn serialize_struct_variant(
        mut self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self> {
        self.variant(index);
        Ok(self)
    }
}

impl Canonical<'_> {
    fn element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        value.serialize(Canonical { out: self.out })
    }
}

impl ser::SerializeSeq for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTuple for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeStruct for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, _: &'static str, value: &V) -> Result {
        self.element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, _: &'static str, value: &V) -> Result {
        self.element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

/// A map's entries, each written into a buffer of its own (the key with its length, then the
/// value), sorted and appended once the map ends.
struct Entries<'a> {
    out: &'a mut Wiped,
    entries: Vec<Wiped>,
}

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result {
        let mut key_form = Wiped::default();
        key.serialize(Canonical { out: &mut key_form })?;
        let mut entry = Wiped::default();
        Canonical { out: &mut entry }.bytes(&key_form);
        self.entries.push(entry);
        Ok(())
    }

    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        // serde calls `serialize_key` first; a value without one is a broken `Serialize`.
        let entry = self.entries.last_mut().ok_or(Unserializable)?;
        value.serialize(Canonical { out: entry })
    }

    fn end(mut self) -> Result {
        // Each key and each entry goes in with its length: whatever a `Serialize` writes,
        // two different sets of entries never give the same bytes.
        self.entries
            .sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        let mut map = Canonical { out: self.out };
        map.len(self.entries.len());
        for entry in &self.entries {
            map.bytes(entry);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Cart {
        owner: String,
        items: HashMap<String, u32>,
        nested: Vec<HashMap<u8, Option<String>>>,
    }

    fn cart(entries: &[(&str, u32)], reversed: bool) -> Cart {
        let mut items = HashMap::new();
        let mut ordered: Vec<_> = entries.to_vec();
        if reversed {
            ordered.reverse();
        }
        for (name, count) in ordered {
            items.insert(name.to_owned(), count);
        }
        let nested = vec![HashMap::from([(1, Some("a".to_owned())), (2, None)])];
        Cart {
            owner: "alice".to_owned(),
            items,
            nested,
        }
    }

    /// The same entries, whatever order each map lists them in, have one form; a map ordered
    /// by its keys has it too.
    #[test]
    fn maps_listed_in_any_order_have_one_form() {
        let entries: Vec<(String, u32)> = (0..64).map(|i| (format!("item-{i}"), i)).collect();
        let entries: Vec<(&str, u32)> = entries.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let forward = canonical_form(&cart(&entries, false)).unwrap();
        let backward = canonical_form(&cart(&entries, true)).unwrap();
        assert_eq!(forward, backward);
        let sorted: BTreeMap<_, _> = entries.iter().copied().collect();
        let hashed: HashMap<_, _> = entries.iter().copied().collect();
        assert_eq!(
            canonical_form(&sorted).unwrap(),
            canonical_form(&hashed).unwrap()
        );
    }

    /// Any other difference, however small, changes the form.
    #[test]
    fn every_other_difference_changes_the_form() {
        let base = canonical_form(&cart(&[("a", 1), ("b", 2)], false)).unwrap();
        for other in [
            cart(&[("a", 1), ("b", 3)], false),
            cart(&[("a", 1)], false),
            cart(&[("a", 1), ("b", 2), ("c", 0)], false),
            cart(&[("a", 2), ("b", 1)], false),
            cart(&[("ab", 1), ("", 2)], false),
        ] {
            assert_ne!(canonical_form(&other).unwrap(), base);
        }
        // Keys and values do not run into each other.
        let split = HashMap::from([("ab".to_owned(), "c".to_owned())]);
        let moved = HashMap::from([("a".to_owned(), "bc".to_owned())]);
        assert_ne!(
            canonical_form(&split).unwrap(),
            canonical_form(&moved).unwrap()
        );
        // A sequence's order is data.
        assert_ne!(
            canonical_form(&vec![1u8, 2]).unwrap(),
            canonical_form(&vec![2u8, 1]).unwrap()
        );
        // Variants are told apart by index, options by their tag.
        assert_ne!(
            canonical_form(&Some(0u8)).unwrap(),
            canonical_form(&None::<u8>).unwrap()
        );
    }
}
