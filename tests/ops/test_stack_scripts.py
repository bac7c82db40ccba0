"""The stack's scripts, run for real: config/postgres/make-secrets.sh with passwords that broke the old
scripts (quotes, backslashes, `$`, spaces, Chinese), its JAAS file read by Java's own JAAS parser (the one
Kafka's broker and tools use), and PostgreSQL's start options and health check against Debian's server
started as the postgres image starts it: first the initialisation server (no TCP), then the real one."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from streams.demo.embedded import free_port
from tests.ops.conftest import ROOT
from tests.support.tls_postgres import debian_bindir

MAKE_SECRETS = ROOT / "config" / "postgres" / "make-secrets.sh"
AWKWARD = 'it\'s a \\ "quoted" $HOME pass 密码'
JAAS_CHECK = """
import javax.security.auth.login.*;
import java.util.*;
public class JaasCheck {
    public static void main(String[] args) {
        Configuration config = Configuration.getConfiguration();
        for (String name : new String[] {"KafkaServer", "KafkaClient"})
            for (AppConfigurationEntry entry : config.getAppConfigurationEntry(name))
                for (Map.Entry<String, ?> option : entry.getOptions().entrySet())
                    System.out.println(name + " " + option.getKey() + " " + Base64.getEncoder().encodeToString(
                        option.getValue().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
"""


def make_secrets(directory: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(MAKE_SECRETS), str(directory)], capture_output=True, text=True, env={**os.environ, **env}
    )


@pytest.fixture(scope="module")
def awkward(tmp_path_factory) -> Path:
    """A secrets directory whose operator put in passwords of their own before running the script."""
    directory = tmp_path_factory.mktemp("awkward") / "secrets"
    directory.mkdir()
    for name in ("postgres_password", "kafka_password"):
        (directory / name).write_text(AWKWARD + "\n")
    result = make_secrets(directory)
    assert result.returncode == 0, result.stderr
    return directory


def test_make_secrets_keeps_the_operators_passwords_and_makes_the_rest_private(awkward):
    assert (awkward / "postgres_password").read_text() == AWKWARD + "\n"
    for name in (
        "pg_worker_password",
        "pg_sink_password",
        "pg_deliver_password",
        "pg_console_password",
        "pg_grafana_password",
        "grafana_admin_password",
    ):
        assert re.fullmatch(r"[A-Za-z0-9]{40,}", (awkward / name).read_text()), name
    modes = {p.name: p.stat().st_mode & 0o777 for p in awkward.iterdir()}
    assert awkward.stat().st_mode & 0o777 == 0o700
    assert {name: modes[name] for name in ("ca.key", "postgres.key", "site.key")} == dict.fromkeys(
        ("ca.key", "postgres.key", "site.key"), 0o600
    )  # no longer readable by every user of the container
    assert modes["pg_worker_password"] == modes["kafka_jaas.conf"] == 0o644  # read by the containers' own users


def test_make_secrets_refuses_a_password_file_of_two_lines_and_a_grafana_password_with_a_dollar(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pg_sink_password").write_text("first\nsecond\n")
    result = make_secrets(tmp_path / "a")
    assert result.returncode == 2 and "pg_sink_password holds more than one line" in result.stderr
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "pg_grafana_password").write_text("pa$word")
    result = make_secrets(tmp_path / "b")
    assert result.returncode == 2 and "pg_grafana_password holds '$'" in result.stderr


def test_the_site_certificate_names_every_site(tmp_path):
    assert make_secrets(tmp_path / "s", REDWALL_SITE_NAMES="api.example.cn console.example.cn").returncode == 0
    names = subprocess.run(
        ["openssl", "x509", "-in", tmp_path / "s" / "site.crt", "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:api.example.cn" in names and "DNS:console.example.cn" in names
    check = subprocess.run(
        ["openssl", "verify", "-CAfile", tmp_path / "s" / "ca.pem", tmp_path / "s" / "site.crt"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_java_reads_the_kafka_password_from_the_jaas_file_exactly_as_written(awkward, tmp_path):
    if shutil.which("java") is None:
        pytest.fail("java is not installed: tests/system-deps.sh installs default-jdk-headless")
    (tmp_path / "JaasCheck.java").write_text(JAAS_CHECK)
    result = subprocess.run(
        [
            "java",
            "-Dfile.encoding=UTF-8",
            f"-Djava.security.auth.login.config={awkward / 'kafka_jaas.conf'}",
            str(tmp_path / "JaasCheck.java"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    options = {
        tuple(line.split()[:2]): base64.b64decode(line.split()[2]).decode() for line in result.stdout.splitlines()
    }
    assert options == {
        ("KafkaServer", "user_redwall"): AWKWARD,
        ("KafkaClient", "username"): "redwall",
        ("KafkaClient", "password"): AWKWARD,
    }


class ImagePostgres:
    """Debian's PostgreSQL run as the postgres image runs it: initdb with the owner's password from its
    file, then start-tls.sh's options with the container's paths replaced by local ones."""

    def __init__(self, secrets: Path):
        self.bin = debian_bindir()
        if self.bin is None:
            pytest.fail("Debian's postgresql is not installed: tests/system-deps.sh installs it")
        # Not under pytest's temp root, which is private to root: the server runs as `postgres`.
        self.secrets, self.work, self.port = secrets, Path(tempfile.mkdtemp(prefix="redwall-stack-pg-")), free_port()
        self.pgdata = self.work / "pgdata"
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres", "postgres")

    def run(self, program: str, *args: str, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True,
            text=True,
            check=check,
            user="postgres" if os.geteuid() == 0 else None,
            timeout=60,
        )

    def init(self) -> None:
        # What the container's files are, where the server's user can read them.
        for name, local in (
            ("postgres_password", "pwfile"),
            ("postgres.key", "server.key"),
            ("postgres.crt", "server.crt"),
        ):
            shutil.copy(self.secrets / name, self.work / local)
            (self.work / local).chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(self.work / local, "postgres", "postgres")
        shutil.copy(ROOT / "config" / "postgres" / "pg_hba.conf", self.work / "pg_hba.conf")
        self.run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "redwall",
            "--pwfile",
            str(self.work / "pwfile"),
            "--auth-local=trust",
        )

    def start_tls_options(self) -> list[str]:
        script = (ROOT / "config" / "postgres" / "start-tls.sh").read_text()
        local = {
            "/run/secrets/postgres_cert": str(self.work / "server.crt"),
            "/run/redwall-tls/server.key": str(self.work / "server.key"),
            "/etc/redwall/pg_hba.conf": str(self.work / "pg_hba.conf"),
        }
        options = re.findall(r"-c (\S+)", script)
        return [f"-c {o.split('=')[0]}={local.get(o.split('=', 1)[1], o.split('=', 1)[1])}" for o in options]

    def start(self, listen: str) -> None:
        options = " ".join([f"-p {self.port} -k {self.work} -c listen_addresses='{listen}'", *self.start_tls_options()])
        self.run("pg_ctl", "-D", str(self.pgdata), "-w", "-o", options, "-l", str(self.work / "log"), "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def health_check(secrets: Path, port: int, ca: Path | None = None) -> subprocess.CompletedProcess:
    """config/postgres/healthcheck.sh as compose runs it, reaching 127.0.0.1 while checking the name "postgres"."""
    env = {
        **os.environ,
        "POSTGRES_DB": "redwall",
        "POSTGRES_USER": "redwall",
        "POSTGRES_PASSWORD_FILE": str(secrets / "postgres_password"),
        "PGHOSTADDR": "127.0.0.1",
        "PGPORT": str(port),
        "PGSSLROOTCERT": str(ca or secrets / "ca.pem"),
    }
    return subprocess.run(
        ["sh", str(ROOT / "config" / "postgres" / "healthcheck.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_postgres_health_check_fails_on_the_initialisation_server_and_passes_as_a_client_connects(awkward):
    server = ImagePostgres(awkward)
    try:
        server.init()
        # The image's first start: its temporary server runs the init scripts listening on no TCP port.
        server.start(listen="")
        server.run("createdb", "-h", str(server.work), "-p", str(server.port), "-U", "redwall", "redwall")
        assert health_check(awkward, server.port).returncode != 0
        old_check = server.run(
            "pg_isready", "-h", str(server.work), "-p", str(server.port), "-U", "redwall", "-d", "redwall", check=False
        )
        assert old_check.returncode == 0  # why the old check let `migrate` start too early
        server.stop()

        server.start(listen="127.0.0.1")
        passed = health_check(awkward, server.port)
        assert passed.returncode == 0, passed.stderr  # TCP, TLS verify-full, the awkward SCRAM password
        wrong_ca = health_check(awkward, server.port, ca=awkward / "site.crt")
        assert wrong_ca.returncode != 0 and "certificate verify failed" in wrong_ca.stderr
        plain = subprocess.run(
            [
                str(server.bin / "psql"),
                f"host=127.0.0.1 port={server.port} dbname=redwall user=redwall sslmode=disable",
                "-c",
                "SELECT 1",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": AWKWARD},
            timeout=30,
        )
        assert plain.returncode != 0 and "no encryption" in plain.stderr  # pg_hba.conf: TLS or nothing
    finally:
        server.remove()
