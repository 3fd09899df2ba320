use super::*;
use std::path::PathBuf;

/// A fresh directory for one test's store, removed again when dropped (pass or fail).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("app-database-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    fn store(&self) -> PathBuf {
        self.0.join("store.log")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn writes_survive_reopen() {
    let dir = Scratch::new("reopen");
    let path = dir.store();
    let s = open(&path).unwrap();
    assert!(put(&s, "a", "1").unwrap());
    assert!(!put(&s, "a", "2").unwrap());
    assert!(put(&s, "b", "x y").unwrap());
    assert!(delete(&s, "b").unwrap());
    assert!(!delete(&s, "b").unwrap());
    drop(s);
    let s = open(&path).unwrap();
    assert_eq!(get(&s, "a").as_deref(), Some("2"));
    assert_eq!(get(&s, "b"), None);
    assert_eq!(s.records.load(Ordering::Relaxed), 4);
}

#[test]
fn a_torn_tail_is_cut_and_later_writes_replay() {
    let dir = Scratch::new("torn");
    let path = dir.store();
    let s = open(&path).unwrap();
    put(&s, "kept", "yes").unwrap();
    drop(s);
    let mut partial = Vec::new();
    Record { op: Op::Put, key: "lost".into(), value: "never acknowledged".into() }.encode(&mut partial);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&partial[..partial.len() - 3]).unwrap();
    drop(f);
    let s = open(&path).unwrap();
    assert_eq!(get(&s, "lost"), None);
    put(&s, "after", "1").unwrap();
    drop(s);
    let s = open(&path).unwrap();
    assert_eq!(get(&s, "kept").as_deref(), Some("yes"));
    assert_eq!(get(&s, "after").as_deref(), Some("1"));
}

#[test]
fn compaction_keeps_contents_and_shrinks_the_log() {
    let dir = Scratch::new("compact");
    let path = dir.store();
    let s = open(&path).unwrap();
    for i in 0..200 {
        put(&s, &format!("k{}", i % 5), &i.to_string()).unwrap();
    }
    assert!(should_compact(&s));
    let before = fs::metadata(&path).unwrap().len();
    compact(&s).unwrap();
    assert!(fs::metadata(&path).unwrap().len() < before);
    put(&s, "k0", "new").unwrap();
    drop(s);
    let s = open(&path).unwrap();
    assert_eq!(s.records.load(Ordering::Relaxed), 6);
    assert_eq!(get(&s, "k0").as_deref(), Some("new"));
    assert_eq!(get(&s, "k4").as_deref(), Some("199"));
}
