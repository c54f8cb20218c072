"""A throwaway real PostgreSQL 15 server for the PostgreSQL data source tests
(test_sql_pg.py): a fresh cluster made by initdb in a temporary folder
(scram-sha-256 for every connection, the superuser `postgres` with a
password), its unix socket in that folder and a free loopback TCP port,
role `app` (LOGIN, with a password, its session TimeZone UTC) owning
database `app`.  psql runs fixtures and assertions as the superuser over the
socket.  initdb and postgres refuse to run as root: as root they run as the
Debian package's user `postgres` (runuser), the folder owned by it.  Needs
`make deps-db` (postgresql)."""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from conftest import free_port, wait_for

PG_BIN = "/usr/lib/postgresql/15/bin"
INITDB = os.path.join(PG_BIN, "initdb")
POSTGRES = os.path.join(PG_BIN, "postgres")
PSQL = shutil.which("psql") or "/usr/bin/psql"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
PASSWORD = "s3cret-Pa55word-pgxyzzy"          # role app
SUPER_PASSWORD = "Sup3r-Pa55word-pgplugh"     # superuser postgres
OS_USER = "postgres"


def available():
    """None when the binaries (and, as root, the user to run them as) are there, else why not."""
    for b in (INITDB, POSTGRES, PSQL):
        if not os.access(b, os.X_OK):
            return "%s is missing (make deps-db installs postgresql)" % b
    if os.geteuid() == 0:
        if not os.access(RUNUSER, os.X_OK):
            return "runuser is missing (needed to run postgres as user %s)" % OS_USER
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return "no user %s to run postgres as (the postgresql package creates it)" % OS_USER
    return None


class Postgres:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="braid-pg-")
        os.chmod(self.tmp, 0o755)
        self.datadir = os.path.join(self.tmp, "data")
        self.sockdir = self.tmp
        self.port = free_port()
        self.logfile = os.path.join(self.tmp, "postgres.log")
        self.proc = None
        self.pid = None
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam(OS_USER)
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
            self.as_user = [RUNUSER, "-u", OS_USER, "--"]
        pwfile = os.path.join(self.tmp, "pwfile")
        with open(pwfile, "w") as f:
            f.write(SUPER_PASSWORD + "\n")
        if self.as_user:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        os.chmod(pwfile, 0o600)
        r = subprocess.run([*self.as_user, INITDB, "-D", self.datadir, "-U", "postgres", "-A", "scram-sha-256",
                            "--pwfile=" + pwfile, "-E", "UTF8", "--locale=C", "--no-sync"],
                           capture_output=True, text=True, timeout=120)
        os.unlink(pwfile)
        assert r.returncode == 0, r.stdout + r.stderr
        self.start()
        self.sql("CREATE ROLE app LOGIN PASSWORD '%s'" % PASSWORD)
        self.sql("ALTER ROLE app SET timezone = 'UTC'")
        self.sql("CREATE DATABASE app OWNER app")

    @property
    def dsn(self):
        """The libpq keyword/value DSN of role app over TCP."""
        return "host=127.0.0.1 port=%d dbname=app user=app password=%s" % (self.port, PASSWORD)

    @property
    def uri(self):
        return "postgresql://app:%s@127.0.0.1:%d/app" % (PASSWORD, self.port)

    @property
    def socket_dsn(self):
        return "host=%s port=%d dbname=app user=app password=%s" % (self.sockdir, self.port, PASSWORD)

    def start(self):
        log = open(self.logfile, "a")
        try:
            self.proc = subprocess.Popen(
                [*self.as_user, POSTGRES, "-D", self.datadir, "-k", self.sockdir, "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()

        def up():
            assert self.proc.poll() is None, "postgres exited: " + self.log()
            return os.path.exists(os.path.join(self.sockdir, ".s.PGSQL.%d" % self.port)) and self.try_sql()
        wait_for(up, 60, interval=0.1, what="postgres")
        with open(os.path.join(self.datadir, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def stop(self):
        """Fast shutdown (SIGINT to the postmaster): sessions are ended, not waited for."""
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGQUIT)
                self.proc.wait(30)
        self.proc = None
        self.pid = None

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def _psql(self, sql, db):
        env = dict(os.environ, PGPASSWORD=SUPER_PASSWORD, PGCONNECT_TIMEOUT="10")
        env.pop("PGSERVICE", None)
        return subprocess.run([PSQL, "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                               "-h", self.sockdir, "-p", str(self.port), "-U", "postgres", "-d", db, "-f", "-"],
                              input=sql, capture_output=True, text=True, timeout=60, env=env)

    def try_sql(self):
        return self._psql("SELECT 1", "postgres").returncode == 0

    def sql(self, sql, db="postgres"):
        """Runs sql as the superuser (statement by statement); returns the rows as lists of
        strings (NULL as "")."""
        r = self._psql(sql, db)
        assert r.returncode == 0, r.stderr
        return [line.split("\t") for line in r.stdout.splitlines()]

    def app_connections(self):
        """Server-side sessions of role app (this query's own is the superuser's)."""
        return int(self.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'")[0][0])

    def running(self, needle):
        """Statements of role app still active whose text holds needle."""
        rows = self.sql("SELECT translate(query, E'\\n\\t', '  ') FROM pg_stat_activity "
                        "WHERE usename = 'app' AND state = 'active'")
        return [r for r in rows if needle in r[0]]


def wait_gone(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
