//! The layering of DESIGN.md, checked on the source: every `crate::` path in a module's code
//! (not its tests or docs) names a module of a lower layer (or the module's own family), so
//! nothing calls back up and the files import no cycle; and each layer stays away from the
//! external crates it must not know about.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

/// Each source file's layer, lowest first. A file may use files of a lower rank, and its own
/// module family (`codec` with `codec/schema`), nothing else.
const LAYERS: &[(&str, u32)] = &[
    ("key/id", 0),
    ("rng", 0),
    ("error", 1),
    ("key", 2),
    ("ring", 3),
    ("ring/cache", 3),
    ("ring/text", 3),
    ("ring/weaken", 3),
    ("envelope", 3),
    ("codec", 4),
    ("codec/schema", 4),
    ("codec/canonical", 4),
    ("codec/shape", 4),
    ("codec/flavors", 4),
    ("codec/meta", 4),
    ("codec/open", 4),
    ("codec/compress", 4),
    ("codec/head", 4),
    ("codec/wiped", 4),
    ("cookies", 5),
    ("csrf", 5),
    ("config", 6),
    ("session", 7),
    ("session/open", 7),
    ("session/seal", 7),
    ("session/plan", 7),
    ("session/settings", 7),
    ("session/state", 7),
    ("engine", 8),
    ("middleware", 9),
    ("watch", 9),
    ("axum", 10),
    ("actix", 10),
    ("tower_sessions", 10),
    ("testing", 11),
    ("testing/clock", 11),
    ("testing/tower_sessions", 11),
    ("lib", 12),
];

/// External crates each layer must not know about (DESIGN.md's layer table).
const FORBIDDEN: &[(&[&str], &[&str])] = &[
    (
        &[
            "key/id",
            "rng",
            "error",
            "key",
            "ring",
            "ring/cache",
            "ring/text",
            "ring/weaken",
            "envelope",
        ],
        &[
            "serde", "postcard", "http", "hyper", "tower_", "axum", "actix", "tracing",
        ],
    ),
    (
        &[
            "codec",
            "codec/schema",
            "codec/shape",
            "codec/flavors",
            "codec/meta",
            "codec/open",
            "codec/compress",
            "codec/head",
            "codec/wiped",
        ],
        &["http", "hyper", "tower_", "axum", "actix", "tracing"],
    ),
    (
        &["cookies"],
        &[
            "serde", "postcard", "http", "hyper", "tower_", "axum", "actix",
        ],
    ),
    (
        &[
            "config",
            "session",
            "session/open",
            "session/seal",
            "session/plan",
            "session/settings",
            "session/state",
            "engine",
        ],
        &[
            "http",
            "hyper",
            "tower_",
            "axum",
            "actix",
            "aes_gcm",
            "chacha20poly1305",
        ],
    ),
    // actix-web is named only in its adapter (src/actix.rs); the other adapters and the table
    // of contents stay away from it, as the engine's layers do.
    (
        &["middleware", "watch", "axum", "tower_sessions", "lib"],
        &["actix", "::actix"],
    ),
    // The session rules never reach below the codec: no envelope framing of their own.
    (
        &[
            "session",
            "session/open",
            "session/plan",
            "session/settings",
            "session/state",
            "engine",
        ],
        &["crate::envelope"],
    ),
];

/// The file's code without its unit tests and comments.
fn code(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    body.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `src/a/b.rs` -> `a/b`.
fn module_of(path: &Path, src: &Path) -> String {
    path.strip_prefix(src)
        .unwrap()
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/")
}

/// The modules a `crate::` path starting at `rest` names: `key::id::KeyId` -> `key/id`,
/// `codec::{self, Lifetime}` -> `codec`, `SessionError` (a root re-export) -> its module.
fn target(
    rest: &str,
    modules: &BTreeMap<String, u32>,
    exports: &BTreeMap<String, String>,
) -> Option<String> {
    let segments: Vec<&str> = rest
        .split("::")
        .map(|s| s.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'))
        .take_while(|s| !s.is_empty())
        .collect();
    let first = *segments.first()?;
    if first.starts_with(char::is_uppercase) {
        return exports.get(first).cloned();
    }
    let nested = segments.get(1).map(|second| format!("{first}/{second}"));
    match nested {
        Some(nested) if modules.contains_key(&nested) => Some(nested),
        _ => modules.contains_key(first).then(|| first.to_owned()),
    }
}

fn family(module: &str) -> &str {
    module.split('/').next().unwrap()
}

#[test]
fn modules_stay_in_their_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeMap<String, u32> = LAYERS.iter().map(|&(m, r)| (m.to_owned(), r)).collect();
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    // Root re-exports: `pub use error::{ConfigError, ...};` maps each name to its module.
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut exports = BTreeMap::new();
    for statement in lib.split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let path = statement[at + "pub use ".len()..].trim();
        let path = path.strip_prefix("crate::").unwrap_or(path);
        let Some((module, names)) = path.split_once("::") else {
            continue;
        };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            exports.insert(name.trim().to_owned(), module.to_owned());
        }
    }

    let mut violations = Vec::new();
    let mut checked = 0;
    for path in &files {
        let module = module_of(path, &src);
        let rank = *modules
            .get(&module)
            .unwrap_or_else(|| panic!("{module}: add the new module to LAYERS (and DESIGN.md)"));
        let code = code(&std::fs::read_to_string(path).unwrap());
        for (at, _) in code.match_indices("crate::") {
            let Some(used) = target(&code[at + "crate::".len()..], &modules, &exports) else {
                continue;
            };
            checked += 1;
            if family(&used) != family(&module) && modules[&used] >= rank {
                violations.push(format!(
                    "{module} (layer {rank}) uses {used} (layer {})",
                    modules[&used]
                ));
            }
        }
        for (layers, crates) in FORBIDDEN {
            if !layers.contains(&module.as_str()) {
                continue;
            }
            for line in code.lines() {
                let line = line.trim_start();
                let imported = line
                    .strip_prefix("use ")
                    .or_else(|| line.strip_prefix("pub(crate) use "));
                if let Some(imported) =
                    imported.filter(|imported| crates.iter().any(|c| imported.starts_with(c)))
                {
                    violations.push(format!("{module} imports {imported}"));
                }
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} crate paths found: is the parser broken?"
    );
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}

/// The adapters' framework crates, and the only module that may name each: not in a `use`
/// line, nor in a path written out in the code (`::actix_web::...`, `actix_web::dev::...`).
const ADAPTER_CRATES: &[(&str, &str)] = &[("actix_", "actix")];

#[test]
fn actix_is_named_only_in_its_adapter() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut stack = vec![src.clone()];
    let mut seen_adapter = false;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let module = module_of(&path, &src);
            let code = code(&std::fs::read_to_string(&path).unwrap());
            for &(krate, home) in ADAPTER_CRATES {
                if module == home {
                    seen_adapter |= code.contains(krate);
                    continue;
                }
                for (number, line) in code.lines().enumerate() {
                    let named = line.match_indices(krate).any(|(at, _)| {
                        // A path segment, not the tail of another name (`my_actix_web`).
                        line[..at]
                            .chars()
                            .next_back()
                            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                    });
                    if named {
                        violations.push(format!("{module}:{}: names {krate}: {line}", number + 1));
                    }
                }
            }
        }
    }
    assert!(
        seen_adapter,
        "src/actix.rs does not name actix_web: is the check looking?"
    );
    assert!(
        violations.is_empty(),
        "actix-web outside src/actix.rs:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_catches_an_upward_import() {
    let modules: BTreeMap<String, u32> = LAYERS.iter().map(|&(m, r)| (m.to_owned(), r)).collect();
    let exports = BTreeMap::from([("SessionError".to_owned(), "error".to_owned())]);
    assert_eq!(
        target("key::id::KeyId;", &modules, &exports).as_deref(),
        Some("key/id")
    );
    assert_eq!(
        target("codec::{self, Data};", &modules, &exports).as_deref(),
        Some("codec")
    );
    assert_eq!(
        target("SessionError::TooLarge", &modules, &exports).as_deref(),
        Some("error")
    );
    assert_eq!(
        target("session::Session", &modules, &exports).as_deref(),
        Some("session")
    );
    // What the check would say of the ring importing the session.
    assert!(modules["session"] >= modules["ring"]);
    assert_eq!(
        code("use a;\n// use b;\n#[cfg(test)]\nmod tests { use c; }"),
        "use a;"
    );
}
