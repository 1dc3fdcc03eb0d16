//! A fresh PostgreSQL database for each test: [`TestDb::new`] creates one with a unique name
//! on the tests' server and drops it when the value is dropped, so tests run in parallel.
//!
//! The server: `FAQBOT_TEST_POSTGRES` (an address whose user may create databases) when set;
//! otherwise a private throwaway cluster that the first test of a process starts from Debian's
//! `postgresql` package (`/usr/lib/postgresql/*/bin`): `initdb` in a temporary folder, the
//! server listening on a Unix socket in that folder only (no port to collide on), durability
//! off (fsync) since nothing in it outlives the tests (on with `FAQBOT_TEST_POSTGRES_DURABLE`,
//! for benchmarks). PostgreSQL refuses to run as root, so as
//! root the folder is given to the `postgres` user and the programs run as that user through
//! `runuser`. A small watchdog shell stops the server and removes the folder once the test
//! process has exited, however it exits. Without the package, the tests fail saying what to
//! install: they are never skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The variable naming an existing server for the tests.
pub const SERVER_VAR: &str = "FAQBOT_TEST_POSTGRES";

/// Set (to anything) for a private server as durable as a production one (fsync and
/// synchronous commits on), for benchmarks.
pub const DURABLE_VAR: &str = "FAQBOT_TEST_POSTGRES_DURABLE";

/// A database for one test, dropped with this value.
#[derive(Debug)]
pub struct TestDb {
    /// The database's address (no password), for `store.url`.
    pub url: String,
    name: String,
}

impl TestDb {
    /// Creates an empty database with a unique name. Panics with a one-line reason (what to
    /// install or set) when no server can be had.
    pub fn new() -> TestDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = server();
        let name = format!(
            "faqbot_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        admin(&server.admin_url, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create a test database on {}: {e}", server.shown));
        TestDb {
            url: with_dbname(&server.admin_url, &name),
            name,
        }
    }
}

impl Default for TestDb {
    fn default() -> TestDb {
        TestDb::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // FORCE: a store a test leaked (or a replica it killed) may still be connected.
        let _ = admin(
            &server().admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

struct Server {
    admin_url: String,
    shown: String,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var(SERVER_VAR) {
        Ok(url) if !url.is_empty() => Server {
            shown: format!(
                "{SERVER_VAR} ({})",
                url.split('@').next_back().unwrap_or("")
            ),
            admin_url: url,
        },
        _ => start_cluster().unwrap_or_else(|e| panic!("{e}")),
    })
}

/// `url` with its database replaced by `name`.
fn with_dbname(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let scheme_len = base.len() - rest.len();
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{}{authority}/{name}{query}", &base[..scheme_len])
}

/// Runs one statement on the admin connection, on a thread of its own (the caller may be
/// inside a runtime).
fn admin(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            let driver = tokio::spawn(conn);
            let result = client.batch_execute(&sql).await.map_err(|e| e.to_string());
            drop(client);
            let _ = driver.await;
            result
        })
    })
    .join()
    .map_err(|_| "the admin thread panicked".to_string())?
}

/// The newest Debian PostgreSQL's programs.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command for a PostgreSQL program, as the `postgres` user when we are root.
fn pg_command(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn start_cluster() -> Result<Server, String> {
    let bin = bin_dir().ok_or_else(|| {
        format!(
            "the PostgreSQL tests need a server: install Debian's postgresql package \
             (apt-get install postgresql) or set {SERVER_VAR} to an admin address"
        )
    })?;
    let root = is_root();
    let base = std::env::temp_dir().join(format!(
        "faqbot-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    if root {
        let ids = |flag: &str| -> Result<u32, String> {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .map_err(|e| e.to_string())?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map_err(|_| {
                    "running as root needs the postgres user (from Debian's postgresql package)"
                        .to_string()
                })
        };
        std::os::unix::fs::chown(&base, Some(ids("-u")?), Some(ids("-g")?))
            .map_err(|e| format!("cannot give {} to postgres: {e}", base.display()))?;
    }
    let data = base.join("data");
    let mut initdb = pg_command(root, &bin.join("initdb"));
    initdb.arg("-D").arg(&data).args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    run(initdb, "initdb")?;
    // Durability costs the tests time and buys them nothing, except when measuring.
    let durability = if std::env::var_os(DURABLE_VAR).is_some() {
        ""
    } else {
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    };
    let options = format!(
        "-k {} -c listen_addresses='' -p 5432 {durability} -c max_connections=300 \
         -c shared_buffers=64MB",
        base.display()
    );
    let mut start = pg_command(root, &bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(base.join("log"))
        .args(["-w", "-o", &options, "start"])
        .stdout(Stdio::null());
    run(start, "pg_ctl start")?;
    // Stops the server and removes the folder once this process is gone.
    let stop = if root {
        format!("runuser -u postgres -- {}", bin.join("pg_ctl").display())
    } else {
        bin.join("pg_ctl").display().to_string()
    };
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{base}'",
        pid = std::process::id(),
        data = data.display(),
        base = base.display(),
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))?;
    let socket_dir = base.display().to_string().replace('/', "%2F");
    Ok(Server {
        admin_url: format!("postgresql://postgres@{socket_dir}/postgres"),
        shown: format!("the private cluster in {}", base.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_admin_one() {
        assert_eq!(
            with_dbname("postgresql://postgres@%2Ftmp%2Fx/postgres", "t1"),
            "postgresql://postgres@%2Ftmp%2Fx/t1"
        );
        assert_eq!(
            with_dbname("postgres://u@h:5433/admin?sslmode=require", "t2"),
            "postgres://u@h:5433/t2?sslmode=require"
        );
        assert_eq!(with_dbname("postgres://u@h", "t3"), "postgres://u@h/t3");
    }
}
