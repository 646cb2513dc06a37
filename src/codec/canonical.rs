//! A value's canonical form: its serde data written out with every map's entries in one
//! order, so that two values that differ only in the order a map lists its entries (a
//! `HashMap` and the one decoded from its encoding, whose hasher has other random keys) have
//! the same form. For a type whose serde shape depends on the type alone (no
//! `skip_serializing_if`, `untagged` or hand-written `Serialize` that changes with the value),
//! two values that differ in anything else do not.
//!
//! Not an encoding to read back, only to compare: each serde value is written unambiguously
//! (integers at their full width, lengths before contents, variants by index), each map entry
//! into a buffer of its own, and the entries sorted by their bytes. Sequences keep their
//! order: serde cannot tell a `HashSet` from a `Vec`, and the order of a `Vec` is data. Nor
//! can it tell an ordered map (`IndexMap`) from a `HashMap`: a map's order is never data here.
//!
//! Every buffer holds session data: each grows through [`Wiped::append`], which wipes the
//! block it leaves (RT3-7).

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
    fn write(&mut self, bytes: &[u8]) -> Result {
        self.out.append(bytes);
        Ok(())
    }

    fn write_len(&mut self, len: usize) -> Result {
        self.write(&(len as u64).to_le_bytes())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result {
        self.write_len(bytes.len())?;
        self.write(bytes)
    }

    fn write_variant(&mut self, index: u32) -> Result {
        self.write(&index.to_le_bytes())
    }

    fn write_element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        value.serialize(Canonical { out: self.out })
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

    fn serialize_bool(mut self, v: bool) -> Result {
        self.write(&[u8::from(v)])
    }

    fn serialize_i8(mut self, v: i8) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_i16(mut self, v: i16) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_i32(mut self, v: i32) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_i64(mut self, v: i64) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_i128(mut self, v: i128) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_u8(mut self, v: u8) -> Result {
        self.write(&[v])
    }

    fn serialize_u16(mut self, v: u16) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_u32(mut self, v: u32) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_u64(mut self, v: u64) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_u128(mut self, v: u128) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_f32(mut self, v: f32) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_f64(mut self, v: f64) -> Result {
        self.write(&v.to_le_bytes())
    }

    fn serialize_char(mut self, v: char) -> Result {
        self.write(&u32::from(v).to_le_bytes())
    }

    fn serialize_str(mut self, v: &str) -> Result {
        self.write_bytes(v.as_bytes())
    }

    fn serialize_bytes(mut self, v: &[u8]) -> Result {
        self.write_bytes(v)
    }

    fn collect_str<D: Display + ?Sized>(mut self, value: &D) -> Result {
        // Formatted into session data: serde's default would grow a `String` and free its
        // blocks unwiped.
        let mut text = Wiped::default();
        core::fmt::Write::write_fmt(&mut text, format_args!("{value}"))
            .map_err(|_| Unserializable)?;
        self.write_bytes(&text)
    }

    fn serialize_none(mut self) -> Result {
        self.write(&[0])
    }

    fn serialize_some<V: Serialize + ?Sized>(mut self, value: &V) -> Result {
        self.write(&[1])?;
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Ok(())
    }

    fn serialize_unit_variant(mut self, _: &'static str, index: u32, _: &'static str) -> Result {
        self.write_variant(index)
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
        self.write_variant(index)?;
        value.serialize(self)
    }

    fn serialize_seq(mut self, len: Option<usize>) -> Result<Self> {
        // A sequence of unknown length (which postcard refuses to seal) has no form either:
        // its length could not come first.
        self.write_len(len.ok_or(Unserializable)?)?;
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
        self.write_variant(index)?;
        Ok(self)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Entries<'a>> {
        Ok(Entries {
            out: self.out,
            entries: Vec::new(),
            awaiting_value: false,
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
        self.write_variant(index)?;
        Ok(self)
    }
}

impl ser::SerializeSeq for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.write_element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTuple for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_element<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.write_element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.write_element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.write_element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeStruct for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, _: &'static str, value: &V) -> Result {
        self.write_element(value)
    }

    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Canonical<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_field<V: Serialize + ?Sized>(&mut self, _: &'static str, value: &V) -> Result {
        self.write_element(value)
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
    /// A key was written, its value not yet: serde alternates the two, and a `Serialize` that
    /// does not has no form (two such maps could otherwise give the same bytes).
    awaiting_value: bool,
}

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = Unserializable;

    fn serialize_key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result {
        if self.awaiting_value {
            return Err(Unserializable);
        }
        let mut key_form = Wiped::default();
        key.serialize(Canonical { out: &mut key_form })?;
        let mut entry = Wiped::default();
        Canonical { out: &mut entry }.write_bytes(&key_form)?;
        self.entries.push(entry);
        self.awaiting_value = true;
        Ok(())
    }

    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        let entry = match self.entries.last_mut() {
            Some(entry) if self.awaiting_value => entry,
            _ => return Err(Unserializable),
        };
        self.awaiting_value = false;
        value.serialize(Canonical { out: entry })
    }

    fn end(mut self) -> Result {
        if self.awaiting_value {
            return Err(Unserializable);
        }
        // Each key and each entry goes in with its length: whatever a `Serialize` writes,
        // two different sets of entries never give the same bytes.
        self.entries
            .sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        let mut map = Canonical { out: self.out };
        map.write_len(self.entries.len())?;
        for entry in &self.entries {
            map.write_bytes(entry)?;
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
        // Nor do they when their own bytes carry no length: a key of one byte and a value of
        // two, against a key of two and a value of one, are the same three bytes once
        // concatenated (a hand-written `Serialize` whose shape depends on the value).
        #[derive(PartialEq, Eq, Hash)]
        enum Width {
            Byte(u8),
            Pair(u16),
        }
        impl Serialize for Width {
            fn serialize<S: Serializer>(
                &self,
                serializer: S,
            ) -> core::result::Result<S::Ok, S::Error> {
                match self {
                    Self::Byte(byte) => serializer.serialize_u8(*byte),
                    Self::Pair(pair) => serializer.serialize_u16(*pair),
                }
            }
        }
        let short_key = HashMap::from([(Width::Byte(1), Width::Pair(0x0302))]);
        let long_key = HashMap::from([(Width::Pair(0x0201), Width::Byte(3))]);
        assert_ne!(
            canonical_form(&short_key).unwrap(),
            canonical_form(&long_key).unwrap()
        );
        // One entry whose value holds the bytes of a second entry is not two entries.
        struct Raw(Vec<u8>);
        impl Serialize for Raw {
            fn serialize<S: Serializer>(
                &self,
                serializer: S,
            ) -> core::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeTuple as _;
                let mut tuple = serializer.serialize_tuple(self.0.len())?;
                for byte in &self.0 {
                    tuple.serialize_element(byte)?;
                }
                tuple.end()
            }
        }
        let mut hidden = vec![7];
        hidden.extend_from_slice(&1u64.to_le_bytes());
        hidden.extend_from_slice(&[2, 9]);
        let one_entry = BTreeMap::from([(1u8, Raw(hidden))]);
        let two_entries = BTreeMap::from([(1u8, Raw(vec![7])), (2u8, Raw(vec![9]))]);
        assert_ne!(
            canonical_form(&one_entry).unwrap(),
            canonical_form(&two_entries).unwrap()
        );
        // A sequence's order is data.
        assert_ne!(
            canonical_form(&vec![1u8, 2]).unwrap(),
            canonical_form(&vec![2u8, 1]).unwrap()
        );
        // Options are told apart by their tag, variants by their index.
        assert_ne!(
            canonical_form(&Some(0u8)).unwrap(),
            canonical_form(&None::<u8>).unwrap()
        );
        #[derive(Serialize)]
        enum Plan {
            Free,
            Paid,
            Trial(u8),
            Team { seats: u8 },
        }
        let forms: Vec<Wiped> = [
            Plan::Free,
            Plan::Paid,
            Plan::Trial(0),
            Plan::Team { seats: 0 },
        ]
        .iter()
        .map(|plan| canonical_form(plan).unwrap())
        .collect();
        for (i, a) in forms.iter().enumerate() {
            for b in &forms[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    /// A `Display` value (`collect_str`) is its text.
    #[test]
    fn a_collected_string_is_its_text() {
        struct Shown;
        impl Serialize for Shown {
            fn serialize<S: Serializer>(
                &self,
                serializer: S,
            ) -> core::result::Result<S::Ok, S::Error> {
                serializer.collect_str(&format_args!("{}-{}", "a", 1))
            }
        }
        assert_eq!(
            canonical_form(&Shown).unwrap(),
            canonical_form("a-1").unwrap()
        );
    }

    /// A map whose `Serialize` does not alternate keys and values has no form.
    #[test]
    fn a_map_of_values_without_keys_has_no_form() {
        use serde::ser::SerializeMap as _;
        struct Broken(&'static [(bool, u8)]);
        impl Serialize for Broken {
            fn serialize<S: Serializer>(
                &self,
                serializer: S,
            ) -> core::result::Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                for &(is_key, byte) in self.0 {
                    if is_key {
                        map.serialize_key(&byte)?;
                    } else {
                        map.serialize_value(&byte)?;
                    }
                }
                map.end()
            }
        }
        assert!(canonical_form(&Broken(&[(true, 1), (false, 2)])).is_some());
        assert!(canonical_form(&Broken(&[(false, 2)])).is_none());
        assert!(canonical_form(&Broken(&[(true, 1), (false, 2), (false, 3)])).is_none());
        assert!(canonical_form(&Broken(&[(true, 1), (true, 2)])).is_none());
        assert!(canonical_form(&Broken(&[(true, 1), (true, 2), (false, 3)])).is_none());
        assert!(canonical_form(&Broken(&[(true, 1)])).is_none());
    }
}
