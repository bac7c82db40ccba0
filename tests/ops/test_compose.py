"""docker-compose.yml against the Compose Specification's JSON Schema (tests/ops/README.md says where
it comes from), and the settings, ports and files each service needs. There is no Docker engine here."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from config.settings import Settings
from streams.cli import build_parser
from tests.ops.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
REDWALL_SERVICES = {"worker": "worker", "sink": "sink", "delivery": "deliver", "console": "console"}


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.split("#")[0].strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}; a required variable that is unset fails."""
    def one(match: re.Match) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name} is required ({arg}) and .env.example does not set it")
        return arg or ""
    return VARIABLE.sub(one, text).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), env_example()))


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory) -> Path:
    """What config/postgres/make-secrets.sh makes, as an operator runs it before the first start."""
    directory = tmp_path_factory.mktemp("compose") / "secrets"
    subprocess.run(["sh", str(ROOT / "config" / "postgres" / "make-secrets.sh"), str(directory)], check=True,
                   capture_output=True)
    return directory


def in_container(value: str, compose: dict, secrets_dir: Path) -> str:
    """A /run/secrets/NAME path as the file on the host that compose mounts there."""
    if value.startswith("/run/secrets/"):
        declared = compose["secrets"][value.removeprefix("/run/secrets/")]["file"]
        return str(secrets_dir / Path(declared).name)
    return value


def test_compose_file_matches_the_compose_specification(compose):
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    errors = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft201909Validator(schema).iter_errors(compose)]
    assert errors == []


def test_the_stack_has_every_part_the_issue_names(compose):
    services = compose["services"]
    assert {"kafka", "postgres", "worker", "sink", "delivery", "console", "prometheus", "grafana"} <= set(services)
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft: no ZooKeeper
    # KRaft formats its storage with this id, and refuses anything but 16 bytes in base64url.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka["CLUSTER_ID"])
    assert "zookeeper" not in json.dumps(compose).lower()


def test_every_service_has_an_image_a_restart_policy_and_a_health_check(compose):
    for name, service in compose["services"].items():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", service["image"]), f"{name}: image with a tag"
        if name == "migrate":  # one-shot: the others wait for it to complete
            assert service["restart"] == "no"
            continue
        assert service["restart"] in ("always", "unless-stopped"), name
        assert service["healthcheck"]["test"], name


def test_volumes_are_named_and_declared_and_mounted_files_exist(compose):
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", ()):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
            else:
                used.add(source)
    assert used == declared
    for stateful in ("kafka", "postgres", "prometheus", "grafana"):
        assert any(not m.startswith(".") for m in compose["services"][stateful]["volumes"]), stateful


def test_redwall_services_run_real_commands_with_known_settings(compose, secrets_dir):
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    known = {env for env, _, _ in Settings().describe()}
    for name, command in REDWALL_SERVICES.items():
        service = compose["services"][name]
        assert service["command"] == ["redwall", command] and command in commands, name
        env = service["environment"]
        assert {"REDWALL_BROKER", "DATABASE_URL", "REDWALL_WEB_HOST"} <= set(env), name
        assert set(env) <= known, f"{name}: unknown settings {set(env) - known}"
        # Valid values, with the secret files as make-secrets.sh makes them.
        Settings.from_env({k: in_container(str(v), compose, secrets_dir) for k, v in env.items() if k != "REDWALL_ROUTING"})


def test_migrate_seeds_the_places_and_loads_the_roster_before_the_services_start(compose):
    services = compose["services"]
    script = services["migrate"]["command"][-1]
    assert script == "redwall migrate && redwall roster load"
    assert {"migrate", "roster"} <= set(build_parser()._subparsers._group_actions[0].choices)
    assert services["migrate"]["environment"]["REDWALL_ROSTER"] == "/etc/redwall/roster.toml"
    for name in REDWALL_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_every_required_variable_is_in_env_example_and_every_example_is_used():
    text = COMPOSE.read_text()
    used = {m.group(1) for m in VARIABLE.finditer(text)}
    required = {m.group(1) for m in VARIABLE.finditer(text) if m.group(2) == "?"}
    example = env_example()
    assert required <= set(example)
    assert set(example) <= used, f"stale in .env.example: {set(example) - used}"
    commented = re.findall(r"^# (\w+)=", ENV_EXAMPLE.read_text(), re.M)
    assert set(commented) <= used


def test_prometheus_scrapes_every_redwall_process_on_its_ops_listener_which_is_not_published(compose):
    config = yaml.safe_load((ROOT / "config" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    env = compose["services"]["worker"]["environment"]
    listens = {"worker": env["REDWALL_WORKER_METRICS_PORT"], "sink": env["REDWALL_SINK_METRICS_PORT"],
               "delivery": env["REDWALL_DELIVER_METRICS_PORT"]}
    assert {f"{service}:{port}" for service, port in listens.items()} <= targets
    assert f"worker:{env['REDWALL_WEB_PORT']}" not in targets  # the public port serves no metrics
    for service, port in listens.items():
        assert f"127.0.0.1:{port}/healthz" in json.dumps(compose["services"][service]["healthcheck"]), service
    published = {p.split(":")[-1] for s in compose["services"].values() for p in s.get("ports", ())}
    assert {env["REDWALL_WEB_PORT"], env["REDWALL_CONSOLE_PORT"], "9090", "3000"} <= published
    assert not published & set(listens.values()), "an ops listener is published"


def test_grafana_provisions_the_data_sources_and_dashboards_the_panels_use(compose):
    provisioning = ROOT / "config" / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "redwall.yml").read_text())["datasources"]
    by_uid = {s["uid"]: s["type"] for s in sources}
    provider = yaml.safe_load((provisioning / "dashboards" / "redwall.yml").read_text())["providers"][0]
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./config/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    for path in (ROOT / "config" / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", ()):
                source = target["datasource"]
                assert by_uid.get(source["uid"]) == source["type"], f"{path.name}: {panel['title']}"
        panels = json.loads(path.read_text())["panels"]
        assert len({p["id"] for p in panels}) == len(panels), f"{path.name}: panel ids must be unique"
        assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels), f"{path.name}: 24 columns"
    grafana_env = compose["services"]["grafana"]["environment"]
    for source in sources:
        for variable in re.findall(r"\$(\w+)", json.dumps(source)):
            assert variable in grafana_env, f"data source {source['name']} reads ${variable}"


def test_dockerfile_copies_every_package():
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, package


def test_kafka_takes_network_clients_only_with_sasl_and_redwall_logs_in_as_a_configured_user(compose):
    kafka = compose["services"]["kafka"]["environment"]
    protocols = dict(pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in kafka["KAFKA_LISTENERS"].split(","):
        name, _, address = listener.partition("://")
        assert protocols[name].startswith("SASL_") or address.startswith("localhost:"), listener
    users = dict(re.findall(r'user_(\w+)="([^"]*)"', kafka["KAFKA_LISTENER_NAME_CLIENTS_PLAIN_SASL_JAAS_CONFIG"]))
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "PLAIN"
    for name in REDWALL_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["REDWALL_BROKER"] == "kafka:9092" and protocols["CLIENTS"] == env["REDWALL_KAFKA_SECURITY_PROTOCOL"]
        assert env["REDWALL_KAFKA_SASL_MECHANISM"] == "PLAIN"
        assert users[env["REDWALL_KAFKA_USERNAME"]] == env["REDWALL_KAFKA_PASSWORD"], name


def test_postgres_takes_network_clients_only_over_tls_with_a_password_from_a_secret(compose, secrets_dir):
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    script = (ROOT / "config" / "postgres" / "start-tls.sh").read_text()
    assert "ssl=on" in script and "hba_file=/etc/redwall/pg_hba.conf" in script
    hba = [line.split() for line in (ROOT / "config" / "postgres" / "pg_hba.conf").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
    network = [rule for rule in hba if rule[0] != "local"]
    assert network == [["hostssl", "all", "all", "all", "scram-sha-256"], ["host", "all", "all", "all", "reject"]]
    for name in REDWALL_SERVICES:
        env = services[name]["environment"]
        assert urlsplit(env["DATABASE_URL"]).password is None, f"{name}: the password comes from the secret file"
        assert {env["REDWALL_PG_PASSWORD_FILE"], env["REDWALL_PG_SSL_ROOT_CERT"]} == {
            "/run/secrets/postgres_password", "/run/secrets/postgres_ca"}
        assert {"postgres_password", "postgres_ca"} <= set(services[name]["secrets"]), name
    source = yaml.safe_load((ROOT / "config/grafana/provisioning/datasources/redwall.yml").read_text())["datasources"][1]
    assert source["jsonData"]["sslmode"] == "verify-full"
    assert Path(in_container(source["jsonData"]["sslRootCertFile"], compose, secrets_dir)).is_file()
    assert "postgres_ca" in services["grafana"]["secrets"]
    used = {s for service in services.values() for s in service.get("secrets", ())}
    assert used == set(compose["secrets"])


def test_make_secrets_makes_a_certificate_for_the_postgres_host_and_keeps_what_exists(secrets_dir):
    files = {p.name for p in secrets_dir.iterdir()}
    assert {"postgres_password", "ca.pem", "postgres.crt", "postgres.key"} <= files
    assert len((secrets_dir / "postgres_password").read_text()) >= 24
    check = subprocess.run(["openssl", "verify", "-CAfile", secrets_dir / "ca.pem", secrets_dir / "postgres.crt"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    names = subprocess.run(["openssl", "x509", "-in", secrets_dir / "postgres.crt", "-noout", "-ext", "subjectAltName"],
                           capture_output=True, text=True, check=True).stdout
    assert "DNS:postgres" in names  # the host name in DATABASE_URL, so verify-full passes
    before = {p.name: p.read_bytes() for p in secrets_dir.iterdir()}
    subprocess.run(["sh", str(ROOT / "config" / "postgres" / "make-secrets.sh"), str(secrets_dir)], check=True,
                   capture_output=True)
    assert {p.name: p.read_bytes() for p in secrets_dir.iterdir()} == before
