"""Checks docker/ without a Docker engine.

- docker/build-steps.sh performs the Dockerfile's build and runtime steps on this host and
  smoke-tests the binary against a real redis-server. By default it reuses the binary named by
  SEAWALL_BIN (ctest sets it); SEAWALL_DOCKER_FULL=1 makes it apt-get install and build on this
  host as the image does, SEAWALL_DOCKER_CHROOT=1 runs the Dockerfile's own lines in fresh
  minimal Debian 12 roots (root, minutes).
- Drift: the script reads its package lists and cmake arguments from the Dockerfile's ARG lines;
  here the Dockerfile is parsed independently and every apt-get install and cmake command of its
  RUN lines must use exactly those.
- docker/validate-k8s.sh validates docker/k8s against the Kubernetes API schemas (npm packages,
  installed on first use) and docker/compose.yaml against the Compose spec schema; both must
  also reject broken files.
- The manifests agree with the image and with seawall: configs load, uid, ports, probes, grace
  period versus drain timeout.

Run: SEAWALL_BIN=build/seawall /usr/bin/python3 -m pytest -q tests/integration/test_docker_steps.py
"""

import http.server
import os
import re
import shlex
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

SOURCE_DIR = Path(os.environ.get("SEAWALL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
DOCKER_DIR = SOURCE_DIR / "docker"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
BUILD_STEPS = DOCKER_DIR / "build-steps.sh"
VALIDATE_K8S = DOCKER_DIR / "validate-k8s.sh"
HEALTHCHECK = DOCKER_DIR / "healthcheck.sh"
# The slow modes of build-steps.sh (see its header); they build their own binary.
FULL = "1" in (os.environ.get("SEAWALL_DOCKER_FULL"), os.environ.get("SEAWALL_DOCKER_CHROOT"))


def seawall_bin():
    path = os.environ.get("SEAWALL_BIN")
    if not path and FULL:
        pytest.skip("needs SEAWALL_BIN too (the slow modes build their binary inside the script)")
    if not path:
        pytest.fail("SEAWALL_BIN is not set: run through ctest, or point it at a built seawall "
                    "(SEAWALL_DOCKER_FULL=1 builds one as the image does)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"SEAWALL_BIN={path} is not an executable", pytrace=False)
    return path


def run(cmd, env=None, timeout=900):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------- Dockerfile


def instructions(text):
    """(KEYWORD, rest) per instruction, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        full = (buf + line).strip()
        buf = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages(text):
    """[{name, base, args, instructions}] for each FROM."""
    result = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            result.append({"name": name, "base": words[0], "args": {}, "instructions": []})
            continue
        if not result:
            continue
        stage = result[-1]
        if keyword == "ARG":
            name, _, value = shlex.split(rest)[0].partition("=")
            stage["args"][name] = value
        stage["instructions"].append((keyword, rest))
    return result


def expand(command, args):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                  lambda m: args.get(m.group(1) or m.group(2), m.group(0)), command)


def commands(run_line, args):
    """The simple commands of a RUN line as word lists, ARGs expanded like the shell would."""
    for part in re.split(r"&&|\|\||;|\|", run_line):
        words = shlex.split(expand(part, args))
        if words:
            yield words


def dockerfile_facts(path):
    """What the Dockerfile's RUN lines really do, per stage."""
    facts = {}
    for stage in stages(Path(path).read_text()):
        packages, configure, build = [], [], []
        for keyword, rest in stage["instructions"]:
            if keyword != "RUN":
                continue
            for words in commands(rest, stage["args"]):
                if words[0] == "apt-get" and "install" in words:
                    after = words[words.index("install") + 1:]
                    packages += [w for w in after if not w.startswith("-")]
                elif words[0] == "cmake" and "--build" in words:
                    build.append(words)
                elif words[0] == "cmake":
                    configure.append([w for w in words if w.startswith(("-D", "-G"))])
        facts[stage["name"]] = {"base": stage["base"], "args": stage["args"],
                                "packages": packages, "configure": configure, "build": build,
                                "instructions": stage["instructions"]}
    return facts


def script_plan(dockerfile):
    result = run(["bash", str(BUILD_STEPS), "--print-plan"],
                 env={"SEAWALL_DOCKERFILE": str(dockerfile)})
    assert result.returncode == 0, result.stderr
    plan = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        plan.setdefault(key, []).append(value)
    return {k: v[0] if k != "CHECK_CONFIG" else v for k, v in plan.items()}


def drift(dockerfile):
    """Differences between what the Dockerfile runs and what build-steps.sh runs."""
    facts = dockerfile_facts(dockerfile)
    plan = script_plan(dockerfile)
    problems = []
    for stage, key in (("build", "BUILD_PACKAGES"), ("runtime", "RUNTIME_PACKAGES")):
        ran, script = facts[stage]["packages"], plan[key].split()
        if sorted(ran) != sorted(script):
            problems.append(
                f"{stage} stage installs {sorted(ran)}, build-steps.sh {sorted(script)}")
    configure = facts["build"]["configure"]
    if configure != [plan["CMAKE_ARGS"].split()]:
        problems.append(f"cmake configure flags {configure}, build-steps.sh {plan['CMAKE_ARGS']}")
    for words in facts["build"]["build"]:
        jobs = [w[2:] for w in words if w.startswith("-j")]
        if jobs != [plan["BUILD_JOBS"]] or words[-2:] != ["--target", "seawall"]:
            problems.append(f"cmake --build {words}, build-steps.sh -j{plan['BUILD_JOBS']}")
    return problems


def test_script_runs_what_the_dockerfile_runs():
    assert drift(DOCKERFILE) == []


def test_drift_is_detected(tmp_path):
    text = DOCKERFILE.read_text()
    mutated = tmp_path / "Dockerfile"
    mutated.write_text(text.replace("--no-install-recommends ${RUNTIME_PACKAGES}",
                                    "--no-install-recommends ${RUNTIME_PACKAGES} curl"))
    assert any("curl" in p for p in drift(mutated))
    mutated.write_text(text.replace("${CMAKE_ARGS}", "${CMAKE_ARGS} -DSEAWALL_WERROR=OFF"))
    assert any("SEAWALL_WERROR" in p for p in drift(mutated))
    mutated.write_text(text.replace('-j"${BUILD_JOBS}"', "-j8"))
    assert any("--build" in p for p in drift(mutated))


def test_dockerfile_follows_the_issue():
    facts = dockerfile_facts(DOCKERFILE)
    build, runtime = facts["build"], facts["runtime"]
    assert build["base"] == "debian:12" and runtime["base"] == "debian:12-slim"
    assert {"cmake", "g++", "libboost1.81-dev", "libspdlog-dev", "libyaml-cpp-dev",
            "libssl-dev"} <= set(build["packages"])
    assert {"-DCMAKE_BUILD_TYPE=Release", "-DSEAWALL_TESTS=OFF"} <= set(build["configure"][0])
    runtime_text = {k: [r for kw, r in runtime["instructions"] if kw == k]
                    for k in ("USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD", "COPY", "RUN")}
    uid = runtime["args"]["SEAWALL_UID"]
    assert uid.isdigit() and int(uid) != 0
    assert runtime_text["USER"] == ["${SEAWALL_UID}:${SEAWALL_UID}"]
    assert runtime_text["EXPOSE"] == ["6380 9380"]
    assert runtime_text["ENTRYPOINT"] == ['["seawall"]']
    assert runtime_text["CMD"] == ['["--config", "/etc/seawall/seawall.yaml"]']
    assert any("seawall --check-config /etc/seawall/seawall.yaml" in r for r in runtime_text["RUN"])
    copies = {r.split()[-1]: r.split()[-2] for r in runtime_text["COPY"]
              if not r.startswith("--from")}
    assert copies["/etc/seawall/seawall.yaml"] == "docker/seawall.container.yaml"
    (healthcheck,) = runtime_text["HEALTHCHECK"]
    assert 'CMD ["seawall-healthcheck"]' in healthcheck
    assert copies["/usr/local/bin/seawall-healthcheck"] == "docker/healthcheck.sh"


def test_build_context_lets_in_every_copy_source():
    allowed = [line[1:].rstrip("/") for line in
               (DOCKER_DIR / "Dockerfile.dockerignore").read_text().splitlines()
               if line.startswith("!")]
    for stage in dockerfile_facts(DOCKERFILE).values():
        for keyword, rest in stage["instructions"]:
            if keyword != "COPY" or rest.startswith("--from"):
                continue
            for source in [w for w in rest.split()[:-1] if not w.startswith("--")]:
                source = source.rstrip("/")
                assert any(source == a or source.startswith(a + "/") for a in allowed), source
                assert (SOURCE_DIR / source).exists(), source


# -------------------------------------------------------------------------------- build-steps


def test_build_steps():
    env = {} if FULL else {"SEAWALL_BIN": seawall_bin()}
    result = run(["bash", str(BUILD_STEPS)], env=env, timeout=3600 if FULL else 120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PING -> PONG" in result.stdout
    assert "SIGTERM -> exit 0" in result.stdout
    assert result.stdout.rstrip().endswith("build-steps: OK")


@pytest.mark.parametrize("change, message", [
    (("libfmt9 ", ""), "missing: [libfmt9]"),
    (("libc6\"", "libc6 libzstd1\""), "not needed: [libzstd1]"),
])
def test_build_steps_rejects_wrong_runtime_packages(tmp_path, change, message):
    mutated = tmp_path / "Dockerfile"
    mutated.write_text(DOCKERFILE.read_text().replace(*change, 1))
    result = run(["bash", str(BUILD_STEPS)],
                 env={"SEAWALL_BIN": seawall_bin(), "SEAWALL_DOCKERFILE": str(mutated),
                      "SEAWALL_DOCKER_FULL": "0", "SEAWALL_DOCKER_CHROOT": "0"}, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr, result.stdout + result.stderr


# -------------------------------------------------------------------------------- healthcheck


class StubAdmin:
    """An HTTP server on a free loopback port answering every GET with a fixed status."""

    def __init__(self, status):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def healthcheck(port, path="/healthz"):
    return run(["bash", str(HEALTHCHECK), str(port), path], timeout=30)


def test_healthcheck_healthy_on_200():
    with StubAdmin(200) as admin:
        result = healthcheck(admin.port)
    assert result.returncode == 0, result.stdout
    assert "200" in result.stdout


def test_healthcheck_unhealthy_on_503():
    with StubAdmin(503) as admin:
        result = healthcheck(admin.port, "/readyz")
    assert result.returncode == 1
    assert "503" in result.stdout


def test_healthcheck_unhealthy_when_nothing_listens():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        result = healthcheck(port)
    assert result.returncode == 1
    assert "cannot connect" in result.stdout


def test_healthcheck_gives_up_on_a_silent_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)  # the kernel accepts, nobody answers: like a SIGSTOPped seawall
        start = time.monotonic()
        result = healthcheck(s.getsockname()[1])
        elapsed = time.monotonic() - start
    assert result.returncode == 1
    assert "no answer" in result.stdout
    assert elapsed < 10


# ------------------------------------------------------------------------ Kubernetes / Compose


def test_k8s_manifests_match_the_kubernetes_schemas():
    result = run(["bash", str(VALIDATE_K8S)], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: "), result.stdout


def test_k8s_validator_rejects_schema_errors_and_unknown_fields(tmp_path):
    deployment = (DOCKER_DIR / "k8s" / "deployment.yaml").read_text()
    broken = (deployment.replace("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", 1)
              .replace("containerPort: 9380", 'containerPort: "9380"'))
    (tmp_path / "deployment.yaml").write_text(broken)
    (tmp_path / "other.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deploymnt\nmetadata: {name: x}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: {a: 1}\n")
    result = run(["bash", str(VALIDATE_K8S), str(tmp_path)], timeout=600)
    assert result.returncode == 1
    for expected in [
        "deployment.yaml:", "securityContext.readOnlyRootFileSystem", "ports[1].containerPort",
        "must be integer", "no kind Deploymnt in apps/v1", "ConfigMap/y: data.a",
    ]:
        assert expected in result.stderr, result.stderr


def test_compose_file_matches_the_compose_spec(tmp_path):
    result = run(["bash", str(VALIDATE_K8S), "--compose"], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "compose.yaml"
    broken.write_text((DOCKER_DIR / "compose.yaml").read_text()
                      .replace("read_only: true", "read_onyl: true"))
    result = run(["bash", str(VALIDATE_K8S), "--compose", str(broken)], timeout=600)
    assert result.returncode == 1
    assert "services.seawall.read_onyl" in result.stderr


def load_k8s():
    docs = {}
    for path in sorted((DOCKER_DIR / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[doc["kind"]] = doc
    return docs


def seconds(duration):
    match = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", str(duration))
    assert match, duration
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def test_configmap_config_loads(tmp_path):
    config_text = load_k8s()["ConfigMap"]["data"]["seawall.yaml"]
    config_file = tmp_path / "seawall.yaml"
    config_file.write_text(config_text)
    result = run([seawall_bin(), "--check-config", str(config_file)], timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    # A sidecar listens on the pod's loopback only.
    assert yaml.safe_load(config_text)["listen"]["address"] == "127.0.0.1"


def test_deployment_runs_seawall_as_a_native_sidecar():
    docs = load_k8s()
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (sidecar,) = [c for c in pod["initContainers"] if c["name"] == "seawall"]
    assert sidecar["restartPolicy"] == "Always"

    ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
    assert ports["admin"] == 9380
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        assert sidecar[probe]["httpGet"] == {"path": path, "port": "admin"}, probe

    resources = sidecar["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]

    dockerfile_uid = int(dockerfile_facts(DOCKERFILE)["runtime"]["args"]["SEAWALL_UID"])
    security = sidecar["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == dockerfile_uid
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]

    # The config file is the ConfigMap's key, mounted as a directory (a subPath never updates).
    config_path = Path(sidecar["args"][sidecar["args"].index("--config") + 1])
    (mount,) = [m for m in sidecar["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    assert "subPath" not in mount
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert config_path.name in docs["ConfigMap"]["data"]

    # The sidecar drains after the app has stopped: both must fit in the grace period.
    config = yaml.safe_load(docs["ConfigMap"]["data"]["seawall.yaml"])
    drain = seconds(config["shutdown"]["drain_timeout"])
    assert pod["terminationGracePeriodSeconds"] >= drain + 10
