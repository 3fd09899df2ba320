//! The database layer on SQLite (rusqlite): opening, schema migrations, the key-value
//! table and its index. The open connection itself lives in `conduwuit_core::State`, so
//! a reload of this crate keeps it open; what reloads is the code that uses it.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use tracing::{debug, debug_span, info, info_span};

pub use rusqlite::Error;

/// This crate's part of `GET /version`.
pub fn version() -> &'static str {
    "database v1"
}

/// Schema migrations, applied in order; `PRAGMA user_version` counts those done.
const MIGRATIONS: &[(&str, &str)] = &[
    ("key-value table", "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated INTEGER NOT NULL)"),
    ("index on update time", "CREATE INDEX kv_by_updated ON kv (updated)"),
];

/// Opens (creating if needed) the database at `path` and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, Error> {
    let _span = info_span!("database_open", path = %path.display()).entered();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("{}: {e}", dir.display())),
            )
        })?;
    }
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let applied = migrate(&conn)?;
    info!(applied, schema = MIGRATIONS.len(), "database open");
    Ok(conn)
}

/// Applies the migrations `conn` lacks; returns how many ran.
pub fn migrate(conn: &Connection) -> Result<usize, Error> {
    let _span = debug_span!("migrate").entered();
    let done: usize = conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    for (i, (what, sql)) in MIGRATIONS.iter().enumerate().skip(done) {
        debug!(version = i + 1, what, "migration");
        conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1))?;
    }
    Ok(MIGRATIONS.len().saturating_sub(done))
}

/// Number of rows in the key-value table.
pub fn count(conn: &Connection) -> Result<usize, Error> {
    conn.query_row("SELECT COUNT(*) FROM kv", [], |r| r.get::<_, i64>(0)).map(|n| n as usize)
}

/// Inserts `rows` (key, value) in one transaction, replacing existing keys.
pub fn insert_many(conn: &Connection, rows: &mut dyn Iterator<Item = (String, String)>) -> Result<usize, Error> {
    let _span = info_span!("insert_many").entered();
    let tx = conn.unchecked_transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached("INSERT OR REPLACE INTO kv (key, value, updated) VALUES (?1, ?2, ?3)")?;
        let now = now_ms();
        for (key, value) in rows {
            stmt.execute(params![key, value, now])?;
            n += 1;
        }
    }
    tx.commit()?;
    debug!(rows = n, "inserted");
    Ok(n)
}

/// Calls `f(key, value)` for every row, in key order; returns how many.
pub fn for_each_row(conn: &Connection, f: &mut dyn FnMut(&str, &str)) -> Result<usize, Error> {
    let _span = info_span!("scan").entered();
    let mut stmt = conn.prepare("SELECT key, value FROM kv ORDER BY key")?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let key = row
            .get_ref(0)?
            .as_str()
            .map_err(|e| Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()))?;
        let value = row
            .get_ref(1)?
            .as_str()
            .map_err(|e| Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into()))?;
        f(key, value);
        n += 1;
    }
    Ok(n)
}

/// The stored value of `key`.
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>, Error> {
    conn.prepare_cached("SELECT value FROM kv WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()
}

/// Stores `value` under `key`; true when the key is new.
pub fn put(conn: &Connection, key: &str, value: &str) -> Result<bool, Error> {
    let existed = conn.prepare_cached("SELECT 1 FROM kv WHERE key = ?1")?.exists([key])?;
    conn.prepare_cached("INSERT OR REPLACE INTO kv (key, value, updated) VALUES (?1, ?2, ?3)")?.execute(params![
        key,
        value,
        now_ms()
    ])?;
    debug!(key, created = !existed, "put");
    Ok(!existed)
}

/// Keys updated most recently, newest first (uses the index on `updated`).
pub fn recent(conn: &Connection, limit: usize) -> Result<Vec<String>, Error> {
    let mut stmt = conn.prepare_cached("SELECT key FROM kv ORDER BY updated DESC, key LIMIT ?1")?;
    stmt.query_map([limit as i64], |r| r.get(0))?.collect()
}

/// Moves the write-ahead log into the database file where no reader needs it.
pub fn checkpoint(conn: &Connection) -> Result<(), Error> {
    let _span = debug_span!("checkpoint").entered();
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
