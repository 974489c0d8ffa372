//! A fresh database per test.

use sqlx::{Connection, Executor, PgConnection};

use super::*;

/// The server of `QUFLUX_TEST_POSTGRES_URL`, or `None` (and a printed skip) without it.
fn server_url() -> Option<String> {
    quflux_core::testkit::env("QUFLUX_TEST_POSTGRES_URL")
}

/// A database of its own for one test, dropped (with `FORCE`, closing leftover connections)
/// when the value is dropped, also when the test panics.
pub(crate) struct TestDb {
    server_url: String,
    name: String,
    /// The URL of the test's database.
    pub(crate) url: String,
}

impl TestDb {
    /// Creates `quflux_test_<uuid>`; `None` when the server is not configured.
    pub(crate) async fn create() -> Option<Self> {
        let server_url = server_url()?;
        let name = format!("quflux_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&server_url)
            .await
            .expect("connect to QUFLUX_TEST_POSTGRES_URL");
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE (the test user needs CREATEDB)");
        conn.close().await.unwrap();
        let url = with_database(&server_url, &name);
        Some(Self {
            server_url,
            name,
            url,
        })
    }

    /// A migrated store on this database with a small pool.
    pub(crate) async fn store(&self) -> PostgresStore {
        self.builder()
            .with_auto_migrate(true)
            .build()
            .await
            .unwrap()
    }

    /// A builder for this database with a small pool (tests run in parallel on one server).
    pub(crate) fn builder(&self) -> PostgresStoreBuilder {
        PostgresStoreBuilder::new()
            .with_url(&self.url)
            .with_max_connections(4)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await, and may run inside the test's runtime: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server_url).await?;
                conn.execute(sql.as_str()).await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[test]
fn database_names_are_replaced() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
}
