"""docker-compose.yml against the Compose Specification's JSON Schema (tests/ops/README.md says where
it comes from), and the settings, ports, files, roles and secrets each service needs. There is no Docker
engine here: what the images do with them is checked against their sources (docs/production.md lists
what that leaves unproven); the scripts and the proxy config run for real in test_stack_scripts.py and
test_proxy.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from config.settings import Settings
from streams.cli.main import build_parser
from tests.ops.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
REDWALL_SERVICES = {"worker": "worker", "sink": "sink", "delivery": "deliver", "console": "console"}
STREET = "/etc/redwall/street"
STREET_FILES = {
    "REDWALL_GEOMETRY": "geometry.geojson",
    "REDWALL_ROSTER": "roster.toml",
    "REDWALL_ESCALATION_RULES": "escalation.toml",
    "REDWALL_ROUTING": "routing.toml",
    "REDWALL_MAJOR_EVENTS": "major_events.toml",
    "REDWALL_CALENDAR": "calendar.toml",
    "REDWALL_HOLIDAYS": "holidays",
}
ROLE_PASSWORDS = {
    "pg_worker_password",
    "pg_sink_password",
    "pg_deliver_password",
    "pg_console_password",
    "pg_grafana_password",
}


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
    subprocess.run(
        ["sh", str(ROOT / "config" / "postgres" / "make-secrets.sh"), str(directory)], check=True, capture_output=True
    )
    return directory


@pytest.fixture(scope="module")
def street_dir(tmp_path_factory) -> Path:
    """A street directory as the street's own files fill it (here: the samples under their names)."""
    directory = tmp_path_factory.mktemp("compose") / "street"
    (directory / "sample").mkdir(parents=True)
    config = ROOT / "config"
    for source, name in (
        (config / "sample" / "xichangan.geojson", "geometry.geojson"),
        (config / "roster.toml", "roster.toml"),
        (config / "escalation.toml", "escalation.toml"),
        (config / "routing.toml", "routing.toml"),
        (config / "major_events.toml", "major_events.toml"),
        (config / "sample" / "sensitive_zones.geojson", "sample/sensitive_zones.geojson"),
    ):
        shutil.copy(source, directory / name)
    return directory


def in_container(value: str, compose: dict, secrets_dir: Path, street_dir: Path | None = None) -> str:
    """A /run/secrets/NAME path as the file on the host that compose mounts there (/run/secrets itself as
    the directory make-secrets.sh fills); the street's files
    as those of `street_dir`."""
    if value == "/run/secrets":
        return str(secrets_dir)
    if value.startswith("/run/secrets/"):
        declared = compose["secrets"][value.removeprefix("/run/secrets/")]["file"]
        return str(secrets_dir / Path(declared).name)
    if street_dir is not None and value.startswith(STREET + "/"):
        return str(street_dir / value.removeprefix(STREET + "/"))
    return value


def redwall_services(compose: dict) -> dict[str, dict]:
    """Every service running the Redwall image, `migrate` included."""
    return {name: s for name, s in compose["services"].items() if s["image"] == compose["services"]["migrate"]["image"]}


def test_compose_file_matches_the_compose_specification(compose):
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    errors = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft201909Validator(schema).iter_errors(compose)]
    assert errors == []


def test_the_stack_has_every_part_the_issue_names(compose):
    services = compose["services"]
    assert {
        "kafka",
        "postgres",
        "migrate",
        "worker",
        "sink",
        "delivery",
        "console",
        "proxy",
        "prometheus",
        "grafana",
    } == set(services)
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft: no ZooKeeper
    # KRaft formats its storage with this id, and refuses anything but 16 bytes in base64url.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka["CLUSTER_ID"])
    assert "zookeeper" not in json.dumps(compose).lower()


def test_every_service_has_a_pinned_image_a_restart_policy_a_health_check_and_rotated_logs(compose):
    for name, service in compose["services"].items():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", service["image"]), f"{name}: image with a tag"
        assert service["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "5"}}, name
        if name == "migrate":  # one-shot: the others wait for it to complete
            assert service["restart"] == "no"
            continue
        assert service["restart"] in ("always", "unless-stopped"), name
        assert service["healthcheck"]["test"], name


def test_the_redwall_image_is_built_once_and_shared(compose):
    built = [name for name, service in compose["services"].items() if "build" in service]
    assert built == ["migrate"]
    # Compose ignores a failed pull of an image another service of the project builds (docker/compose
    # pkg/compose/pull.go, isServiceImageToBuild), so the others use this build; no registry needed.
    assert set(redwall_services(compose)) == {"migrate", *REDWALL_SERVICES}
    for name in REDWALL_SERVICES:
        assert compose["services"][name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_volumes_are_named_and_declared_and_mounted_files_exist(compose):
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", ()):
            source = mount.split(":")[0]
            if source == "./street":
                continue  # the street's own directory: `redwall street init` makes it (docs/street-data.md)
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
            else:
                used.add(source)
    assert used == declared
    for stateful in ("kafka", "postgres", "prometheus", "grafana", "proxy"):
        assert any(not m.startswith(".") for m in compose["services"][stateful]["volumes"]), stateful


def test_every_redwall_service_reads_the_street_directory_read_only_and_nothing_else_of_the_street(compose):
    for name, service in redwall_services(compose).items():
        assert service["volumes"] == [f"./street:{STREET}:ro"], name
        env = service["environment"]
        assert {k: env[k] for k in STREET_FILES} == {k: f"{STREET}/{f}" for k, f in STREET_FILES.items()}, name
    text = COMPOSE.read_text()
    assert text.count("/etc/redwall/street/geometry.geojson") == 1, "one anchor, so no service can drift"
    assert "${REDWALL_STREET_DIR:-./street}:/etc/redwall/street:ro" in text
    assert "config/routing.toml" not in text and "config/roster.toml" not in text  # no sample in production


def test_redwall_services_run_real_commands_with_known_settings(compose, secrets_dir, street_dir):
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    known = {env for env, _, _ in Settings().describe()}
    for name, service in redwall_services(compose).items():
        if name in REDWALL_SERVICES:
            command = REDWALL_SERVICES[name]
            assert service["command"] == ["redwall", command] and command in commands, name
        env = service["environment"]
        assert {"REDWALL_BROKER", "DATABASE_URL", "REDWALL_WEB_HOST"} <= set(env), name
        assert set(env) <= known, f"{name}: unknown settings {set(env) - known}"
        # Valid values, with the secret files as make-secrets.sh makes them and a street directory.
        Settings.from_env({k: in_container(str(v), compose, secrets_dir, street_dir) for k, v in env.items()})


def test_migrate_seeds_the_places_and_loads_the_roster_before_the_services_start(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["sh", "-c", "redwall migrate && redwall roster load"]
    assert {"migrate", "roster"} <= set(build_parser()._subparsers._group_actions[0].choices)
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["grafana"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_only_migrate_logs_in_as_the_owner_and_every_other_process_as_its_own_role(compose):
    services = compose["services"]
    migrate = services["migrate"]["environment"]
    assert urlsplit(migrate["DATABASE_URL"]).username == services["postgres"]["environment"]["POSTGRES_USER"]
    assert migrate["REDWALL_PG_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert migrate["REDWALL_PG_ROLE_SECRETS_DIR"] == "/run/secrets"
    assert ROLE_PASSWORDS | {"postgres_password"} <= set(services["migrate"]["secrets"])
    for name, process in REDWALL_SERVICES.items():
        env, secrets = services[name]["environment"], set(services[name]["secrets"])
        url = urlsplit(env["DATABASE_URL"])
        assert (url.username, url.password, url.hostname) == (f"redwall_{process}", None, "postgres"), name
        assert env["REDWALL_PG_PASSWORD_FILE"] == f"/run/secrets/pg_{process}_password", name
        assert env["REDWALL_PG_SSL_ROOT_CERT"] == "/run/secrets/postgres_ca", name
        # its own password and no other: a process cannot log in as another, nor as the owner
        assert secrets & (ROLE_PASSWORDS | {"postgres_password"}) == {f"pg_{process}_password"}, name
    assert set(services["grafana"]["secrets"]) & (ROLE_PASSWORDS | {"postgres_password"}) == {"pg_grafana_password"}


def test_no_password_is_in_any_environment(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key == "REDWALL_WEBHOOK_SECRET":
                continue  # delivery's signing key: no file setting for it yet (docs/production.md says so)
            assert not re.search(r"PASSWORD(?!_FILE|__FILE)|JAAS", key), f"{name}: {key}"
            assert "password=" not in str(value).lower(), f"{name}: {key}"
    assert "REDWALL_WEBHOOK_SECRET" in compose["services"]["delivery"]["environment"]
    assert all(
        "REDWALL_WEBHOOK_SECRET" not in s["environment"]
        for n, s in redwall_services(compose).items()
        if n != "delivery"
    )


def test_every_required_variable_is_in_env_example_and_every_example_is_used():
    text = COMPOSE.read_text()
    used = {m.group(1) for m in VARIABLE.finditer(text)}
    required = {m.group(1) for m in VARIABLE.finditer(text) if m.group(2) == "?"}
    example = env_example()
    assert required <= set(example)
    assert set(example) <= used, f"stale in .env.example: {set(example) - used}"
    commented = re.findall(r"^# (\w+)=", ENV_EXAMPLE.read_text(), re.M)
    assert set(commented) <= used


def test_only_the_proxy_is_published_and_monitoring_only_on_loopback(compose):
    published = {name: service["ports"] for name, service in compose["services"].items() if "ports" in service}
    assert set(published) == {"proxy", "prometheus", "grafana"}
    assert sorted(p.split(":")[-1] for p in published["proxy"]) == ["443", "80"]
    for name in ("prometheus", "grafana"):
        assert all(p.startswith("127.0.0.1:") for p in published[name]), name
    assert all("network_mode" not in service for service in compose["services"].values())


def test_prometheus_scrapes_every_redwall_process_on_its_ops_listener(compose):
    config = yaml.safe_load((ROOT / "config" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    env = compose["services"]["worker"]["environment"]
    # every worker of `--scale worker=N`: Docker's DNS answers the service name with each one's address
    assert jobs["worker"]["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": int(env["REDWALL_WORKER_METRICS_PORT"])}
    ]
    targets = {t for job in jobs.values() for sc in job.get("static_configs", ()) for t in sc["targets"]}
    assert {
        f"sink:{env['REDWALL_SINK_METRICS_PORT']}",
        f"delivery:{env['REDWALL_DELIVER_METRICS_PORT']}",
        f"console:{env['REDWALL_CONSOLE_PORT']}",
    } <= targets
    for service, port in (
        ("worker", "REDWALL_WORKER_METRICS_PORT"),
        ("sink", "REDWALL_SINK_METRICS_PORT"),
        ("delivery", "REDWALL_DELIVER_METRICS_PORT"),
    ):
        assert f"127.0.0.1:{env[port]}/healthz" in json.dumps(compose["services"][service]["healthcheck"]), service


def test_the_console_has_its_own_network_identity_reaches_the_workers_by_name_and_checks_it_can_serve(compose):
    console, worker = compose["services"]["console"], compose["services"]["worker"]
    assert "network_mode" not in console
    assert console["environment"]["REDWALL_WORKER_URL"] == f"http://worker:{worker['environment']['REDWALL_WEB_PORT']}"
    assert f"127.0.0.1:{console['environment']['REDWALL_CONSOLE_PORT']}/healthz" in json.dumps(console["healthcheck"])


def test_the_proxy_runs_the_repository_caddyfile_with_every_value_it_reads(compose):
    proxy = compose["services"]["proxy"]
    assert "./config/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    caddyfile = "\n".join(
        line
        for line in (ROOT / "config" / "proxy" / "Caddyfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    needed = set(re.findall(r"\{\$(\w+)\}", caddyfile))  # those without a default in the file
    assert needed <= set(proxy["environment"]), needed - set(proxy["environment"])
    env = proxy["environment"]
    assert (
        env["REDWALL_WORKERS"] == f"dynamic a worker {compose['services']['worker']['environment']['REDWALL_WEB_PORT']}"
    )
    assert env["REDWALL_CONSOLE"] == f"console:{compose['services']['console']['environment']['REDWALL_CONSOLE_PORT']}"
    assert env["REDWALL_TLS"].split() == [f"/run/secrets/{s}" for s in proxy["secrets"]]


def test_grafana_provisions_the_data_sources_and_dashboards_the_panels_use(compose, secrets_dir):
    provisioning = ROOT / "config" / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "redwall.yml").read_text())["datasources"]
    by_uid = {s["uid"]: s["type"] for s in sources}
    provider = yaml.safe_load((provisioning / "dashboards" / "redwall.yml").read_text())["providers"][0]
    grafana = compose["services"]["grafana"]
    assert f"./config/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    for path in (ROOT / "config" / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", ()):
                source = target["datasource"]
                assert by_uid.get(source["uid"]) == source["type"], f"{path.name}: {panel['title']}"
        panels = json.loads(path.read_text())["panels"]
        assert len({p["id"] for p in panels}) == len(panels), f"{path.name}: panel ids must be unique"
        assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels), f"{path.name}: 24 columns"
    for source in sources:
        text = json.dumps(source)
        for variable in re.findall(r"\$(\w+)", text.replace("$__file", "")):
            assert variable in grafana["environment"], f"data source {source['name']} reads ${variable}"
        # Grafana's provisioning expands $__file{PATH} (pkg/setting/expanders.go): a mounted secret
        for path in re.findall(r"\$__file\{([^}]+)\}", text):
            assert Path(in_container(path, compose, secrets_dir)).is_file(), path
    postgres_source = next(s for s in sources if s["uid"] == "postgres")
    assert postgres_source["user"] == "grafana_reader"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"


def test_dockerfile_copies_every_package_and_the_image_gets_no_street_file_and_no_secret():
    import tomllib

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [pattern.rstrip("*") for pattern in found["include"]]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, package
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"street", "secrets", ".env", "config/routing.toml", "config/roster.toml"} <= ignored


def test_kafka_takes_network_clients_only_with_sasl_whose_users_come_from_a_file(compose):
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    protocols = dict(pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in env["KAFKA_LISTENERS"].split(","):
        name, _, address = listener.partition("://")
        assert protocols[name].startswith("SASL_") or address.startswith("localhost:"), listener
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "PLAIN"
    # The image hands KAFKA_OPTS to the JVM and no other KAFKA_ variable of that list to server.properties
    # (apache/kafka core/.../docker/KafkaDockerWrapper.scala ExcludeServerPropsEnv), and asks for a JAAS file
    # there once SASL is on (docker/resources/common-scripts/configure).
    assert env["KAFKA_OPTS"] == "-Djava.security.auth.login.config=/run/secrets/kafka_jaas"
    assert kafka["secrets"] == ["kafka_jaas"]
    assert compose["secrets"]["kafka_jaas"]["file"].endswith("/kafka_jaas.conf")
    for name in REDWALL_SERVICES:
        client = compose["services"][name]["environment"]
        assert (
            client["REDWALL_BROKER"] == "kafka:9092"
            and protocols["CLIENTS"] == client["REDWALL_KAFKA_SECURITY_PROTOCOL"]
        )
        assert client["REDWALL_KAFKA_SASL_MECHANISM"] == "PLAIN" and client["REDWALL_KAFKA_USERNAME"] == "redwall"
        assert client["REDWALL_KAFKA_PASSWORD_FILE"] == "/run/secrets/kafka_password"
        assert "kafka_password" in compose["services"][name]["secrets"], name


def test_kafka_health_check_logs_in_on_the_listener_the_clients_use(compose):
    kafka = compose["services"]["kafka"]
    check = " ".join(kafka["healthcheck"]["test"])
    assert "--bootstrap-server kafka:9092" in check  # CLIENTS, not the in-container LOCAL listener
    config_path = re.search(r"--command-config (\S+)", check).group(1)
    mount = next(m for m in kafka["volumes"] if m.split(":")[1] == config_path)
    properties = dict(
        line.split("=", 1)
        for line in (ROOT / mount.split(":")[0]).read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert properties == {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}  # login: the JAAS file


def test_postgres_takes_network_clients_only_over_tls_and_keeps_its_data_where_18_wants_it(compose, secrets_dir):
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["image"] == "postgres:18"
    # 18+ (docker-library/postgres 18/*/docker-entrypoint.sh) refuses a mount at /var/lib/postgresql/data
    # and keeps PGDATA in /var/lib/postgresql/18/docker under the one volume at /var/lib/postgresql.
    assert "postgres-data:/var/lib/postgresql" in postgres["volumes"]
    assert not any(m.split(":")[1].startswith("/var/lib/postgresql/") for m in postgres["volumes"])
    script = (ROOT / "config" / "postgres" / "start-tls.sh").read_text()
    assert "ssl=on" in script and "hba_file=/etc/redwall/pg_hba.conf" in script
    hba = [
        line.split()
        for line in (ROOT / "config" / "postgres" / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    network = [rule for rule in hba if rule[0] != "local"]
    assert network == [["hostssl", "all", "all", "all", "scram-sha-256"], ["host", "all", "all", "all", "reject"]]
    assert postgres["healthcheck"]["test"] == ["CMD", "sh", "/etc/redwall/healthcheck.sh"]
    assert "./config/postgres/healthcheck.sh:/etc/redwall/healthcheck.sh:ro" in postgres["volumes"]
    source = yaml.safe_load((ROOT / "config/grafana/provisioning/datasources/redwall.yml").read_text())["datasources"][
        1
    ]
    assert source["jsonData"]["sslmode"] == "verify-full"
    assert Path(in_container(source["jsonData"]["sslRootCertFile"], compose, secrets_dir)).is_file()
    used = {s for service in services.values() for s in service.get("secrets", ())}
    assert used == set(compose["secrets"])
    for name, secret in compose["secrets"].items():
        assert (secrets_dir / Path(secret["file"]).name).is_file(), f"make-secrets.sh does not make {name}"
