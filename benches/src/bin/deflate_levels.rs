//! The DEFLATE level of `compression(true)` (src/codec/compress.rs `LEVEL`): compressed size
//! and instructions per level on session-like data, compressed the way the crate does it (one
//! reused raw-DEFLATE `CompressorOxide`, reset after every use, an output buffer one byte
//! shorter than the input, one `Finish` call).
//!
//! ```text
//! cargo run --profile bench -p sealed-session-bench --bin deflate_levels   # sizes
//! benches/deflate_levels.sh                                         # sizes and instructions
//! ```
//!
//! With `LEVEL DATASET REPS` it compresses one data set `REPS` times at one level (for
//! callgrind; `benches/deflate_levels.sh` runs every pair and prints the table); without
//! arguments it prints every data set's encoded and compressed size at every level.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a measurement program: it reports on stdout and aborts loudly on bad arguments"
)]

use std::collections::BTreeMap;

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};
use serde::Serialize;

/// The levels compared (0 stores; 10 is miniz's "uber" level).
const LEVELS: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 9];

#[derive(Serialize)]
struct CartItem {
    sku: String,
    name: String,
    quantity: u32,
    price_cents: u64,
    options: Vec<(String, String)>,
}

#[derive(Serialize)]
struct Shop {
    user_id: u64,
    email: String,
    csrf: String,
    cart: Vec<CartItem>,
    recently_viewed: Vec<String>,
}

/// A deterministic xorshift stream, for ids and tokens that do not repeat.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len)
            .map(|_| char::from(ALPHABET[usize::try_from(self.next() % 64).unwrap()]))
            .collect()
    }
}

const PRODUCTS: [&str; 12] = [
    "Trail running shoe",
    "Merino wool socks (3 pairs)",
    "Waterproof shell jacket",
    "Insulated water bottle 750 ml",
    "Headlamp, 400 lumen",
    "Ultralight tent, 2 person",
    "Down sleeping bag -5 C",
    "Trekking poles, carbon",
    "Base layer top, long sleeve",
    "Rain cover for backpack",
    "Camp stove with igniter",
    "First aid kit, compact",
];

/// A shop session: a cart of `items` products with options, a CSRF token, recently viewed
/// product URLs.
fn shop(items: usize, rng: &mut Xorshift) -> Vec<u8> {
    let cart = (0..items)
        .map(|i| CartItem {
            sku: format!("SKU-{:06}", rng.next() % 1_000_000),
            name: PRODUCTS[i % PRODUCTS.len()].to_owned(),
            quantity: u32::try_from(rng.next() % 4 + 1).unwrap(),
            price_cents: rng.next() % 40_000,
            options: vec![
                ("size".to_owned(), ["S", "M", "L", "XL"][i % 4].to_owned()),
                (
                    "color".to_owned(),
                    ["black", "forest green", "slate"][i % 3].to_owned(),
                ),
            ],
        })
        .collect();
    let recently_viewed = (0..items)
        .map(|i| {
            format!(
                "https://shop.example.com/outdoor/{}/p/{}?ref=search&page={}",
                ["footwear", "clothing", "camping", "accessories"][i % 4],
                rng.next() % 100_000,
                i % 5 + 1
            )
        })
        .collect();
    postcard::to_allocvec(&Shop {
        user_id: rng.next(),
        email: "alice.example@example.com".to_owned(),
        csrf: rng.token(43),
        cart,
        recently_viewed,
    })
    .unwrap()
}

/// Preferences and feature flags: a map of `entries` short keys to short values.
fn map(entries: usize, rng: &mut Xorshift) -> Vec<u8> {
    let map: BTreeMap<String, String> = (0..entries)
        .map(|i| {
            let key = format!(
                "{}.{}",
                ["ui", "feature", "notify", "locale", "experiment"][i % 5],
                [
                    "theme",
                    "density",
                    "checkout_v2",
                    "email_digest",
                    "timezone",
                    "banner"
                ][i % 6]
            ) + &format!("_{i}");
            let value = match i % 4 {
                0 => "enabled".to_owned(),
                1 => "disabled".to_owned(),
                2 => format!("variant-{}", rng.next() % 8),
                _ => format!("{}", rng.next() % 100_000),
            };
            (key, value)
        })
        .collect();
    postcard::to_allocvec(&map).unwrap()
}

/// A navigation history: `count` URLs of one site with ids and query strings.
fn urls(count: usize, rng: &mut Xorshift) -> Vec<u8> {
    let list: Vec<String> = (0..count)
        .map(|i| {
            format!(
                "https://app.example.org/{}/{}/{}?tab={}&sort={}",
                ["projects", "issues", "docs", "settings"][i % 4],
                rng.next() % 10_000,
                ["overview", "activity", "members", "files", "history"][i % 5],
                ["open", "closed", "all"][i % 3],
                ["updated", "created", "priority"][usize::try_from(rng.next() % 3).unwrap()]
            )
        })
        .collect();
    postcard::to_allocvec(&list).unwrap()
}

#[derive(Serialize)]
struct Tokens {
    user_id: u64,
    email: String,
    access_token: String,
    refresh_token: String,
    csrf: String,
}

/// An OAuth client's session: opaque random tokens (base64url), which DEFLATE can only code
/// in 6 bits a character.
fn tokens(rng: &mut Xorshift) -> Vec<u8> {
    postcard::to_allocvec(&Tokens {
        user_id: rng.next(),
        email: "bob.example@example.net".to_owned(),
        access_token: rng.token(1200),
        refresh_token: rng.token(400),
        csrf: rng.token(43),
    })
    .unwrap()
}

/// The data sets: realistic sessions, then the repetitive strings of the benches and tests.
fn datasets() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    vec![
        ("shop-5", shop(5, &mut rng)),
        ("shop-20", shop(20, &mut rng)),
        ("shop-60", shop(60, &mut rng)),
        ("map-40", map(40, &mut rng)),
        ("map-200", map(200, &mut rng)),
        ("urls-20", urls(20, &mut rng)),
        ("urls-120", urls(120, &mut rng)),
        ("tokens", tokens(&mut rng)),
        // benches/http.sh (f) and benches/benches/chunks.rs: "an 8 KiB repetitive string".
        (
            "bench-8k",
            postcard::to_allocvec(
                &String::from_utf8(b"item-0042,".iter().copied().cycle().take(8192).collect())
                    .unwrap(),
            )
            .unwrap(),
        ),
        // fuzz/fuzz_targets/chunks.rs: an update adding 9000 compressible bytes.
        (
            "page-9k",
            postcard::to_allocvec(&"page ".repeat(1800)).unwrap(),
        ),
    ]
}

fn compressor(level: u8) -> CompressorOxide {
    CompressorOxide::new(create_comp_flags_from_zip_params(level.into(), 0, 0))
}

/// One compression as the crate does it; `None` when it does not shrink.
#[inline(never)]
fn compress_once(state: &mut CompressorOxide, data: &[u8], out: &mut [u8]) -> Option<usize> {
    let (status, read, written) = compress(state, data, out, TDEFLFlush::Finish);
    state.reset();
    (status == TDEFLStatus::Done && read == data.len()).then_some(written)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sets = datasets();
    if let [level, name, reps] = &args[..] {
        let level: u8 = level.parse().unwrap();
        let reps: usize = reps.parse().unwrap();
        let data = &sets.iter().find(|(n, _)| n == name).expect("a data set").1;
        let mut state = Box::new(compressor(level));
        let mut out = vec![0u8; data.len() - 1];
        let mut written = 0;
        for _ in 0..reps {
            written = compress_once(&mut state, std::hint::black_box(data), &mut out).unwrap_or(0);
        }
        println!("{written}");
        return;
    }
    print!("{:<10} {:>6}", "data", "bytes");
    for level in LEVELS {
        print!(" {:>6}", format!("L{level}"));
    }
    println!();
    for (name, data) in &sets {
        print!("{name:<10} {:>6}", data.len());
        for level in LEVELS {
            let mut state = Box::new(compressor(level));
            let mut out = vec![0u8; data.len() - 1];
            let size = compress_once(&mut state, data, &mut out);
            // Checked to inflate back, so a size is never a broken stream's.
            let packed = &out[..size.unwrap_or(0)];
            let back = miniz_oxide::inflate::decompress_to_vec(packed).unwrap_or_default();
            assert!(
                size.is_none() || back == *data,
                "{name} L{level} round-trips"
            );
            print!(" {:>6}", size.map_or("-".to_owned(), |s| s.to_string()));
        }
        println!();
    }
}
