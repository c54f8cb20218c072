"""A throwaway real MariaDB server for the MySQL data source tests
(test_sql_mysql.py): a fresh data directory in a temporary folder, a unix
socket there and a free loopback TCP port, database `app` and user `app`
(for 'app'@'localhost' and 'app'@'127.0.0.1') with a password.  The
`mariadb` command-line client runs fixtures and assertions as root over the
socket.  Needs `make deps-db` (mariadb-server)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from conftest import free_port, wait_for

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"
PASSWORD = "s3cret-Pa55word-xyzzy"


def available():
    """None when the binaries are there, else why not."""
    for b in (MARIADBD, INSTALL_DB, CLIENT):
        if not os.access(b, os.X_OK):
            return "%s is missing (make deps-db installs mariadb-server)" % b
    return None


class MariaDB:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="braid-mariadb-")
        os.chmod(self.tmp, 0o755)
        self.datadir = os.path.join(self.tmp, "data")
        self.socket = os.path.join(self.tmp, "my.sock")
        self.port = free_port()
        self.proc = None
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "root")
        self.user = user
        r = subprocess.run([INSTALL_DB, "--no-defaults", "--datadir=" + self.datadir, "--user=" + user,
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        self.start()
        self.sql("CREATE DATABASE app; "
                 "CREATE USER 'app'@'localhost' IDENTIFIED BY '%s'; "
                 "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '%s'; "
                 "GRANT ALL ON app.* TO 'app'@'localhost'; GRANT ALL ON app.* TO 'app'@'127.0.0.1';"
                 % (PASSWORD, PASSWORD))

    def start(self):
        self.errlog = os.path.join(self.tmp, "error.log")
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", "--datadir=" + self.datadir, "--socket=" + self.socket,
             "--port=%d" % self.port, "--bind-address=127.0.0.1", "--user=" + self.user,
             "--pid-file=" + os.path.join(self.tmp, "my.pid"), "--log-error=" + self.errlog,
             "--innodb-buffer-pool-size=16M", "--skip-log-bin", "--max-connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            assert self.proc.poll() is None, "mariadbd exited: " + self.log()
            return os.path.exists(self.socket) and self.try_sql("SELECT 1")
        wait_for(up, 60, interval=0.1, what="mariadbd")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        try:
            with open(self.errlog) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def try_sql(self, sql):
        r = subprocess.run([CLIENT, "--no-defaults", "-S", self.socket, "-u", "root", "-e", "SELECT 1"],
                           capture_output=True, text=True, timeout=10)
        return r.returncode == 0

    def sql(self, sql, db=None):
        """Runs sql as root; returns the rows as lists of strings (tab-separated output)."""
        args = [CLIENT, "--no-defaults", "--default-character-set=utf8mb4", "-S", self.socket, "-u", "root",
                "-N", "-B", "-e", sql]
        if db:
            args.append(db)
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return [line.split("\t") for line in r.stdout.splitlines()]

    def app_connections(self):
        """Server-side connections of user app (this query's own is root's)."""
        return int(self.sql("SELECT COUNT(*) FROM information_schema.processlist WHERE user='app'")[0][0])

    def running(self, needle):
        """Statements of user app still running whose text holds needle."""
        rows = self.sql("SELECT info FROM information_schema.processlist WHERE user='app' AND info IS NOT NULL")
        return [r for r in rows if needle in r[0]]


def wait_gone(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
