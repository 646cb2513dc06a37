//! Sessions larger than one cookie (issue "chunking and compression", SECURITY-TESTS G3, G4)
//! over every instance: chunks round-trip and shrink, missing, extra, reordered, duplicated
//! and foreign chunks and counts over the maximum are refused, stale chunks are deleted, the
//! size check holds every line and the `Cookie` header budget; compression round-trips, is off
//! by default, and refuses a bomb.

use sealed_session::{MAX_COOKIE_SIZE, SessionConfig};

use super::{Client, Env, Instance, Logs, Resp, SetCookie};
#[cfg(feature = "compression")]
use crate::common::raw;

const NAME: &str = "__Host-session";

fn chunked(max_chunks: usize, budget: usize) -> SessionConfig {
    SessionConfig::builder()
        .max_chunks(max_chunks)
        .cookie_header_budget(budget)
        .build()
        .unwrap()
}

fn blob_len(resp: &Resp) -> usize {
    assert_eq!(resp.status, 200, "{resp:?}");
    resp.body.strip_prefix("len: ").unwrap().parse().unwrap()
}

/// The session's lines in a response, parsed, in order.
fn lines(resp: &Resp) -> Vec<SetCookie> {
    resp.set_cookies()
        .iter()
        .map(|l| SetCookie::parse(l))
        .collect()
}

/// The name of chunk `index`.
fn chunk(index: usize) -> String {
    if index == 0 {
        NAME.to_owned()
    } else {
        format!("{NAME}.{index}")
    }
}

/// A client whose session is split across `count` chunks (about 2.9 KiB of blob per chunk),
/// with the chunk values.
async fn split_session(env: &Env, count: usize) -> (Client, Vec<String>) {
    let mut client = env.client();
    let resp = client
        .post(&format!("/grow?n={}", 2900 * count - 1500), "")
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    let lines = lines(&resp);
    assert_eq!(lines.len(), count, "{:?}", resp.set_cookies());
    let values = (0..count)
        .map(|i| client.cookie(&chunk(i)).unwrap())
        .collect();
    (client, values)
}

/// `Cookie` fields that send `pairs` as one header, in this order.
fn header(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// G3: a session of three chunks round-trips: three lines named `name`, `name.1`, `name.2`
/// (each under the line limit, the `__Host-` prefix on each, identical attributes); shrinking
/// it to one chunk deletes the other two on the same response.
pub(crate) async fn three_chunks_round_trip_and_shrink_to_one(instance: Instance) {
    let env = Env::with_config(instance, chunked(3, 12 * 1024)).await;
    let (mut client, _) = split_session(&env, 3).await;
    let grown = lines(&client.post("/grow?n=1", "").await);
    assert_eq!(
        grown.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        [NAME, &chunk(1), &chunk(2)]
    );
    for line in &grown {
        assert!(line.line.len() <= MAX_COOKIE_SIZE, "{}", line.line.len());
        assert_eq!(line.attributes, grown[0].attributes, "same attributes");
    }
    let expected = 2900 * 3 - 1500 + 1;
    assert_eq!(blob_len(&client.get("/len").await), expected);

    let resp = client.get("/clear").await;
    let shrunk = lines(&resp);
    assert_eq!(shrunk.len(), 3, "{:?}", resp.set_cookies());
    assert_eq!(shrunk[0].name, NAME);
    assert!(!shrunk[0].is_removal());
    for (line, index) in shrunk[1..].iter().zip(1..) {
        assert_eq!(line.name, chunk(index));
        assert!(line.is_removal(), "{}", line.line);
        assert_eq!(
            line.attributes[1..],
            shrunk[0].attributes[1..],
            "deleted with the same Path and Domain"
        );
    }
    assert!(client.cookie(&chunk(1)).is_none() && client.cookie(&chunk(2)).is_none());
    assert_eq!(blob_len(&client.get("/len").await), 0);
}

/// G3: chunks are taken by name, so their order in the header does not matter; missing,
/// swapped, foreign (another session's) and truncated chunks are refused with a fresh
/// session; a repeated chunk name (a planted copy) is tried and the real one wins; an extra,
/// stale chunk is ignored and deleted.
pub(crate) async fn bad_chunks_are_refused_and_stale_ones_deleted(instance: Instance) {
    let env = Env::with_config(instance, chunked(3, 12 * 1024)).await;
    let (_, mine) = split_session(&env, 3).await;
    let (_, theirs) = split_session(&env, 3).await;
    let expected = 2900 * 3 - 1500;
    let logs = Logs::capture();
    let send = |pairs: &[(String, String)]| {
        let (addr, field) = (env.server.addr, header(pairs));
        async move { Client::new(addr).get_with("/len", &[&field]).await }
    };
    let all = |values: &[String]| -> Vec<(String, String)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (chunk(i), v.clone()))
            .collect()
    };
    let pairs = all(&mine);

    // Any order of the fields opens.
    let mut reversed = pairs.clone();
    reversed.reverse();
    assert_eq!(blob_len(&send(&reversed).await), expected);

    let refused = |resp: &Resp, logs: &Logs, what: &str, reason: &str| {
        assert_eq!(blob_len(resp), 0, "{what}: a fresh session");
        let events = logs.take();
        assert!(
            events.contains(&format!("reason=\"{reason}\"")),
            "{what}: {events}"
        );
    };
    logs.take();
    // Missing: the header says three, two are sent.
    let missing = vec![pairs[0].clone(), pairs[2].clone()];
    let resp = send(&missing).await;
    refused(&resp, &logs, "missing", "unauthentic");
    let deleted: Vec<String> = lines(&resp)
        .into_iter()
        .filter(SetCookie::is_removal)
        .map(|l| l.name)
        .collect();
    assert_eq!(
        deleted,
        [NAME.to_owned(), chunk(2)],
        "the refused cookies are cleared"
    );
    // Swapped values of chunks 1 and 2: the short last chunk in the middle does not even
    // decode as a part of one value.
    let swapped = vec![
        pairs[0].clone(),
        (chunk(1), mine[2].clone()),
        (chunk(2), mine[1].clone()),
    ];
    refused(&send(&swapped).await, &logs, "swapped", "malformed");
    // Two full-length chunks swapped (a four-chunk session): the AEAD refuses the joined
    // value.
    let env4 = Env::with_config(env.instance, chunked(4, 16 * 1024)).await;
    let (_, four) = split_session(&env4, 4).await;
    let swapped_full = header(&[
        (chunk(0), four[0].clone()),
        (chunk(1), four[2].clone()),
        (chunk(2), four[1].clone()),
        (chunk(3), four[3].clone()),
    ]);
    let resp = Client::new(env4.server.addr)
        .get_with("/len", &[&swapped_full])
        .await;
    refused(&resp, &logs, "swapped full chunks", "unauthentic");
    // Another session's chunk.
    let foreign = vec![
        pairs[0].clone(),
        (chunk(1), theirs[1].clone()),
        pairs[2].clone(),
    ];
    refused(&send(&foreign).await, &logs, "foreign", "unauthentic");
    // A chunk cut short by one base64 quantum (still canonical base64).
    let last = &mine[2];
    let tail = last.len() - last.len() % 4;
    let short = format!("{}{}", &last[..tail - 4], &last[tail..]);
    let truncated = vec![pairs[0].clone(), pairs[1].clone(), (chunk(2), short)];
    refused(&send(&truncated).await, &logs, "truncated", "unauthentic");

    // A repeated chunk name: a planted copy before the real one; the real one opens, and
    // nothing of the user's is deleted.
    let planted = vec![
        pairs[0].clone(),
        (chunk(1), theirs[1].clone()),
        pairs[1].clone(),
        pairs[2].clone(),
    ];
    let resp = send(&planted).await;
    assert_eq!(blob_len(&resp), expected, "duplicated");
    assert!(resp.set_cookies().is_empty(), "{:?}", resp.set_cookies());

    // An extra, stale chunk beyond the count: ignored, and deleted.
    let mut extra = pairs.clone();
    extra.push((chunk(3), mine[1].clone()));
    let resp = send(&extra).await;
    assert_eq!(blob_len(&resp), expected, "extra");
    let stale = lines(&resp);
    assert_eq!(stale.len(), 1, "{:?}", resp.set_cookies());
    assert_eq!(stale[0].name, chunk(3));
    assert!(stale[0].is_removal());
}

/// G3: a value split into more chunks than this server's maximum is refused before any AEAD
/// work, as the header's flags.
pub(crate) async fn counts_beyond_the_maximum_are_refused(instance: Instance) {
    let env = Env::with_config(instance, chunked(3, 12 * 1024)).await;
    let wide = env.also_serve(chunked(5, 16 * 1024)).await;
    let mut client = Client::new(wide.addr);
    let resp = client.post("/grow?n=11000", "").await;
    assert_eq!(lines(&resp).len(), 4, "{:?}", resp.set_cookies());
    let first = client.cookie(NAME).unwrap();
    let logs = Logs::capture();
    client.retarget(env.server.addr);
    assert_eq!(blob_len(&client.get("/len").await), 0);
    let events = logs.take();
    assert!(events.contains("reason=\"flags\""), "{events}");
    // And the same session with chunking off: the first cookie alone says four.
    let single = env.also_serve(SessionConfig::default()).await;
    let mut alone = Client::new(single.addr);
    alone.set_cookie(NAME, &first);
    assert_eq!(blob_len(&alone.get("/len").await), 0);
    assert!(logs.take().contains("reason=\"flags\""));
}

/// G3: `TooLarge` comes before a browser or a server drops anything: every accepted session's
/// lines are within the line limit and its `Cookie` pairs within the budget, the first refused
/// size is the next byte, and the refused change leaves the session as it was. Exactness:
/// the `size` of a refusal is what a server with room to spare emits for the same session.
pub(crate) async fn the_size_check_holds_lines_and_the_header_budget(instance: Instance) {
    const BUDGET: usize = 6000;
    let env = Env::with_config(instance, chunked(3, BUDGET)).await;
    let roomy = env.also_serve(chunked(16, 16 * 1024)).await;
    let fits = |n: usize| {
        let addr = env.server.addr;
        async move {
            let mut client = Client::new(addr);
            let resp = client.post(&format!("/grow?n={n}"), "").await;
            (resp.status == 200).then(|| {
                let pairs: Vec<String> = lines(&resp)
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                for line in resp.set_cookies() {
                    assert!(line.len() <= MAX_COOKIE_SIZE);
                }
                pairs.join("; ").len()
            })
        }
    };
    // The largest blob that fits, by bisection.
    let (mut low, mut high) = (0usize, 8000usize);
    assert!(fits(low).await.is_some() && fits(high).await.is_none());
    while high - low > 1 {
        let mid = (low + high) / 2;
        if fits(mid).await.is_some() {
            low = mid;
        } else {
            high = mid;
        }
    }
    let header = fits(low).await.unwrap();
    assert!(header <= BUDGET, "{header}");
    assert!(
        header > BUDGET - 8,
        "the budget is used up to its last base64 quantum: {header}"
    );
    // The first refused size, as reported, is what it would take.
    let mut client = Client::new(env.server.addr);
    let resp = client.post(&format!("/grow?n={high}"), "").await;
    assert_eq!(resp.status, 413, "{resp:?}");
    let mut wide = Client::new(roomy.addr);
    let emitted: Vec<String> = lines(&wide.post(&format!("/grow?n={high}"), "").await)
        .iter()
        .map(|l| format!("{}={}", l.name, l.value))
        .collect();
    let need = emitted.join("; ").len();
    assert!(
        resp.body.contains(&format!("would be {need} bytes")),
        "reported {} against {need} emitted",
        resp.body
    );
    // A refused change keeps the session.
    let mut kept = Client::new(env.server.addr);
    assert_eq!(blob_len(&kept.post("/grow?n=100", "").await), 100);
    assert_eq!(kept.post(&format!("/grow?n={high}"), "").await.status, 413);
    assert_eq!(blob_len(&kept.get("/len").await), 100);
}

/// G4: compression (feature `compression`) round-trips, flags the header, shrinks a
/// compressible session into one cookie, and is off by default.
#[cfg(feature = "compression")]
pub(crate) async fn compression_round_trips_and_is_off_by_default(instance: Instance) {
    let config = SessionConfig::builder().compression(true).build().unwrap();
    let env = Env::with_config(instance, config).await;
    let mut client = env.client();
    let resp = client.post("/grow?n=9000", "").await;
    let line = resp.cookie();
    assert!(
        line.line.len() < 1000,
        "9000 repeated bytes in {}",
        line.line.len()
    );
    assert_eq!(
        raw(&line.value)[13] & 0b1_0000,
        0b1_0000,
        "the compressed flag"
    );
    assert_eq!(blob_len(&client.get("/len").await), 9000);

    // Default: no compression, so the same session does not fit.
    let plain = env.also_serve(SessionConfig::default()).await;
    let mut other = Client::new(plain.addr);
    assert_eq!(other.post("/grow?n=9000", "").await.status, 413);
    let small = other.post("/grow?n=1000", "").await.cookie();
    assert_eq!(raw(&small.value)[13] & 0b1_0000, 0, "off by default");
    // A server without compression still reads compressed cookies (a rollout in either order).
    other.set_cookie(NAME, &client.cookie(NAME).unwrap());
    assert_eq!(blob_len(&other.get("/len").await), 9000);
}
